import Foundation
import Testing

/// `memprof run --jemalloc`: libjemalloc.so.2 serves malloc behind the preload, and the
/// trace carries jemalloc's own statistics.
@Suite struct JemallocRunTests {
    static let library = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"

    @Test func jemallocStatisticsAreRecorded() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let trace = directory.appendingPathComponent("je.mprof").path
        let program = Harness.examples.appendingPathComponent("known_counts").path
        let run = try Harness.run([Harness.memprof.path, "run", "--jemalloc", "-o", trace, "--", program])
        #expect(run.status == 0, "\(run.stderr)")
        let json = try Harness.reportJSON(trace)
        let snapshot = try #require(json.object("snapshot"))
        let jemalloc = try #require(snapshot["jemalloc"] as? [String: Any], "no jemalloc figures: \(snapshot)")
        // One at the end at least (the program runs for milliseconds).
        #expect((jemalloc["samples"] as? Int ?? 0) >= 1)
        let allocated = try #require(jemalloc["allocated"] as? Int)
        let active = try #require(jemalloc["active"] as? Int)
        let resident = try #require(jemalloc["resident"] as? Int)
        let mapped = try #require(jemalloc["mapped"] as? Int)
        // jemalloc's invariants: allocated ≤ active ≤ resident ≤ mapped.
        #expect(allocated > 0 && allocated <= active && active <= resident && resident <= mapped)
        // known_counts' own 123 allocations are all seen; libjemalloc loads libstdc++, whose
        // emergency exception pool (72 KiB, never freed) adds one.
        #expect((snapshot["allocation_count"] as? Int ?? 0) >= 123)
        // The scan reads glibc's heap only: behind jemalloc the blocks stay unclassified.
        let byKind = try #require(json.object("leaks")?["by_kind"] as? [String: [String: Int]])
        #expect((byKind["unfreed"]?["blocks"] ?? 0) >= 3)
        #expect(byKind["definite"]?["blocks"] == 0)
    }

    @Test func aMissingLibraryIsOneLineAndNothingRuns() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let trace = directory.appendingPathComponent("none.mprof").path
        let run = try Harness.run(
            [Harness.memprof.path, "run", "--jemalloc", "-o", trace, "--", "/bin/true"],
            environment: ["MEMPROF_JEMALLOC_LIBRARY": "/nonexistent/libjemalloc.so.2"])
        #expect(run.status == 2)
        #expect(
            run.stderr
                == "memprof: --jemalloc: cannot find libjemalloc.so.2 (looked in /nonexistent/libjemalloc.so.2); "
                + "install libjemalloc2 or set MEMPROF_JEMALLOC_LIBRARY\n")
        #expect(!FileManager.default.fileExists(atPath: trace))
    }
}
