/// jemalloc's view of its own memory, through `mallctl`, in the calling process.
///
/// `mallctl` is looked up at run time, never linked, so the same code runs in any
/// process and ``current()`` says clearly when the process does not use jemalloc:
///
/// ```swift
/// let jemalloc = try Jemalloc.current()  // throws JemallocError.notLoaded without jemalloc
/// let stats = try jemalloc.stats         // refreshes the epoch, then reads stats.*
/// print("allocated \(stats.allocated) B, resident \(stats.resident) B")
/// let purge = try jemalloc.purge()       // returns unused dirty pages to the system
/// print("purge freed \(purge.freedBytes) B")
/// let lgSample: UInt = try jemalloc.value("opt.lg_prof_sample")  // any ctl, typed
/// ```
///
/// jemalloc's statistics are a snapshot taken at the last epoch refresh; ``stats``,
/// ``arenaStats(_:)`` and ``purge()`` refresh it themselves, ``value(_:as:)`` does not
/// (call ``refreshEpoch()`` first to read fresh `stats.*` values).
///
/// Thread safety: `mallctl` is thread-safe; a `Jemalloc` may be used from any thread.
public struct Jemalloc: Sendable {
    /// Whether jemalloc serves this process's `malloc`, rather than only the prefixed
    /// allocations of some library (a `je_mallctl` build). When false, jemalloc's
    /// figures describe only that library's allocations.
    public let servesMalloc: Bool

    private init(servesMalloc: Bool) {
        self.servesMalloc = servesMalloc
    }

    /// jemalloc in the calling process.
    ///
    /// - Throws: ``JemallocError/notLoaded`` when the process has no `mallctl`: it
    ///   does not use jemalloc (run it with `LD_PRELOAD=libjemalloc.so.2`, or link it
    ///   with `-ljemalloc`).
    public static func current() throws(JemallocError) -> Jemalloc {
        guard Mallctl.isAvailable else { throw .notLoaded }
        return Jemalloc(servesMalloc: Mallctl.servesMalloc)
    }

    /// The arena index that stands for every arena (jemalloc's `MALLCTL_ARENAS_ALL`):
    /// `arenaStats(Jemalloc.allArenas)` sums all arenas.
    public static let allArenas = Mallctl.allArenas

    /// Makes jemalloc refresh the statistics the `stats.*` ctls report (writes `epoch`).
    ///
    /// - Returns: the new epoch.
    @discardableResult
    public func refreshEpoch() throws(JemallocError) -> UInt64 {
        try Mallctl.write(UInt64(1), to: "epoch")
        return try Mallctl.read("epoch")
    }

    /// The value of the ctl `name`, read as `type` (the Swift type of the ctl's C
    /// type: see ``JemallocValue``).
    ///
    /// - Throws: ``JemallocError/ctlFailed(name:operation:code:)`` naming `name`:
    ///   `ENOENT` for an unknown name, `EINVAL` when `type` has the wrong size.
    public func value<T: JemallocValue>(_ name: String, as type: T.Type = T.self) throws(JemallocError) -> T {
        try Mallctl.read(name, as: type)
    }

    /// Writes `value` to the writable ctl `name` (for example
    /// `arenas.dirty_decay_ms`, an `Int`, or `prof.active`, a `Bool`).
    public func setValue<T: JemallocValue>(_ value: T, for name: String) throws(JemallocError) {
        try Mallctl.write(value, to: name)
    }

    /// Calls the ctl `name`, which takes and returns nothing (for example
    /// `arena.<i>.decay` or `thread.tcache.flush`).
    public func call(_ name: String) throws(JemallocError) {
        try Mallctl.call(name)
    }

    /// The number of arena slots (`arenas.narenas`); not all of them need be
    /// initialized yet.
    public var arenaCount: Int {
        get throws(JemallocError) { Int(try Mallctl.read("arenas.narenas", as: UInt32.self)) }
    }
}
