import ArgumentParser
import FoundationEssentials
import MemprofAnalysis
import MemprofReport
import MemprofSymbolize
import MemprofTrace

#if canImport(Glibc)
    import Glibc
#endif

extension Memprof {
    /// `memprof report FILE [--format text|json] [--top N] [--leak-kinds LIST]
    /// [--suppressions FILE]... [--at TIME] [--duration D] [--interval D]
    /// [--age-threshold D] [--thresholds FILE]`: reads a trace in streaming passes (the
    /// analysis, the trend window, and with `--at` the analysis up to that moment),
    /// symbolizes the stacks that matter offline from the trace's module map, and prints
    /// a report on stdout.
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Report where memory goes, what leaks, what churns and whether it grows.",
            discussion: """
                Reads a trace written by `memprof run` and prints a summary, the top \
                allocation sites by count, bytes, share of the heap peak, leaked bytes and \
                temporary allocations, and the blocks not freed at exit. `--format json` \
                prints one JSON object (snapshot, allocations, leaks, trend, process, trace) \
                for scripts. A trace cut short (SIGKILL, OOM) is reported up to where it ends, \
                with a warning on stderr.

                Blocks not freed at exit are classified like valgrind's leak summary: \
                definitely, indirectly or possibly lost, or still reachable. --leak-kinds \
                chooses which kinds count as leaks (in the totals, the leaked column and the \
                leak table); blocks of a trace without that classification always count. \
                --suppressions reads LeakSanitizer-style files of leak:PATTERN lines: a leak \
                whose allocation stack has a frame (function, source file or module) that a \
                pattern matches is not counted, and the report says how much each pattern \
                suppressed. `*` matches anything, ^ and $ anchor at the start and end, \
                otherwise a pattern may match anywhere in the name.

                Trends: the heap and RSS over time, least-squares growth, average, peak,                 minimum and volatility over the last --duration of the run, and per site its                 live bytes over time; a site still rising at the end with blocks older than                 --age-threshold is named a leak suspect. --at TIME reports the state at one                 moment. --thresholds (or MEMPROF_* variables) adds a health verdict; see                 `memprof check` for CI.
                """)

        /// Output formats.
        enum Format: String, CaseIterable, ExpressibleByArgument {
            /// Tables for a terminal.
            case text
            /// One JSON object, the stable contract for scripts.
            case json
        }

        @Argument(help: ArgumentHelp("The trace file written by `memprof run`.", valueName: "file"))
        var file: String

        @Option(help: "Output format: text (for people) or json (for scripts).")
        var format: Format = .text

        @Option(help: "Rows in each table; entries in the JSON top_allocators and leaks lists.")
        var top: Int = 10

        @Option(
            help: ArgumentHelp(
                "Which blocks not freed at exit count as leaks: a comma-separated list of definite, indirect, "
                    + "possible, reachable, or all.",
                valueName: "kinds"))
        var leakKinds: String = "definite,indirect,possible"

        @Option(
            name: .customLong("suppressions"),
            help: ArgumentHelp(
                "A suppression file of leak:PATTERN lines (LeakSanitizer's format); repeat for more files.",
                valueName: "file"))
        var suppressionFiles: [String] = []

        @Option(
            help: ArgumentHelp(
                "Report the state at one moment of the recording: a time since the start (1.5s, 250ms, 2m), "
                    + "a percentage of the recording (90%), peak (the heap's peak) or end.",
                valueName: "time"))
        var at: String?

        @OptionGroup var trendOptions: TrendOptions

        @Option(
            help: ArgumentHelp(
                "A TOML file of health thresholds (memory_limit, warning_level, allowed_leak_bytes, "
                    + "max_allocation_rate); MEMPROF_MEMORY_LIMIT, MEMPROF_WARNING_LEVEL, MEMPROF_ALLOWED_LEAK_BYTES "
                    + "and MEMPROF_MAX_ALLOCATION_RATE override it.",
                valueName: "file"))
        var thresholds: String?

        func validate() throws {
            guard top >= 1 else {
                throw ValidationError("--top must be at least 1 (got \(top)).")
            }
            _ = try countedKinds()
        }

        /// The kinds `--leak-kinds` names; a usage error names the option and the bad value.
        private func countedKinds() throws -> Set<LeakKind> {
            do {
                return try LeakPolicy.countedKinds(parsing: leakKinds)
            } catch {
                throw ValidationError("--leak-kinds: \(error)")
            }
        }

        /// The policy the options ask for, reading the suppression files. A missing file
        /// or a bad line is bad input, like a bad trace: one line naming the file and line.
        private func leakPolicy() throws -> LeakPolicy {
            var suppressions: [LeakSuppression] = []
            for path in suppressionFiles {
                suppressions += try LeakSuppression.load(path: path)
            }
            return LeakPolicy(countedKinds: try countedKinds(), suppressions: suppressions)
        }

        func run() throws {
            try CLIError.reporting {
                let moment = try at.map { text in
                    do {
                        return try Quantity.moment(text)
                    } catch {
                        throw CLIError.invalidOption(option: "--at", reason: "\(error)")
                    }
                }
                let trendRequest = try trendOptions.request()
                let thresholds = try ThresholdsFile.load(
                    path: thresholds, environment: ProcessInfo.processInfo.environment)
                let policy = try leakPolicy()
                let whole = try Self.analyze(file)
                var analysis = whole
                var reportMoment: MemprofReport.Report.Moment?
                if let moment {
                    let time = try Self.resolve(moment, text: at ?? "", in: whole)
                    reportMoment = .init(
                        nanoseconds: time, recordingNanoseconds: whole.durationNanoseconds,
                        name: moment.isOffset ? nil : at)
                    analysis = try Self.analyze(file, cutoff: time)
                }
                var report = Self.symbolize(analysis, tracePath: file, leakPolicy: policy)
                report.moment = reportMoment
                report.attachTrend(
                    try trendRequest.trend(
                        of: file, endingAt: reportMoment?.nanoseconds ?? whole.durationNanoseconds,
                        snapshotInterval: whole.aggregation?.intervalNanoseconds))
                report.judge(against: thresholds)
                var output =
                    switch format {
                    case .text: TextReportRenderer(top: top, color: Self.stdoutWantsColor()).render(report)
                    case .json: try JSONReportRenderer(top: top).render(report) + "\n"
                    }
                output.withUTF8 { Self.writeToStandardOutput(UnsafeRawBufferPointer($0)) }

                if analysis.isLive, let process = analysis.process {
                    CLIError.warn(
                        "\(file) is still being written by pid \(process.pid), which is running"
                            + " — the report covers what it has written so far")
                } else if let truncation = analysis.truncation {
                    CLIError.warn(
                        "\(file) is truncated at byte \(truncation.offset): \(truncation.reason)"
                            + " — the report covers what was recorded")
                }
            }
        }

        /// Reads and analyzes the trace in one pass. A function of its own so that the
        /// reader's buffers and the analyzer's per-stack and per-size tables are freed
        /// before symbolization opens debug info: the two would otherwise add up at the
        /// report's peak.
        static func analyze(_ file: String, cutoff: UInt64? = nil) throws -> Analysis {
            let reader = try TraceReader(path: file)
            var analyzer = TraceAnalyzer(cutoff: cutoff)
            let summary = try reader.read(into: &analyzer)
            var analysis = analyzer.analysis(readSummary: summary)
            // A trace without its END record is live while its process still writes it.
            if analysis.end == nil, analysis.truncation != nil, let process = analysis.process {
                analysis.isLive = TraceWriter.isWriting(
                    path: file, pid: process.pid, startUnixNanoseconds: process.startUnixNanoseconds)
                if analysis.isLive, analysis.truncation?.reason == TraceTruncation.noEndRecordReason {
                    analysis.truncation?.reason = TraceTruncation.liveReason
                }
            }
            return analysis
        }

        /// The report, symbolized offline from the trace's module map. The symbolizer, with
        /// the debug info it opened, is gone when this returns: the report keeps copies
        /// of the names, and rendering it should not add to the debug info's memory.
        static func symbolize(
            _ analysis: Analysis, tracePath: String, leakPolicy: LeakPolicy
        ) -> MemprofReport.Report {
            let symbolizer = Symbolizer(modules: analysis.modules)
            var report = MemprofReport.Report(
                analysis: analysis, tracePath: tracePath, leakPolicy: leakPolicy,
                resolveAddress: symbolizer.symbolize(address:generation:))
            // Only the modules the report's stacks fell into were opened: those are the ones.
            report.moduleProblems = symbolizer.moduleProblems
            report.ownAllocator = analysis.process.flatMap { AllocatorSymbols(executable: $0.executablePath) }
            return report
        }

        /// The time `moment` names in the recording `analysis` describes; a time past the
        /// end is an error naming the recording's length.
        private static func resolve(_ moment: Quantity.Moment, text: String, in analysis: Analysis) throws -> UInt64 {
            let duration = analysis.durationNanoseconds
            switch moment {
            case .offset(let time):
                guard time <= duration else {
                    throw CLIError.invalidOption(
                        option: "--at",
                        reason: "'\(text)' is past the end of the recording, which is "
                            + "\(Quantity.describe(nanoseconds: duration)) long")
                }
                return time
            case .fraction(let fraction): return UInt64((Double(duration) * fraction).rounded())
            case .peak: return analysis.peakNanoseconds ?? duration
            case .end: return duration
            }
        }

        /// Writes all of `bytes` to file descriptor 1, unbuffered: the report is one string.
        private static func writeToStandardOutput(_ bytes: UnsafeRawBufferPointer) {
            writeAll(STDOUT_FILENO, bytes)
        }

        /// Color only for a terminal, and never when `NO_COLOR` is set or `TERM=dumb`.
        private static func stdoutWantsColor() -> Bool {
            guard getenv("NO_COLOR") == nil, getenv("TERM").map({ String(cString: $0) }) != "dumb" else {
                return false
            }
            return isatty(STDOUT_FILENO) == 1
        }
    }
}
