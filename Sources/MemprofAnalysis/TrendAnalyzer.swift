import MemprofTrace

/// Replays a trace over a ``TrendWindow``: heap figures per interval from the ticks,
/// least-squares growth and volatility over the window, and per stack the live bytes at
/// each boundary and the ages of the blocks still live at the window's end.
///
/// Events are placed in time by their thread's clock (TIME records, within 5 ms), not
/// by file order: a thread's block can reach the file half a second after its events.
/// So per-stack changes are summed per interval and added up at the end. An aggregate
/// trace's SITE records are placed at their snapshot's time instead.
///
/// **Ages.** A FREE record names the freed block's stack and size, not its address, so
/// which of a stack's live blocks of that size was freed is unknown. The analyzer frees
/// the oldest one: what stays live are then the youngest blocks, and the count of
/// blocks older than the threshold is a lower bound — a block counted as old really
/// was allocated that long ago and not freed since, whatever the program freed.
///
/// ```swift
/// var trend = TrendAnalyzer(window: window, ageThreshold: 500_000_000)
/// _ = try TraceReader(path: path).read(into: &trend)
/// let report = trend.report()
/// ```
public struct TrendAnalyzer: TraceVisitor, Sendable {
    /// Most intervals of the per-stack series (the data points may have more).
    public static let maximumSiteIntervals = 100

    /// Live blocks of one stack and size: runs of allocation times, oldest first.
    struct BlockAges: Sendable {
        var times: [UInt64] = []
        var counts: [UInt64] = []
        var head = 0
        /// Frees replayed before their block's allocation (another thread's block came
        /// first in the file); each cancels the next allocation.
        var pendingFrees: UInt64 = 0

        mutating func allocate(at time: UInt64) {
            if pendingFrees > 0 {
                pendingFrees -= 1
                return
            }
            if head == times.count && head > 0 {
                times.removeAll()
                counts.removeAll()
                head = 0
            }
            if let last = times.last, last >= time {
                if last == time {
                    counts[counts.count - 1] += 1
                    return
                }
                // Another thread's older event: keep the runs sorted.
                var index = times.count - 1
                while index > head && times[index - 1] >= time { index -= 1 }
                if times[index] == time {
                    counts[index] += 1
                } else {
                    times.insert(time, at: index)
                    counts.insert(1, at: index)
                }
                return
            }
            times.append(time)
            counts.append(1)
        }

        /// Aggregate mode: `count` blocks allocated at `time` (a snapshot's; snapshots
        /// come in time order).
        mutating func allocate(count: UInt64, at time: UInt64) {
            let cancelled = min(pendingFrees, count)
            pendingFrees -= cancelled
            let count = count - cancelled
            guard count > 0 else { return }
            if head == times.count && head > 0 {
                times.removeAll()
                counts.removeAll()
                head = 0
            }
            if let last = times.last, last >= time {
                counts[counts.count - 1] += count
            } else {
                times.append(time)
                counts.append(count)
            }
        }

        /// Aggregate mode: `count` frees, of the oldest blocks first.
        mutating func free(count: UInt64) {
            var count = count
            while count > 0 && head < times.count {
                let taken = min(count, counts[head])
                counts[head] -= taken
                count -= taken
                if counts[head] == 0 { head += 1 }
            }
            pendingFrees += count
            if head >= 64 && head * 2 >= times.count {
                times.removeFirst(head)
                counts.removeFirst(head)
                head = 0
            }
        }

        /// No live block and no pending free: the entry can go.
        var isEmpty: Bool { head == times.count && pendingFrees == 0 }

        mutating func free() {
            guard head < times.count else {
                pendingFrees += 1
                return
            }
            counts[head] -= 1
            if counts[head] == 0 { head += 1 }
            if head >= 64 && head * 2 >= times.count {
                times.removeFirst(head)
                counts.removeFirst(head)
                head = 0
            }
        }
    }

    /// Tick figures of one interval.
    struct Bucket: Sendable {
        var samples = 0
        var heapSum = 0.0
        var heapMinimum = UInt64.max
        var heapMaximum: UInt64 = 0
        var rssMaximum: UInt64 = 0
    }

    public let window: TrendWindow
    /// The per-stack series' window: ``window`` with at most ``maximumSiteIntervals``.
    public let siteWindow: TrendWindow
    public let ageThreshold: UInt64

    private var threadTimes: [UInt32: UInt64] = [:]
    private var currentTime: UInt64 = 0
    private var buckets: [Bucket]
    private var statistics = TrendAccumulator()
    /// Per stack id (dense: ids are small integers), the live-byte change in each
    /// interval; empty for a stack not seen.
    private var changes: [[Int64]] = []
    private var ages = AgeTable()
    private var allocations: UInt64 = 0
    private var deallocations: UInt64 = 0
    private var allocatedBytes: UInt64 = 0
    /// An aggregate trace: ages are per stack (size key ``unknownSize``), old bytes estimated.
    private var isAggregate = false
    /// A sampled trace: each sampled block stands for `1/p` blocks of `s/p` bytes (the
    /// analysis's weights), so the window's counts and the sites' bytes are estimates.
    private var weights: SampleWeights?
    private var estimatedAllocations: Double = 0
    private var estimatedDeallocations: Double = 0

    /// Creates an analyzer for `window`.
    /// - Parameter ageThreshold: a live block allocated at least this long before the
    ///   window's end counts as old (``StackGrowth/oldBlocks``).
    public init(window: TrendWindow, ageThreshold: UInt64) {
        self.window = window
        let coarsest = (window.span + UInt64(Self.maximumSiteIntervals) - 1) / UInt64(Self.maximumSiteIntervals)
        siteWindow = TrendWindow(start: window.start, end: window.end, interval: max(window.interval, coarsest))
        self.ageThreshold = ageThreshold
        buckets = Array(repeating: Bucket(), count: window.intervalCount)
    }

    // MARK: TraceVisitor

    public mutating func threadBlock(thread: UInt32) {
        if let time = threadTimes[thread] { currentTime = time }
    }

    public mutating func time(thread: UInt32, nanoseconds: UInt64) {
        threadTimes[thread] = nanoseconds
        currentTime = nanoseconds
    }

    /// Sample mode: ALLOC records are samples at this mean interval.
    public mutating func sampling(intervalBytes: UInt64) {
        weights = SampleWeights(intervalBytes: intervalBytes)
    }

    /// The bytes a block of `size` counts for: itself, or in sample mode what it stands
    /// for (rounded once per block, so that its free cancels its allocation).
    private func weighted(_ size: UInt64) -> Int64 {
        guard let weights else { return Int64(bitPattern: size) }
        let bytes = weights.bytes(size: size)
        return bytes.isFinite && bytes > 0 ? Int64(bytes.rounded()) : 0
    }

    public mutating func allocation(thread: UInt32, size: UInt64, stackID: UInt32) {
        guard let slot = siteWindow.slot(of: currentTime) else { return }
        if slot > 0 {
            allocations &+= 1
            allocatedBytes &+= UInt64(weighted(size))
            if let weights { estimatedAllocations += weights.allocations(size: size) }
        }
        change(stackID, slot: slot, by: weighted(size))
        let time = currentTime
        ages.update(stackID, size) { $0.allocate(at: time) }
    }

    /// A block the process began with (a fork child's inherited heap): live at its site
    /// from the start (as old as the trace, at least), not an allocation.
    public mutating func inherited(thread: UInt32, size: UInt64, stackID: UInt32) {
        guard let slot = siteWindow.slot(of: currentTime) else { return }
        change(stackID, slot: slot, by: weighted(size))
        let time = currentTime
        ages.update(stackID, size) { $0.allocate(at: time) }
    }

    public mutating func deallocation(thread: UInt32, size: UInt64, stackID: UInt32, temporary: Bool) {
        guard let slot = siteWindow.slot(of: currentTime) else { return }
        if slot > 0 {
            deallocations &+= 1
            if let weights { estimatedDeallocations += weights.allocations(size: size) }
        }
        change(stackID, slot: slot, by: -weighted(size))
        // An entry without live blocks is dropped (AgeTable).
        ages.update(stackID, size) { $0.free() }
    }

    /// Aggregate mode: the trace's blocks have no sizes; their ages are estimates.
    public mutating func aggregation(intervalNanoseconds: UInt64) {
        isAggregate = true
    }

    /// Aggregate mode: the SITE records that follow are a snapshot's, taken at its time.
    public mutating func snapshot(_ record: SnapshotRecord) {
        isAggregate = true
        currentTime = record.nanoseconds
    }

    /// Aggregate mode: one stack's counts since its previous snapshot, placed at this
    /// snapshot's time. Block ages are kept per stack (sizes are not recorded) at
    /// snapshot resolution: a snapshot's allocations are one run; its temporaries (frees
    /// of their thread's latest allocation) are taken to be of that run, and its other
    /// frees take the oldest blocks first, as for full traces. Without the first rule a
    /// stack that churns temporaries would seem to free its old blocks.
    public mutating func site(_ record: SiteRecord) {
        guard let slot = siteWindow.slot(of: currentTime) else { return }
        if slot > 0 {
            allocations &+= record.allocations
            deallocations &+= record.deallocations
            allocatedBytes &+= record.allocatedBytes
        }
        change(record.stackID, slot: slot, by: Int64(bitPattern: record.allocatedBytes &- record.deallocatedBytes))
        let time = currentTime
        let temporaries = min(record.temporaries, record.allocations, record.deallocations)
        ages.update(record.stackID, Self.unknownSize) {
            $0.allocate(count: record.allocations - temporaries, at: time)
            $0.free(count: record.deallocations - temporaries)
        }
    }

    /// The age table's size key for aggregate traces' blocks, whose sizes are unknown.
    static let unknownSize: UInt64 = 0

    public mutating func unknownDeallocation(thread: UInt32) {
        if let slot = siteWindow.slot(of: currentTime), slot > 0 { deallocations &+= 1 }
    }

    public mutating func tick(_ record: TickRecord) {
        guard record.nanoseconds >= window.start, let slot = window.slot(of: record.nanoseconds) else { return }
        statistics.add(record)
        let index = max(slot, 1) - 1
        buckets[index].samples += 1
        buckets[index].heapSum += Double(record.heapBytes)
        buckets[index].heapMinimum = min(buckets[index].heapMinimum, record.heapBytes)
        buckets[index].heapMaximum = max(buckets[index].heapMaximum, record.heapBytes)
        buckets[index].rssMaximum = max(buckets[index].rssMaximum, record.rssBytes)
    }

    private mutating func change(_ stackID: UInt32, slot: Int, by bytes: Int64) {
        let id = Int(stackID)
        if id >= changes.count { changes += Array(repeating: [], count: max(id + 1 - changes.count, changes.count)) }
        if changes[id].isEmpty { changes[id] = Array(repeating: 0, count: siteWindow.intervalCount + 1) }
        changes[id][slot] &+= bytes
    }

    // MARK: Result

    /// The figures of everything visited.
    public func report() -> TrendReport {
        let dataPoints = buckets.indices.compactMap { index -> TrendDataPoint? in
            let bucket = buckets[index]
            guard bucket.samples > 0 else { return nil }
            return TrendDataPoint(
                nanoseconds: window.boundary(index + 1), sampleCount: bucket.samples,
                averageHeapBytes: bucket.heapSum / Double(bucket.samples), minimumHeapBytes: bucket.heapMinimum,
                peakHeapBytes: bucket.heapMaximum, rssBytes: bucket.rssMaximum)
        }
        let oldBefore = window.end >= ageThreshold ? window.end - ageThreshold : nil
        var blocks: [UInt32: (live: UInt64, old: UInt64, oldBytes: UInt64)] = [:]
        // Sample mode: the sampled blocks' counts, then what they stand for per stack.
        var estimated: [UInt32: (live: Double, old: Double, oldBytes: Double)] = [:]
        ages.forEach { stackID, size, ages in
            guard ages.head < ages.times.count else { return }
            var entry = blocks[stackID] ?? (0, 0, 0)
            var sampled: (live: UInt64, old: UInt64) = (0, 0)
            for index in ages.head..<ages.times.count {
                sampled.live &+= ages.counts[index]
                if let oldBefore, ages.times[index] <= oldBefore {
                    sampled.old &+= ages.counts[index]
                }
            }
            entry.live &+= sampled.live
            entry.old &+= sampled.old
            entry.oldBytes &+= sampled.old &* size
            blocks[stackID] = entry
            if let weights {
                var sum = estimated[stackID] ?? (0, 0, 0)
                let weight = weights.allocations(size: size)
                sum.live += Double(sampled.live) * weight
                sum.old += Double(sampled.old) * weight
                sum.oldBytes += Double(sampled.old) * Double(weighted(size))
                estimated[stackID] = sum
            }
        }
        for (stackID, sum) in estimated {
            blocks[stackID] = (UInt64(sum.live.rounded()), UInt64(sum.old.rounded()), UInt64(sum.oldBytes.rounded()))
        }
        var stacks: [UInt32: StackGrowth] = [:]
        for (index, deltas) in changes.enumerated() where !deltas.isEmpty {
            let id = UInt32(index)
            var running: Int64 = 0
            let series = deltas.map { delta -> Int64 in
                running &+= delta
                return running
            }
            guard series.contains(where: { $0 != 0 }) else { continue }
            var counted = blocks[id] ?? (0, 0, 0)
            // Aggregate traces' blocks have no size (key 0, which a full trace's malloc(0)
            // blocks share): the old bytes are the old blocks at the stack's average live block.
            if isAggregate, counted.live > 0, let last = series.last, last > 0 {
                counted.oldBytes = UInt64(Double(counted.old) * Double(last) / Double(counted.live))
            }
            stacks[id] = StackGrowth(
                liveBytes: series, liveBlocks: counted.live, oldBlocks: counted.old, oldBytes: counted.oldBytes)
        }
        return TrendReport(
            window: window, siteWindow: siteWindow, ageThreshold: ageThreshold, statistics: statistics.statistics,
            dataPoints: dataPoints, stacks: stacks,
            allocations: weights == nil ? allocations : UInt64(estimatedAllocations.rounded()),
            deallocations: weights == nil ? deallocations : UInt64(estimatedDeallocations.rounded()),
            allocatedBytes: allocatedBytes)
    }
}
