#if canImport(Glibc)
    import Glibc
#endif

/// One thread of memprof's own that runs the async bodies of checks and counts.
///
/// A task hops between the cooperative pool's threads at every suspension, and the
/// interposer tells the checked code's allocations from the rest of the process by
/// thread. With this executor as the task's preference, the body, the child tasks it
/// creates, and the default actors it calls all run on this one thread. (Code on the
/// main actor or an actor with an executor of its own still runs elsewhere.)
///
/// The queue is a fixed ring allocated once, so enqueuing and running jobs allocate
/// nothing that a check could mistake for the checked code's.
final class CheckExecutor: TaskExecutor, @unchecked Sendable {
    static let shared = CheckExecutor()

    private static let capacity = 4096
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let ring = UnsafeMutablePointer<UnownedJob>.allocate(capacity: CheckExecutor.capacity)
    private var head = 0
    private var count = 0

    private init() {
        pthread_mutex_init(lock, nil)
        pthread_cond_init(changed, nil)
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let created = pthread_create(
            &thread, nil,
            { context in
                Unmanaged<CheckExecutor>.fromOpaque(context!).takeUnretainedValue().serve()
                return nil
            }, context)
        precondition(created == 0, "memprof: cannot start the check executor's thread (error \(created))")
        pthread_detach(thread)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        pthread_mutex_lock(lock)
        while count == Self.capacity { pthread_cond_wait(changed, lock) }
        ring[(head + count) % Self.capacity] = job
        count += 1
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(lock)
    }

    private func serve() {
        let executor = asUnownedTaskExecutor()
        while true {
            pthread_mutex_lock(lock)
            while count == 0 { pthread_cond_wait(changed, lock) }
            let job = ring[head]
            head = (head + 1) % Self.capacity
            count -= 1
            pthread_cond_broadcast(changed)
            pthread_mutex_unlock(lock)
            job.runSynchronously(on: executor)
        }
    }

    /// Runs `body` with this executor as the task's preference.
    nonisolated func run<T>(_ body: () async throws -> T) async throws -> T {
        try await withTaskExecutorPreference(self) { try await body() }
    }
}
