import Foundation
import Testing

/// Real example programs under the real preload, reported with `memprof report --format json`.
@Suite(.serialized)
struct RecordingTests {
    let directory: URL

    init() throws { directory = try Harness.temporaryDirectory() }

    private func record(_ name: String, _ arguments: [String] = []) throws -> [String: Any] {
        let trace = try Harness.record([Harness.examples.appendingPathComponent(name).path] + arguments, in: directory)
        return try Harness.reportJSON(trace)
    }

    private func locations(_ entries: [[String: Any]]) -> [String] {
        entries.compactMap { $0["location"] as? String }
    }

    @Test func knownCountsAreExact() throws {
        let json = try record("known_counts")
        #expect(json.int("snapshot", "allocation_count") == 123)
        #expect(json.int("snapshot", "deallocation_count") == 120)
        #expect(json.int("snapshot", "total_allocated") == 25062)
        #expect(json.int("snapshot", "total_deallocated") == 25062 - 7000)
        #expect(json.int("snapshot", "current_usage") == 7000)
        #expect(json.int("allocations", "temporary_allocations") == 108)
        #expect(json.int("leaks", "total_leaked_bytes") == 7000)
        #expect(json.int("leaks", "leaked_blocks") == 3)
        let leaks = json.object("leaks")?.array("leaks") ?? []
        #expect(Set(leaks.compactMap { $0["size"] as? Int }) == [1000, 2000, 4000])
        #expect(leaks.allSatisfy { ($0["location"] as? String)?.hasPrefix("leak_some (known_counts.c:") == true })
        // Nothing points to them any more: definitely lost, as valgrind says.
        #expect(leaks.allSatisfy { $0["kind"] as? String == "definite" })
        // By bytes, make_zeroed (10 x 1 KiB) tops the table; churn_small has the most calls.
        let top = json.object("allocations")?.array("top_allocators") ?? []
        #expect(top.first?["location"] as? String == "make_zeroed (known_counts.c:37)")
        let churn = top.first { ($0["location"] as? String)?.hasPrefix("churn_small") == true }
        #expect(churn?["allocation_count"] as? Int == 100)
        // The stack under a site names the function and the caller, with file:line.
        let stack = churn?["stack"] as? [[String: Any]] ?? []
        #expect(stack.first?["function"] as? String == "churn_small")
        #expect(stack.dropFirst().first?["function"] as? String == "main")
        #expect((stack.first?["file"] as? String)?.hasSuffix("known_counts.c") == true)
    }

    @Test func everyAllocationFunctionIsCounted() throws {
        // The pvalloc variant adds one pvalloc(20) and its free.
        let json = try record("known_counts", ["pvalloc"])
        #expect(json.int("snapshot", "allocation_count") == 124)
        #expect(json.int("snapshot", "deallocation_count") == 121)
        #expect(json.int("snapshot", "total_allocated") == 25082)
    }

    @Test func cplusplusNewAndDeleteReachMalloc() throws {
        let json = try record("containers")
        let leaks = json.object("leaks")?.array("leaks") ?? []
        let widget = leaks.first { $0["size"] as? Int == 48 }
        let location = try #require(widget?["location"] as? String)
        // The innermost frame that is not the allocator: operator new is skipped.
        #expect(location.hasPrefix("shapes::Widget* shapes::make_leaked<shapes::Widget>()"), "\(location)")
    }

    @Test func multiThreadedChurnIsCountedExactly() throws {
        // Thread start-up itself allocates (TLS); measure it with zero work per thread.
        let baseline = try record("threads", ["2", "0"])
        let json = try record("threads", ["2", "500000"])
        let base = try #require(baseline.int("snapshot", "allocation_count"))
        #expect(json.int("snapshot", "allocation_count") == base + 1_000_000)
        #expect(
            json.int("snapshot", "deallocation_count") == (baseline.int("snapshot", "deallocation_count") ?? -1)
                + 1_000_000)
        #expect(json.int("snapshot", "thread_count") == 3)
        let top = json.object("allocations")?.array("top_allocators") ?? []
        #expect((top.first?["location"] as? String)?.hasPrefix("worker (threads.c:") == true)
    }

    @Test func sampleModeKeepsExactTotalsAndSamplesByBytes() throws {
        let program = Harness.examples.appendingPathComponent("threads").path
        let full = try Harness.reportJSON(try Harness.record([program, "2", "200000"], in: directory))
        let trace = directory.appendingPathComponent("sampled.mprof").path
        let result = try Harness.run([
            Harness.memprof.path, "run", "--mode", "sample", "--sample-interval", "64k", "-o", trace, "--", program,
            "2", "200000",
        ])
        try #require(result.status == 0, "\(result.stderr)")
        let sampled = try Harness.reportJSON(trace)
        // Totals are counted for every allocation, sampled or not: the same as a full run.
        #expect(sampled.int("snapshot", "allocation_count") == full.int("snapshot", "allocation_count"))
        #expect(sampled.int("snapshot", "deallocation_count") == full.int("snapshot", "deallocation_count"))
        #expect(sampled.int("snapshot", "total_allocated") == full.int("snapshot", "total_allocated"))
        // Samples fall every 64 KiB on average: about total / 64 KiB of them (Poisson:
        // the standard deviation is the square root, so 20% is many deviations).
        let total = Double(try #require(full.int("snapshot", "total_allocated")))
        let expected = total / 65536
        let samples = Double(try #require(sampled.object("snapshot")?["sampled_allocations"] as? Int))
        #expect(abs(samples - expected) < expected * 0.2, "\(samples) samples, expected about \(expected)")
        // The trace holds only the samples: far smaller than the full recording's.
        let size = try FileManager.default.attributesOfItem(atPath: trace)[.size] as? Int ?? 0
        #expect(size > 0 && Double(size) < expected * 64)
    }

    @Test func userStacksAndSignalFramesAreUnwound() throws {
        let json = try record("odd_stacks")
        let leaks = json.object("leaks")?.array("leaks") ?? []
        let user = leaks.first { $0["size"] as? Int == 111 }
        #expect((user?["location"] as? String)?.hasPrefix("on_user_stack (odd_stacks.c:") == true)
        // Both handler runs leak 222 bytes; the one on the normal stack unwinds through
        // the signal frame into raise() and main().
        // The last one stays in a global; what the scan finds of the first depends on
        // stale stack words, so the two may fall in different kind groups.
        let handlers = leaks.filter { ($0["location"] as? String)?.hasPrefix("handler (odd_stacks.c:") == true }
        #expect(handlers.reduce(0) { $0 + ($1["count"] as? Int ?? 0) } == 2)
        #expect(handlers.reduce(0) { $0 + ($1["size"] as? Int ?? 0) } == 444)
        let handler = handlers.first { ($0["stack"] as? [[String: Any]] ?? []).count > 2 }
        let stacks = (handler?["stack"] as? [[String: Any]] ?? []).compactMap { $0["function"] as? String }
        #expect(stacks.contains("main"), "\(stacks)")
    }

    @Test func dlopenedLibrariesAreSymbolized() throws {
        let json = try record("dlopen_main", [Harness.examples.appendingPathComponent("libplugin.so").path])
        let leaks = json.object("leaks")?.array("leaks") ?? []
        let plugin = leaks.first { $0["size"] as? Int == 3333 }
        #expect((plugin?["location"] as? String)?.hasPrefix("plugin_leak (plugin.c:") == true)
        let frames = plugin?["stack"] as? [[String: Any]] ?? []
        #expect((frames.first?["module"] as? String)?.hasSuffix("libplugin.so") == true)
    }

    /// A program rebuilt after its recording: its frames lose their names (the wrong
    /// file's symbols would lie), and the report says which module and where a debug
    /// file with the recorded build-id was looked for, instead of bare addresses alone.
    @Test func aRebuiltProgramIsNamedInAWarning() throws {
        let source = Harness.root.appendingPathComponent("examples/src/known_counts.c").path
        let program = directory.appendingPathComponent("rebuilt").path
        try #require(try Harness.run(["/usr/bin/cc", "-g", "-O1", "-o", program, source]).status == 0)
        let trace = try Harness.record([program], in: directory)
        let before = try Harness.run([Harness.memprof.path, "report", trace])
        #expect(before.stdout.contains("leak_some (known_counts.c:"), "\(before.stdout)")
        #expect(!before.stdout.contains("WARNING"), "\(before.stdout)")
        // The same source optimised otherwise: other code, so another build-id.
        let rebuilt = try Harness.run(["/usr/bin/cc", "-g", "-O2", "-o", program, source])
        try #require(rebuilt.status == 0, "\(rebuilt.stderr)")
        let after = try Harness.run([Harness.memprof.path, "report", trace])
        let warnings = after.stdout.split(separator: "\n").filter { $0.hasPrefix("  WARNING: ") }
        #expect(warnings.count == 1, "\(after.stdout)")
        #expect(
            warnings.first?.contains(
                "no names from \(program): rebuilt or replaced since the recording (its build-id is no longer the recorded "
            ) == true, "\(warnings)")
        #expect(warnings.first?.contains("no debug file with that build-id at /usr/lib/debug/.build-id/") == true)
        let json = try Harness.reportJSON(trace)
        let problems = json.array("module_problems")
        #expect(problems.count == 1, "\(problems)")
        #expect(problems.first?["module"] as? String == program)
        #expect(problems.first?["problem"] as? String == "build_id_mismatch")
        let recorded = try #require(problems.first?["recorded_build_id"] as? String)
        #expect(
            problems.first?["debug_files_searched"] as? [String] == [
                "/usr/lib/debug/.build-id/\(recorded.prefix(2))/\(recorded.dropFirst(2)).debug"
            ])
    }

    @Test(arguments: ["return", "exit", "_exit", "_Exit"])
    func everyWayOutIsRecorded(mode: String) throws {
        let trace = directory.appendingPathComponent("exit-\(mode).mprof").path
        let program = Harness.examples.appendingPathComponent("exit_modes").path
        let result = try Harness.run(
            [Harness.memprof.path, "run", "-o", trace, "--", program, mode, "42"], stdin: "line one\nline two\n")
        #expect(result.status == 42)
        #expect(result.stdout == "line one\nline two\n")
        let json = try Harness.reportJSON(trace)
        // The block stays in a global: not freed, but still reachable, so not a leak.
        #expect(json.int("leaks", "by_kind", "reachable", "bytes") == 777)
        #expect(json.int("leaks", "total_leaked_bytes") == 0)
        #expect(json.object("trace")?["truncated"] as? Bool == false)
    }

    /// A raw exit_group runs no code in the process, so the preload cannot finish the
    /// trace: what the writer had not written yet (the last half second: thread tail
    /// blocks and process blocks are written twice a second) is lost. The program still
    /// ends as it would, and the report reads what is there and says it was cut short.
    @Test func aRawExitSyscallLeavesATraceMarkedCutShort() throws {
        let trace = directory.appendingPathComponent("exit-syscall.mprof").path
        let program = Harness.examples.appendingPathComponent("leaks_exit").path
        let run = try Harness.run([Harness.memprof.path, "run", "-o", trace, "--", program, "syscall"])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try Harness.run([Harness.memprof.path, "report", "--format", "json", trace])
        #expect(report.status == 0)
        #expect(report.stderr.contains("truncated"), "stderr: \(report.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any])
        #expect(json.object("trace")?["truncated"] as? Bool == true)
        #expect(json.object("leaks")?["recorded"] as? Bool == false)
    }

    @Test func defaultOutputNameUsesProgramAndPid() throws {
        let program = Harness.examples.appendingPathComponent("exit_modes").path
        let process = Process()
        process.executableURL = Harness.memprof
        process.arguments = ["run", "--", program]
        process.currentDirectoryURL = directory
        var env = ProcessInfo.processInfo.environment
        env["MEMPROF_PRELOAD"] = Harness.preload.path
        process.environment = env
        process.standardInput = FileHandle.nullDevice
        let err = Pipe()
        process.standardError = err
        try process.run()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasPrefix("memprof.exit_modes.") && $0.hasSuffix(".mprof") }
        #expect(files.count == 1)
        let name = try #require(files.first)
        #expect(stderr.contains("trace written to \(name)"))
        let pid = name.dropFirst("memprof.exit_modes.".count).dropLast(".mprof".count)
        #expect(Int(pid) != nil)
    }

    @Test func execFinishesTheTraceFirst() throws {
        // The shell replaces itself with exit_modes: no destructors run, yet the trace
        // is complete, and the new image (which finds the file taken) is not traced.
        let program = Harness.examples.appendingPathComponent("exit_modes").path
        let trace = try Harness.record(["/bin/sh", "-c", "exec \(program) return 0"], in: directory)
        let json = try Harness.reportJSON(trace)
        #expect(json.object("trace")?["truncated"] as? Bool == false)
        #expect(json.object("trace")?["ended_by"] as? String == "exec")
        #expect(!Self.mentionsLeak777(json))
    }

    @Test func childrenTheProgramExecutesAreNotTraced() throws {
        // sh runs exit_modes as a child: only sh is traced, and the child's run does
        // not touch sh's trace.
        let program = Harness.examples.appendingPathComponent("exit_modes").path
        let trace = try Harness.record(["/bin/sh", "-c", "\(program) return 0; echo done"], in: directory)
        let json = try Harness.reportJSON(trace)
        #expect((json.object("process")?["command"] as? String)?.contains("sh") == true)
        #expect(!Self.mentionsLeak777(json))
    }

    /// Whether exit_modes' 777-byte block is among the trace's blocks not freed at exit.
    private static func mentionsLeak777(_ json: [String: Any]) -> Bool {
        (json.object("leaks")?.array("leaks") ?? []).contains {
            ($0["location"] as? String)?.hasPrefix("leak_777") == true || $0["size"] as? Int == 777
        }
    }
}
