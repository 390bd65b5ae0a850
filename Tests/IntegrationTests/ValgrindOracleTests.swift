import Foundation
import Testing

/// memprof's allocation counts against valgrind's `total heap usage` on the same
/// deterministic programs and inputs. Both runs get the same kind of standard streams
/// (stdin /dev/null, stdout and stderr pipes: python allocates differently for a
/// terminal, a pipe or a file) and the same environment.
@Suite(.serialized, .enabled(if: Harness.isInstalled("/usr/bin/valgrind")))
struct ValgrindOracleTests {
    let directory: URL

    init() throws { directory = try Harness.temporaryDirectory() }

    /// Runs `command` under memprof and under valgrind and compares allocation counts
    /// and bytes. Frees are compared only on our own examples: valgrind also counts
    /// frees made after memprof has closed its trace (late library destructors).
    private func compare(_ command: [String], environment: [String: String] = [:], fixedLayout: Bool = false) throws {
        let mirrored = environment.merging(Harness.valgrindEnvironment) { ours, _ in ours }
        let trace = try Harness.record(command, environment: mirrored, fixedLayout: fixedLayout, in: directory)
        let json = try Harness.reportJSON(trace)
        let valgrind = try Harness.valgrindHeapUsage(command, environment: environment)
        #expect(json.int("snapshot", "allocation_count") == valgrind.allocs, "\(command)")
        #expect(json.int("snapshot", "total_allocated") == valgrind.bytes, "\(command)")
    }

    @Test func knownCounts() throws {
        let program = Harness.examples.appendingPathComponent("known_counts").path
        try compare([program])
        // Our own exact figures agree with valgrind's on frees too.
        let valgrind = try Harness.valgrindHeapUsage([program])
        #expect(valgrind.allocs == 123 && valgrind.frees == 120)
    }

    @Test func cplusplusContainers() throws {
        try compare([Harness.examples.appendingPathComponent("containers").path])
    }

    @Test(.enabled(if: Harness.isInstalled("/usr/bin/sort")))
    func sortOfAFixedFile() throws {
        let input = directory.appendingPathComponent("lines.txt")
        let lines = (1...3000).map { "\(($0 * 7919) % 3001) line \($0)" }.joined(separator: "\n") + "\n"
        try lines.write(to: input, atomically: true, encoding: .utf8)
        try compare(["/usr/bin/sort", input.path], environment: ["LC_ALL": "C"])
    }

    @Test(.enabled(if: Harness.isInstalled("/usr/bin/sqlite3")))
    func sqliteWithAFixedScript() throws {
        let script = directory.appendingPathComponent("script.sql")
        try """
        create table t(a integer primary key, b text);
        with recursive c(x) as (select 1 union all select x+1 from c where x<2000)
          insert into t select x, printf('row %d', x) from c;
        create index tb on t(b);
        select count(*), sum(length(b)) from t;
        """.write(to: script, atomically: true, encoding: .utf8)
        try compare(["/usr/bin/sqlite3", ":memory:", "-init", script.path, ".quit"])
    }

    @Test(.enabled(if: Harness.isInstalled("/usr/bin/python3.11")))
    func pythonWithAFixedScript() throws {
        let script = """
            d = {}
            for i in range(20000):
                d[str(i)] = [i] * (i % 7)
            print(len(d), sum(len(v) for v in d.values()))
            """
        // A fixed hash seed: python randomizes dict layouts, and with them allocations.
        // A fixed address layout: pymalloc's arena count depends on where the heap
        // starts (one run in about 30 needed one more 128 KiB arena).
        try compare(
            ["/usr/bin/python3.11", "-c", script], environment: ["PYTHONHASHSEED": "0"], fixedLayout: true)
    }
}
