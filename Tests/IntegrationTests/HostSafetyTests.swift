import Foundation
import Testing

/// The preload never changes the program it runs in: no hang, the same output and exit
/// status as the bare run, in every mode; and its counts are valgrind's. Each case is
/// a trap a real program walked into (the JVM, Rust's std, glibc's own entry points).
@Suite(.serialized)
struct HostSafetyTests {
    static let modes = ["full", "sample", "aggregate"]

    let directory: URL

    init() throws { directory = try Harness.temporaryDirectory() }

    /// Runs `command` bare and under `memprof run --mode mode` (with a deadline: a hang
    /// is a failure, not a stuck suite), expects the same status and output, and
    /// returns the report's JSON.
    @discardableResult
    private func runAlike(
        _ command: [String], mode: String, options: [String] = [], environment: [String: String] = [:]
    ) throws -> [String: Any] {
        let bare = try Harness.run(["/usr/bin/timeout", "60"] + command, environment: environment)
        let trace = directory.appendingPathComponent("\(mode)-\(UUID().uuidString).mprof").path
        let traced = try Harness.run(
            ["/usr/bin/timeout", "60", Harness.memprof.path, "run", "--mode", mode, "-o", trace] + options + ["--"]
                + command, environment: environment)
        try #require(traced.status != 124, "\(command) hung under memprof --mode \(mode)")
        #expect(traced.status == bare.status, "\(command) --mode \(mode): \(traced.stderr)")
        #expect(traced.stdout == bare.stdout, "\(command) --mode \(mode)")
        return try Harness.reportJSON(trace)
    }

    /// The allocations and frees valgrind counts for `command`. Bytes are not compared
    /// for programs that start threads: each thread's DTV (glibc's calloc in
    /// pthread_create) has a slot per TLS module, and the preload brings two
    /// (libmemprof.so, libunwind), so it is 32 bytes larger than under valgrind.
    private func expectValgrindCounts(_ json: [String: Any], _ command: [String]) throws {
        guard Harness.isInstalled("/usr/bin/valgrind") else { return }
        let valgrind = try Harness.valgrindHeapUsage(command)
        #expect(json.int("snapshot", "allocation_count") == valgrind.allocs, "\(command)")
        #expect(json.int("snapshot", "deallocation_count") == valgrind.frees, "\(command)")
    }

    /// Threads whose first allocation is made inside pthread_getattr_np (which holds the
    /// thread's lock): thread set-up that asked for the stack bounds there hung for ever.
    @Test(arguments: modes)
    func threadsStartingInsidePthreadGetattr(mode: String) throws {
        let program = Harness.examples.appendingPathComponent("thread_getattr").path
        let json = try runAlike([program], mode: mode)
        #expect(json.int("snapshot", "allocation_count") ?? 0 > 0)
        try expectValgrindCounts(json, [program])
    }

    static let rustc = ["/root/.cargo/bin/rustc", "/usr/bin/rustc"].first { Harness.isInstalled($0) }

    /// Rust's std asks for every spawned thread's stack with pthread_getattr_np.
    @Test(.enabled(if: rustc != nil), arguments: modes)
    func rustThreads(mode: String) throws {
        let source = directory.appendingPathComponent("threads.rs")
        try """
        use std::thread;
        fn main() {
            let handles: Vec<_> = (0..4).map(|i| thread::spawn(move || {
                let mut v: Vec<Vec<u8>> = Vec::new();
                for j in 0..1000 { v.push(vec![i as u8; 64 + j % 13]); }
                v.len()
            })).collect();
            let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
            println!("total {}", total);
        }
        """.write(to: source, atomically: true, encoding: .utf8)
        let binary = directory.appendingPathComponent("threads_rs").path
        let build = try Harness.run([Self.rustc!, "-O", source.path, "-o", binary])
        try #require(build.status == 0, "\(build.stderr)")
        let json = try runAlike([binary], mode: mode)
        #expect(json.int("snapshot", "allocation_count") ?? 0 >= 4000)
        try expectValgrindCounts(json, [binary])
    }

    /// The JVM asks for every thread's stack with pthread_getattr_np, its own threads'
    /// and the program's.
    @Test(
        .enabled(if: Harness.isInstalled("/usr/bin/javac") && Harness.isInstalled("/usr/bin/java")),
        arguments: modes)
    func jvmThreads(mode: String) throws {
        let source = directory.appendingPathComponent("Work.java")
        try """
        public class Work {
            public static void main(String[] args) throws Exception {
                Thread[] threads = new Thread[4];
                long[] sizes = new long[4];
                for (int i = 0; i < 4; i++) {
                    final int k = i;
                    threads[i] = new Thread(() -> {
                        java.util.ArrayList<int[]> list = new java.util.ArrayList<>();
                        for (int j = 0; j < 1000; j++) list.add(new int[100 + j % 7]);
                        sizes[k] = list.size();
                    });
                    threads[i].start();
                }
                for (Thread t : threads) t.join();
                System.out.println("sum " + (sizes[0] + sizes[1] + sizes[2] + sizes[3]));
            }
        }
        """.write(to: source, atomically: true, encoding: .utf8)
        let build = try Harness.run(["/usr/bin/javac", "-d", directory.path, source.path])
        try #require(build.status == 0, "\(build.stderr)")
        let json = try runAlike(["/usr/bin/java", "-cp", directory.path, "Work"], mode: mode)
        #expect(json.int("snapshot", "allocation_count") ?? 0 > 0)
    }

    /// Every entry point against valgrind, in every mode. glibc's reallocarray calls
    /// realloc through the PLT: when memprof called it, that realloc landed in memprof's
    /// own hook with the guard set, which served reallocarray(NULL, …) from memprof's
    /// own heap, and the block's later calls went unrecorded (100 allocations, 0 frees).
    @Test(.enabled(if: Harness.isInstalled("/usr/bin/valgrind")), arguments: modes)
    func everyEntryPointCountsAsValgrind(mode: String) throws {
        let program = Harness.examples.appendingPathComponent("entry_points").path
        let json = try runAlike([program], mode: mode)
        let valgrind = try Harness.valgrindHeapUsage([program])
        #expect(json.int("snapshot", "allocation_count") == valgrind.allocs)
        #expect(json.int("snapshot", "deallocation_count") == valgrind.frees)
        #expect(json.int("snapshot", "total_allocated") == valgrind.bytes)
    }

    /// With jemalloc behind memprof, the entry points jemalloc lacks (pvalloc,
    /// reallocarray) must not reach glibc's allocator: its block, freed by jemalloc,
    /// crashed the program. Each of the program's sites has its 100 rounds.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: JemallocRunTests.library)), arguments: modes)
    func everyEntryPointBehindJemalloc(mode: String) throws {
        let program = Harness.examples.appendingPathComponent("entry_points").path
        let trace = directory.appendingPathComponent("je-\(mode).mprof").path
        let bare = try Harness.run([program, "pvalloc"])
        let run = try Harness.run(
            [
                "/usr/bin/timeout", "60", Harness.memprof.path, "run", "--jemalloc", "--mode", mode, "-o", trace, "--",
                program, "pvalloc",
            ])
        #expect(run.status == bare.status, "\(run.stderr)")
        #expect(run.stdout == bare.stdout)
        let report = try Harness.run([Harness.memprof.path, "report", "--format", "json", "--top", "100", trace])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any])
        // The exact totals hold in every mode; per-site figures only outside sample mode.
        #expect(json.int("snapshot", "deallocation_count") == 1000)
        guard mode != "sample" else { return }
        let sites = json.object("allocations")?["top_allocators"] as? [[String: Any]] ?? []
        func allocations(_ function: String) -> Int {
            sites.filter { ($0["location"] as? String)?.hasPrefix(function + " ") == true }
                .reduce(0) { $0 + ($1["allocation_count"] as? Int ?? 0) }
        }
        #expect(allocations("ep_reallocarray") == 200)
        #expect(allocations("ep_realloc") == 200)
        for function in [
            "ep_calloc", "ep_memalign", "ep_aligned_alloc", "ep_posix_memalign", "ep_valloc", "ep_pvalloc",
        ] {
            #expect(allocations(function) == 100, "\(function)")
        }
    }
}
