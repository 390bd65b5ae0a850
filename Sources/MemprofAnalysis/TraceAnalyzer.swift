import MemprofTrace

/// Replays a trace's events and builds an ``Analysis`` in one pass.
///
/// Per event the work is a few array operations: per-stack counters live in an array
/// indexed by stack id (ids are dense; ids past ``denseStackLimit`` fall back to a
/// dictionary), small sizes are counted in an array. Memory is bounded by the number
/// of distinct stacks and sizes, never by the number of events.
///
/// **Sampled recordings.** Once the trace says it was sampled (its SAMPLING record,
/// before any event), each sampled block of `s` bytes counts as ``SampleWeights``
/// says: `1/p` allocations and `s/p` bytes, `p = 1 − exp(−s/R)`. Per-stack bytes (live,
/// peak, freed, leaked) and the replay of the heap add each block's weighted bytes,
/// rounded once per block, so that a block's free cancels its allocation exactly;
/// per-stack counts add the fractional weights and are rounded at the end. Every
/// per-stack figure is then an unbiased estimate of what a full recording would show.
///
/// **Peak contribution.** Each stack's share of the heap peak is found with heaptrack's
/// lazy trick: reaching a new peak only sets a flag; the next time the heap goes down
/// (and once at the end) the stacks' live bytes are copied to their peak bytes. Only
/// stacks touched since the previous copy are copied — an untouched stack's live bytes
/// still equal what was copied last time — so a steadily growing heap, which reaches a
/// new peak before almost every free, costs O(1) per event and not O(stacks).
///
/// ```swift
/// var analyzer = TraceAnalyzer()
/// let summary = try TraceReader(path: path).read(into: &analyzer)
/// let analysis = analyzer.analysis(readSummary: summary)
/// ```
public struct TraceAnalyzer: TraceVisitor, Sendable {
    /// Stack ids below this are counted in a directly indexed array.
    public static let denseStackLimit: UInt32 = 1 << 20

    /// Per-stack counters on the hot path; one cache line.
    struct Accumulator: Sendable {
        var allocations: UInt64 = 0
        var deallocations: UInt64 = 0
        var allocatedBytes: UInt64 = 0
        var deallocatedBytes: UInt64 = 0
        var temporaries: UInt64 = 0
        /// Signed: a free can be replayed before its allocation when another thread's
        /// block comes first in the file.
        var live: Int64 = 0
        var peak: Int64 = 0
        /// Whether `live` may differ from `peak`'s last copy (the stack is in a dirty list).
        var isDirty = false

        var isUsed: Bool { allocations != 0 || deallocations != 0 }
    }

    struct LeakKey: Hashable, Sendable {
        var stackID: UInt32
        var kind: LeakKind
    }

    private var process: ProcessRecord?
    private var modules: [ModuleRecord] = []
    private var stacks: [UInt32: StackRecord] = [:]
    private var dense: [Accumulator] = []
    private var sparse: [UInt32: Accumulator] = [:]
    /// Stacks touched since the last peak copy, each listed once.
    private var dirtyDense: [Int] = []
    private var dirtySparse: [UInt32] = []

    private var allocationCount: UInt64 = 0
    private var deallocationCount: UInt64 = 0
    private var unknownDeallocationCount: UInt64 = 0
    private var allocatedBytes: UInt64 = 0
    private var deallocatedBytes: UInt64 = 0
    private var temporaryCount: UInt64 = 0
    private var sizes = SizeHistogram()

    // The replay of the heap in file order.
    private var heapBytes: Int64 = 0
    private var replayPeak: Int64 = 0
    private var replayPeakTime: UInt64 = 0
    private var peakPending = false

    // Clocks.
    private var threadTimes: [UInt32: UInt64] = [:]
    private var currentTime: UInt64 = 0
    private var latestTime: UInt64 = 0
    private var threadsStarted = 0

    // Ticks.
    private var timeline: TimelineSampler
    private var trend = TrendAccumulator()
    private var tickPeak: UInt64 = 0
    private var tickPeakTime: UInt64?
    private var peakRSS: UInt64 = 0

    private var leaks: [LeakKey: (blocks: UInt64, bytes: UInt64)] = [:]
    private var end: EndRecord?
    private var samplingInterval: UInt64?
    private var exactCounts: CountsRecord?
    /// Sample mode: the weights, and the estimated counts per stack (fractional; the
    /// per-stack byte figures are weighted in the accumulators themselves).
    private var weights: SampleWeights?
    private var estimatedCounts: [UInt32: EstimatedCounts] = [:]
    private var estimatedTotals = EstimatedCounts()
    private var estimatedLeakBlocks: [LeakKey: Double] = [:]
    /// Sample mode: raw sizes and variances of the samples (the estimates' error and bounds).
    private var tally = SampleTally()

    /// Sample mode: allocations, frees and temporaries a stack's samples stand for.
    struct EstimatedCounts: Sendable {
        var allocations: Double = 0
        var deallocations: Double = 0
        var temporaries: Double = 0
    }
    /// Bytes of the blocks the process began with (INHERITED): in use, not allocated.
    private var inheritedBytes: UInt64 = 0
    private var jemalloc: Analysis.JemallocFigures?
    /// Aggregate mode: what the snapshots said, and whether the SITE records now read
    /// belong to a snapshot inside the cutoff.
    private var aggregation: Analysis.Aggregation?
    private var snapshotIncluded = false
    /// Aggregate mode: when the last included snapshot was taken. The heap its SITE
    /// records sum to is the heap at that moment, whatever thread clock a TIME record
    /// read since set (the thread blocks are written after the snapshots they follow).
    private var snapshotTime: UInt64 = 0
    /// Events, ticks and records after this time are left out (`.max`: none).
    private let cutoff: UInt64

    /// Creates an analyzer.
    /// - Parameters:
    ///   - timelineCapacity: how many ticks ``Analysis/timeline`` keeps at most (plus
    ///     the last one); trend figures always use every tick.
    ///   - cutoff: analyse the recording only up to this time (nanoseconds since the
    ///     process started): the state at that moment (``Analysis/cutoffNanoseconds``).
    ///     An event's time is its thread's clock, known to within 5 ms (see the trace
    ///     format's TIME record). Blocks not freed at exit and the END record are left
    ///     out, as the process had not exited yet.
    public init(timelineCapacity: Int = 2048, cutoff: UInt64? = nil) {
        timeline = TimelineSampler(capacity: timelineCapacity)
        self.cutoff = cutoff ?? .max
    }

    // MARK: TraceVisitor

    /// Keeps the process record for the report header.
    public mutating func process(_ record: ProcessRecord) {
        process = record
    }

    /// Keeps the module for offline symbolization.
    public mutating func module(_ record: ModuleRecord) {
        modules.append(record)
    }

    /// Keeps the stack; events may have referenced its id already.
    public mutating func stack(_ record: StackRecord) {
        stacks[record.id] = record
    }

    /// Restores the clock of the thread whose block begins.
    public mutating func threadBlock(thread: UInt32) {
        if let time = threadTimes[thread] { currentTime = time }
    }

    /// Advances the thread's clock (used to time the replay's peak).
    public mutating func time(thread: UInt32, nanoseconds: UInt64) {
        threadTimes[thread] = nanoseconds
        currentTime = nanoseconds
        if nanoseconds <= cutoff { latestTime = max(latestTime, nanoseconds) }
    }

    /// Counts an allocation: a few array operations.
    @inline(__always)
    public mutating func allocation(thread: UInt32, size requested: UInt64, stackID: UInt32) {
        guard currentTime <= cutoff else { return }
        // Bytes the block counts for: itself, or in sample mode what the sample stands for.
        let size = weights == nil ? requested : estimateAllocation(size: requested, stackID: stackID)
        allocationCount &+= 1
        allocatedBytes &+= size
        sizes.add(requested)
        addLive(size, stackID: stackID, allocation: true)
    }

    /// Adds a live block of `size` at `stackID` (counted as one of its allocations when
    /// `allocation`), and to the heap, noting a new replay peak.
    @inline(__always)
    private mutating func addLive(_ size: UInt64, stackID: UInt32, allocation: Bool) {
        let allocations: UInt64 = allocation ? 1 : 0
        let allocated = allocation ? size : 0
        if stackID < Self.denseStackLimit {
            let index = Int(stackID)
            if index >= dense.count { growDense(toInclude: index) }
            dense[index].allocations &+= allocations
            dense[index].allocatedBytes &+= allocated
            dense[index].live &+= Int64(bitPattern: size)
            if !dense[index].isDirty { markDirty(index) }
        } else {
            var accumulator = sparse[stackID] ?? Accumulator()
            accumulator.allocations &+= allocations
            accumulator.allocatedBytes &+= allocated
            accumulator.live &+= Int64(bitPattern: size)
            if !accumulator.isDirty {
                accumulator.isDirty = true
                dirtySparse.append(stackID)
            }
            sparse[stackID] = accumulator
        }
        heapBytes &+= Int64(bitPattern: size)
        if heapBytes > replayPeak {
            replayPeak = heapBytes
            replayPeakTime = currentTime
            peakPending = true
            if weights != nil { tally.atPeak() }
        }
    }

    /// Counts a free of a block from `stackID`; first copies the stacks touched since
    /// the last copy to their peak bytes when the heap was at a new peak.
    @inline(__always)
    public mutating func deallocation(thread: UInt32, size freed: UInt64, stackID: UInt32, temporary: Bool) {
        guard currentTime <= cutoff else { return }
        // The heap is about to go down: if it was at a new peak, that peak is final now.
        if peakPending { capturePeak() }
        let size =
            weights == nil
            ? freed : estimateDeallocation(size: freed, stackID: stackID, temporary: temporary)
        deallocationCount &+= 1
        deallocatedBytes &+= size
        let temporaries: UInt64 = temporary ? 1 : 0
        temporaryCount &+= temporaries
        if stackID < Self.denseStackLimit {
            let index = Int(stackID)
            if index >= dense.count { growDense(toInclude: index) }
            dense[index].deallocations &+= 1
            dense[index].deallocatedBytes &+= size
            dense[index].temporaries &+= temporaries
            dense[index].live &-= Int64(bitPattern: size)
            if !dense[index].isDirty { markDirty(index) }
        } else {
            var accumulator = sparse[stackID] ?? Accumulator()
            accumulator.deallocations &+= 1
            accumulator.deallocatedBytes &+= size
            accumulator.temporaries &+= temporaries
            accumulator.live &-= Int64(bitPattern: size)
            if !accumulator.isDirty {
                accumulator.isDirty = true
                dirtySparse.append(stackID)
            }
            sparse[stackID] = accumulator
        }
        heapBytes &-= Int64(bitPattern: size)
    }

    /// A block the process began with (a fork child's copy of its parent's heap): live
    /// at its site and in the heap, but not an allocation of this process.
    public mutating func inherited(thread: UInt32, size inheritedSize: UInt64, stackID: UInt32) {
        guard currentTime <= cutoff else { return }
        // Sample mode: an inherited block was sampled in the parent; it weighs as its free will.
        let size = weights.map { Self.rounded($0.bytes(size: inheritedSize)) } ?? inheritedSize
        if let weights { tally.inherited(size: inheritedSize, weights) }
        inheritedBytes &+= size
        addLive(size, stackID: stackID, allocation: false)
    }

    /// Counts a free of a pointer memprof never saw allocated: a deallocation of
    /// unknown size.
    public mutating func unknownDeallocation(thread: UInt32) {
        guard currentTime <= cutoff else { return }
        deallocationCount &+= 1
        unknownDeallocationCount &+= 1
    }

    /// Feeds the timeline, the trend, peak RSS and the exact peak and its time.
    public mutating func tick(_ record: TickRecord) {
        guard record.nanoseconds <= cutoff else { return }
        timeline.add(record)
        trend.add(record)
        peakRSS = max(peakRSS, record.rssBytes)
        if record.heapPeakBytes > tickPeak || tickPeakTime == nil {
            tickPeak = record.heapPeakBytes
            tickPeakTime = record.nanoseconds
        }
        latestTime = max(latestTime, record.nanoseconds)
    }

    /// Counts a thread (used when the trace has no END record).
    public mutating func threadStarted(index: UInt32, tid: UInt64) {
        threadsStarted += 1
    }

    /// Adds a block still allocated at exit to its (stack, kind) group.
    public mutating func leak(_ record: LeakRecord) {
        let key = LeakKey(stackID: record.stackID, kind: record.kind)
        let old = leaks[key] ?? (0, 0)
        var bytes = record.size
        if let weights {
            bytes = Self.rounded(weights.bytes(size: record.size))
            estimatedLeakBlocks[key, default: 0] += weights.allocations(size: record.size)
            tally.leaked(size: record.size, weights)
        }
        leaks[key] = (old.blocks &+ 1, old.bytes &+ bytes)
    }

    /// Sample mode: ALLOC records are samples at this mean interval.
    public mutating func sampling(intervalBytes: UInt64) {
        samplingInterval = intervalBytes
        weights = SampleWeights(intervalBytes: intervalBytes)
    }

    /// Sample mode: the exact totals, which replace the sampled counts.
    public mutating func counts(_ record: CountsRecord) {
        exactCounts = record
    }

    /// Keeps jemalloc's latest figures and their peaks.
    public mutating func jemalloc(_ record: JemallocStatsRecord) {
        guard record.nanoseconds <= cutoff else { return }
        if jemalloc == nil {
            jemalloc = Analysis.JemallocFigures(
                latest: record, samples: 1, peakAllocated: record.allocated, peakResident: record.resident)
        } else {
            jemalloc?.add(record)
        }
    }

    /// Aggregate mode: the trace's counts come in snapshots.
    public mutating func aggregation(intervalNanoseconds: UInt64) {
        aggregation = Analysis.Aggregation(intervalNanoseconds: intervalNanoseconds)
    }

    /// Aggregate mode: a snapshot begins. The heap as the previous one left it is a
    /// candidate for the replay's peak; the SITE records that follow are counted only if
    /// the snapshot is inside the cutoff.
    public mutating func snapshot(_ record: SnapshotRecord) {
        snapshotPeak()
        snapshotIncluded = record.nanoseconds <= cutoff
        guard snapshotIncluded else { return }
        if aggregation == nil { aggregation = Analysis.Aggregation(intervalNanoseconds: 0) }
        aggregation?.add(record)
        currentTime = record.nanoseconds
        snapshotTime = record.nanoseconds
        latestTime = max(latestTime, record.nanoseconds)
    }

    /// Aggregate mode: one stack's counts since its previous SITE record.
    public mutating func site(_ record: SiteRecord) {
        guard snapshotIncluded else { return }
        allocationCount &+= record.allocations
        deallocationCount &+= record.deallocations
        allocatedBytes &+= record.allocatedBytes
        deallocatedBytes &+= record.deallocatedBytes
        temporaryCount &+= record.temporaries
        let change = Int64(bitPattern: record.allocatedBytes &- record.deallocatedBytes)
        func update(_ accumulator: inout Accumulator) {
            accumulator.allocations &+= record.allocations
            accumulator.deallocations &+= record.deallocations
            accumulator.allocatedBytes &+= record.allocatedBytes
            accumulator.deallocatedBytes &+= record.deallocatedBytes
            accumulator.temporaries &+= record.temporaries
            accumulator.live &+= change
            // The stack's own peak (at snapshot times), not its share of the process's.
            accumulator.peak = max(accumulator.peak, Int64(clamping: record.peakLiveBytes))
        }
        if record.stackID < Self.denseStackLimit {
            let index = Int(record.stackID)
            if index >= dense.count { growDense(toInclude: index) }
            update(&dense[index])
        } else {
            update(&sparse[record.stackID, default: Accumulator()])
        }
        heapBytes &+= change
    }

    /// Aggregate mode: the heap as of the snapshot read last, for the replay's peak.
    private mutating func snapshotPeak() {
        guard aggregation != nil, heapBytes > replayPeak else { return }
        replayPeak = heapBytes
        replayPeakTime = snapshotTime
    }

    /// Keeps the END record: duration, exact peak, thread count, how tracing ended.
    public mutating func end(_ record: EndRecord) {
        end = record
        latestTime = max(latestTime, min(record.nanoseconds, cutoff))
    }

    // MARK: Result

    /// The analysis of everything visited so far. Call it after the read; the analyzer
    /// is not changed, so it may also be called midway for a partial result.
    /// - Parameter truncation: where the file ended early, if it did.
    public func analysis(truncation: Analysis.Truncation? = nil) -> Analysis {
        var final = self
        if final.peakPending { final.capturePeak() }
        final.snapshotPeak()
        return final.makeAnalysis(truncation: truncation)
    }

    /// The analysis of a complete read, noting the summary's truncation.
    public func analysis(readSummary: TraceReadSummary) -> Analysis {
        analysis(truncation: readSummary.truncation)
    }

    // MARK: Private

    /// Sample mode: counts what a sampled allocation stands for; returns its weighted bytes.
    @inline(never)
    private mutating func estimateAllocation(size: UInt64, stackID: UInt32) -> UInt64 {
        guard let weights else { return size }
        let count = weights.allocations(size: size)
        estimatedCounts[stackID, default: EstimatedCounts()].allocations += count
        estimatedTotals.allocations += count
        tally.allocated(size: size, weights)
        return Self.rounded(weights.bytes(size: size))
    }

    /// Sample mode: counts what the free of a sampled block stands for; returns its
    /// weighted bytes (the same figure its allocation counted).
    @inline(never)
    private mutating func estimateDeallocation(size: UInt64, stackID: UInt32, temporary: Bool) -> UInt64 {
        guard let weights else { return size }
        let count = weights.allocations(size: size)
        estimatedCounts[stackID, default: EstimatedCounts()].deallocations += count
        estimatedTotals.deallocations += count
        tally.freed(size: size, temporary: temporary, weights)
        if temporary {
            estimatedCounts[stackID, default: EstimatedCounts()].temporaries += count
            estimatedTotals.temporaries += count
        }
        return Self.rounded(weights.bytes(size: size))
    }

    /// Sample mode: each estimated figure with its error, moved inside what the exact
    /// totals allow (a peak above the bytes ever allocated, or more temporaries than
    /// allocations, is impossible), and what the exact counts say of unsampled leaks.
    /// - Parameter exact: the analysis's counts and bytes allocated are exact (COUNTS
    ///   was read and the analysis covers the whole recording).
    private func bound(_ analysis: inout Analysis, intervalBytes: UInt64, exact: Bool) {
        let tally = self.tally
        // The process's blocks are those it allocated, unless it began with inherited ones.
        let heapLimit: UInt64? = exact && tally.inheritedBlocks == 0 ? analysis.totalAllocatedBytes : nil
        func minus(_ limit: UInt64?, _ amount: Int64) -> UInt64? {
            limit.map { $0 >= UInt64(max(amount, 0)) ? $0 - UInt64(max(amount, 0)) : 0 }
        }
        let unfreed: UInt64? =
            exact && tally.inheritedBlocks == 0 && analysis.leaksRecorded
            ? (analysis.allocationCount >= analysis.deallocationCount
                ? analysis.allocationCount - analysis.deallocationCount : 0) : nil
        // Every block allocated was freed: nothing is in use at the end, sampled or not.
        let live = unfreed == 0 ? 0 : minus(heapLimit, Int64(clamping: tally.rawFreed))
        var sampling = analysis.sampling!
        sampling.peak = SampleEstimate(
            estimate: Double(analysis.peakHeapBytes), variance: tally.peakVariance,
            samples: UInt64(max(tally.peakSamples, 0)), lowerBound: UInt64(max(tally.maximumRawLive, 0)),
            upperBound: heapLimit)
        sampling.inUse = SampleEstimate(
            estimate: Double(analysis.currentBytes), variance: tally.liveVariance,
            samples: UInt64(max(tally.liveSamples, 0)), lowerBound: UInt64(max(tally.rawLive, 0)), upperBound: live)
        sampling.freed = SampleEstimate(
            estimate: Double(analysis.totalDeallocatedBytes), variance: tally.freedVariance,
            samples: tally.freedSamples, lowerBound: tally.rawFreed, upperBound: minus(heapLimit, tally.rawLive))
        sampling.temporaries = SampleEstimate(
            estimate: estimatedTotals.temporaries, variance: tally.temporaryVariance, samples: tally.temporarySamples,
            lowerBound: tally.temporarySamples,
            upperBound: exact ? min(analysis.allocationCount, analysis.deallocationCount) : nil)
        sampling.unfreedBlocks = unfreed
        sampling.leakedBytes = SampleEstimate(
            estimate: Double(analysis.leakedBytes), variance: tally.leakBytesVariance, samples: tally.leakSamples,
            lowerBound: tally.rawLeaked, upperBound: live)
        sampling.leakedBlocks = SampleEstimate(
            estimate: Double(analysis.leakedBlocks), variance: tally.leakBlocksVariance, samples: tally.leakSamples,
            lowerBound: tally.leakSamples, upperBound: unfreed)
        if let unfreed, unfreed <= tally.leakSamples {
            sampling.unsampledLeakBytesBound = 0  // every block not freed was sampled
        } else {
            // ln 20: a set of L bytes holds no sample point with probability exp(−L/R).
            let missable = UInt64((Double(intervalBytes) * 2.995_732_273_553_991).rounded())
            let room = minus(live, Int64(clamping: tally.rawLeaked))
            sampling.unsampledLeakBytesBound = room.map { min($0, missable) } ?? missable
        }
        if exact {
            // A site cannot hold more than the whole: one sample of a small block weighs
            // R, which may be more than the program ever allocated.
            let (allocations, deallocations) = (analysis.allocationCount, analysis.deallocationCount)
            let allocated = analysis.totalAllocatedBytes
            for index in analysis.stackStatistics.indices {
                analysis.stackStatistics[index].totals.bound(
                    allocations: allocations, deallocations: deallocations, allocatedBytes: allocated,
                    heapBytes: heapLimit)
            }
            for index in analysis.leakGroups.indices {
                analysis.leakGroups[index].bytes = min(analysis.leakGroups[index].bytes, live ?? .max)
                analysis.leakGroups[index].blocks = min(analysis.leakGroups[index].blocks, unfreed ?? .max)
            }
        }
        analysis.sampling = sampling
        // The replay's peak is the same estimate, so the same bound.
        analysis.replayPeakBytes = min(analysis.replayPeakBytes, sampling.peak.value)
        analysis.peakHeapBytes = sampling.peak.value
        analysis.currentBytes = sampling.inUse.value
        analysis.totalDeallocatedBytes = sampling.freed.value
        analysis.temporaryAllocationCount = sampling.temporaries.value
    }

    private static func rounded(_ value: Double) -> UInt64 {
        value.isFinite && value > 0 ? UInt64(value.rounded()) : 0
    }

    @inline(never)
    private mutating func growDense(toInclude index: Int) {
        let newCount = min(max(index + 1, dense.count * 2, 256), Int(Self.denseStackLimit))
        dense.append(contentsOf: repeatElement(Accumulator(), count: newCount - dense.count))
    }

    /// Lists a dense stack as touched since the last peak copy.
    @inline(never)
    private mutating func markDirty(_ index: Int) {
        dense[index].isDirty = true
        dirtyDense.append(index)
    }

    /// Copies the touched stacks' live bytes to their peak bytes: the heap is at its
    /// peak now. The other stacks' peak bytes already equal their live bytes.
    @inline(never)
    private mutating func capturePeak() {
        peakPending = false
        dense.withUnsafeMutableBufferPointer { buffer in
            for index in dirtyDense {
                buffer[index].peak = buffer[index].live
                buffer[index].isDirty = false
            }
        }
        dirtyDense.removeAll(keepingCapacity: true)
        for id in dirtySparse {
            sparse[id]!.peak = sparse[id]!.live
            sparse[id]!.isDirty = false
        }
        dirtySparse.removeAll(keepingCapacity: true)
    }

    private func makeAnalysis(truncation: Analysis.Truncation?) -> Analysis {
        // Cut before the end: the blocks reported at exit were not yet leaked then, and
        // the END record's figures are those of a later moment.
        let isCut = cutoff != .max && (end.map { cutoff < $0.nanoseconds } ?? true)
        let leaks = isCut ? [:] : self.leaks
        let endFigures = isCut ? nil : end
        var leakTotals: [UInt32: (blocks: UInt64, bytes: UInt64)] = [:]
        var leakGroups: [LeakGroup] = []
        leakGroups.reserveCapacity(leaks.count)
        for (key, value) in leaks {
            // Sample mode: the blocks the samples stand for.
            let blocks = weights == nil ? value.blocks : Self.rounded(estimatedLeakBlocks[key] ?? 0)
            leakGroups.append(LeakGroup(stackID: key.stackID, kind: key.kind, blocks: blocks, bytes: value.bytes))
            let old = leakTotals[key.stackID] ?? (0, 0)
            leakTotals[key.stackID] = (old.blocks &+ blocks, old.bytes &+ value.bytes)
        }
        leakGroups.sort {
            ($0.bytes, $1.stackID, $1.kind.rawValue) > ($1.bytes, $0.stackID, $0.kind.rawValue)
        }

        func statistics(_ id: UInt32, _ accumulator: Accumulator) -> StackStatistics {
            let leaked = leakTotals[id] ?? (0, 0)
            var totals = AllocationTotals(
                allocations: accumulator.allocations,
                deallocations: accumulator.deallocations,
                allocatedBytes: accumulator.allocatedBytes,
                deallocatedBytes: accumulator.deallocatedBytes,
                liveBytes: UInt64(max(accumulator.live, 0)),
                peakBytes: UInt64(max(accumulator.peak, 0)),
                temporaryAllocations: accumulator.temporaries,
                leakedBytes: leaked.bytes,
                leakedBlocks: leaked.blocks)
            if weights != nil {
                totals.samples = accumulator.allocations  // one per ALLOC record: the samples
                let estimated = estimatedCounts[id] ?? EstimatedCounts()
                totals.allocations = Self.rounded(estimated.allocations)
                totals.deallocations = Self.rounded(estimated.deallocations)
                totals.temporaryAllocations = Self.rounded(estimated.temporaries)
            }
            return StackStatistics(stackID: id, totals: totals)
        }
        var perStack: [StackStatistics] = []
        for (index, accumulator) in dense.enumerated() where accumulator.isUsed || leakTotals[UInt32(index)] != nil {
            perStack.append(statistics(UInt32(index), accumulator))
        }
        for (id, accumulator) in sparse where accumulator.isUsed || leakTotals[id] != nil {
            perStack.append(statistics(id, accumulator))
        }
        // Stacks that only leaked (their allocations were not in the readable part).
        let counted = Set(perStack.map(\.stackID))
        for id in leakTotals.keys where !counted.contains(id) {
            perStack.append(statistics(id, Accumulator()))
        }
        perStack.sort { $0.stackID < $1.stackID }

        let replayPeakBytes = UInt64(max(replayPeak, 0))
        // Ticks sample the heap (a lower bound between them); the replay of the events
        // is exact for one thread and follows block order for several.
        let peak = max(endFigures?.heapPeakBytes ?? 0, tickPeak, replayPeakBytes)
        let peakTime: UInt64?
        if peak == 0 {
            peakTime = nil
        } else if replayPeakBytes == peak && replayPeakTime > 0 {
            // The replay reached the exact peak: its time comes from the thread's own
            // clock (a TIME record every few hundred events), finer than the ticks.
            peakTime = replayPeakTime
        } else if let tickPeakTime, tickPeak >= peak {
            peakTime = tickPeakTime
        } else {
            peakTime = replayPeakTime
        }

        var analysis = Analysis(
            process: process,
            modules: modules,
            stacks: stacks,
            threadCount: endFigures.map { Int(clamping: $0.threadCount) } ?? threadsStarted,
            durationNanoseconds: endFigures?.nanoseconds ?? latestTime,
            allocationCount: allocationCount,
            deallocationCount: deallocationCount,
            unknownDeallocationCount: unknownDeallocationCount,
            totalAllocatedBytes: allocatedBytes,
            totalDeallocatedBytes: deallocatedBytes,
            currentBytes: allocatedBytes &+ inheritedBytes >= deallocatedBytes
                ? allocatedBytes &+ inheritedBytes - deallocatedBytes : 0,
            peakHeapBytes: peak,
            peakNanoseconds: peakTime,
            replayPeakBytes: replayPeakBytes,
            peakRSSBytes: peakRSS,
            temporaryAllocationCount: temporaryCount,
            sizes: sizes.distribution,
            stackStatistics: perStack,
            leakGroups: leakGroups,
            leaksRecorded: !isCut && (end != nil || !leaks.isEmpty),
            timeline: timeline.ticks,
            trend: trend.statistics,
            truncation: truncation,
            end: end)
        analysis.jemalloc = jemalloc
        analysis.aggregation = aggregation
        if isCut { analysis.cutoffNanoseconds = min(cutoff, analysis.durationNanoseconds) }
        if let samplingInterval {
            // Per-site figures, freed, live and peak bytes are estimates from the weighted
            // samples; the totals are exact when COUNTS was written, else estimated too.
            analysis.sampling = Analysis.Sampling(intervalBytes: samplingInterval, sampledAllocations: allocationCount)
            analysis.temporaryAllocationCount = Self.rounded(estimatedTotals.temporaries)
            if let exactCounts {
                analysis.allocationCount = exactCounts.allocations
                analysis.deallocationCount = exactCounts.deallocations
                analysis.totalAllocatedBytes = exactCounts.allocatedBytes
            } else {
                analysis.allocationCount = Self.rounded(estimatedTotals.allocations)
                analysis.deallocationCount = Self.rounded(estimatedTotals.deallocations) &+ unknownDeallocationCount
            }
            bound(&analysis, intervalBytes: samplingInterval, exact: exactCounts != nil && !isCut)
        }
        return analysis
    }
}
