import Foundation
import Testing

/// The full suite (`scripts/test.sh --full`, MEMPROF_FULL_SUITE=1): real programs people
/// run, each in all three modes, compared with its bare run (exit status, stdout byte
/// for byte, stderr without memprof's own trace lines) and with valgrind memcheck in the
/// same environment (allocations, frees and bytes of every process, and the blocks not
/// freed at exit by kind). Every command runs with a timeout: a hang fails its row.
///
/// Each program runs under valgrind in every mode's environment (MEMPROF_MODE and the
/// trace path are part of it, and perl allocates by their lengths), and in full mode's
/// twice. Where those two runs agree the comparison is exact; where they differ (a
/// program whose allocations depend on its threads' timing: the JVM, node) memprof's
/// figure must lie within their spread of the runs, and the table says so. A forked child's counts are not compared: valgrind's include
/// its parent's before the fork, memprof's start there (its leak kinds are compared).
///
/// The table (program × mode: output equal, counts equal, leak kinds equal) is written
/// to .build/real-programs/table.md as each program finishes.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["MEMPROF_FULL_SUITE"] == "1"))
struct RealProgramTests {
    @Test(arguments: RealProgramTests.programs)
    func sameAsBareAndValgrind(_ program: RealProgram) throws {
        let index = Self.programs.firstIndex { $0.name == program.name } ?? 999
        let manager = FileManager.default
        let caseDirectory = Harness.realProgramsDirectory.appendingPathComponent(program.name)
        try? manager.removeItem(at: caseDirectory)
        let work = caseDirectory.appendingPathComponent("work")
        let home = caseDirectory.appendingPathComponent("home")
        let temporary = caseDirectory.appendingPathComponent("tmp")
        try manager.createDirectory(at: home, withIntermediateDirectories: true)
        /// Every run starts in the same state: an empty temporary directory and the
        /// working directory as `prepare` makes it.
        func fresh() throws {
            for directory in [work, temporary] {
                try? manager.removeItem(at: directory)
                try manager.createDirectory(at: directory, withIntermediateDirectories: true)
            }
            try program.prepare(work)
        }
        func tracePattern(_ mode: String) -> String {
            caseDirectory.appendingPathComponent("traces-\(mode)/t.%p.mprof").path
        }
        let base =
            Harness.baseEnvironment(home: home, temporary: temporary)
            + program.environment.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            + [("MEMPROF_PRELOAD", try Harness.preloadAsLongAsValgrinds())]
        /// What `memprof run --mode MODE --follow-exec -o PATTERN` adds for its command.
        func memprofAdditions(_ mode: String) -> [(String, String)] {
            [("MEMPROF_OUTPUT", tracePattern(mode)), ("MEMPROF_MODE", mode), ("MEMPROF_FOLLOW_EXEC", "1")]
        }
        // What valgrind adds, for the bare and memprof runs.
        let mirrored =
            base + Harness.valgrindEnvironment.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            + [("PWD", work.path)]

        // valgrind in full mode's environment twice (a deterministic program gives the
        // same figures), and once in each other mode's.
        var valgrindRuns: [String: ValgrindObservation] = [:]
        for run in ["full", "full-again", "sample", "aggregate"] {
            let mode = run == "full-again" ? "full" : run
            try fresh()
            let logs = caseDirectory.appendingPathComponent("vg-\(run)")
            try manager.createDirectory(at: logs, withIntermediateDirectories: true)
            let command =
                [
                    "/usr/bin/valgrind", "--log-file=\(logs.path)/vg.%p.log", "--trace-children=yes",
                    "--run-libc-freeres=no", "--run-cxx-freeres=no", "--fair-sched=yes",
                ] + Harness.valgrindLeakOptions + (program.oracleCommand ?? program.command)
            let result = try Harness.run(
                Harness.withEnvironment(base + memprofAdditions(mode), command), directory: work,
                timeout: program.valgrindTimeout)
            valgrindRuns[run] = try Harness.observeValgrindLogs(in: logs, rootPid: result.pid, result: result)
        }

        var rows: [(mode: String, output: Verdict, counts: Verdict, leaks: Verdict)] = []
        for mode in Harness.modes {
            try fresh()
            let bare = try Harness.run(
                Harness.withEnvironment(mirrored + memprofAdditions(mode), program.command), directory: work,
                timeout: program.timeout)
            try fresh()
            let traces = caseDirectory.appendingPathComponent("traces-\(mode)")
            try manager.createDirectory(at: traces, withIntermediateDirectories: true)
            let memprofRun = try Harness.run(
                Harness.withEnvironment(
                    mirrored,
                    [Harness.memprof.path, "run", "--mode", mode, "--follow-exec", "-o", tracePattern(mode), "--"]
                        + program.command), directory: work, timeout: program.timeout)
            let observed = try Harness.observeTraces(
                in: traces, memprofPid: memprofRun.pid, result: memprofRun, timeout: 300)
            let output = RealProgramComparison.output(bare: bare, memprof: memprofRun)
            let valgrind = ValgrindOracle(
                center: valgrindRuns[mode]!, first: valgrindRuns["full"]!, second: valgrindRuns["full-again"]!)
            var counts = RealProgramComparison.counts(memprof: observed, valgrind: valgrind, program: program)
            var leaks = RealProgramComparison.leaks(memprof: observed, valgrind: valgrind, program: program, mode: mode)
            if let broken = valgrind.all.first(where: { !$0.failed.isEmpty }) {
                let why = Verdict.notApplicable(broken.failed.joined(separator: "; "))
                counts = why
                if leaks.outcome != .notApplicable { leaks = why }
            } else if let late = valgrind.all.first(where: { $0.result.timedOut }) {
                let why = Verdict.notApplicable(
                    "valgrind did not finish in \(Int(program.valgrindTimeout)) s (status \(late.result.status))")
                counts = why
                if leaks.outcome != .notApplicable { leaks = why }
            }
            if !observed.truncated.isEmpty, counts.outcome == .yes {
                counts.detail +=
                    (counts.detail.isEmpty ? "" : "; ") + "truncated: \(observed.truncated.joined(separator: ", "))"
            }
            rows.append((mode, output, counts, leaks))
            #expect(output.outcome == .yes, "\(program.name) \(mode) output: \(output.detail)")
            #expect(counts.outcome != .no, "\(program.name) \(mode) counts: \(counts.detail)")
            #expect(leaks.outcome != .no, "\(program.name) \(mode) leak kinds: \(leaks.detail)")
        }
        try RealProgramTable.write(index: index, program: program, rows: rows)
    }

    // MARK: - The programs

    static func example(_ name: String) -> String { Harness.examples.appendingPathComponent(name).path }

    /// Writes `text` to `name` in the working directory.
    static func file(_ name: String, _ text: String) -> @Sendable (URL) throws -> Void {
        { directory in try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8) }
    }

    /// git with a fixed identity and dates, so that commits (and their hashes) are the
    /// same every run, and no configuration but the repository's own.
    static let gitEnvironment = [
        "GIT_AUTHOR_NAME": "A U Thor", "GIT_AUTHOR_EMAIL": "author@example.com",
        "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_NAME": "C O Mitter",
        "GIT_COMMITTER_EMAIL": "committer@example.com", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
    ]

    /// A repository with 40 files, made bare (not measured), before `git add` runs.
    @Sendable static func gitRepository(added: Bool) -> @Sendable (URL) throws -> Void {
        { directory in
            for i in 0..<40 {
                let text = (0..<(50 + i * 7)).map { "line \($0) of file \(i)" }.joined(separator: "\n") + "\n"
                try text.write(to: directory.appendingPathComponent("f\(i).txt"), atomically: true, encoding: .utf8)
            }
            let env =
                Harness.baseEnvironment(
                    home: directory.deletingLastPathComponent().appendingPathComponent("home"),
                    temporary: directory.deletingLastPathComponent().appendingPathComponent("tmp"))
                + gitEnvironment.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            var steps = [["/usr/bin/git", "init", "-q", "-b", "main"]]
            if added { steps.append(["/usr/bin/git", "add", "."]) }
            for step in steps {
                let result = try Harness.run(Harness.withEnvironment(env, step), directory: directory, timeout: 60)
                guard result.status == 0 else { throw PrepareError.failed(step, result.stderr) }
            }
        }
    }

    enum PrepareError: Error { case failed([String], String) }

    static let sqlScript = """
        create table t(a integer primary key, b text);
        with recursive c(x) as (select 1 union all select x+1 from c where x<2000)
          insert into t select x, printf('row %d', x) from c;
        create index tb on t(b);
        select count(*), sum(length(b)) from t;
        """

    static let pythonThreads = """
        import threading
        results = [0] * 4
        def work(i):
            d = {}
            for k in range(20000):
                d[str(k % 500) + "-" + str(i)] = [k] * (k % 5)
            results[i] = sum(len(v) for v in d.values())
        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
        print(results)
        """

    static let pythonMultiprocessing = """
        import multiprocessing as mp
        def square(x):
            return [x * x] * 100
        def child(q):
            q.put(sum(range(1000)))
        if __name__ == "__main__":
            mp.set_start_method("fork")
            with mp.Pool(2) as pool:
                print(sum(len(r) for r in pool.map(square, range(200))))
            q = mp.Queue()
            p = mp.Process(target=child, args=(q,))
            p.start()
            print(q.get())
            p.join()
            print(p.exitcode)
        """

    static let nodeScript = """
        const m = new Map();
        for (let i = 0; i < 50000; i++) m.set('k' + (i % 1000), (m.get('k' + (i % 1000)) || 0) + i);
        const text = JSON.stringify([...m.entries()].slice(0, 100));
        let sum = 0;
        for (const [, v] of m) sum += v;
        console.log(sum, text.length, JSON.parse(text).length);
        """

    static let perlScript = """
        my %h; for my $i (1..20000) { $h{"k$i"} = [map { $_ * $i } 1..5]; }
        my $s = 0; $s += $_->[4] for values %h; print "$s\\n";
        my @w = sort { $a cmp $b } map { sprintf("%05d", $_ * 7919 % 10007) } 1..5000;
        print "$w[0] $w[-1] ", scalar(@w), "\\n";
        """

    static let tclScript = """
        set d [dict create]
        for {set i 0} {$i < 20000} {incr i} { dict set d k$i [string repeat x [expr {$i % 50}]] }
        set total 0
        dict for {k v} $d { incr total [string length $v] }
        puts "[dict size $d] $total"
        """

    static let jqInput: String =
        "["
        + (0..<5000).map { "{\"n\": \($0), \"name\": \"item \($0)\", \"tags\": [\"a\", \"b\"]}" }.joined(separator: ",")
        + "]"

    /// Text of about 1.3 MB, the same every run.
    static let corpus: String = (0..<20000).map { "\($0 * 7919 % 10007) the quick brown fox \($0)" }
        .joined(separator: "\n")

    static let programs: [RealProgram] = [
        RealProgram(
            name: "java-threads", command: ["/usr/bin/java", "-cp", Harness.examples.path, "Work"],
            nondeterminism: "the JVM's allocations depend on its threads' timing (JIT, GC)", valgrindTimeout: 600),
        RealProgram(name: "rust-threads", command: [example("rust_threads")]),
        RealProgram(
            name: "git-init", command: ["/usr/bin/git", "init", "-b", "main"], environment: gitEnvironment),
        RealProgram(
            name: "git-add", command: ["/usr/bin/git", "add", "."], environment: gitEnvironment,
            prepare: gitRepository(added: false)),
        RealProgram(
            name: "git-commit", command: ["/usr/bin/git", "commit", "-q", "-m", "first"],
            environment: gitEnvironment, prepare: gitRepository(added: true)),
        RealProgram(
            name: "perl", command: ["/usr/bin/perl", "script.pl"],
            environment: ["PERL_HASH_SEED": "0", "PERL_PERTURB_KEYS": "0"], prepare: file("script.pl", perlScript)),
        RealProgram(name: "tclsh", command: ["/usr/bin/tclsh", "script.tcl"], prepare: file("script.tcl", tclScript)),
        RealProgram(
            name: "gcc-follow-exec", command: ["/usr/bin/gcc", "-O1", "-o", "hello", "hello.c"],
            prepare: file("hello.c", "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n"),
            valgrindTimeout: 600),
        RealProgram(name: "c++-exceptions", command: [example("exceptions")]),
        RealProgram(
            name: "python-threads", command: ["/usr/bin/python3.11", "script.py"],
            environment: ["PYTHONHASHSEED": "0"], prepare: file("script.py", pythonThreads),
            nondeterminism: "where the interpreter switches threads depends on timing"),
        RealProgram(
            name: "python-multiprocessing", command: ["/usr/bin/python3.11", "script.py"],
            environment: ["PYTHONHASHSEED": "0"], prepare: file("script.py", pythonMultiprocessing),
            nondeterminism: "which pool worker takes which task depends on timing"),
        RealProgram(
            name: "node", command: ["/usr/bin/node", "script.js"], prepare: file("script.js", nodeScript),
            nondeterminism: "V8's compiler and GC threads allocate as timing has it", valgrindTimeout: 600),
        RealProgram(
            name: "swift-taskgroup", command: [example("taskgroup")],
            nondeterminism: "which pool thread runs which child task depends on timing"),
        RealProgram(
            name: "sqlite3", command: ["/usr/bin/sqlite3", ":memory:", "-init", "script.sql", ".quit"],
            prepare: file("script.sql", sqlScript)),
        RealProgram(
            name: "openssl-dgst", command: ["/usr/bin/openssl", "dgst", "-sha256", "corpus.txt"],
            prepare: file("corpus.txt", corpus)),
        RealProgram(
            name: "jq",
            command: [
                "/usr/bin/jq", "-c", "[.[] | select(.n % 3 == 0) | {id: .n, sq: (.n * .n)}] | length",
                "data.json",
            ], prepare: file("data.json", jqInput)),
        RealProgram(
            name: "xz", command: ["/usr/bin/xz", "-6", "-c", "corpus.txt"], prepare: file("corpus.txt", corpus)),
        RealProgram(name: "dlopen-dlclose-loop", command: [example("dlopen_loop"), example("libplugin.so")]),
        RealProgram(name: "fork-exec-posix_spawn", command: [example("spawn_tree"), example("known_counts")]),
        RealProgram(name: "8-threads-cross-free", command: [example("cross_free")]),
        RealProgram(name: "every-entry-point", command: [example("entry_points")]),
        RealProgram(
            name: "SIGKILL", command: [example("crash_burst"), "kill"],
            oracleCommand: [example("crash_burst"), "segv"],
            oracleReason:
                "valgrind writes no summary for a process killed by SIGKILL; the program allocates the same before either end",
            leaksNotComparable: "a process killed by SIGKILL runs no exit code: no scan, no valgrind summary"),
        RealProgram(
            name: "SIGSEGV", command: [example("crash_burst"), "segv"],
            leaksNotComparable: "memprof runs no exit scan in a process killed by a signal (its trace is cut short)"),
        RealProgram(name: "_exit", command: [example("leaks_exit"), "_exit"]),
    ]
}
