import CMemprofClient

/// Leak checks around a block of code, in process.
///
/// ```swift
/// let report = try LeakCheck.run(warmUp: 1) {
///     let cache = Cache()
///     cache.load(request)
/// }
/// if report.hasLeaks { print(report) }
/// ```
///
/// The body runs `warmUp` times first (one-time caches, lazy globals and the Swift
/// runtime's metadata fill up there), then once more with every allocation marked.
/// When it returns, memprof stops the other threads, scans memory conservatively as
/// at exit (globals, stacks, registers, then the heap from there), resumes them, and
/// reports each marked block still allocated, by allocation site and kind:
/// unreachable (``LeakKind/definite``, ``LeakKind/indirect``, ``LeakKind/possible``)
/// or still referenced (``LeakKind/reachable``). Works for Swift and for C code
/// called from Swift: it sees every `malloc`.
///
/// Which allocations belong to the body is told by thread: a sync body's are the
/// calling thread's; an async body runs on memprof's own executor thread (see
/// ``run(warmUp:threads:kinds:_:)-async``). If other threads allocate meanwhile and
/// leave blocks that would count as leaks had the body allocated them, the check
/// throws ``MemprofError/concurrentAllocation`` rather than guess (blocks they keep
/// reachable, such as a runtime's caches, do not count under the default kinds);
/// pass `threads: .all` when the body starts threads of its own.
///
/// Needs memprof's interposer in the process (link `MemprofInterposer`, or run under
/// `memprof run`): without it every call throws ``MemprofError/interposerMissing``.
/// Checks do not nest.
public enum LeakCheck {
    /// Which threads' allocations belong to the checked code.
    public enum Threads: Sendable, Hashable {
        /// The thread that runs the body (for an async body, memprof's executor
        /// thread). Blocks other threads allocate and keep make the check throw.
        case current
        /// Every thread's: for a body that starts threads of its own. Nothing else may
        /// allocate and keep memory meanwhile, or its blocks are reported as the body's.
        case all
    }

    /// Runs `body` `warmUp` times, then once under the check, and reports what that run
    /// left allocated. `kinds` are the kinds that count as leaks in the report.
    public static func run(
        warmUp: Int = 1, threads: Threads = .current, kinds: Set<LeakKind> = LeakKind.lost,
        _ body: () throws -> Void
    ) throws -> LeakCheckReport {
        for _ in 0..<max(warmUp, 0) { try body() }
        let api = try Interposer.recording()
        // Before the check: on the main thread glibc reads /proc/self/maps (allocating).
        let room = memprof_client_stack_room()
        try begin(api, threads)
        do {
            try body()
        } catch {
            discard(api)
            throw error
        }
        // The body's frames were below this one, and end's frames will reuse that
        // memory: clear what they leave behind first.
        memprof_client_scrub_stack(room)
        return try end(api, kinds)
    }

    /// The async form: the body (warm-up runs included) runs with memprof's own
    /// executor thread as its task executor, so its allocations stay on one thread
    /// across suspensions. Work it hands to the main actor or to an actor with its
    /// own executor runs on other threads and counts as other threads' allocations.
    public static func run(
        warmUp: Int = 1, threads: Threads = .current, kinds: Set<LeakKind> = LeakKind.lost,
        _ body: () async throws -> Void
    ) async throws -> LeakCheckReport {
        try await CheckExecutor.shared.run {
            for _ in 0..<max(warmUp, 0) { try await body() }
            let api = try Interposer.recording()
            try begin(api, threads)
            do {
                try await body()
            } catch {
                discard(api)
                throw error
            }
            // As in the sync form; on memprof's executor thread (not the main thread)
            // reading the stack's bounds allocates nothing.
            memprof_client_scrub_stack(memprof_client_stack_room())
            return try end(api, kinds)
        }
    }

    private static func begin(_ api: memprof_api_v1, _ threads: Threads) throws(MemprofError) {
        let status = api.check_begin(threads == .all ? 1 : 0)
        if let error = MemprofError(status: status) { throw error }
    }

    /// Ends a check whose body threw, dropping its result.
    private static func discard(_ api: memprof_api_v1) {
        var result = memprof_check_result()
        _ = api.check_end(&result)
        api.check_release(&result)
    }

    private static func end(
        _ api: memprof_api_v1, _ kinds: Set<LeakKind>
    ) throws(MemprofError) -> LeakCheckReport {
        var result = memprof_check_result()
        let status = api.check_end(&result)
        defer { api.check_release(&result) }
        if let error = MemprofError(status: status) { throw error }
        // Group by (stack, kind) before symbolizing: one lookup per site.
        struct Key: Hashable {
            var stack: UInt32
            var kind: LeakKind
        }
        var groups: [Key: (blocks: Int, bytes: Int)] = [:]
        var others = (blocks: 0, bytes: 0)
        for i in 0..<Int(result.count) {
            let block = result.blocks[i]
            guard let kind = LeakKind(code: block.kind) else { continue }
            guard block.own != 0 else {
                // Another thread's block matters only if it would count, had the body
                // allocated it: a cache a runtime thread filled and keeps does not.
                if kinds.contains(kind) {
                    others.blocks += 1
                    others.bytes += Int(block.size)
                }
                continue
            }
            groups[Key(stack: block.stack, kind: kind), default: (0, 0)].blocks += 1
            groups[Key(stack: block.stack, kind: kind), default: (0, 0)].bytes += Int(block.size)
        }
        if others.blocks > 0 {
            throw .concurrentAllocation(
                blocks: others.blocks, bytes: others.bytes, allocations: Int(result.other_allocations))
        }
        let sites = groups.map { key, totals in
            LeakSite(
                kind: key.kind, blocks: totals.blocks, bytes: totals.bytes,
                frames: InProcessSymbolizer.frames(stack: key.stack, api: api))
        }
        return LeakCheckReport(sites: sites, countedKinds: kinds)
    }
}
