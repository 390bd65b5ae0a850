import Foundation
import Testing

/// The leak check at exit under the real preload: the ignore call, switching the check
/// off, and the modes where blocks stay unclassified. (The kinds against valgrind's are
/// in LeakOracleTests.)
@Suite(.serialized)
struct LeakCheckTests {
    let directory: URL

    init() throws { directory = try Harness.temporaryDirectory() }

    private var ignoreProgram: String { Harness.examples.appendingPathComponent("leak_ignore").path }

    @Test func anIgnoredBlockAndWhatItPointsToAreReachable() throws {
        let trace = try Harness.record([ignoreProgram], in: directory)
        let sums = try Harness.leakKinds(trace)
        #expect(sums["definite"]?.bytes == 48 && sums["definite"]?.blocks == 1)
        #expect(sums["indirect"]?.bytes == 24 && sums["indirect"]?.blocks == 1)
        #expect(sums["reachable"]?.bytes == 72 && sums["reachable"]?.blocks == 2)
        #expect(sums["possible"] == nil && sums["unfreed"] == nil)
    }

    @Test func theIgnoreCallSaysWhetherMemprofIsThere() throws {
        // Without the preload the program finds no memprof_ignore_object and exits 3.
        let bare = try Harness.run([ignoreProgram])
        #expect(bare.status == 3)
        let traced = try Harness.run([
            Harness.memprof.path, "run", "-o", directory.appendingPathComponent("t.mprof").path, "--", ignoreProgram,
        ])
        #expect(traced.status == 0)
    }

    @Test func noLeakCheckLeavesBlocksUnclassified() throws {
        let trace = directory.appendingPathComponent("off.mprof").path
        let result = try Harness.run([Harness.memprof.path, "run", "--no-leak-check", "-o", trace, "--", ignoreProgram])
        #expect(result.status == 0)
        let sums = try Harness.leakKinds(trace)
        #expect(sums.keys.sorted() == ["unfreed"])
        #expect(sums["unfreed"]?.bytes == 144 && sums["unfreed"]?.blocks == 4)
    }

    @Test func sampleModeDoesNotClassify() throws {
        // The table holds sampled blocks only: pointers through the others would be
        // missed, so nothing is classified.
        let trace = directory.appendingPathComponent("sample.mprof").path
        let result = try Harness.run([
            Harness.memprof.path, "run", "--mode", "sample", "--sample-interval", "1", "-o", trace, "--", ignoreProgram,
        ])
        #expect(result.status == 0)
        #expect(try Harness.leakKinds(trace).keys.sorted() == ["unfreed"])
    }

    @Test(arguments: ["exit", "_exit", "_Exit", "return"])
    func everyWayOutIsClassified(mode: String) throws {
        let program = Harness.examples.appendingPathComponent("exit_modes").path
        let trace = try Harness.record([program, mode], in: directory)
        // Its one block stays in a global: still reachable, whichever way it ends.
        let sums = try Harness.leakKinds(trace)
        #expect(sums.keys.sorted() == ["reachable"], "\(mode): \(sums)")
        #expect(sums["reachable"]?.bytes == 777 && sums["reachable"]?.blocks == 1, "\(mode)")
        // Counted as a leak only when asked to.
        let all = try Harness.run([Harness.memprof.path, "report", "--format", "json", "--leak-kinds", "all", trace])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(all.stdout.utf8)) as? [String: Any])
        #expect(json.int("leaks", "total_leaked_bytes") == 777)
    }
}
