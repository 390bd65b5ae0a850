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
        let census = try Harness.leakCensus(ofTrace: trace)
        #expect(
            census
                == Harness.LeakCensus(
                    definite: Harness.LeakTally(bytes: 48, blocks: 1),
                    indirect: Harness.LeakTally(bytes: 24, blocks: 1),
                    reachable: Harness.LeakTally(bytes: 72, blocks: 2)), "\(census)")
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
        let census = try Harness.leakCensus(ofTrace: trace)
        #expect(census == Harness.LeakCensus(unclassified: Harness.LeakTally(bytes: 144, blocks: 4)), "\(census)")
    }

    @Test func sampleModeDoesNotClassify() throws {
        // The table holds sampled blocks only: pointers through the others would be
        // missed, so nothing is classified.
        let trace = directory.appendingPathComponent("sample.mprof").path
        let result = try Harness.run([
            Harness.memprof.path, "run", "--mode", "sample", "--sample-interval", "1", "-o", trace, "--", ignoreProgram,
        ])
        #expect(result.status == 0)
        let census = try Harness.leakCensus(ofTrace: trace)
        #expect(census == Harness.LeakCensus(unclassified: census.unclassified), "\(census)")
        #expect(census.unclassified.blocks == 4, "\(census)")
    }

    @Test(arguments: ["exit", "_exit", "_Exit", "return"])
    func everyWayOutIsClassified(mode: String) throws {
        let program = Harness.examples.appendingPathComponent("exit_modes").path
        let trace = try Harness.record([program, mode], in: directory)
        // Its one block stays in a global: still reachable, whichever way it ends.
        let census = try Harness.leakCensus(ofTrace: trace)
        #expect(census == Harness.LeakCensus(reachable: Harness.LeakTally(bytes: 777, blocks: 1)), "\(mode): \(census)")
        // Counted as a leak only when asked to.
        let all = try Harness.run([Harness.memprof.path, "report", "--format", "json", "--leak-kinds", "all", trace])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(all.stdout.utf8)) as? [String: Any])
        #expect(json.int("leaks", "total_leaked_bytes") == 777)
    }
}
