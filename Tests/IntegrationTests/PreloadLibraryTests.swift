import Foundation
import Testing

/// The shipped preload must load into any program with libc alone.
@Suite struct PreloadLibraryTests {
    @Test func dependsOnlyOnLibcLevelLibraries() throws {
        let result = try Harness.run(["/usr/bin/readelf", "-d", Harness.preload.path])
        try #require(result.status == 0, "readelf failed: \(result.stderr)")
        let needed = result.stdout.split(separator: "\n")
            .filter { $0.contains("(NEEDED)") }
            .compactMap { line -> String? in
                guard let open = line.firstIndex(of: "["), let close = line.firstIndex(of: "]") else { return nil }
                return String(line[line.index(after: open)..<close])
            }
        #expect(!needed.isEmpty)
        let allowed = ["libc.so.6", "libunwind.so.8", "libzstd.so.1", "liblz4.so.1", "libdl.so.2", "libpthread.so.0"]
        for library in needed {
            #expect(allowed.contains(library), "libmemprof.so needs \(library)")
        }
        #expect(!result.stdout.contains("libswiftCore"))
        #expect(!result.stdout.contains("libstdc++"))
    }

    @Test func exportsOnlyTheAllocatorEntryPointsTheIgnoreCallAndTheAPITable() throws {
        let result = try Harness.run(["/usr/bin/nm", "-D", "--defined-only", Harness.preload.path])
        let symbols = Set(
            result.stdout.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) })
        let expected: Set = [
            "malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc", "memalign",
            "valloc", "pvalloc", "malloc_usable_size", "_exit", "_Exit",
            // exit notes where the program called it: the exit scan starts that stack there.
            "exit",
            // exec replaces the image without destructors: the trace is finished first.
            "execve", "execv", "execvp", "execvpe", "execl", "execlp", "execle", "fexecve",
            // It allocates under the thread's lock: thread set-up must know (HostSafetyTests).
            "pthread_getattr_np",
            // A signal that ends the process finishes the trace first; the program is
            // shown the default action where memprof's handler is (HostSafetyTests).
            "sigaction", "signal", "sigset", "bsd_signal", "sysv_signal", "__sysv_signal",
            // C++'s operators: an allocator behind memprof (jemalloc) may define its own.
            "_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t", "_ZnwmSt11align_val_t",
            "_ZnamSt11align_val_t", "_ZnwmSt11align_val_tRKSt9nothrow_t", "_ZnamSt11align_val_tRKSt9nothrow_t",
            "_ZdlPv", "_ZdaPv", "_ZdlPvm", "_ZdaPvm", "_ZdlPvRKSt9nothrow_t", "_ZdaPvRKSt9nothrow_t",
            "_ZdlPvSt11align_val_t", "_ZdaPvSt11align_val_t", "_ZdlPvmSt11align_val_t", "_ZdaPvmSt11align_val_t",
            "_ZdlPvSt11align_val_tRKSt9nothrow_t", "_ZdaPvSt11align_val_tRKSt9nothrow_t",
            // The program's way to tell the leak check a block is not a leak.
            "memprof_ignore_object",
            // The in-process API's table, which MemprofKit finds with dlsym.
            "memprof_api_v1",
        ]
        #expect(symbols == expected)
    }

    /// memprof's own allocations (pthread_getattr_np's at a thread's start, stdio's,
    /// zstd's) come from its own heap: the program's blocks land where they land without
    /// memprof. Before, a thread's blocks moved, and with them when glibc trims its heap.
    @Test(arguments: ["full", "sample", "aggregate"])
    func memprofsOwnAllocationsLeaveTheProgramsHeapAlone(mode: String) throws {
        let program = Harness.examples.appendingPathComponent("heap_layout").path
        let bare = try Harness.run([program])
        try #require(bare.status == 0)
        #expect(bare.stdout.hasPrefix("main 0 ") && bare.stdout.contains("\nthread 0 "))
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let trace = directory.appendingPathComponent("layout.mprof").path
        let traced = try Harness.run([Harness.memprof.path, "run", "--mode", mode, "-o", trace, "--", program])
        #expect(traced.stderr.contains("trace written to"), "memprof run said: \(traced.stderr)")
        #expect(traced.stdout == bare.stdout)
    }

    /// A process the preload is loaded into but does not trace — its output file is
    /// taken, as for a child `memprof run` leaves out — has its calls forwarded as they
    /// come (the hooks' shortcut for an untraced process): its heap is laid out as
    /// bare, every entry point works, it says nothing, and the taken file is left as it was.
    @Test(arguments: ["full", "sample", "aggregate"])
    func anUntracedProcessIsOnlyPassedThrough(mode: String) throws {
        let program = Harness.examples.appendingPathComponent("heap_layout").path
        let bare = try Harness.run([program])
        try #require(bare.status == 0)
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let taken = directory.appendingPathComponent("taken.mprof")
        try Data("another process's trace".utf8).write(to: taken)
        let untraced = ["LD_PRELOAD": Harness.preload.path, "MEMPROF_OUTPUT": taken.path, "MEMPROF_MODE": mode]
        let run = try Harness.run([program], environment: untraced)
        #expect(run.status == 0)
        #expect(run.stderr.isEmpty, "\(run.stderr)")
        #expect(run.stdout == bare.stdout)
        // Every entry point (the aligned ones, reallocarray, pvalloc) on that path too.
        let knownCounts = Harness.examples.appendingPathComponent("known_counts").path
        let all = try Harness.run([knownCounts, "pvalloc"], environment: untraced)
        #expect(all.status == 0 && all.stderr.isEmpty, "\(all.stderr)")
        #expect(try String(contentsOf: taken, encoding: .utf8) == "another process's trace")
    }
}
