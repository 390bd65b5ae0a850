import Foundation
import Testing

/// memprof's exit scan on programs whose runtime keeps blocks of its own (glibc's
/// thread vectors and loader tables, libstdc++'s containers, python, sort), against
/// valgrind's *default* run, the one a user compares with: it calls glibc's
/// `__libc_freeres` at exit, which frees glibc's own blocks.
///
/// memprof cannot free glibc's blocks in the host, so it counts the blocks glibc holds
/// for itself as still reachable. The comparison is therefore:
/// - the lost kinds (definitely, indirectly, possibly lost) equal valgrind's default
///   run's, thread vectors included (by blocks, see ``Harness/LeakCensus``);
/// - every kind together equals what valgrind's run without freeres has not freed
///   at exit: no block freed at exit is missed, none is made up.
@Suite(.serialized, .enabled(if: Harness.isInstalled("/usr/bin/valgrind")))
struct RealLeakOracleTests {
    let directory: URL

    init() throws { directory = try Harness.temporaryDirectory() }

    static let lostKinds: [Harness.LeakKind] = [.definite, .indirect, .possible]

    /// The JSON one-liner of issue 13: json's C extension is dlopen'd, which makes the
    /// loader allocate its `_dl_find_object` segments.
    static let pythonJSON = [
        "/usr/bin/python3.11", "-c", "import json; [json.dumps({'a': list(range(100))}) for _ in range(2000)]",
    ]

    /// Programs from issue 13 with the figure memprof got wrong.
    static let programs: [LeakProgram] = [
        // Threads created and joined: their DTVs (allocate_dtv) wait in glibc's stack
        // cache, were "definitely lost".
        LeakProgram(name: "threads"),
        // A C++ program with one leaked container of containers: the leak was "possibly
        // lost" and most of what it holds "still reachable", through pointers main's
        // calls left in the slots of the exit machinery's frames.
        LeakProgram(name: "leaks_std"),
        // A dlopen: the loader's `_dl_find_object` segment (from
        // _dlfo_mappings_segment_allocate), kept by a 64-byte-aligned pointer inside its
        // block, was "possibly lost" (so was python's in most environments: whether the
        // block happens to be aligned depends on the heap's layout before it).
        LeakProgram(
            name: "dlopen_main", arguments: [Harness.examples.appendingPathComponent("libplugin.so").path]),
        // The rule for glibc's own blocks must not take in a program's block that glibc
        // points into: strtok's place in a strdup'd line keeps it possibly lost.
        LeakProgram(name: "leaks_strtok"),
    ]

    @Test(arguments: programs)
    func examples(_ program: LeakProgram) throws {
        try compare(program.command)
    }

    /// The issue's python run: `_dlfo_mappings_segment_allocate`'s block was "possibly
    /// lost" (not in every environment: see dlopen_main above).
    @Test(.enabled(if: Harness.isInstalled("/usr/bin/python3.11")))
    func pythonLoaderTables() throws {
        try compare(Self.pythonJSON)
    }

    /// `sort` frees a block that coreutils allocated with reallocarray(NULL, …): that
    /// block was served from memprof's own heap and its free was never recorded, so it
    /// stayed "definitely lost" (48 B in 2 blocks instead of valgrind's 16 B in 1).
    @Test(.enabled(if: Harness.isInstalled("/usr/bin/sort")))
    func sortFreesEverythingButItsLeak() throws {
        try compare(["/usr/bin/sort", "/etc/services"])
    }

    /// The same C++ program gives the same figures every time.
    @Test func cplusplusScanIsDeterministic() throws {
        let command = LeakProgram(name: "leaks_std").command
        var seen: Set<String> = []
        for _ in 1...20 {
            let trace = try Harness.record(command, environment: Harness.valgrindEnvironment, in: directory)
            seen.insert(try Harness.leakCensus(ofTrace: trace).description)
        }
        #expect(seen.count == 1, "\(seen.sorted())")
    }

    /// A program that execs: its heap is replaced, not leaked (docs/leaks.md), so
    /// `memprof check` with no leak allowed passes, and the blocks are still listed.
    @Test func execReplacesTheHeap() throws {
        let trace = try Harness.record(LeakProgram(name: "leaks_exec").command, in: directory)
        let thresholds = directory.appendingPathComponent("no-leaks.toml")
        try "allowed_leak_bytes = 0\n".write(to: thresholds, atomically: true, encoding: .utf8)
        let check = try Harness.run([Harness.memprof.path, "check", trace, "--thresholds", thresholds.path])
        #expect(check.status == 0, "memprof check: \(check.stdout) \(check.stderr)")
        let json = try Harness.leakReportJSON(trace)
        #expect(json.int("leaks", "total_leaked_bytes") == 0)
        #expect(json.int("leaks", "leaked_blocks") == 0)
        // 10 blocks of 100 bytes and one of 200, listed as not freed.
        let census = try Harness.leakCensus(ofTrace: trace)
        #expect(census.unclassified == Harness.LeakTally(bytes: 1200, blocks: 11), "\(census)")
    }

    /// The counts of the python one-liner equal valgrind's when both runs get the same
    /// environment and the same kind of standard streams: with stdout or stderr a pipe,
    /// python's start-up `tell()` fails with ESPIPE and decodes "Illegal seek" into a
    /// 52-byte buffer, once per such stream (the 52-byte pair issue 13 saw missing).
    @Test(.enabled(if: Harness.isInstalled("/usr/bin/python3.11")))
    func pythonCountsEqualValgrinds() throws {
        let environment = ["PYTHONHASHSEED": "0", "MEMPROF_MODE": "full"]
        // A fixed address layout, as valgrind's: pymalloc's arena count depends on it.
        let trace = try Harness.record(
            Self.pythonJSON, environment: environment.merging(Harness.valgrindEnvironment) { ours, _ in ours },
            fixedLayout: true, in: directory)
        let json = try Harness.reportJSON(trace)
        let valgrind = try Harness.valgrindHeapUsage(Self.pythonJSON, environment: environment)
        #expect(json.int("snapshot", "allocation_count") == valgrind.allocs)
        #expect(json.int("snapshot", "deallocation_count") == valgrind.frees)
        #expect(json.int("snapshot", "total_allocated") == valgrind.bytes)
    }

    /// git commit's counts equal valgrind's in the same environment. valgrind adds
    /// PWD, which `git` copies (one allocation and free more): with it in both runs (the
    /// harness's environment has it), the figures are equal. The automatic gc and
    /// maintenance are off: git prepares their child's environment from its own, where
    /// each tool's LD_PRELOAD and MEMPROF_OUTPUT differ in length (a few bytes apart).
    @Test(.enabled(if: Harness.isInstalled("/usr/bin/git")))
    func gitCommitCountsEqualValgrinds() throws {
        let environment = [
            "HOME": directory.path, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_COUNT": "2",
            "GIT_CONFIG_KEY_0": "gc.auto", "GIT_CONFIG_VALUE_0": "0", "GIT_CONFIG_KEY_1": "maintenance.auto",
            "GIT_CONFIG_VALUE_1": "false", "GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@b",
            "GIT_COMMITTER_NAME": "a", "GIT_COMMITTER_EMAIL": "a@b", "GIT_AUTHOR_DATE": "2020-01-01T00:00:00",
            "GIT_COMMITTER_DATE": "2020-01-01T00:00:00", "MEMPROF_MODE": "full",
            "PWD": FileManager.default.currentDirectoryPath,
        ]
        // Two identical repositories with one change staged, at paths of equal length.
        var repositories: [String] = []
        for name in ["repo-m", "repo-v"] {
            let repository = directory.appendingPathComponent(name).path
            try Harness.run(["/usr/bin/git", "init", "-q", repository], environment: environment)
            for file in 0..<5 {
                let lines = (0..<20).map { "line \($0) of \(file)" }.joined(separator: "\n")
                let path = "\(repository)/f\(file).txt"
                try lines.write(toFile: path, atomically: true, encoding: .utf8)
                // Older than the index: no "racily clean" entry for git to look at again
                // in one run and not the other.
                try FileManager.default.setAttributes(
                    [.modificationDate: Date(timeIntervalSince1970: 1_577_836_800)], ofItemAtPath: path)
            }
            try Harness.run(["/usr/bin/git", "-C", repository, "add", "."], environment: environment)
            repositories.append(repository)
        }
        let commit = { (repository: String) in ["/usr/bin/git", "-C", repository, "commit", "-q", "-m", "one"] }
        let trace = try Harness.record(
            commit(repositories[0]),
            environment: environment.merging(Harness.valgrindEnvironment) { ours, _ in ours }, in: directory)
        let json = try Harness.reportJSON(trace)
        let valgrind = try Harness.valgrindHeapUsage(commit(repositories[1]), environment: environment)
        #expect(json.int("snapshot", "allocation_count") == valgrind.allocs)
        #expect(json.int("snapshot", "deallocation_count") == valgrind.frees)
        #expect(json.int("snapshot", "total_allocated") == valgrind.bytes)
    }

    private func compare(_ command: [String]) throws {
        let name = command.map { ($0 as NSString).lastPathComponent }.joined(separator: " ")
        let trace = try Harness.record(command, environment: Harness.valgrindEnvironment, in: directory)
        let ours = try Harness.leakCensus(ofTrace: trace)
        let withFreeres = try ValgrindLeakLog(
            parsing: Harness.valgrindDefaultRunLog(Harness.valgrindLeakOptions, command)
        ).census
        let withoutFreeres = try Harness.valgrindLeakSummary(command).census
        #expect(ours.unclassified == Harness.LeakTally(), "\(name): memprof classified nothing")
        for kind in Self.lostKinds {
            #expect(
                ours.tally(kind) == withFreeres.tally(kind),
                "\(name) \(kind): memprof \(ours.tally(kind)), valgrind \(withFreeres.tally(kind))")
            #expect(
                ours.threadVectorBlocks(kind) == withFreeres.threadVectorBlocks(kind),
                "\(name) \(kind) thread vectors: memprof \(ours.threadVectorBlocks(kind)), valgrind \(withFreeres.threadVectorBlocks(kind))"
            )
        }
        #expect(
            Self.total(ours) == Self.total(withoutFreeres),
            "\(name) not freed at exit: memprof \(Self.total(ours)), valgrind without freeres \(Self.total(withoutFreeres))"
        )
        #expect(
            Self.threadVectors(ours) == Self.threadVectors(withoutFreeres), "\(name) thread vectors not freed")
    }

    private static func total(_ census: Harness.LeakCensus) -> Harness.LeakTally {
        var sum = Harness.LeakTally()
        for kind in Harness.LeakKind.allCases { sum += census.tally(kind) }
        return sum
    }

    private static func threadVectors(_ census: Harness.LeakCensus) -> Int {
        Harness.LeakKind.allCases.reduce(0) { $0 + census.threadVectorBlocks($1) }
    }
}

extension Harness {
    /// Like ``valgrindLog(_:_:environment:)``, but valgrind's default run: glibc's and
    /// libstdc++'s freeres run at exit.
    static func valgrindDefaultRunLog(_ options: [String], _ command: [String], environment: [String: String] = [:])
        throws -> String
    {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("vg-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        var environment = environment
        environment["MEMPROF_OUTPUT"] = "/dev/null"
        try run(
            ["/usr/bin/valgrind", "--log-file=\(log.path)", "--fair-sched=yes"] + options + command,
            environment: environment)
        return try String(contentsOf: log, encoding: .utf8)
    }
}
