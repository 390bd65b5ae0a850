import Foundation
import MemprofAnalysis
import MemprofTrace
import Testing

@testable import MemprofReport

/// A ``TrendReport`` attached to the fixture's report: stacks 1 and 2 (both
/// `make_buffer (leak.c:12)`) leak steadily; stack 3 (`Parser::parse()`) is a cache
/// that fills and stays flat.
@Suite("Report trend and health")
struct ReportTrendTests {
    static let window = TrendWindow(start: 0, end: 2 * 1_000_000_000, interval: 250_000_000)

    static let stacks: [UInt32: StackGrowth] = [
        1: StackGrowth(liveBytes: series { $0 * 60 }, liveBlocks: 8, oldBlocks: 6, oldBytes: 360),
        2: StackGrowth(liveBytes: series { $0 * 40 }, liveBlocks: 8, oldBlocks: 6, oldBytes: 240),
        3: StackGrowth(liveBytes: series { min($0, 2) * 64 }, liveBlocks: 2, oldBlocks: 2),
    ]

    /// Live bytes at the window's 9 boundaries.
    static func series(_ bytes: (Int64) -> Int64) -> [Int64] { (0...8).map { bytes(Int64($0)) } }

    static func report(thresholds: HealthThresholds = HealthThresholds()) -> Report {
        var report = Fixture.report()
        let ticks = (0...8).map { (step: Int) -> TrendDataPoint in
            let scale = UInt64(step)
            return TrendDataPoint(
                nanoseconds: scale * 250_000_000, sampleCount: 25, averageHeapBytes: Double(scale * 100),
                minimumHeapBytes: scale * 90, peakHeapBytes: scale * 110, rssBytes: 4 << 20)
        }
        report.attachTrend(
            TrendReport(
                window: window, siteWindow: window, ageThreshold: 500_000_000,
                statistics: TrendStatistics(
                    sampleCount: 200, averageBytes: 400, peakBytes: 880, minimumBytes: 0, growthBytesPerSecond: 400,
                    volatilityBytes: 230),
                dataPoints: ticks,
                stacks: stacks,
                allocations: 90, deallocations: 10, allocatedBytes: 900))
        report.judge(against: thresholds)
        return report
    }

    @Test("stacks are summed into sites; the leak is a suspect, the cache plateaued")
    func sites() throws {
        let report = Self.report()
        #expect(report.siteGrowth.map(\.location) == ["make_buffer (leak.c:12)", "Parser::parse() (parser.cpp:88)"])
        let leak = report.siteGrowth[0]
        #expect(leak.stackCount == 2)
        #expect(leak.growth.liveBytes.last == 800)
        #expect(abs(leak.growth.growthBytesPerSecond - 400) < 1e-9)
        #expect(leak.growth.isLeakSuspect)
        #expect(report.siteGrowth[1].growth.shape == .plateaued)
        #expect(report.leakSuspects.map(\.location) == ["make_buffer (leak.c:12)"])
        #expect(report.health == nil)
    }

    @Test("JSON: trend_analysis keeps the contract's names; site growth, suspects and health are added")
    func json() throws {
        let limits = HealthThresholds(memoryLimitBytes: 1 << 20, allowedLeakBytes: 100)
        let data = try JSONReportRenderer().data(Self.report(thresholds: limits))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let trend = try #require(json["trend"] as? [String: Any])
        let analysis = try #require(trend["trend_analysis"] as? [String: Any])
        #expect(
            Set(analysis.keys)
                == ["average_usage", "peak_usage", "min_usage", "growth_rate", "volatility", "sample_count"])
        #expect(analysis["growth_rate"] as? Double == 400)
        let points = try #require(trend["data_points"] as? [[String: Any]])
        #expect(points.count == 9)
        #expect(points[4]["heap_bytes"] as? Int == 400)
        #expect(points[4]["time_seconds"] as? Double == 1.0)
        #expect(trend["leak_suspects"] as? [String] == ["make_buffer (leak.c:12)"])
        let sites = try #require(trend["site_growth"] as? [[String: Any]])
        #expect(sites[0]["leak_suspect"] as? Bool == true)
        #expect(sites[0]["rising_at_end"] as? Bool == true)
        #expect(sites[0]["old_blocks"] as? Int == 12)
        #expect(sites[1]["shape"] as? String == "plateaued")
        #expect((trend["window"] as? [String: Any])?["interval_count"] as? Int == 8)
        let health = try #require(json["health"] as? [String: Any])
        // 216 B leaked > 100 allowed: critical; peak 1.33 KiB heap / 8 MiB RSS > 1 MiB: critical.
        #expect(health["status"] as? String == "critical")
        #expect((health["warnings"] as? [String])?.count == 2)
        #expect(
            (health["checks"] as? [[String: Any]])?.map { $0["name"] as? String } == [
                "memory_limit", "allowed_leak_bytes",
            ])
    }

    @Test("text: the trend, the sites' growth with sparklines, suspects and health")
    func text() {
        let text = TextReportRenderer().render(Self.report(thresholds: HealthThresholds(maxAllocationRate: 10)))
        #expect(text.contains("Trend from 0 s to 2.00 s (8 intervals of 250.0 ms, 200 heap samples)"))
        #expect(text.contains("  growth       +400 B/s (least squares over the heap samples)"))
        #expect(text.contains("LEAK SUSPECT  make_buffer (leak.c:12)"))
        #expect(text.contains("plateaued     Parser::parse() (parser.cpp:88)"))
        #expect(text.contains("▁▁▂▃▄▅▆▇█  live bytes over the window"))
        #expect(text.contains("leak suspects: make_buffer (leak.c:12)"))
        #expect(text.contains("Health: WARNING"))
        #expect(text.contains("warning: 46 allocations per second, more than the 10 allowed"))
        // The summary's heap trend gives way to the trend section.
        #expect(!text.contains("heap trend"))
    }

    @Test("at a moment: the time in the header, what is in use instead of leaks")
    func moment() {
        var report = Fixture.report()
        report.moment = Report.Moment(nanoseconds: 1_000_000_000, recordingNanoseconds: 2_500_000_000, name: "40%")
        let text = TextReportRenderer().render(report)
        #expect(text.contains("  state at  1.00 s (40%): everything below covers the recording up to that moment"))
        #expect(text.contains("in use at 1.00 s"))
        #expect(text.contains("Most bytes in use at 1.00 s"))
        #expect(!text.contains("Most bytes leaked"))
    }
}

@Suite("TerminalChart")
struct TerminalChartTests {
    @Test("columns take the highest point in their span and carry the last value over gaps")
    func columns() {
        let points: [(time: UInt64, value: UInt64)] = [(0, 1), (10, 5), (15, 3), (90, 9)]
        #expect(TerminalChart.columns(points, start: 0, end: 100, width: 5) == [5, 5, 5, 5, 9])
    }

    @Test("bars fill eighths from the bottom; any value above zero shows")
    func bars() {
        let rows = TerminalChart.bars([0, 1, 8, 16], maximum: 16, rows: 2)
        #expect(rows == ["   █", " ▁██"])
        #expect(TerminalChart.sparkline([0, 1, 2, 3, 4, 5, 6, 7], width: 8) == "▁▂▃▄▅▆▇█")
        #expect(TerminalChart.sparkline([1, 2, 3, 4], width: 2) == "▄█")
    }
}
