/// How the preload recorded the process (`MEMPROF_MODE`).
public enum TraceMode: UInt8, Sendable, CustomStringConvertible {
    /// Every allocation and free, with its stack.
    case full = 0
    /// Poisson sampling by bytes.
    case sample = 1
    /// Per-stack counters, periodic snapshots.
    case aggregate = 2

    public var description: String {
        switch self {
        case .full: "full"
        case .sample: "sample"
        case .aggregate: "aggregate"
        }
    }
}

/// What the preload knew about the process when tracing began.
public struct ProcessRecord: Sendable, Equatable {
    public var pid: UInt64
    public var parentPID: UInt64
    /// Wall-clock start, nanoseconds since the Unix epoch.
    public var startUnixNanoseconds: UInt64
    public var pageSize: UInt64
    public var executablePath: String
    public var arguments: [String]
    public var memprofVersion: String
    public var mode: TraceMode

    public init(
        pid: UInt64, parentPID: UInt64, startUnixNanoseconds: UInt64, pageSize: UInt64,
        executablePath: String, arguments: [String], memprofVersion: String, mode: TraceMode
    ) {
        self.pid = pid
        self.parentPID = parentPID
        self.startUnixNanoseconds = startUnixNanoseconds
        self.pageSize = pageSize
        self.executablePath = executablePath
        self.arguments = arguments
        self.memprofVersion = memprofVersion
        self.mode = mode
    }
}

/// One loaded ELF module (executable or shared library) in one module-map generation.
public struct ModuleRecord: Sendable, Equatable {
    /// One `PT_LOAD` segment; `virtualAddress` is relative to the module's load bias.
    public struct Segment: Sendable, Equatable {
        public var virtualAddress: UInt64
        public var memorySize: UInt64
        /// 1 = readable, 2 = writable, 4 = executable.
        public var flags: UInt8
        public init(virtualAddress: UInt64, memorySize: UInt64, flags: UInt8) {
            self.virtualAddress = virtualAddress
            self.memorySize = memorySize
            self.flags = flags
        }
        public var isExecutable: Bool { flags & 4 != 0 }
    }

    /// Module maps are numbered; a stack names the generation it was captured in.
    public var generation: UInt32
    /// `dlpi_addr`: add to a segment's virtual address to get the runtime address.
    public var loadBias: UInt64
    public var path: String
    /// The GNU build-id note, empty when the module has none.
    public var buildID: [UInt8]
    public var segments: [Segment]

    public init(generation: UInt32, loadBias: UInt64, path: String, buildID: [UInt8], segments: [Segment]) {
        self.generation = generation
        self.loadBias = loadBias
        self.path = path
        self.buildID = buildID
        self.segments = segments
    }

    /// Whether `address` falls inside one of this module's segments.
    public func contains(_ address: UInt64) -> Bool {
        segments.contains { segment in
            let start = loadBias &+ segment.virtualAddress
            return address >= start && address - start < segment.memorySize
        }
    }
}

/// A deduplicated call stack: return addresses, innermost first.
public struct StackRecord: Sendable, Equatable {
    public var id: UInt32
    public var moduleGeneration: UInt32
    public var frames: [UInt64]
    public init(id: UInt32, moduleGeneration: UInt32, frames: [UInt64]) {
        self.id = id
        self.moduleGeneration = moduleGeneration
        self.frames = frames
    }
}

/// A periodic sample of process-wide figures (every ~10 ms).
public struct TickRecord: Sendable, Equatable {
    /// Nanoseconds since the process started (monotonic clock).
    public var nanoseconds: UInt64
    /// Bytes in live heap blocks at this moment.
    public var heapBytes: UInt64
    /// Highest `heapBytes` any tick has seen so far: sampled, so the true peak between
    /// ticks can be higher (the replay of the events finds it).
    public var heapPeakBytes: UInt64
    /// Resident set size of the process.
    public var rssBytes: UInt64
    public init(nanoseconds: UInt64, heapBytes: UInt64, heapPeakBytes: UInt64, rssBytes: UInt64) {
        self.nanoseconds = nanoseconds
        self.heapBytes = heapBytes
        self.heapPeakBytes = heapPeakBytes
        self.rssBytes = rssBytes
    }
}

/// How a block still live at exit was classified.
public enum LeakKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Not freed at exit; no reachability scan was made.
    case unfreed = 0
    case definite = 1
    case indirect = 2
    case possible = 3
    case reachable = 4

    /// The JSON spelling (`leaks[].kind`).
    public var description: String {
        switch self {
        case .unfreed: "unfreed"
        case .definite: "definite"
        case .indirect: "indirect"
        case .possible: "possible"
        case .reachable: "reachable"
        }
    }
}

/// A heap block still allocated when the process exited.
public struct LeakRecord: Sendable, Equatable {
    public var stackID: UInt32
    public var size: UInt64
    public var address: UInt64
    public var kind: LeakKind
    public init(stackID: UInt32, size: UInt64, address: UInt64, kind: LeakKind) {
        self.stackID = stackID
        self.size = size
        self.address = address
        self.kind = kind
    }
}

/// Exact totals of a sampled recording (sample mode writes them before END): every
/// allocation and free counted, whether sampled or not.
public struct CountsRecord: Sendable, Equatable {
    public var allocations: UInt64
    public var deallocations: UInt64
    public var allocatedBytes: UInt64
    public init(allocations: UInt64, deallocations: UInt64, allocatedBytes: UInt64) {
        self.allocations = allocations
        self.deallocations = deallocations
        self.allocatedBytes = allocatedBytes
    }
}

/// The last record of a complete trace.
public struct EndRecord: Sendable, Equatable {
    /// How tracing ended (`MEMPROF_END_*` flags).
    public struct Flags: OptionSet, Sendable, Equatable {
        public let rawValue: UInt64
        public init(rawValue: UInt64) { self.rawValue = rawValue }
        /// Normal `exit()` or return from `main`.
        public static let viaExit = Flags(rawValue: 1)
        /// The program called `_exit` / `_Exit`.
        public static let viaUnderscoreExit = Flags(rawValue: 2)
        /// Tracing stopped early after an internal failure of the preload.
        public static let stoppedEarly = Flags(rawValue: 4)
        /// The program called `exec*`: its image was replaced.
        public static let viaExec = Flags(rawValue: 8)
        /// A signal whose default action ends the process arrived (a crash, `abort`,
        /// SIGTERM): the trace was finished from there and the process died of it.
        /// ``EndRecord/signal`` is its number.
        public static let viaSignal = Flags(rawValue: 16)
    }

    /// The signal that ended the process, when ``Flags/viaSignal`` is set (bits 8-15
    /// of the flags).
    public var signal: Int32? {
        flags.contains(.viaSignal) ? Int32(truncatingIfNeeded: (flags.rawValue >> 8) & 0xff) : nil
    }

    public var nanoseconds: UInt64
    public var heapPeakBytes: UInt64
    public var threadCount: UInt64
    public var flags: Flags
    public init(nanoseconds: UInt64, heapPeakBytes: UInt64, threadCount: UInt64, flags: Flags) {
        self.nanoseconds = nanoseconds
        self.heapPeakBytes = heapPeakBytes
        self.threadCount = threadCount
        self.flags = flags
    }
}

/// jemalloc's own figures (`memprof run --jemalloc`), read with `mallctl` after an
/// epoch refresh: every second and at the end.
public struct JemallocStatsRecord: Sendable, Hashable {
    /// Nanoseconds since the process started (monotonic clock).
    public var nanoseconds: UInt64
    /// `stats.allocated`, `active`, `metadata`, `resident`, `mapped`, `retained`.
    public var allocated: UInt64
    public var active: UInt64
    public var metadata: UInt64
    public var resident: UInt64
    public var mapped: UInt64
    public var retained: UInt64
    public init(
        nanoseconds: UInt64, allocated: UInt64, active: UInt64, metadata: UInt64, resident: UInt64, mapped: UInt64,
        retained: UInt64
    ) {
        self.nanoseconds = nanoseconds
        self.allocated = allocated
        self.active = active
        self.metadata = metadata
        self.resident = resident
        self.mapped = mapped
        self.retained = retained
    }
}

/// Aggregate mode: the header of one snapshot of the per-stack counters. The SITE
/// records that follow it (``SiteRecord``) are this snapshot's.
public struct SnapshotRecord: Sendable, Hashable {
    /// Why the preload wrote it.
    public enum Reason: String, Sendable, Hashable, CaseIterable {
        /// Every snapshot interval.
        case periodic
        /// The snapshot signal (SIGUSR2 by default).
        case signal
        /// The in-process API asked for it.
        case api
        /// The trace ends.
        case end
    }

    /// Nanoseconds since the process started (monotonic clock).
    public var nanoseconds: UInt64
    public var reason: Reason
    /// Memory the preload had mapped for itself (tables, buffers, thread states).
    public var memprofBytes: UInt64
    /// How many SITE records follow: the stacks whose counts changed since the previous
    /// snapshot.
    public var siteCount: UInt64
    public init(nanoseconds: UInt64, reason: Reason, memprofBytes: UInt64, siteCount: UInt64) {
        self.nanoseconds = nanoseconds
        self.reason = reason
        self.memprofBytes = memprofBytes
        self.siteCount = siteCount
    }
}

/// Aggregate mode: one stack's counts in a snapshot, since that stack's previous SITE
/// record (the first one: since tracing began). ``peakLiveBytes`` is not a difference:
/// it is the most bytes the stack has held live at once so far.
public struct SiteRecord: Sendable, Hashable {
    public var stackID: UInt32
    public var allocations: UInt64
    public var deallocations: UInt64
    public var allocatedBytes: UInt64
    public var deallocatedBytes: UInt64
    /// Frees of a block that was its thread's most recent allocation.
    public var temporaries: UInt64
    public var peakLiveBytes: UInt64
    public init(
        stackID: UInt32, allocations: UInt64, deallocations: UInt64, allocatedBytes: UInt64,
        deallocatedBytes: UInt64, temporaries: UInt64, peakLiveBytes: UInt64
    ) {
        self.stackID = stackID
        self.allocations = allocations
        self.deallocations = deallocations
        self.allocatedBytes = allocatedBytes
        self.deallocatedBytes = deallocatedBytes
        self.temporaries = temporaries
        self.peakLiveBytes = peakLiveBytes
    }
}
