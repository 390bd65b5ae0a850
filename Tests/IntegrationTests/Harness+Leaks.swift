import Foundation
import Testing

/// The leak check's side of the harness: memprof's blocks not freed at exit per kind,
/// from its JSON report, and valgrind memcheck's, from its log.
extension Harness {
    /// memcheck's four kinds of blocks not freed at exit, spelled as memprof's JSON
    /// `leaks[].kind` spells them.
    enum LeakKind: String, CaseIterable, Sendable {
        case definite, indirect, possible, reachable

        /// How valgrind's LEAK SUMMARY and loss records name the kind.
        var valgrindName: String {
            switch self {
            case .definite: "definitely lost"
            case .indirect: "indirectly lost"
            case .possible: "possibly lost"
            case .reachable: "still reachable"
            }
        }
    }

    /// Bytes and blocks.
    struct LeakTally: Hashable, Sendable, CustomStringConvertible {
        var bytes = 0
        var blocks = 0

        static func += (lhs: inout LeakTally, rhs: LeakTally) {
            lhs.bytes += rhs.bytes
            lhs.blocks += rhs.blocks
        }

        var description: String { "\(bytes) bytes in \(blocks) blocks" }
    }

    /// The blocks one tool found not freed at exit, per kind, in two parts. The dynamic
    /// loader's dynamic thread vectors (one per thread pthread_create made, from
    /// `allocate_dtv`, grown by `_dl_resize_dtv`) take 16 bytes per loaded module with
    /// TLS, and memprof's preload brings two such modules (itself and libunwind) that
    /// valgrind's run does not have: they are counted apart, by blocks only.
    struct LeakCensus: Equatable, Sendable, CustomStringConvertible {
        /// Every block but the thread vectors.
        var program: [LeakKind: LeakTally] = [:]
        /// Thread vector blocks.
        var threadVectors: [LeakKind: Int] = [:]
        /// Blocks no scan classified, thread vectors included: memprof's kind `unfreed`
        /// (leak check off, sample mode, a trace that ends with an exec).
        var unclassified = LeakTally()

        /// An empty census.
        init() {}

        /// A census of the given figures, with `threads` possibly lost thread vectors (one
        /// per thread pthread_create made that is still there).
        init(
            definite: LeakTally = LeakTally(), indirect: LeakTally = LeakTally(), possible: LeakTally = LeakTally(),
            reachable: LeakTally = LeakTally(), threads: Int = 0, unclassified: LeakTally = LeakTally()
        ) {
            for (kind, tally) in [
                (LeakKind.definite, definite), (.indirect, indirect), (.possible, possible), (.reachable, reachable),
            ] where tally.blocks > 0 {
                program[kind] = tally
            }
            if threads > 0 { threadVectors[.possible] = threads }
            self.unclassified = unclassified
        }

        /// The blocks of `kind`, zero when there are none.
        func tally(_ kind: LeakKind) -> LeakTally { program[kind] ?? LeakTally() }

        /// The thread vector blocks of `kind`, zero when there are none.
        func threadVectorBlocks(_ kind: LeakKind) -> Int { threadVectors[kind] ?? 0 }

        /// Adds a group of blocks allocated by a stack with `functions`.
        mutating func add(_ tally: LeakTally, of kind: LeakKind, allocatedBy functions: [String]) {
            if functions.contains(where: LeakCensus.threadVectorAllocators.contains) {
                threadVectors[kind, default: 0] += tally.blocks
            } else {
                program[kind, default: LeakTally()] += tally
            }
        }

        static let threadVectorAllocators: Set<String> = ["allocate_dtv", "_dl_resize_dtv"]

        /// Equal when every kind has the same figures (an absent kind is zero).
        static func == (lhs: LeakCensus, rhs: LeakCensus) -> Bool {
            lhs.unclassified == rhs.unclassified
                && LeakKind.allCases.allSatisfy {
                    lhs.tally($0) == rhs.tally($0) && lhs.threadVectorBlocks($0) == rhs.threadVectorBlocks($0)
                }
        }

        var description: String {
            let kinds = LeakKind.allCases.map { kind in
                let vectors = threadVectorBlocks(kind)
                return "\(kind): \(tally(kind))" + (vectors == 0 ? "" : " + \(vectors) thread vectors")
            }
            return (kinds + (unclassified.blocks == 0 ? [] : ["unclassified: \(unclassified)"]))
                .joined(separator: "; ")
        }
    }

    /// `memprof report --format json` of `trace` with every leak group listed, whatever
    /// its kind (`--leak-kinds all`, `--top` beyond any group count here), parsed.
    static func leakReportJSON(_ trace: String) throws -> [String: Any] {
        let result = try run([
            memprof.path, "report", "--format", "json", "--top", "1000000", "--leak-kinds", "all", trace,
        ])
        try #require(result.status == 0, "memprof report failed: \(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
        return try #require(object as? [String: Any])
    }

    /// memprof's blocks not freed at exit in `trace`, per kind: `size` and `count`
    /// summed over `leaks.leaks[]`; `unfreed` groups are ``LeakCensus/unclassified``.
    /// Throws ``LeakCensusError/unknownLeakKind(_:)`` for a kind it does not know.
    static func leakCensus(ofTrace trace: String) throws -> LeakCensus {
        try leakCensus(ofReport: leakReportJSON(trace))
    }

    /// The census of a report made by ``leakReportJSON(_:)``.
    static func leakCensus(ofReport report: [String: Any]) throws -> LeakCensus {
        var census = LeakCensus()
        for leak in report.object("leaks")?.array("leaks") ?? [] {
            let name = leak["kind"] as? String ?? "nil"
            let size = try #require((leak["size"] as? NSNumber)?.intValue)
            let count = try #require((leak["count"] as? NSNumber)?.intValue)
            let tally = LeakTally(bytes: size, blocks: count)
            if name == "unfreed" {
                census.unclassified += tally
                continue
            }
            guard let kind = LeakKind(rawValue: name) else { throw LeakCensusError.unknownLeakKind(name) }
            let frames = leak["stack"] as? [[String: Any]] ?? []
            census.add(tally, of: kind, allocatedBy: frames.compactMap { $0["function"] as? String })
        }
        return census
    }

    /// The valgrind options of the leak oracle. Heuristics off: the semantics followed
    /// are memcheck's plain ones (any interior pointer gives "possibly lost"), as are
    /// memprof's. Default suppressions off: a suppressed block would be missing from
    /// every kind, while memprof counts it.
    static let valgrindLeakOptions = [
        "--leak-check=full", "--show-leak-kinds=all", "--errors-for-leak-kinds=none",
        "--leak-check-heuristics=none", "--default-suppressions=no", "--num-callers=40",
    ]

    /// valgrind memcheck's leak report for `command`, run with ``valgrindLeakOptions``
    /// (see ``valgrindLog(_:_:environment:)``): its LEAK SUMMARY and its loss records.
    static func valgrindLeakSummary(_ command: [String], environment: [String: String] = [:]) throws
        -> ValgrindLeakLog
    {
        try ValgrindLeakLog(parsing: valgrindLog(valgrindLeakOptions, command, environment: environment))
    }
}

/// What valgrind memcheck's log says about the blocks not freed at exit: the LEAK
/// SUMMARY's figures, and the loss records (printed for every kind with
/// `--show-leak-kinds=all`) they are the sums of.
struct ValgrindLeakLog: Sendable {
    /// The LEAK SUMMARY per kind; zero for a line that is absent (there is no summary
    /// at all when every block was freed).
    var summary: [Harness.LeakKind: Harness.LeakTally] = [:]
    /// The summary's "suppressed" line.
    var suppressed = Harness.LeakTally()
    /// "in use at exit": every block not freed, suppressed or not.
    var inUseAtExit = Harness.LeakTally()
    /// The loss records, summed per kind with the thread vectors apart.
    var census = Harness.LeakCensus()

    /// The summary's figures for `kind`.
    func summary(_ kind: Harness.LeakKind) -> Harness.LeakTally { summary[kind] ?? Harness.LeakTally() }

    /// Parses a memcheck log. Throws ``LeakCensusError`` when there is no HEAP SUMMARY
    /// (valgrind did not finish), or when the loss records do not add up to the summary.
    init(parsing text: String) throws {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(Self.stripPrefix)
        guard let inUse = lines.first(where: { $0.hasPrefix("in use at exit:") }) else {
            throw LeakCensusError.unreadableValgrindLog(line: String(text.suffix(2000)))
        }
        inUseAtExit = try Self.tally(after: "in use at exit:", in: inUse)
        var recordSums: [Harness.LeakKind: Harness.LeakTally] = [:]
        var index = 0
        while index < lines.count {
            let line = lines[index]
            index += 1
            if let kind = Harness.LeakKind.allCases.first(where: { line.hasPrefix($0.valgrindName + ":") }) {
                summary[kind] = try Self.tally(after: kind.valgrindName + ":", in: line)
            } else if line.hasPrefix("suppressed:") {
                suppressed = try Self.tally(after: "suppressed:", in: line)
            } else if line.contains(" in loss record "),
                let kind = Harness.LeakKind.allCases.first(where: { line.contains(" are \($0.valgrindName) in ") })
            {
                // The record's stack: "at 0x…: fn (file:line)" and "by 0x…: fn (…)" lines.
                var functions: [String] = []
                while index < lines.count, lines[index].hasPrefix("at 0x") || lines[index].hasPrefix("by 0x") {
                    functions.append(Self.function(inFrame: lines[index]))
                    index += 1
                }
                let tally = try Self.recordTally(line)
                recordSums[kind, default: Harness.LeakTally()] += tally
                census.add(tally, of: kind, allocatedBy: functions)
            }
        }
        for kind in Harness.LeakKind.allCases {
            let records = recordSums[kind] ?? Harness.LeakTally()
            guard records == summary(kind) else {
                throw LeakCensusError.lossRecordsDisagree(kind: kind.rawValue, records: records, summary: summary(kind))
            }
        }
    }

    /// A line without its "==PID== " prefix and indentation.
    private static func stripPrefix(_ line: Substring) -> String {
        var rest = line[...]
        if rest.hasPrefix("=="), let end = rest.dropFirst(2).range(of: "==") {
            rest = rest[end.upperBound...]
        }
        return rest.trimmingCharacters(in: .whitespaces)
    }

    /// "LABEL 1,234 bytes in 5 blocks" → (1234, 5).
    private static func tally(after label: String, in line: String) throws -> Harness.LeakTally {
        let figures = line.dropFirst(label.count).replacingOccurrences(of: ",", with: "")
            .split(separator: " ").compactMap { Int($0) }
        guard figures.count == 2 else { throw LeakCensusError.unreadableValgrindLog(line: line) }
        return Harness.LeakTally(bytes: figures[0], blocks: figures[1])
    }

    /// A loss record's own bytes and blocks: "24 bytes in 1 blocks are …", or for a
    /// definitely lost record with blocks hanging off it
    /// "6,400 (3,200 direct, 3,200 indirect) bytes in 100 blocks are …", whose own
    /// bytes are the direct ones.
    private static func recordTally(_ line: String) throws -> Harness.LeakTally {
        let head = line.components(separatedBy: " are ")[0].replacingOccurrences(of: ",", with: "")
        let words = head.split(whereSeparator: { $0 == " " || $0 == "(" || $0 == ")" })
        guard let bytesIndex = words.firstIndex(of: "bytes"), bytesIndex + 2 < words.count,
            let total = Int(words[0]), let blocks = Int(words[bytesIndex + 2])
        else { throw LeakCensusError.unreadableValgrindLog(line: line) }
        var bytes = total
        if let directIndex = words.firstIndex(where: { $0.hasPrefix("direct") }), directIndex > 0,
            let direct = Int(words[directIndex - 1])
        {
            bytes = direct
        }
        return Harness.LeakTally(bytes: bytes, blocks: blocks)
    }

    /// "by 0x4010CB2: allocate_dtv (dl-tls.c:401)" → "allocate_dtv";
    /// "by 0x4963B4F: clone (clone.S:100)" → "clone"; "at 0x…: ??? (in /lib/…)" → "???".
    private static func function(inFrame line: String) -> String {
        guard let colon = line.range(of: ": ") else { return "" }
        let rest = line[colon.upperBound...]
        return String(rest.split(separator: " ", maxSplits: 1).first ?? "")
    }
}

/// Why a leak census could not be taken.
enum LeakCensusError: Error, CustomStringConvertible {
    /// A memprof leak group whose kind is none of the four, nor `unfreed`.
    case unknownLeakKind(String)
    /// A valgrind log without a HEAP SUMMARY (valgrind did not finish), or with a
    /// summary or loss record line that does not parse.
    case unreadableValgrindLog(line: String)
    /// valgrind's loss records of `kind` do not add up to its LEAK SUMMARY line.
    case lossRecordsDisagree(kind: String, records: Harness.LeakTally, summary: Harness.LeakTally)

    var description: String {
        switch self {
        case .unknownLeakKind(let kind): "memprof reported a leak group of an unknown kind (\(kind))"
        case .unreadableValgrindLog(let line): "cannot read valgrind's leak report at: \(line)"
        case .lossRecordsDisagree(let kind, let records, let summary):
            "valgrind's \(kind) loss records add up to \(records), its LEAK SUMMARY says \(summary)"
        }
    }
}
