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
        let bare = try Harness.run(["/usr/bin/timeout", "-k", "5", "60"] + command, environment: environment)
        let trace = directory.appendingPathComponent("\(mode)-\(UUID().uuidString).mprof").path
        let traced = try Harness.run(
            ["/usr/bin/timeout", "-k", "5", "60", Harness.memprof.path, "run", "--mode", mode, "-o", trace] + options
                + ["--"]
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

    /// A C program loads a C++ library with RTLD_LOCAL, as python loads an extension
    /// module: libstdc++ is then outside the global scope, memprof's operator new found
    /// no next definition there, and the program died of abort().
    @Test(arguments: modes)
    func aCplusplusLibraryLoadedLocally(mode: String) throws {
        let program = Harness.examples.appendingPathComponent("local_cxx_host").path
        // valgrind's environment (GLIBCXX_FORCE_NEW changes libstdc++'s allocations).
        let json = try runAlike([program], mode: mode, environment: Harness.valgrindEnvironment)
        #expect(json.object("trace")?["ended_by"] as? String == "exit")
        if Harness.isInstalled("/usr/bin/valgrind") {
            let valgrind = try Harness.valgrindHeapUsage([program])
            #expect(json.int("snapshot", "allocation_count") == valgrind.allocs)
            #expect(json.int("snapshot", "total_allocated") == valgrind.bytes)
        }
    }

    /// More threads' stacks than glibc's stack cache keeps (8 × 8 MiB against its 40
    /// MiB): glibc unmaps the stacks of some exited threads, and the exit scan, which
    /// looked for their control blocks where they had been, read unmapped memory and
    /// crashed the program at its exit (SIGSEGV, the full suite's 8-threads-cross-free).
    @Test(arguments: modes)
    func threadsWhoseStacksGlibcUnmapped(mode: String) throws {
        let json = try runAlike([Harness.examples.appendingPathComponent("cross_free").path], mode: mode)
        #expect(json.object("trace")?["ended_by"] as? String == "exit")
        #expect(json.int("snapshot", "allocation_count") ?? 0 > 1_000_000)
        if mode != "sample" {
            #expect(json.int("leaks", "by_kind", "definite", "blocks") ?? -1 == 0, "\(json["leaks"] ?? "")")
        }
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

    /// Debian's rustc, which scripts/install-deps.sh installs (or a rustup one).
    static let rustc = ["/usr/bin/rustc", "/root/.cargo/bin/rustc"].first { Harness.isInstalled($0) }

    /// Rust's std asks for every spawned thread's stack with pthread_getattr_np.
    @Test(arguments: modes)
    func rustThreads(mode: String) throws {
        let rustc = try #require(Self.rustc, "rustc is not installed (scripts/install-deps.sh installs it)")
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
        let build = try Harness.run([rustc, "-O", source.path, "-o", binary])
        try #require(build.status == 0, "\(build.stderr)")
        let json = try runAlike([binary], mode: mode)
        #expect(json.int("snapshot", "allocation_count") ?? 0 >= 4000)
        try expectValgrindCounts(json, [binary])
    }

    /// The JVM asks for every thread's stack with pthread_getattr_np, its own threads'
    /// and the program's.
    @Test(arguments: modes)
    func jvmThreads(mode: String) throws {
        try #require(
            Harness.isInstalled("/usr/bin/javac") && Harness.isInstalled("/usr/bin/java"),
            "java is not installed (scripts/install-deps.sh installs it)")
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
                "/usr/bin/timeout", "-k", "5", "60", Harness.memprof.path, "run", "--jemalloc", "--mode", mode, "-o",
                trace, "--",
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

    /// How sudden_end ends, and the status `memprof run` must exit with (the signal's
    /// number when it dies of one).
    static let suddenEndings: [(String, Int32)] = [
        ("segv", SIGSEGV), ("abort", SIGABRT), ("term", SIGTERM), ("_exit", 3), ("quiet-kill", SIGKILL),
    ]

    /// A process that dies of a signal or leaves with _exit keeps its exact counts in
    /// every mode: sample mode's COUNTS used to be written only by exit's code, so a
    /// crash left estimates from the samples (2,804/0, 484/484, 0/0 in four runs). A
    /// signal that ends the process now finishes the trace first; SIGKILL cannot be
    /// caught, and leaves the tails and counts the writer wrote twice a second.
    @Test(arguments: modes, suddenEndings.map(\.0))
    func countsOfAProcessThatEndsSuddenly(mode: String, how: String) throws {
        let status = Self.suddenEndings.first { $0.0 == how }!.1
        let program = Harness.examples.appendingPathComponent("sudden_end").path
        let trace = directory.appendingPathComponent("\(how)-\(mode).mprof").path
        let run = try Harness.run(
            [
                "/usr/bin/timeout", "-k", "5", "60", Harness.memprof.path, "run", "--mode", mode, "-o", trace, "--",
                program, how,
            ])
        #expect(run.status == status, "\(run.stderr)")
        let report = try Harness.run([Harness.memprof.path, "report", "--format", "json", trace])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any])
        // 1,121 mallocs and 747 frees, and glibc's DTV for the worker's thread.
        #expect(json.int("snapshot", "allocation_count") == 1122)
        #expect(json.int("snapshot", "deallocation_count") == 747)
        #expect(json.object("trace")?["complete"] as? Bool == (how != "quiet-kill"))
        #expect(json.object("trace")?["truncated"] as? Bool == (how == "quiet-kill"))
        // The report says what ended it.
        let signalName = ["segv": "SIGSEGV", "abort": "SIGABRT", "term": "SIGTERM"][how]
        if let signalName {
            #expect(json.object("trace")?["ended_by"] as? String == "signal")
            #expect(json.object("trace")?["end_signal"] as? String == signalName)
            let text = try Harness.run([Harness.memprof.path, "report", trace])
            #expect(text.stdout.contains("ended by signal \(signalName)"), "\(text.stdout)")
        } else if how == "_exit" {
            #expect(json.object("trace")?["ended_by"] as? String == "_exit")
        }
    }

    /// A signal that reaches another thread while memprof writes the end at exit (the
    /// exit scan of a big heap takes a while) waits for the end instead of cutting the
    /// file off: it had no events, or no END. Bare, the process is gone before the
    /// signal, so either ending is the program's.
    @Test(arguments: modes)
    func aSignalDuringTheExitWaitsForTheTrace(mode: String) throws {
        let program = Harness.examples.appendingPathComponent("sudden_end").path
        let trace = directory.appendingPathComponent("term-at-exit-\(mode).mprof").path
        let run = try Harness.run(
            [
                "/usr/bin/timeout", "-k", "5", "60", Harness.memprof.path, "run", "--mode", mode, "-o", trace, "--",
                program, "term-at-exit",
            ])
        #expect(run.status == 0 || run.status == SIGTERM, "\(run.stderr)")
        let json = try Harness.reportJSON(trace)
        #expect(json.int("snapshot", "allocation_count") == 201_123)
        #expect(json.int("snapshot", "deallocation_count") == 747)
        #expect(json.object("trace")?["ended_by"] as? String == "exit")
    }

    /// A process that dies before it allocates anything, in main or in a constructor,
    /// leaves a readable trace that says what it was: the PROCESS record is written when
    /// the file is opened, not at the writer's first turn (it left 32 bytes, the header).
    @Test(arguments: modes, ["at-once", "constructor"])
    func aProcessThatCrashesAtOnceLeavesItsProcessRecord(mode: String, how: String) throws {
        let program = Harness.examples.appendingPathComponent("sudden_end").path
        let trace = directory.appendingPathComponent("\(how)-\(mode).mprof").path
        let run = try Harness.run(
            [
                "/usr/bin/timeout", "-k", "5", "60", Harness.memprof.path, "run", "--mode", mode, "-o", trace, "--",
                program,
            ]
                + (how == "at-once" ? ["at-once"] : []),
            environment: how == "constructor" ? ["SUDDEN_END_CONSTRUCTOR": "1"] : [:])
        #expect(run.status == SIGSEGV, "\(run.stderr)")
        let report = try Harness.run([Harness.memprof.path, "report", "--format", "json", trace])
        #expect(report.status == 0, "\(report.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any])
        let process = try #require(json.object("process"), "no process in \(json.keys.sorted())")
        #expect(process["executable"] as? String == program)
        #expect(process["pid"] as? Int ?? 0 > 0)
        #expect(json.int("snapshot", "allocation_count") == 0)
    }

    /// memprof's handler for the signals that end a process is invisible: python reads
    /// every signal's action at start-up, and `signal.getsignal` must say what it says
    /// bare (SIG_DFL, not None).
    @Test(.enabled(if: Harness.isInstalled("/usr/bin/python3")), arguments: modes)
    func theProgramSeesTheDefaultSignalActions(mode: String) throws {
        let script = """
            import signal
            names = ["SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
                     "SIGSEGV", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGXCPU", "SIGSYS"]
            print([(n, str(signal.getsignal(getattr(signal, n)))) for n in names])
            print(signal.signal(signal.SIGTERM, signal.SIG_IGN), signal.getsignal(signal.SIGTERM))
            """
        try runAlike(["/usr/bin/python3", "-c", script], mode: mode)
    }

    /// multiprocessing's workers: a Pool's terminate sends SIGTERM to workers that may be
    /// in the middle of their exit's leak scan, and a Process leaves with os._exit. Every
    /// worker's trace must hold its events (they had none: the events were written only
    /// after the scan).
    @Test(.enabled(if: Harness.isInstalled("/usr/bin/python3")), arguments: modes)
    func pythonMultiprocessingWorkersLeaveTheirEvents(mode: String) throws {
        // SIGTERM unblocked: a test runner may block it, and a pool's terminate then waits
        // for ever for workers that cannot die (bare too).
        let script = """
            import multiprocessing as m, signal
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM])
            def f(x):
                return [str(i) for i in range(x)]
            if __name__ == "__main__":
                with m.Pool(2) as p:
                    print(sum(len(r) for r in p.map(f, [1000, 2000, 3000])))
                pr = m.Process(target=f, args=(100,))
                pr.start(); pr.join()
                print("exit", pr.exitcode)
            """
        let source = directory.appendingPathComponent("pool-\(mode).py")
        try script.write(to: source, atomically: true, encoding: .utf8)
        let bare = try Harness.run(["/usr/bin/timeout", "-k", "5", "60", "/usr/bin/python3", source.path])
        let traces = directory.appendingPathComponent("pool-\(mode)")
        try FileManager.default.createDirectory(at: traces, withIntermediateDirectories: true)
        let run = try Harness.run(
            [
                "/usr/bin/timeout", "-k", "5", "60", Harness.memprof.path, "run", "--mode", mode, "-o",
                traces.appendingPathComponent("t.%p.mprof").path, "--", "/usr/bin/python3", source.path,
            ])
        #expect(run.status == bare.status && run.stdout == bare.stdout, "\(run.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: traces.path)
        // The parent, two pool workers and the Process.
        #expect(files.count == 4, "\(files)")
        for file in files {
            let json = try Harness.reportJSON(traces.appendingPathComponent(file).path)
            #expect(json.int("snapshot", "allocation_count") ?? 0 > 0, "\(file) has no allocations")
        }
    }

    /// jemalloc defines C++'s operator new and delete itself: preloaded before
    /// libstdc++ its definitions won and never called malloc, so memprof saw 1 of a C++
    /// program's 2,110 allocations under --jemalloc. The counts are valgrind's.
    @Test(
        .enabled(
            if: FileManager.default.fileExists(atPath: JemallocRunTests.library)
                && Harness.isInstalled("/usr/bin/valgrind")), arguments: modes)
    func cplusplusBehindJemalloc(mode: String) throws {
        let program = Harness.examples.appendingPathComponent("containers").path
        let json = try runAlike([program], mode: mode, options: ["--jemalloc"])
        let valgrind = try Harness.valgrindHeapUsage([program])
        #expect(json.int("snapshot", "allocation_count") == valgrind.allocs)
        #expect(json.int("snapshot", "total_allocated") == valgrind.bytes)
    }
}
