import Foundation
import Testing

/// `examples/growth` under the real preload: a leak of exactly 400 KiB/s beside a
/// bounded cache that fills in a third of a second. The reported growth must be within
/// 5% of the true rate, the leak named a suspect and the cache not; then `--at`,
/// `memprof check` and their bad inputs.
@Suite(.serialized)
struct TrendTests {
    /// The leak's rate in examples/src/growth.c (LEAK_RATE).
    static let trueRate = 400.0 * 1024

    /// One recording for the whole suite (the program runs for two seconds).
    static let recording: Result<(directory: URL, trace: String), any Error> = Result {
        let directory = try Harness.temporaryDirectory()
        let trace = try Harness.record([Harness.examples.appendingPathComponent("growth").path], in: directory)
        return (directory, trace)
    }

    private var trace: String { get throws { try Self.recording.get().trace } }
    private var directory: URL { get throws { try Self.recording.get().directory } }

    private func json(_ arguments: [String]) throws -> [String: Any] {
        let result = try Harness.run([Harness.memprof.path, "report", "--format", "json", try trace] + arguments)
        try #require(result.status == 0, "memprof report failed: \(result.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    private func sites(_ json: [String: Any]) -> [[String: Any]] {
        json.object("trend")?.array("site_growth") ?? []
    }

    private func site(_ name: String, in json: [String: Any]) throws -> [String: Any] {
        try #require(sites(json).first { ($0["location"] as? String)?.hasPrefix(name + " (growth.c:") == true })
    }

    private func number(_ object: [String: Any]?, _ key: String) throws -> Double {
        try #require((object?[key] as? NSNumber)?.doubleValue, "missing \(key)")
    }

    @Test func heapGrowthAfterTheCacheFillsIsTheLeakRate() throws {
        // The last 1.5 s: the cache is full by then, only the leak grows.
        let json = try json(["--duration", "1.5s", "--interval", "100ms"])
        let trend = json.object("trend")
        let growth = try number(trend?.object("trend_analysis"), "growth_rate")
        let error = abs(growth - Self.trueRate) / Self.trueRate
        #expect(error < 0.05, "heap growth \(growth) B/s, true \(Self.trueRate) B/s (\(error * 100)% off)")
        // Every trend_analysis field of the contract, and a data point per 100 ms interval.
        let analysis = try #require(trend?.object("trend_analysis"))
        for key in ["average_usage", "peak_usage", "min_usage", "growth_rate", "volatility"] {
            #expect(analysis[key] is NSNumber, "trend_analysis.\(key)")
        }
        #expect(try number(analysis, "min_usage") < number(analysis, "average_usage"))
        #expect(try number(analysis, "average_usage") < number(analysis, "peak_usage"))
        #expect(try number(analysis, "volatility") > 0)
        let window = try #require(trend?.object("window"))
        #expect(try number(window, "duration_seconds") == 1.5)
        let points = trend?.array("data_points") ?? []
        #expect(points.count == 15, "\(points.count) data points")
        let times = points.compactMap { ($0["time_seconds"] as? NSNumber)?.doubleValue }
        #expect(zip(times, times.dropFirst()).allSatisfy { abs($1 - $0 - 0.1) < 1e-6 })
    }

    @Test func theLeakIsASuspectAndTheCacheIsNot() throws {
        let json = try json([])
        let leak = try site("leak_block", in: json)
        let growth = try number(leak, "growth_rate")
        let error = abs(growth - Self.trueRate) / Self.trueRate
        #expect(error < 0.05, "leak_block grows \(growth) B/s, true \(Self.trueRate) B/s (\(error * 100)% off)")
        #expect(leak["leak_suspect"] as? Bool == true)
        #expect(leak["rising_at_end"] as? Bool == true)
        #expect(try number(leak, "old_blocks") > 0)
        let cache = try site("cache_insert", in: json)
        #expect(cache["leak_suspect"] as? Bool == false)
        #expect(cache["shape"] as? String == "plateaued")
        #expect(cache["live_bytes_end"] as? Int == 32 * 1024)
        let suspects = json.object("trend")?["leak_suspects"] as? [String] ?? []
        #expect(suspects.count == 1)
        #expect(suspects.first?.hasPrefix("leak_block (growth.c:") == true)

        let text = try Harness.run([Harness.memprof.path, "report", try trace])
        #expect(text.stdout.contains("Memory over time"))
        #expect(text.stdout.contains("LEAK SUSPECT  leak_block (growth.c:"))
        #expect(text.stdout.contains("plateaued     cache_insert (growth.c:"))
    }

    @Test func theStateAtAMoment() throws {
        let state = try json(["--at", "1s"])
        #expect(try number(state.object("trace"), "at_seconds") == 1)
        // By 1 s: 400 KiB leaked (one 4 KiB block a step either way: the clock of an
        // event is known to a few milliseconds) and the full 32 KiB cache.
        let usage = try number(state.object("snapshot"), "current_usage")
        #expect(abs(usage - (400 + 32) * 1024) <= 8 * 1024, "in use at 1 s: \(usage)")
        #expect(state.object("leaks")?["recorded"] as? Bool == false)
        #expect(try number(state.object("trend")?.object("window"), "end_seconds") == 1)

        let half = try json(["--at", "50%"])
        let duration = try number(half.object("trace"), "duration_seconds")
        #expect(abs(try number(half.object("trace"), "at_seconds") - duration / 2) < 1e-3)

        let text = try Harness.run([Harness.memprof.path, "report", try trace, "--at", "peak"])
        #expect(text.status == 0)
        #expect(text.stdout.contains("state at  ") && text.stdout.contains("(peak)"))
        #expect(text.stdout.contains("Most bytes in use at "))
    }

    private func check(_ extra: [String], environment: [String: String] = [:]) throws -> Harness.Result {
        try Harness.run([Harness.memprof.path, "check", try trace] + extra, environment: environment)
    }

    private func writeThresholds(_ text: String) throws -> String {
        let url = try directory.appendingPathComponent("thresholds-\(UUID().uuidString).toml")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    @Test func checkExitStatusFollowsTheWorstThreshold() throws {
        // 796 KiB leaked, peak heap ~830 KiB, peak RSS a few MiB, ~15,000 allocations/s.
        let healthy = try writeThresholds(
            "[thresholds]\nmemory_limit = \"1GiB\"\nwarning_level = 0.9\nallowed_leak_bytes = \"1MiB\"\n")
        let ok = try check(["--thresholds", healthy])
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")
        #expect(ok.stdout == "\(try trace): healthy\n")

        let warning = try check(["--thresholds", healthy], environment: ["MEMPROF_MAX_ALLOCATION_RATE": "1000"])
        #expect(warning.status == 1)
        #expect(warning.stdout.contains(": warning: ") && warning.stdout.contains("allocations per second"))

        let critical = try check(["--thresholds", healthy], environment: ["MEMPROF_ALLOWED_LEAK_BYTES": "0"])
        #expect(critical.status == 2)
        #expect(
            critical.stdout.contains(": critical: ") && critical.stdout.contains("leaked, more than the 0 B allowed"))

        // Environment only, and a memory limit below the peak.
        let limit = try check([], environment: ["MEMPROF_MEMORY_LIMIT": "512k"])
        #expect(limit.status == 2)
        #expect(limit.stdout.contains("reached the memory limit of 512.00 KiB"))

        // The report shows the same judgement.
        let report = try json(["--thresholds", healthy])
        #expect(report.object("health")?["status"] as? String == "healthy")
    }

    @Test func checkBadInputIsStatusThree() throws {
        let none = try check([])
        #expect(none.status == 3)
        #expect(none.stderr.contains("no threshold is set"))

        let malformed = try writeThresholds("[thresholds]\nmemory_limit = \"1GiB\"\nwarning_level = lots\n")
        let bad = try check(["--thresholds", malformed])
        #expect(bad.status == 3)
        #expect(
            bad.stderr
                == "memprof: thresholds: \(malformed):3: warning_level must be a number or a quoted string, got 'lots'\n"
        )

        let missing = try directory.appendingPathComponent("missing.mprof").path
        let unreadable = try check([try trace, missing], environment: ["MEMPROF_ALLOWED_LEAK_BYTES": "0"])
        #expect(unreadable.status == 3)  // bad input wins over critical
        #expect(unreadable.stdout.contains("\(missing): error: "))
        #expect(unreadable.stdout.contains("\(try trace): critical"))
    }

    @Test(
        arguments: [
            (["--at", "1.5x"], "memprof: --at: '1.5x' is not a time"),
            (["--at", "10s"], "memprof: --at: '10s' is past the end of the recording"),
            (["--duration", "abc"], "memprof: --duration: 'abc' is not a duration"),
            (["--duration", "0s"], "memprof: --duration: '0s' must be longer than zero"),
            (["--interval", "1us"], "memprof: --interval: '1us' cuts the"),
            (["--age-threshold", "5"], "memprof: --age-threshold: '5' is not a duration"),
        ])
    func badReportOptionsGiveOneLine(arguments: [String], message: String) throws {
        let result = try Harness.run([Harness.memprof.path, "report", try trace] + arguments)
        #expect(result.status == 64)
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix(message), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test func badThresholdsForReportNameFileAndLine() throws {
        let malformed = try writeThresholds("# limits\n\nmemory_limt = 5\n")
        let result = try Harness.run([Harness.memprof.path, "report", try trace, "--thresholds", malformed])
        #expect(result.status == 1)
        #expect(
            result.stderr
                == "memprof: thresholds: \(malformed):3: unknown key 'memory_limt' (known: memory_limit, warning_level, allowed_leak_bytes, max_allocation_rate)\n"
        )
        let missing = try Harness.run([Harness.memprof.path, "report", try trace, "--thresholds", "/nonexistent.toml"])
        #expect(missing.status == 1)
        #expect(
            missing.stderr
                == "memprof: thresholds: cannot read thresholds file /nonexistent.toml: No such file or directory\n")
        let variable = try Harness.run(
            [Harness.memprof.path, "report", try trace], environment: ["MEMPROF_WARNING_LEVEL": "lots"])
        #expect(variable.status == 1)
        #expect(variable.stderr.hasPrefix("memprof: thresholds: MEMPROF_WARNING_LEVEL: 'lots' is neither"))
    }
}
