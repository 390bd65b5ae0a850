import Foundation
import Testing

/// Every bad input gets one line on stderr naming the problem, a non-zero exit, and
/// never a crash or a hang.
@Suite(.serialized)
struct BadInputTests {
    let directory: URL

    init() throws { directory = try Harness.temporaryDirectory() }

    private func report(_ path: String) throws -> Harness.Result {
        try Harness.run([Harness.memprof.path, "report", path])
    }

    /// The error is exactly one line starting with "memprof: ".
    private func expectOneLineError(_ result: Harness.Result, containing text: String, status: Int32? = nil) {
        #expect(result.status != 0)
        if let status { #expect(result.status == status) }
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(result.stderr)")
        #expect(lines.first?.hasPrefix("memprof: ") == true)
        #expect(result.stderr.contains(text), "stderr: \(result.stderr)")
    }

    private func goodTrace() throws -> Data {
        let trace = try Harness.record([Harness.examples.appendingPathComponent("known_counts").path], in: directory)
        return try Data(contentsOf: URL(fileURLWithPath: trace))
    }

    private func write(_ data: Data, _ name: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try data.write(to: url)
        return url.path
    }

    @Test func missingTrace() throws {
        let path = directory.appendingPathComponent("nope.mprof").path
        expectOneLineError(try report(path), containing: "\(path): cannot open")
    }

    @Test func emptyTrace() throws {
        let path = try write(Data(), "empty.mprof")
        expectOneLineError(try report(path), containing: "empty")
    }

    @Test func notATrace() throws {
        let path = try write(Data("hello, I am a text file\n".utf8), "text.mprof")
        expectOneLineError(try report(path), containing: "not a memprof trace")
    }

    @Test func newerFormatVersion() throws {
        var data = try goodTrace()
        data[8] = 99  // major version
        let path = try write(data, "future.mprof")
        expectOneLineError(try report(path), containing: "99")
    }

    @Test func corruptBlock() throws {
        var data = try goodTrace()
        data[data.count - 3] ^= 0xff  // inside the last block's payload: checksum mismatch
        let path = try write(data, "corrupt.mprof")
        let result = try report(path)
        expectOneLineError(result, containing: "corrupt")
        #expect(result.stderr.contains("byte"))
    }

    @Test func truncatedTraceReportsWhatItHas() throws {
        let data = try goodTrace()
        // Cut inside the last block (the one with the leaks and END record).
        let path = try write(data.prefix(data.count - 10), "cut.mprof")
        let result = try Harness.run([Harness.memprof.path, "report", "--format", "json", path])
        #expect(result.status == 0)
        #expect(result.stderr.contains("truncated"), "stderr: \(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json.object("trace")?["truncated"] as? Bool == true)
        // The thread's events came in an earlier block: they are all there.
        #expect(json.int("snapshot", "allocation_count") == 123)
    }

    @Test func commandNotFound() throws {
        let result = try Harness.run([Harness.memprof.path, "run", "--", "memprof-no-such-command"])
        expectOneLineError(result, containing: "command not found: memprof-no-such-command", status: 127)
    }

    @Test func staticallyLinkedProgram() throws {
        let result = try Harness.run(
            [Harness.memprof.path, "run", "--", Harness.examples.appendingPathComponent("static_hello").path])
        expectOneLineError(result, containing: "statically linked", status: 2)
    }

    @Test func setuidProgram() throws {
        // A setuid copy owned by another user: the loader would run it in secure mode.
        let copy = directory.appendingPathComponent("suid_prog")
        try FileManager.default.copyItem(at: Harness.examples.appendingPathComponent("exit_modes"), to: copy)
        #expect(chown(copy.path, 65534, 65534) == 0 || getuid() != 0)
        #expect(chmod(copy.path, 0o4755) == 0)
        var info = stat()
        stat(copy.path, &info)
        try #require(info.st_uid != geteuid(), "needs a file owned by another user (run as root)")
        let result = try Harness.run([Harness.memprof.path, "run", "--", copy.path])
        expectOneLineError(result, containing: "setuid", status: 2)
    }

    @Test func unwritableOutput() throws {
        let result = try Harness.run([
            Harness.memprof.path, "run", "-o", "/proc/memprof-cannot-write-here.mprof", "--",
            Harness.examples.appendingPathComponent("known_counts").path,
        ])
        expectOneLineError(
            result, containing: "cannot write the trace to /proc/memprof-cannot-write-here.mprof", status: 2)
    }

    @Test func missingCommandIsAUsageError() throws {
        let result = try Harness.run([Harness.memprof.path, "run"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("missing the command"))
    }

    @Test func runOptionsAreValidated() throws {
        let help = try Harness.run([Harness.memprof.path, "run", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("--mode"))
        let mode = try Harness.run([Harness.memprof.path, "run", "--mode", "everything", "--", "/bin/true"])
        #expect(mode.status == 64)
        #expect(mode.stderr.contains("'everything'"), "\(mode.stderr)")
        let interval = try Harness.run([
            Harness.memprof.path, "run", "--mode", "sample", "--sample-interval", "1x", "--", "/bin/true",
        ])
        #expect(interval.status == 64)
        #expect(interval.stderr.contains("--sample-interval must be a byte count"))
    }

    @Test func reportOptionsAreValidated() throws {
        let trace = try write(try goodTrace(), "ok.mprof")
        let badTop = try Harness.run([Harness.memprof.path, "report", "--top", "0", trace])
        #expect(badTop.status == 64)
        let badFormat = try Harness.run([Harness.memprof.path, "report", "--format", "xml", trace])
        #expect(badFormat.status == 64)
        #expect(badFormat.stderr.contains("format"))
        let badKinds = try Harness.run([Harness.memprof.path, "report", "--leak-kinds", "definite,bogus", trace])
        #expect(badKinds.status == 64)
        #expect(badKinds.stderr.contains("--leak-kinds") && badKinds.stderr.contains("'bogus'"))
    }

    @Test func missingSuppressionFile() throws {
        let trace = try write(try goodTrace(), "ok.mprof")
        let missing = directory.appendingPathComponent("nope.supp").path
        let result = try Harness.run([Harness.memprof.path, "report", "--suppressions", missing, trace])
        expectOneLineError(result, containing: missing, status: 1)
    }

    @Test func badSuppressionLineIsNamed() throws {
        let trace = try write(try goodTrace(), "ok.mprof")
        let supp = try write(Data("leak:x\nrace:y\n".utf8), "bad.supp")
        let result = try Harness.run([Harness.memprof.path, "report", "--suppressions", supp, trace])
        expectOneLineError(result, containing: "\(supp):2:", status: 1)
        #expect(result.stderr.contains("race"))
    }
}
