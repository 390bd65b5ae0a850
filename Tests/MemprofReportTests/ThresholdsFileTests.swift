import Foundation
import MemprofAnalysis
import Testing

@testable import MemprofReport

@Suite("ThresholdsFile")
struct ThresholdsFileTests {
    @Test("every key, with comments, a [thresholds] table, numbers and strings with units")
    func full() throws {
        let text = """
            # memprof health thresholds
            [thresholds]
            memory_limit = "512MiB"   # the container's
            warning_level = 0.8
            allowed_leak_bytes = 4_096
            max_allocation_rate = 100000
            """
        let thresholds = try ThresholdsFile.parse(text, file: "t.toml")
        #expect(
            thresholds
                == HealthThresholds(
                    memoryLimitBytes: 512 << 20, warningLevel: .fraction(0.8), allowedLeakBytes: 4096,
                    maxAllocationRate: 100_000))
        #expect(thresholds.warningBytes == UInt64((Double(512 << 20) * 0.8).rounded()))
    }

    @Test("a warning level may be bytes; keys may stand without a table")
    func bytesLevel() throws {
        let thresholds = try ThresholdsFile.parse("warning_level = \"400MiB\"\n", file: "t.toml")
        #expect(thresholds.warningLevel == .bytes(400 << 20))
    }

    @Test(
        "bad lines name file:line and the problem",
        arguments: [
            ("[thresholds]\nmemory_limit = 5\nmemory_limit = 6\n", 3, "set twice"),
            ("\n\nmemory_limt = 5\n", 3, "unknown key 'memory_limt'"),
            ("[server]\n", 1, "unexpected table [server]"),
            ("memory_limit = \"512MiB\n", 1, "unterminated string"),
            ("memory_limit = 512MiB\n", 1, "must be a number or a quoted string"),
            ("memory_limit\n", 1, "expected key = value"),
            ("warning_level = \"lots\"\n", 1, "neither a fraction"),
            ("max_allocation_rate = \"fast\"\n", 1, "not a number of allocations per second"),
            ("memory_limit = 1\n[thresholds]\n", 2, "must come first"),
        ] as [(String, Int, String)])
    func badLines(text: String, line: Int, problem: String) {
        do {
            _ = try ThresholdsFile.parse(text, file: "ci.toml")
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.description.hasPrefix("ci.toml:\(line): "), "\(error)")
            #expect(error.description.contains(problem), "\(error)")
        }
    }

    @Test("environment variables override the file key by key; a bad one is named")
    func environment() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("thresholds-\(UUID()).toml").path
        try "memory_limit = \"1GiB\"\nallowed_leak_bytes = 0\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let thresholds = try ThresholdsFile.load(
            path: path, environment: ["MEMPROF_ALLOWED_LEAK_BYTES": "1k", "MEMPROF_WARNING_LEVEL": "90%"])
        #expect(thresholds.memoryLimitBytes == 1 << 30)
        #expect(thresholds.allowedLeakBytes == 1024)
        #expect(thresholds.warningLevel == .fraction(0.9))
        #expect(throws: ThresholdsError.self) {
            try ThresholdsFile.load(path: nil, environment: ["MEMPROF_MEMORY_LIMIT": "huge"])
        }
        do {
            _ = try ThresholdsFile.load(path: nil, environment: ["MEMPROF_MAX_ALLOCATION_RATE": "-1"])
        } catch {
            #expect(error.description.hasPrefix("MEMPROF_MAX_ALLOCATION_RATE: "))
        }
    }

    @Test("a missing file is named with the system's reason")
    func missing() {
        do {
            _ = try ThresholdsFile.load(path: "/nonexistent/t.toml", environment: [:])
            Issue.record("read a missing file")
        } catch {
            #expect(error.description == "cannot read thresholds file /nonexistent/t.toml: No such file or directory")
        }
    }
}
