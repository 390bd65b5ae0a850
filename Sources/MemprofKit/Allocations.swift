import CMemprofClient

/// Allocation counts for a scope, for asserting "this path allocates at most N
/// times" (like ordo-one/benchmark's malloc counters, but per thread as well).
///
/// ```swift
/// let counts = try Allocations.count(warmUp: 1) { try router.handle(request) }
/// #expect(counts.allocations <= 12)
/// ```
///
/// Counting is exact: memprof's interposer sees every call. The interposer must be in
/// the process (see ``Interposer``); allocations memprof makes for itself are not
/// counted.
public enum Allocations {
    /// Whose allocations a count covers.
    public enum Scope: Sendable, Hashable {
        /// The calling thread's (async: the thread memprof runs the body on): other
        /// threads, such as tests running in parallel, do not disturb the count.
        case currentThread
        /// Every thread's.
        case process
    }

    /// The counts since the interposer started, for the calling thread or the process.
    public static func current(_ scope: Scope = .currentThread) throws(MemprofError) -> AllocationCounts {
        let api = try Interposer.recording()
        var counts = memprof_counts()
        switch scope {
        case .currentThread: api.thread_counts(&counts)
        case .process: api.process_counts(&counts)
        }
        return AllocationCounts(counts)
    }

    /// Runs `body` `warmUp` times, then once more, and returns what that last run
    /// allocated and freed. The warm-up lets one-time work (lazy globals, the Swift
    /// runtime's metadata caches, a first buffer) happen outside the count.
    public static func count(
        _ scope: Scope = .currentThread, warmUp: Int = 1, _ body: () throws -> Void
    ) throws -> AllocationCounts {
        for _ in 0..<max(warmUp, 0) { try body() }
        let before = try current(scope)
        try body()
        return try current(scope) - before
    }

    /// Runs the async `body` and returns what it allocated and freed. The body runs on
    /// memprof's own executor thread (see ``LeakCheck``), so `.currentThread` covers
    /// its work wherever it awaits, except on other actors' executors.
    public static func count(
        _ scope: Scope = .currentThread, warmUp: Int = 1, _ body: () async throws -> Void
    ) async throws -> AllocationCounts {
        try await CheckExecutor.shared.run {
            for _ in 0..<max(warmUp, 0) { try await body() }
            let before = try current(scope)
            try await body()
            return try current(scope) - before
        }
    }
}
