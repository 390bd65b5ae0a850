import Foundation
import Testing

/// Process trees: with %p in the output path every process CMD forks records into a
/// file of its own, starting from the heap it inherited; --follow-exec traces the
/// programs they execute as well. fork_tree's figures are exact (examples/src/fork_tree.c).
@Suite struct ProcessTreeTests {
    /// Runs `memprof run` with `options` on fork_tree and returns its result and the
    /// traces it wrote, by file name.
    static func record(_ options: [String], arguments: [String] = [], pattern: String = "t.%p.mprof") throws -> (
        run: Harness.Result, traces: [String: [String: Any]]
    ) {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let program = Harness.examples.appendingPathComponent("fork_tree").path
        let output = directory.appendingPathComponent(pattern).path
        let run = try Harness.run(
            [Harness.memprof.path, "run"] + options + ["-o", output, "--", program] + arguments)
        var traces: [String: [String: Any]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
            traces[name] = try Harness.reportJSON(directory.appendingPathComponent(name).path)
        }
        return (run, traces)
    }

    static func sites(_ json: [String: Any]) -> [String: Int] {
        let list = json.object("allocations")?["top_allocators"] as? [[String: Any]] ?? []
        var result: [String: Int] = [:]
        for site in list {
            guard let location = site["location"] as? String, let count = site["allocation_count"] as? Int else {
                continue
            }
            result[String(location.prefix { $0 != " " })] = count
        }
        return result
    }

    @Test func aForkedChildRecordsIntoItsOwnFileFromTheHeapItInherited() throws {
        let (run, traces) = try Self.record([])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(traces.count == 2, "\(traces.keys.sorted())")
        let parent = try #require(traces.values.first { Self.sites($0)["parent_alloc"] != nil })
        let child = try #require(traces.values.first { Self.sites($0)["child_alloc"] != nil })
        // The parent's file has the parent's events only.
        #expect(Self.sites(parent) == ["parent_alloc": 10, "main": 1])
        #expect(parent.object("snapshot")?["allocation_count"] as? Int == 11)
        // The child: its own 21 allocations, 5 frees of inherited blocks, and in use at
        // the end 5 inherited blocks (500 B), its 20 (4000 B) and the lost one (300 B).
        let snapshot = try #require(child.object("snapshot"))
        #expect(snapshot["allocation_count"] as? Int == 21)
        #expect(snapshot["deallocation_count"] as? Int == 5)
        #expect(snapshot["current_usage"] as? Int == 4800)
        let byKind = try #require(child.object("leaks")?["by_kind"] as? [String: [String: Int]])
        #expect(byKind["definite"] == ["blocks": 1, "bytes": 300])
        #expect(byKind["reachable"] == ["blocks": 25, "bytes": 4500])
        #expect(run.stderr.contains("memprof: trace of process "))
    }

    @Test func withoutPercentPTheChildIsLeftOut() throws {
        let (run, traces) = try Self.record([], pattern: "t.mprof")
        #expect(run.status == 0, "\(run.stderr)")
        let parent = try #require(traces["t.mprof"])
        #expect(traces.count == 1)
        #expect(Self.sites(parent) == ["parent_alloc": 10, "main": 1])
    }

    @Test func followExecTracesTheExecutedProgramBesideItsPredecessor() throws {
        let knownCounts = Harness.examples.appendingPathComponent("known_counts").path
        let (run, traces) = try Self.record(["--follow-exec"], arguments: ["exec", knownCounts])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(traces.count == 3, "\(traces.keys.sorted())")
        // NAME.1: the program the child executed, with known_counts' exact counts.
        let executed = try #require(traces.first { $0.key.hasSuffix(".1.mprof") }?.value)
        #expect(executed.object("snapshot")?["allocation_count"] as? Int == 123)
        let child = try #require(traces.values.first { Self.sites($0)["child_alloc"] != nil })
        #expect(child.object("trace")?["ended_by"] as? String == "exec")
        // Without the flag the executed program is not traced.
        let (_, plain) = try Self.record([], arguments: ["exec", knownCounts])
        #expect(plain.count == 2)
    }

    @Test func followExecNeedsPercentP() throws {
        let run = try Harness.run([Harness.memprof.path, "run", "--follow-exec", "-o", "t.mprof", "--", "/bin/true"])
        #expect(run.status == 64)
        #expect(run.stderr.contains("--follow-exec writes one file per program: put %p (the process id) in -o"))
    }
}
