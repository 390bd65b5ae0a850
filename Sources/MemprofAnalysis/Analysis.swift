import MemprofTrace

/// Everything a report needs to know about one recorded run, computed in one pass over
/// the trace by ``TraceAnalyzer``. A pure value: no I/O, no symbolization.
///
/// ```swift
/// var analyzer = TraceAnalyzer()
/// let summary = try TraceReader(path: path).read(into: &analyzer)
/// let analysis = analyzer.analysis(readSummary: summary)
/// print(analysis.allocationCount, analysis.peakHeapBytes)
/// ```
///
/// Counting follows valgrind's `total heap usage` line: every successful allocation
/// call is one allocation; every free of a non-null pointer is one deallocation, also
/// when memprof never saw the block allocated (``unknownDeallocationCount``).
public struct Analysis: Sendable, Equatable {
    /// How a sampled recording (`memprof run --mode sample`) was taken.
    public struct Sampling: Sendable, Equatable {
        /// Mean bytes between samples.
        public var intervalBytes: UInt64
        /// ALLOC records in the trace: the samples.
        public var sampledAllocations: UInt64
        /// The heap's peak (``Analysis/peakHeapBytes``): its samples are the sampled
        /// blocks live at the replay's peak.
        public var peak: SampleEstimate
        /// Bytes in use when the trace ends (``Analysis/currentBytes``).
        public var inUse: SampleEstimate
        /// Bytes freed (``Analysis/totalDeallocatedBytes``).
        public var freed: SampleEstimate
        /// Temporary allocations (``Analysis/temporaryAllocationCount``).
        public var temporaries: SampleEstimate
        /// Bytes of the blocks not freed at exit, every group (``Analysis/leakedBytes``).
        public var leakedBytes: SampleEstimate
        /// Number of those blocks (``Analysis/leakedBlocks``).
        public var leakedBlocks: SampleEstimate
        /// Blocks not freed at exit by the exact counts (allocations − frees), sampled or
        /// not; nil when the counts cannot tell (no COUNTS record, or inherited blocks).
        public var unfreedBlocks: UInt64?
        /// Bytes that blocks not freed at exit could hold without any of them having been
        /// sampled: `R·ln 20` (a set of blocks that large escapes every sample point with
        /// probability 5%), at most what the exact totals leave; 0 when the exact counts
        /// say every such block was sampled.
        public var unsampledLeakBytesBound: UInt64

        public init(
            intervalBytes: UInt64, sampledAllocations: UInt64, peak: SampleEstimate = .none,
            inUse: SampleEstimate = .none, freed: SampleEstimate = .none, temporaries: SampleEstimate = .none,
            leakedBytes: SampleEstimate = .none, leakedBlocks: SampleEstimate = .none, unfreedBlocks: UInt64? = nil,
            unsampledLeakBytesBound: UInt64 = 0
        ) {
            self.intervalBytes = intervalBytes
            self.sampledAllocations = sampledAllocations
            self.peak = peak
            self.inUse = inUse
            self.freed = freed
            self.temporaries = temporaries
            self.leakedBytes = leakedBytes
            self.leakedBlocks = leakedBlocks
            self.unfreedBlocks = unfreedBlocks
            self.unsampledLeakBytesBound = unsampledLeakBytesBound
        }
    }

    /// Set for a sampled recording: then the allocation and free counts and the bytes
    /// allocated are exact (from the trace's COUNTS record), while every per-stack figure,
    /// the leak groups, bytes freed, in use and at the peak, and temporaries are
    /// unbiased estimates from the weighted samples (see ``SampleWeights``). The size
    /// distribution describes the samples themselves.
    public var sampling: Sampling?

    /// Set for an aggregate-mode recording (see ``Aggregation``).
    public var aggregation: Aggregation?

    /// jemalloc's own figures (`memprof run --jemalloc`): the last reading, with the
    /// highest `allocated` and `resident` seen; nil when the trace has none.
    public var jemalloc: JemallocFigures?

    public struct JemallocFigures: Sendable, Hashable {
        public var latest: JemallocStatsRecord
        public var samples: Int
        public var peakAllocated: UInt64
        public var peakResident: UInt64

        public init(latest: JemallocStatsRecord, samples: Int, peakAllocated: UInt64, peakResident: UInt64) {
            self.latest = latest
            self.samples = samples
            self.peakAllocated = peakAllocated
            self.peakResident = peakResident
        }

        /// Adds a later reading.
        mutating func add(_ record: JemallocStatsRecord) {
            latest = record
            samples += 1
            peakAllocated = max(peakAllocated, record.allocated)
            peakResident = max(peakResident, record.resident)
        }
    }

    /// Where and why a trace ends early (as the reader reports it); everything before
    /// it was analysed.
    public typealias Truncation = TraceTruncation

    /// The recorded process, nil when the trace lacks its PROCESS record.
    public var process: ProcessRecord?
    /// Every module of every module-map generation, in trace order.
    public var modules: [ModuleRecord]
    /// Every stack the trace defined, by id.
    public var stacks: [UInt32: StackRecord]
    /// Threads the process ran (from the END record, else the threads seen starting).
    public var threadCount: Int
    /// Time from process start to the end of tracing (or to the last timestamp seen).
    public var durationNanoseconds: UInt64

    /// Successful allocation calls.
    public var allocationCount: UInt64
    /// Frees of non-null pointers, including ``unknownDeallocationCount``.
    public var deallocationCount: UInt64
    /// Frees of pointers memprof never saw allocated (their size is unknown).
    public var unknownDeallocationCount: UInt64
    /// Bytes requested by all allocations.
    public var totalAllocatedBytes: UInt64
    /// Bytes of the known blocks that were freed.
    public var totalDeallocatedBytes: UInt64
    /// Heap bytes still allocated when the trace ends.
    public var currentBytes: UInt64
    /// Highest heap usage: the END record's exact figure, else the highest of the
    /// ticks' exact running peak and the replay's peak.
    public var peakHeapBytes: UInt64
    /// When ``peakHeapBytes`` was reached: the first tick that reported it, else the
    /// replay's estimate; nil when nothing was allocated.
    public var peakNanoseconds: UInt64?
    /// The highest heap usage of the replay of the events in file order. Differs from
    /// ``peakHeapBytes`` only when blocks of different threads interleave; the stacks'
    /// ``AllocationTotals/peakBytes`` add up to this figure.
    public var replayPeakBytes: UInt64
    /// Highest resident set size sampled.
    public var peakRSSBytes: UInt64
    /// Allocations freed before their thread allocated anything else.
    public var temporaryAllocationCount: UInt64
    /// Requested sizes.
    public var sizes: SizeDistribution

    /// Activity per stack, ascending by stack id; only stacks that allocated, freed or
    /// leaked something.
    public var stackStatistics: [StackStatistics]
    /// Blocks not freed at exit, grouped by allocation stack and kind, every kind
    /// (still reachable ones too); largest first. Which kinds count as leaks is decided
    /// when a report is built (see ``leakTotals(kinds:)``).
    public var leakGroups: [LeakGroup]
    /// Whether the trace reached the leak report at exit. When false (a trace cut short)
    /// ``leakGroups`` is empty because nothing was reported, not because nothing leaked.
    public var leaksRecorded: Bool

    /// Ticks over the run, evenly thinned to a bounded number of points.
    public var timeline: [TickRecord]
    /// Trend figures over all ticks.
    public var trend: TrendStatistics

    /// Set when the file ends early.
    public var truncation: Truncation?
    /// Whether the recorded process was still writing the trace when it was read: the
    /// file then ends early because the recording goes on, not because it was cut
    /// short. Set by whoever read the file (see `TraceWriter.isWriting`); the analysis
    /// itself does no I/O.
    public var isLive = false
    /// The END record, nil when tracing did not end normally.
    public var end: EndRecord?
    /// Set when the analysis covers the recording only up to this time (nanoseconds
    /// since the process started; see `TraceAnalyzer(cutoff:)`): then ``currentBytes``
    /// and the stacks' live bytes are the heap at that moment, nothing is known about
    /// blocks not freed at exit, and ``end`` (kept: it says how the recording ended)
    /// contributes no figure.
    public var cutoffNanoseconds: UInt64?

    /// Creates an analysis; ``TraceAnalyzer`` is the usual way to get one.
    public init(
        process: ProcessRecord? = nil, modules: [ModuleRecord] = [], stacks: [UInt32: StackRecord] = [:],
        threadCount: Int = 0, durationNanoseconds: UInt64 = 0, allocationCount: UInt64 = 0,
        deallocationCount: UInt64 = 0, unknownDeallocationCount: UInt64 = 0, totalAllocatedBytes: UInt64 = 0,
        totalDeallocatedBytes: UInt64 = 0, currentBytes: UInt64 = 0, peakHeapBytes: UInt64 = 0,
        peakNanoseconds: UInt64? = nil, replayPeakBytes: UInt64 = 0, peakRSSBytes: UInt64 = 0,
        temporaryAllocationCount: UInt64 = 0, sizes: SizeDistribution = SizeDistribution(buckets: []),
        stackStatistics: [StackStatistics] = [], leakGroups: [LeakGroup] = [], leaksRecorded: Bool = false,
        timeline: [TickRecord] = [], trend: TrendStatistics = .empty, truncation: Truncation? = nil,
        end: EndRecord? = nil
    ) {
        self.process = process
        self.modules = modules
        self.stacks = stacks
        self.threadCount = threadCount
        self.durationNanoseconds = durationNanoseconds
        self.allocationCount = allocationCount
        self.deallocationCount = deallocationCount
        self.unknownDeallocationCount = unknownDeallocationCount
        self.totalAllocatedBytes = totalAllocatedBytes
        self.totalDeallocatedBytes = totalDeallocatedBytes
        self.currentBytes = currentBytes
        self.peakHeapBytes = peakHeapBytes
        self.peakNanoseconds = peakNanoseconds
        self.replayPeakBytes = replayPeakBytes
        self.peakRSSBytes = peakRSSBytes
        self.temporaryAllocationCount = temporaryAllocationCount
        self.sizes = sizes
        self.stackStatistics = stackStatistics
        self.leakGroups = leakGroups
        self.leaksRecorded = leaksRecorded
        self.timeline = timeline
        self.trend = trend
        self.truncation = truncation
        self.end = end
    }

    /// ``durationNanoseconds`` in seconds.
    public var durationSeconds: Double { Double(durationNanoseconds) / 1e9 }

    /// Allocations per second of run time, 0 for a zero-length run.
    public var allocationRatePerSecond: Double {
        durationNanoseconds == 0 ? 0 : Double(allocationCount) / durationSeconds
    }

    /// Bytes of all blocks not freed at exit, of every kind (still reachable ones too);
    /// ``leakTotals(kinds:)`` counts only some kinds.
    public var leakedBytes: UInt64 { leakGroups.reduce(0) { $0 &+ $1.bytes } }

    /// Number of blocks not freed at exit, of every kind (see ``leakedBytes``).
    public var leakedBlocks: UInt64 { leakGroups.reduce(0) { $0 &+ $1.blocks } }

    /// Whether the file ends early (see ``truncation``).
    public var isTruncated: Bool { truncation != nil }

    /// The totals of all stacks together.
    public var totals: AllocationTotals {
        stackStatistics.reduce(into: AllocationTotals()) { $0 += $1.totals }
    }
}
