import Foundation
import Testing

/// `memprof run` reads its plain form (options, `--`, the command) without
/// swift-argument-parser, for a faster start, and leaves every other form to it: both
/// must mean what the parser means.
@Suite(.serialized)
struct RunArgumentsTests {
    let directory: URL

    init() throws { directory = try Harness.temporaryDirectory() }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    @Test func everythingAfterTheSeparatorIsTheCommands() throws {
        let trace = path("t.mprof")
        let result = try Harness.run([
            Harness.memprof.path, "run", "-o", trace, "--", "/usr/bin/printf", "%s\\n", "--help", "--version", "-o",
        ])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout == "--help\n--version\n-o\n")
        #expect(result.stderr.contains("trace written to \(trace)"))
    }

    @Test func attachedValuesAndFlags() throws {
        let trace = path("sample.mprof")
        let result = try Harness.run([
            Harness.memprof.path, "run", "--mode=sample", "--sample-interval=4k", "--no-leak-check",
            "--output=\(trace)",
            "--", Harness.examples.appendingPathComponent("known_counts").path,
        ])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let report = try Harness.run([Harness.memprof.path, "report", trace])
        #expect(report.status == 0)
        #expect(report.stdout.contains("mode sample"), "report: \(report.stdout)")
    }

    @Test func repeatedOptionsKeepTheParsersMeaning() throws {
        let first = path("first.mprof")
        let last = path("last.mprof")
        let result = try Harness.run([Harness.memprof.path, "run", "-o", first, "-o", last, "--", "/bin/true"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: last))
        #expect(!FileManager.default.fileExists(atPath: first))
    }

    @Test func optionLikeValuesAreUsageErrors() throws {
        let result = try Harness.run([Harness.memprof.path, "run", "-o", "-x", "--", "/bin/true"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("Missing value for '-o <file>'"), "stderr: \(result.stderr)")
    }

    /// The options Memprof.Run.Request(plainArguments:) reads. An option added to
    /// `memprof run` must be taught to it (RunCommand+PlainArguments.swift) and to
    /// Run.Request, or the fast start would leave it to the parser (slower) at best.
    @Test func thePlainReaderKnowsEveryOption() throws {
        let help = try Harness.run([Harness.memprof.path, "run", "--help"])
        let usage = try #require(help.stdout.split(separator: "\n").first { $0.hasPrefix("USAGE:") })
        let options = Set(
            usage.split(separator: " ").compactMap { word -> String? in
                let name = word.drop { $0 == "[" }.prefix { $0 != "]" }
                return name.hasPrefix("--") ? String(name) : nil
            })
        #expect(
            options == [
                "--output", "--follow-exec", "--mode", "--snapshot-interval", "--snapshot-signal", "--sample-interval",
                "--leak-check", "--no-leak-check", "--jemalloc",
            ], "usage: \(usage)")
    }

    @Test func snapshotOptionsReachThePreload() throws {
        let trace = path("aggregate.mprof")
        let result = try Harness.run([
            Harness.memprof.path, "run", "--mode", "aggregate", "--snapshot-interval=250ms", "--snapshot-signal",
            "none", "-o", trace, "--", Harness.examples.appendingPathComponent("known_counts").path,
        ])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let dump = try Harness.run([Harness.memprof.path, "dump", trace])
        #expect(dump.stdout.contains("aggregate interval_ns=250000000"), "\(dump.stdout.prefix(400))")
    }

    @Test func helpAfterTheSeparatorIsACommand() throws {
        let result = try Harness.run([Harness.memprof.path, "run", "-o", path("h.mprof"), "--", "--help"])
        #expect(result.status == 127)
        #expect(result.stderr.contains("command not found: --help"), "stderr: \(result.stderr)")
    }
}
