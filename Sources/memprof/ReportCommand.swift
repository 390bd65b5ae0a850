import ArgumentParser
import Foundation
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
                let reader = try TraceReader(path: file)
                var analyzer = TraceAnalyzer()
                let summary = try reader.read(into: &analyzer)
                let analysis = analyzer.analysis(readSummary: summary)

                let symbolizer = Symbolizer(modules: analysis.modules)
                let report = MemprofReport.Report(
                    analysis: analysis, tracePath: file, resolve: symbolizer.symbolize(stack:))
                let output =
                    switch format {
                    case .text: TextReportRenderer(top: top, color: Self.stdoutWantsColor()).render(report)
                    case .json: try JSONReportRenderer(top: top).render(report) + "\n"
                    }
                FileHandle.standardOutput.write(Data(output.utf8))

                if let truncation = analysis.truncation {
                    CLIError.warn(
                        "\(file) is truncated at byte \(truncation.offset): \(truncation.reason)"
                            + " — the report covers what was recorded")
                }
            }
        }

        /// Color only for a terminal, and never when `NO_COLOR` is set or `TERM=dumb`.
        private static func stdoutWantsColor() -> Bool {
            let environment = ProcessInfo.processInfo.environment
            guard environment["NO_COLOR"] == nil, environment["TERM"] != "dumb" else { return false }
            return isatty(STDOUT_FILENO) == 1
        }
    }
}
