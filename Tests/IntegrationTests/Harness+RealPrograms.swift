import Foundation
import Testing

/// A real program of the full suite (RealProgramTests): a command, the files it works
/// on, and what about it can be compared with what.
struct RealProgram: Sendable, CustomTestStringConvertible {
    var name: String
    var command: [String]
    /// Added to every run's environment.
    var environment: [String: String] = [:]
    /// Fills the (empty) working directory before each run: every run of the program
    /// starts from the same files in the same place, so paths and sizes are the same.
    var prepare: @Sendable (URL) throws -> Void = { _ in }
    /// What valgrind runs instead of `command`, when valgrind cannot give figures for
    /// `command` itself (a process killed by SIGKILL leaves valgrind no summary).
    var oracleCommand: [String]? = nil
    /// Why `oracleCommand` stands for `command`.
    var oracleReason = ""
    /// Why the leak kinds cannot be compared, when they cannot.
    var leaksNotComparable: String? = nil
    /// Why its counts may vary from run to run: said in the table when valgrind's two
    /// runs differ (only then is a tolerance used).
    var nondeterminism: String? = nil
    /// Seconds a bare or memprof run may take before it counts as hung.
    var timeout: Double = 60
    /// Seconds a valgrind run may take.
    var valgrindTimeout: Double = 300

    var testDescription: String { name }
}

/// One process of a run as one tool saw it.
struct ObservedProcess: Sendable, CustomStringConvertible {
    /// How the process's last program image started.
    enum Role: String, Sendable, Comparable {
        /// The command itself.
        case root
        /// A program a process executed (its own figures start at zero).
        case exec = "exec'd"
        /// A forked child that did not execute anything: valgrind's figures include
        /// the parent's allocations before the fork, memprof's start at the fork.
        case fork = "forked"

        static func < (lhs: Role, rhs: Role) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    var pid: Int
    var parentPid: Int
    /// argv[0]'s last component.
    var program: String
    var role: Role
    var allocs: Int
    var frees: Int
    var bytes: Int
    /// Blocks not freed at exit by kind; nil when this tool said nothing of kinds.
    var census: Harness.LeakCensus?
    /// Threads the process had (memprof's snapshot `thread_count`; 0 for valgrind's).
    var threads = 0

    /// What processes of two runs are matched by.
    var key: String { "\(role.rawValue) \(program)" }

    var counts: String { "\(allocs) allocs, \(frees) frees, \(bytes) bytes" }
    var description: String { "\(key) (pid \(pid)): \(counts)" }
}

/// What one run of a program under memprof left: its result and every process's trace.
struct MemprofObservation: Sendable {
    var result: Harness.Result
    /// The last program image of each process.
    var processes: [ObservedProcess]
    /// Traces of images that ended by exec, with what their reports call leaked.
    var execEnded: [(program: String, leakedBytes: Int, leakedBlocks: Int)]
    /// Traces whose report says they were cut short.
    var truncated: [String]
    /// Traces that could not be read, with why.
    var unreadable: [String]
}

/// What one valgrind run left: one log per process (`--trace-children=yes`).
struct ValgrindObservation: Sendable {
    var result: Harness.Result
    var processes: [ObservedProcess]
    var unreadable: [String]
    /// Why valgrind gave no figures at all (it crashed itself).
    var failed: [String]
}

/// valgrind's runs one memprof run is compared with: `center` ran in the memprof run's
/// mode's environment (the mode is in MEMPROF_MODE and the trace path, whose lengths
/// change what programs that copy their environment allocate), `first` and `second` in
/// full mode's, twice, to tell a deterministic program from one that is not.
struct ValgrindOracle: Sendable {
    var center: ValgrindObservation
    var first: ValgrindObservation
    var second: ValgrindObservation

    var all: [ValgrindObservation] { [center, first, second] }
    var unreadable: [String] { all.flatMap(\.unreadable) }
}

/// One cell of the suite's table.
struct Verdict: Sendable {
    enum Outcome: String, Sendable {
        case yes, no
        case notApplicable = "n.a."
    }

    var outcome: Outcome
    /// Why, or what differed; empty for a plain yes.
    var detail: String = ""

    static let yes = Verdict(outcome: .yes)
    static func no(_ detail: String) -> Verdict { Verdict(outcome: .no, detail: detail) }
    static func notApplicable(_ detail: String) -> Verdict { Verdict(outcome: .notApplicable, detail: detail) }

    var cell: String { detail.isEmpty ? outcome.rawValue : "\(outcome.rawValue): \(detail)" }
}

extension Harness {
    /// The three ways `memprof run` records.
    static let modes = ["full", "sample", "aggregate"]

    /// Where the suite's runs happen: fixed paths (not temporary names), so that every
    /// run of a program sees the same paths, and allocates for strings of the same length.
    static let realProgramsDirectory = URL(fileURLWithPath: "/tmp/memprof-real-programs")

    /// Where the suite writes its table (`table.md`) and the rows it is made of.
    static let realProgramsTable = root.appendingPathComponent(".build/real-programs")

    /// The fixed environment every run starts from, in this order (programs see the
    /// order of `environ`; the test process's own environment would differ between
    /// machines).
    static func baseEnvironment(home: URL, temporary: URL) -> [(String, String)] {
        [
            ("PATH", "/usr/local/bin:/usr/bin:/bin"), ("HOME", home.path), ("LANG", "C.UTF-8"), ("TZ", "UTC"),
            ("TMPDIR", temporary.path),
        ]
    }

    /// `command` run through env(1) with exactly `environment`, in its order: env execs
    /// the command (same process id), and nothing of the test process's environment
    /// leaks in.
    static func withEnvironment(_ environment: [(String, String)], _ command: [String]) -> [String] {
        ["/usr/bin/env", "-i"] + environment.map { "\($0.0)=\($0.1)" } + command
    }

    /// The processes of a memprof run with -o `directory`/t.%p.mprof: every trace file
    /// read with ``leakReportJSON(_:)``. `memprofPid` is the `memprof run` process: the
    /// command is its child.
    static func observeTraces(in directory: URL, memprofPid: Int32, result: Result, timeout: Double)
        throws -> MemprofObservation
    {
        struct Image {
            var pid: Int
            var generation: Int
            var json: [String: Any]
        }
        var images: [Image] = []
        var unreadable: [String] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() {
            // t.PID.mprof (as started) or t.PID.N.mprof (its Nth exec).
            let parts = name.split(separator: ".")
            guard parts.count >= 3, parts.first == "t", parts.last == "mprof", let pid = Int(parts[1]) else {
                continue
            }
            let generation = parts.count == 4 ? Int(parts[2]) ?? 0 : 0
            let path = directory.appendingPathComponent(name).path
            let report = try run(
                [memprof.path, "report", "--format", "json", "--top", "1000000", "--leak-kinds", "all", path],
                timeout: timeout)
            guard report.status == 0, !report.timedOut,
                let json = try? JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any]
            else {
                unreadable.append(
                    "\(name): status \(report.status)\(report.timedOut ? " (timed out)" : ""): "
                        + report.stderr.prefix(300))
                continue
            }
            images.append(Image(pid: pid, generation: generation, json: json))
        }
        var last: [Int: Image] = [:]
        for image in images where (last[image.pid]?.generation ?? -1) < image.generation { last[image.pid] = image }
        var processes: [ObservedProcess] = []
        var execEnded: [(String, Int, Int)] = []
        var truncated: [String] = []
        for image in images {
            let process = image.json.object("process") ?? [:]
            let arguments = process["arguments"] as? [String] ?? []
            let program = URL(fileURLWithPath: arguments.first ?? "?").lastPathComponent
            let trace = image.json.object("trace") ?? [:]
            if trace["truncated"] as? Bool == true { truncated.append("\(program) (pid \(image.pid))") }
            if trace["ended_by"] as? String == "exec" {
                execEnded.append(
                    (
                        program, image.json.int("snapshot", "leaked_bytes") ?? -1,
                        image.json.int("snapshot", "leaked_blocks") ?? -1
                    ))
            }
            guard last[image.pid]?.generation == image.generation else { continue }
            let parent = process["parent_pid"] as? Int ?? -1
            // A posix_spawn'd (vfork + exec) program has no image of the forked copy:
            // its first image is the new program. As for valgrind's logs, a first image
            // is a forked copy when it runs its parent's command line.
            let parentCommands = images.filter { $0.pid == parent }.map {
                $0.json.object("process")?["arguments"] as? [String] ?? []
            }
            let role: ObservedProcess.Role =
                image.generation > 0
                ? .exec : parent == Int(memprofPid) ? .root : parentCommands.contains(arguments) ? .fork : .exec
            let snapshot = image.json.object("snapshot") ?? [:]
            processes.append(
                ObservedProcess(
                    pid: image.pid, parentPid: parent, program: program, role: role,
                    allocs: snapshot["allocation_count"] as? Int ?? -1,
                    frees: snapshot["deallocation_count"] as? Int ?? -1,
                    bytes: snapshot["total_allocated"] as? Int ?? -1,
                    census: try leakCensus(ofReport: image.json), threads: snapshot["thread_count"] as? Int ?? 0))
        }
        return MemprofObservation(
            result: result, processes: processes, execEnded: execEnded, truncated: truncated, unreadable: unreadable)
    }

    /// The processes of a valgrind run with --log-file=`directory`/vg.%p.log, whose
    /// command was `rootPid`.
    static func observeValgrindLogs(in directory: URL, rootPid: Int32, result: Result) throws
        -> ValgrindObservation
    {
        struct Log {
            var pid: Int
            var parentPid: Int
            var command: String
            var text: String
        }
        var logs: [Int: Log] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
            let parts = name.split(separator: ".")
            guard parts.count == 3, parts[0] == "vg", let pid = Int(parts[1]) else { continue }
            let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            func value(after label: String) -> String {
                guard let line = text.split(separator: "\n").first(where: { $0.contains(label) }),
                    let range = line.range(of: label)
                else { return "" }
                return line[range.upperBound...].trimmingCharacters(in: .whitespaces)
            }
            logs[pid] = Log(
                pid: pid, parentPid: Int(value(after: "Parent PID:")) ?? -1, command: value(after: "Command:"),
                text: text)
        }
        var processes: [ObservedProcess] = []
        var unreadable: [String] = []
        var failed: [String] = []
        for log in logs.values.sorted(by: { $0.pid < $1.pid }) {
            let role: ObservedProcess.Role =
                log.pid == Int(rootPid)
                ? .root : logs[log.parentPid].map { $0.command == log.command } == true ? .fork : .exec
            let program = URL(fileURLWithPath: String(log.command.split(separator: " ").first ?? "?"))
                .lastPathComponent
            do {
                if log.text.contains("VALGRIND INTERNAL ERROR") || log.text.contains("the 'impossible' happened") {
                    failed.append(
                        "valgrind itself crashed on \(program) (VALGRIND INTERNAL ERROR in vg.\(log.pid).log)")
                    continue
                }
                let usage = try heapUsage(inValgrindLog: log.text)
                let leaks = try ValgrindLeakLog(parsing: log.text)
                processes.append(
                    ObservedProcess(
                        pid: log.pid, parentPid: log.parentPid, program: program, role: role, allocs: usage.allocs,
                        frees: usage.frees, bytes: usage.bytes, census: leaks.census))
            } catch {
                unreadable.append("vg.\(log.pid).log (\(program)): \(error)".prefix(400).description)
            }
        }
        return ValgrindObservation(result: result, processes: processes, unreadable: unreadable, failed: failed)
    }
}

/// Comparisons of one program's runs.
enum RealProgramComparison {
    /// memprof's stderr without its own lines about the traces it wrote.
    static func programStandardError(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("memprof: trace written to ") && !$0.hasPrefix("memprof: trace of process ") }
            .joined(separator: "\n")
    }

    /// Exit status, stdout byte for byte and stderr (without memprof's trace lines) of
    /// a memprof run against the bare run.
    static func output(bare: Harness.Result, memprof: Harness.Result) -> Verdict {
        var differences: [String] = []
        if bare.timedOut { differences.append("the bare run timed out") }
        if memprof.timedOut { differences.append("HANG: the memprof run timed out and was killed") }
        if bare.status != memprof.status {
            differences.append("exit status \(memprof.status), bare \(bare.status)")
        }
        if bare.stdoutData != memprof.stdoutData {
            differences.append(
                "stdout differs (\(memprof.stdoutData.count) bytes, bare \(bare.stdoutData.count)): "
                    + excerpt(memprof.stdout))
        }
        let ours = programStandardError(memprof.stderr)
        if ours != bare.stderr {
            differences.append("stderr differs: \(excerpt(ours)); bare: \(excerpt(bare.stderr))")
        }
        return differences.isEmpty ? .yes : .no(differences.joined(separator: "; "))
    }

    static func excerpt(_ text: String) -> String {
        let flat = text.replacingOccurrences(of: "\n", with: "⏎")
        return flat.count > 240 ? "\"\(flat.prefix(240))…\"" : "\"\(flat)\""
    }

    /// Whether `value` is what valgrind says: `center` from its run in this mode's
    /// environment, `a` and `b` from its two runs in full mode's. Equal to `center` when
    /// `a` and `b` agree (the program is deterministic), else within their spread of
    /// any of the three.
    static func agrees(_ value: Int, _ center: Int, _ a: Int, _ b: Int) -> Bool {
        let spread = abs(a - b)
        guard spread > 0 else { return value == center }
        return value >= min(center, a, b) - spread && value <= max(center, a, b) + spread
    }

    /// The processes of each side grouped by key, each group in a stable order.
    static func grouped(_ processes: [ObservedProcess]) -> [String: [ObservedProcess]] {
        Dictionary(grouping: processes, by: \.key).mapValues {
            $0.sorted { ($0.allocs, $0.bytes, $0.pid) < ($1.allocs, $1.bytes, $1.pid) }
        }
    }

    /// Pairs each memprof process with valgrind's of the same key in its run in this
    /// mode's environment (`center`) and its two in full mode's. Returns the
    /// quadruples, or why the process sets cannot be paired.
    static func pair(
        _ ours: [ObservedProcess], _ valgrind: ValgrindOracle
    ) -> (triples: [(ObservedProcess, ObservedProcess, ObservedProcess, ObservedProcess)], mismatch: String?) {
        let (o, c, a, b) = (
            grouped(ours), grouped(valgrind.center.processes), grouped(valgrind.first.processes),
            grouped(valgrind.second.processes)
        )
        func shape(_ g: [String: [ObservedProcess]]) -> String {
            g.keys.sorted().map { "\($0) ×\(g[$0]!.count)" }.joined(separator: ", ")
        }
        func same(_ x: [String: [ObservedProcess]], _ y: [String: [ObservedProcess]]) -> Bool {
            Set(x.keys) == Set(y.keys) && x.keys.allSatisfy { x[$0]!.count == y[$0]!.count }
        }
        guard same(o, c) else {
            return ([], "processes differ: memprof [\(shape(o))], valgrind [\(shape(c))]")
        }
        var triples: [(ObservedProcess, ObservedProcess, ObservedProcess, ObservedProcess)] = []
        let runsMatch = same(c, a) && same(c, b)
        for key in o.keys.sorted() {
            for (index, process) in o[key]!.enumerated() {
                let centerProcess = c[key]![index]
                triples.append(
                    (
                        process, centerProcess, runsMatch ? a[key]![index] : centerProcess,
                        runsMatch ? b[key]![index] : centerProcess
                    ))
            }
        }
        return (triples, runsMatch ? nil : "valgrind's runs had different processes")
    }

    /// Allocations, frees and bytes of every process but forked ones.
    static func counts(
        memprof: MemprofObservation, valgrind: ValgrindOracle, program: RealProgram
    ) -> Verdict {
        if memprof.result.timedOut { return .no("HANG: no figures (the run was killed)") }
        var problems = memprof.unreadable + valgrind.unreadable
        let (triples, mismatch) = pair(memprof.processes, valgrind)
        if triples.isEmpty, let mismatch { return .no(mismatch) }
        var tolerated: [String] = []
        var forked = 0
        for (ours, center, first, second) in triples {
            if ours.role == .fork {
                forked += 1
                continue
            }
            let figures = [
                ("allocs", ours.allocs, center.allocs, first.allocs, second.allocs),
                ("frees", ours.frees, center.frees, first.frees, second.frees),
                ("bytes", ours.bytes, center.bytes, first.bytes, second.bytes),
            ]
            for (name, value, c, a, b) in figures {
                if !agrees(value, c, a, b) {
                    var why = ""
                    // Each thread's dynamic thread vector has a 16-byte slot per module
                    // with TLS, and memprof brings two (libmemprof.so, libunwind).
                    let extra = value - c
                    if name == "bytes", a == b, ours.threads > 1, extra > 0, extra % 32 == 0, extra / 32 < ours.threads
                    {
                        why =
                            " (+32 B × \(extra / 32) threads: memprof's and libunwind's TLS modules in each thread's DTV)"
                    }
                    problems.append(
                        "\(ours.key) \(name): memprof \(value), valgrind \(c)"
                            + (a == b ? "" : " (runs in full's environment: \(a) and \(b))") + why)
                } else if a != b {
                    tolerated.append(
                        "\(ours.key) \(name) \(value), valgrind \(c), \(a) and \(b)")
                }
            }
        }
        if let mismatch { tolerated.append(mismatch) }
        if !problems.isEmpty { return .no(problems.joined(separator: "; ")) }
        var notes: [String] = []
        if !tolerated.isEmpty {
            notes.append(
                "within valgrind's run-to-run spread (\(program.nondeterminism ?? "nondeterministic")): "
                    + tolerated.joined(separator: "; "))
        } else {
            notes.append("exact")
        }
        if forked > 0 {
            notes.append(
                "\(forked) forked process(es) not compared: valgrind's counts include the parent's before the fork")
        }
        if let command = program.oracleCommand {
            notes.append(
                "valgrind ran \(command.map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: " ")): \(program.oracleReason)"
            )
        }
        return Verdict(outcome: .yes, detail: notes.joined(separator: "; "))
    }

    /// The blocks not freed at exit by kind, of every process, and that images ended
    /// by exec report no leak (their heap is replaced, not leaked: docs/leaks.md).
    static func leaks(
        memprof: MemprofObservation, valgrind: ValgrindOracle, program: RealProgram,
        mode: String
    ) -> Verdict {
        if mode == "sample" {
            return .notApplicable("sample mode keeps only the sampled blocks, which it does not classify")
        }
        if let reason = program.leaksNotComparable { return .notApplicable(reason) }
        if memprof.result.timedOut { return .no("HANG: no figures (the run was killed)") }
        var problems = memprof.unreadable + valgrind.unreadable
        for image in memprof.execEnded where image.leakedBytes != 0 || image.leakedBlocks != 0 {
            problems.append(
                "\(image.program) before its exec: \(image.leakedBytes) bytes in \(image.leakedBlocks) blocks called leaked"
            )
        }
        let (triples, mismatch) = pair(memprof.processes, valgrind)
        if triples.isEmpty, let mismatch { return .no(mismatch) }
        var tolerated: [String] = []
        for (ours, center, first, second) in triples {
            guard let census = ours.census, let c = center.census, let a = first.census, let b = second.census
            else { continue }
            if census.unclassified.blocks > 0 { problems.append("\(ours.key): unclassified \(census.unclassified)") }
            for kind in Harness.LeakKind.allCases {
                let (o, z, x, y) = (census.tally(kind), c.tally(kind), a.tally(kind), b.tally(kind))
                let (ov, zv, xv, yv) = (
                    census.threadVectorBlocks(kind), c.threadVectorBlocks(kind), a.threadVectorBlocks(kind),
                    b.threadVectorBlocks(kind)
                )
                let same =
                    agrees(o.bytes, z.bytes, x.bytes, y.bytes) && agrees(o.blocks, z.blocks, x.blocks, y.blocks)
                    && agrees(ov, zv, xv, yv)
                if !same {
                    let theirs =
                        x == y && xv == yv
                        ? "\(z)\(zv > 0 ? " + \(zv) thread vectors" : "")"
                        : "\(z) (runs in full's environment: \(x) and \(y))"
                    problems.append(
                        "\(ours.key) \(kind): memprof \(o)\(ov > 0 ? " + \(ov) thread vectors" : ""), valgrind \(theirs)"
                    )
                } else if x != y || xv != yv {
                    tolerated.append("\(ours.key) \(kind) \(o), valgrind \(z), \(x) and \(y)")
                }
            }
        }
        if let mismatch { tolerated.append(mismatch) }
        if !problems.isEmpty { return .no(problems.joined(separator: "; ")) }
        return tolerated.isEmpty
            ? .yes
            : Verdict(
                outcome: .yes,
                detail: "within valgrind's run-to-run spread (\(program.nondeterminism ?? "nondeterministic")): "
                    + tolerated.joined(separator: "; "))
    }
}

/// The suite's table: one row per program and mode, written as each program finishes.
enum RealProgramTable {
    static func write(
        index: Int, program: RealProgram, rows: [(mode: String, output: Verdict, counts: Verdict, leaks: Verdict)]
    )
        throws
    {
        let rowsDirectory = Harness.realProgramsTable.appendingPathComponent("rows")
        try FileManager.default.createDirectory(at: rowsDirectory, withIntermediateDirectories: true)
        func cell(_ text: String) -> String { text.replacingOccurrences(of: "|", with: "\\|") }
        let lines = rows.map { row in
            "| \(program.name) | \(row.mode) | \(cell(row.output.cell)) | \(cell(row.counts.cell)) | \(cell(row.leaks.cell)) |"
        }
        let name = String(format: "%03d-%@.md", index, program.name)
        try (lines.joined(separator: "\n") + "\n").write(
            to: rowsDirectory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        // The whole table again from every row written so far.
        var table = """
            | program | mode | output equal | counts equal | leak kinds equal |
            | --- | --- | --- | --- | --- |

            """
        for file in try FileManager.default.contentsOfDirectory(atPath: rowsDirectory.path).sorted() {
            table += try String(contentsOf: rowsDirectory.appendingPathComponent(file), encoding: .utf8)
        }
        try table.write(
            to: Harness.realProgramsTable.appendingPathComponent("table.md"), atomically: true, encoding: .utf8)
    }
}

extension Harness {
    /// The preload under a path as long as the LD_PRELOAD valgrind sets, so that
    /// `memprof run`'s LD_PRELOAD is as long too: programs that copy their environment
    /// (perl, git) allocate by its length. A symbolic link in a padded directory.
    static func preloadAsLongAsValgrinds() throws -> String {
        let result = try run(
            withEnvironment(
                [("PATH", "/usr/bin:/bin")], ["/usr/bin/valgrind", "-q", "/usr/bin/printenv", "LD_PRELOAD"]),
            timeout: 60)
        let length = result.stdout.trimmingCharacters(in: .newlines).utf8.count
        let prefix = realProgramsDirectory.path + "/preload-"
        let suffix = "/libmemprof.so"
        let padding = max(1, length - prefix.utf8.count - suffix.utf8.count)
        let directory = prefix + String(repeating: "p", count: padding)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let link = directory + suffix
        if (try? FileManager.default.destinationOfSymbolicLink(atPath: link)) != preload.path {
            try? FileManager.default.removeItem(atPath: link)
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: preload.path)
        }
        return link
    }
}
