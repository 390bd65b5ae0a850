import Foundation
import Testing

/// `memprof run` gives the command the environment it was given, in its order, and
/// only adds its own variables: a program that walks `environ` (or prints it) must see
/// what it sees without memprof.
@Suite(.serialized)
struct EnvironmentOrderTests {
    let directory: URL

    init() throws { directory = try Harness.temporaryDirectory() }

    /// Runs `env` bare and under `memprof run` from the same, fixed environment
    /// (`env -i` sets it in this order) and returns both outputs' lines.
    private func environments(_ variables: [String], mode: String) throws -> (bare: [String], traced: [String]) {
        let fixed = ["/usr/bin/env", "-i"] + variables + ["MEMPROF_PRELOAD=\(Harness.preload.path)"]
        let bare = try Harness.run(fixed + ["/usr/bin/env"])
        let trace = directory.appendingPathComponent("env-\(mode).mprof").path
        let traced = try Harness.run(
            fixed + [Harness.memprof.path, "run", "--mode", mode, "-o", trace, "--", "/usr/bin/env"])
        #expect(bare.status == 0 && traced.status == 0, "stderr: \(traced.stderr)")
        return (
            bare.stdout.split(separator: "\n").map(String.init), traced.stdout.split(separator: "\n").map(String.init)
        )
    }

    @Test(arguments: ["full", "sample", "aggregate"])
    func theOrderIsKeptAndOursComeLast(mode: String) throws {
        let variables = ["ZETA=1", "ALPHA=2", "PATH=/usr/bin:/bin", "MIDDLE=x=y", "BETA=", "AAA=3"]
        let (bare, traced) = try environments(variables, mode: mode)
        #expect(Array(traced.prefix(bare.count)) == bare)
        let added = traced.dropFirst(bare.count).map { String($0.prefix { $0 != "=" }) }
        #expect(added.first == "LD_PRELOAD")
        #expect(added.allSatisfy { $0 == "LD_PRELOAD" || $0.hasPrefix("MEMPROF_") }, "added: \(added)")
        // The same from run to run.
        #expect(try environments(variables, mode: mode).traced == traced)
    }

    /// A shell sets `_` to the command's path: under memprof that would be memprof's.
    @Test func theShellsCommandVariableNamesTheCommand() throws {
        let (bare, traced) = try environments(["_=/usr/bin/env", "A=1"], mode: "full")
        #expect(bare.first == "_=/usr/bin/env")
        #expect(traced.first == "_=/usr/bin/env")
    }

    @Test func anExistingPreloadStaysWhereItIsWithOursFirst() throws {
        let (bare, traced) = try environments(["A=1", "LD_PRELOAD=", "B=2"], mode: "full")
        #expect(bare == ["A=1", "LD_PRELOAD=", "B=2", "MEMPROF_PRELOAD=\(Harness.preload.path)"])
        #expect(traced.count == bare.count + 2)
        #expect(traced[0] == "A=1" && traced[2] == "B=2")
        #expect(traced[1] == "LD_PRELOAD=" + Harness.preload.path)
    }
}
