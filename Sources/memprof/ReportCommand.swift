import ArgumentParser
import MemprofAnalysis
import MemprofReport
import MemprofSymbolize
import MemprofTrace

#if canImport(Glibc)
    import Glibc
#endif

extension Memprof {
    /// `memprof report FILE [--format text|json] [--top N]`: reads a trace in one
    /// streaming pass, symbolizes the stacks that matter offline from the trace's module
    /// map, and prints a report on stdout.
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

        func validate() throws {
            guard top >= 1 else {
                throw ValidationError("--top must be at least 1 (got \(top)).")
            }
        }

        func run() throws {
            try CLIError.reporting {
                let analysis = try Self.analyze(file)
                let report = Self.symbolize(analysis, tracePath: file)
                var output =
                    switch format {
                    case .text: TextReportRenderer(top: top, color: Self.stdoutWantsColor()).render(report)
                    case .json: try JSONReportRenderer(top: top).render(report) + "\n"
                    }
                output.withUTF8 { Self.writeToStandardOutput(UnsafeRawBufferPointer($0)) }

                if let truncation = analysis.truncation {
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
        private static func analyze(_ file: String) throws -> Analysis {
            let reader = try TraceReader(path: file)
            var analyzer = TraceAnalyzer()
            let summary = try reader.read(into: &analyzer)
            return analyzer.analysis(readSummary: summary)
        }

        /// The report, symbolized offline from the trace's module map. The symbolizer, with
        /// the debug info it opened, is gone when this returns: the report keeps copies
        /// of the names, and rendering it should not add to the debug info's memory.
        private static func symbolize(_ analysis: Analysis, tracePath: String) -> MemprofReport.Report {
            let symbolizer = Symbolizer(modules: analysis.modules)
            return MemprofReport.Report(
                analysis: analysis, tracePath: tracePath, resolveAddress: symbolizer.symbolize(address:generation:))
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
