/// Receives a trace's records as the reader decodes them, one block at a time.
///
/// Records of one thread arrive in the order that thread made them. Blocks of
/// different threads arrive in the order the preload wrote them, which is close to,
/// but not exactly, time order. A stack may be referenced by an event before its
/// `StackRecord` arrives (another thread defined it); key aggregates by stack id and
/// resolve frames at the end.
///
/// Every method has an empty default, so a visitor implements only what it needs.
/// The reader is generic over the visitor, so calls are specialized and cheap.
public protocol TraceVisitor {
    mutating func process(_ record: ProcessRecord)
    mutating func module(_ record: ModuleRecord)
    mutating func stack(_ record: StackRecord)
    /// A new block of thread `thread` begins.
    mutating func threadBlock(thread: UInt32)
    /// The thread's clock: its following events happened at or after `nanoseconds`.
    mutating func time(thread: UInt32, nanoseconds: UInt64)
    mutating func allocation(thread: UInt32, size: UInt64, stackID: UInt32)
    /// A free of a block allocated at `stackID` with `size` bytes; `temporary` when it
    /// was the thread's most recent allocation.
    mutating func deallocation(thread: UInt32, size: UInt64, stackID: UInt32, temporary: Bool)
    /// A free of a pointer memprof never saw allocated.
    mutating func unknownDeallocation(thread: UInt32)
    /// An INHERITED record: a block the process had when its trace began (a fork
    /// child's copy of its parent's heap): live, but not one of its allocations.
    mutating func inherited(thread: UInt32, size: UInt64, stackID: UInt32)
    mutating func tick(_ record: TickRecord)
    mutating func threadStarted(index: UInt32, tid: UInt64)
    mutating func leak(_ record: LeakRecord)
    mutating func end(_ record: EndRecord)
    /// Sample mode: ALLOC records are sample points of a Poisson process over allocated
    /// bytes with this mean interval; a sampled block of `s` bytes stands for
    /// `1 / (1 - exp(-s / interval))` blocks.
    mutating func sampling(intervalBytes: UInt64)
    /// Sample mode: the exact totals, sampled or not.
    mutating func counts(_ record: CountsRecord)
    /// A JEMALLOC record: jemalloc's own statistics (`memprof run --jemalloc`).
    mutating func jemalloc(_ record: JemallocStatsRecord)
    /// Aggregate mode (before any snapshot): the trace has no ALLOC or FREE records;
    /// per-stack counters arrive in snapshots written every `intervalNanoseconds`
    /// (and on demand).
    mutating func aggregation(intervalNanoseconds: UInt64)
    /// Aggregate mode: a snapshot begins; the SITE records that follow are its own.
    mutating func snapshot(_ record: SnapshotRecord)
    /// Aggregate mode: one stack's counts since its previous SITE record.
    mutating func site(_ record: SiteRecord)
}

extension TraceVisitor {
    public mutating func process(_ record: ProcessRecord) {}
    public mutating func module(_ record: ModuleRecord) {}
    public mutating func stack(_ record: StackRecord) {}
    public mutating func threadBlock(thread: UInt32) {}
    public mutating func time(thread: UInt32, nanoseconds: UInt64) {}
    public mutating func allocation(thread: UInt32, size: UInt64, stackID: UInt32) {}
    public mutating func deallocation(thread: UInt32, size: UInt64, stackID: UInt32, temporary: Bool) {}
    public mutating func unknownDeallocation(thread: UInt32) {}
    public mutating func inherited(thread: UInt32, size: UInt64, stackID: UInt32) {}
    public mutating func tick(_ record: TickRecord) {}
    public mutating func threadStarted(index: UInt32, tid: UInt64) {}
    public mutating func leak(_ record: LeakRecord) {}
    public mutating func end(_ record: EndRecord) {}
    public mutating func sampling(intervalBytes: UInt64) {}
    public mutating func counts(_ record: CountsRecord) {}
    public mutating func jemalloc(_ record: JemallocStatsRecord) {}
    public mutating func aggregation(intervalNanoseconds: UInt64) {}
    public mutating func snapshot(_ record: SnapshotRecord) {}
    public mutating func site(_ record: SiteRecord) {}
}
