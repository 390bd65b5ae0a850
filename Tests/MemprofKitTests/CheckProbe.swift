import Foundation

/// Runs `memprof-check-probe` (Tests/MemprofCheckProbe), which links memprof's
/// interposer, on one scenario and decodes what it prints.
///
/// The test binary itself does not link the interposer: its suites run in parallel,
/// and a leak check must be the only thing allocating. So each scenario runs in a
/// process of its own — as it is (the linked interposer), under `memprof run` (the
/// preload takes over), or with jemalloc preloaded.
enum CheckProbe {
    struct Output: Decodable, Sendable {
        var interposer: String
        var sites: [Site]?
        var leakedBytes: Int?
        var leakedBlocks: Int?
        var unfreedBlocks: Int?
        var report: String?
        var counts: [String: Int]?
        var error: String?
        var innerError: String?

        /// Bytes and blocks of one kind.
        func total(_ kind: String) -> (bytes: Int, blocks: Int) {
            (sites ?? []).filter { $0.kind == kind }.reduce((0, 0)) { ($0.0 + $1.bytes, $0.1 + $1.blocks) }
        }
    }

    struct Site: Decodable, Sendable {
        var kind: String
        var blocks: Int
        var bytes: Int
        var location: String
        var frames: [String]
    }

    enum How: Sendable {
        /// The probe as built: the interposer linked in.
        case linked
        /// Under `memprof run -o trace`.
        case memprofRun(trace: String)
        /// Under `memprof run --mode aggregate -o trace`.
        case memprofRunAggregate(trace: String)
        /// With libjemalloc.so.2 preloaded behind the linked interposer.
        case jemalloc
        /// The linked interposer, asked for a trace with MEMPROF_OUTPUT.
        case linkedWithTrace(String)
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func run(_ scenario: String, _ how: How = .linked) throws -> Output {
        let bin = Probe.executable.deletingLastPathComponent()
        let probe = bin.appendingPathComponent("memprof-check-probe")
        var environment = ProcessInfo.processInfo.environment
        environment["LD_PRELOAD"] = nil
        environment["MEMPROF_OUTPUT"] = nil
        var program = probe
        var arguments = [scenario]
        switch how {
        case .linked:
            break
        case .memprofRun(let trace):
            program = bin.appendingPathComponent("memprof")
            arguments = ["run", "-o", trace, "--", probe.path, scenario]
        case .memprofRunAggregate(let trace):
            program = bin.appendingPathComponent("memprof")
            arguments = ["run", "--mode", "aggregate", "-o", trace, "--", probe.path, scenario]
        case .jemalloc:
            environment["LD_PRELOAD"] = try Probe.jemallocLibrary()
        case .linkedWithTrace(let trace):
            environment["MEMPROF_OUTPUT"] = trace
        }
        let result = try Probe.run(program, arguments, environment: environment)
        guard result.status == 0 else {
            throw Failure(
                description: "memprof-check-probe \(scenario) exited with status \(result.status): "
                    + String(decoding: result.stderr, as: UTF8.self))
        }
        do {
            return try JSONDecoder().decode(Output.self, from: result.stdout)
        } catch {
            throw Failure(
                description: "memprof-check-probe \(scenario) printed no result (\(error)): "
                    + String(decoding: result.stdout + result.stderr, as: UTF8.self))
        }
    }
}
