import ArgumentParser
import MemprofTrace

extension Memprof {
    /// `memprof dump FILE`: every record of a trace as one line of text, for debugging a
    /// trace (the format is described in docs/trace-format.md).
    struct Dump: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print every record of a trace, one per line (for debugging a trace).")

        @Argument(help: ArgumentHelp("The trace file.", valueName: "file"))
        var file: String

        func run() throws {
            try CLIError.reporting {
                let reader = try TraceReader(path: file)
                print("header version=\(reader.header.versionMajor).\(reader.header.versionMinor)")
                var dumper = TraceDumper { print($0) }
                let summary = try reader.read(into: &dumper)
                let ending = summary.truncation.map { "\($0)" } ?? "complete"
                print("summary blocks=\(summary.blockCount) bytes=\(summary.byteCount) \(ending)")
            }
        }
    }
}
