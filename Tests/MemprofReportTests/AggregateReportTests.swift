import Foundation
import MemprofAnalysis
import MemprofTrace
import Testing

@testable import MemprofReport

/// Reports of an aggregate-mode trace: `make_buffer (leak.c:12)` leaks 1,000 B a second,
/// `Parser::parse()` is a cache that fills in 3 s and then churns. Snapshots every second
/// for 12 s, one of them on the signal and one from the API.
@Suite("Reports of aggregate traces")
struct AggregateReportTests {
    private static let second: UInt64 = 1_000_000_000

    private static func feed<V: TraceVisitor>(_ visitor: inout V) {
        visitor.process(
            ProcessRecord(
                pid: 77, parentPID: 1, startUnixNanoseconds: 1_700_000_000_000_000_000, pageSize: 4096,
                executablePath: Fixture.executable, arguments: ["./leaky"], memprofVersion: "0.1.0",
                mode: .aggregate))
        visitor.aggregation(intervalNanoseconds: second)
        for step in UInt64(1)...12 {
            let reason: SnapshotRecord.Reason = step == 5 ? .signal : step == 8 ? .api : step == 12 ? .end : .periodic
            visitor.snapshot(
                SnapshotRecord(
                    nanoseconds: step * second, reason: reason, memprofBytes: 100_000 + step * 10, siteCount: 2))
            visitor.site(
                SiteRecord(
                    stackID: 1, allocations: 10, deallocations: 0, allocatedBytes: 1000, deallocatedBytes: 0,
                    temporaries: 0, peakLiveBytes: step * 1000))
            let filling = step <= 3
            visitor.site(
                SiteRecord(
                    stackID: 3, allocations: 20, deallocations: filling ? 0 : 20, allocatedBytes: 1280,
                    deallocatedBytes: filling ? 0 : 1280, temporaries: 0, peakLiveBytes: min(step, 3) * 1280))
            let heap = step * 1000 + min(step, 3) * 1280
            visitor.tick(
                TickRecord(nanoseconds: step * second, heapBytes: heap, heapPeakBytes: heap, rssBytes: 8 << 20))
        }
        visitor.stack(StackRecord(id: 1, moduleGeneration: 0, frames: [0x10, 0x100, 0x200, 0x500]))
        visitor.stack(StackRecord(id: 3, moduleGeneration: 0, frames: [0x10, 0x20, 0x400, 0x200, 0x500]))
        visitor.leak(LeakRecord(stackID: 1, size: 100, address: 0x1000, kind: .definite))
        visitor.end(EndRecord(nanoseconds: 12 * second, heapPeakBytes: 15_840, threadCount: 1, flags: .viaExit))
    }

    private static func report(cutoff: UInt64? = nil) -> Report {
        var analyzer = TraceAnalyzer(cutoff: cutoff)
        feed(&analyzer)
        var report = Report(analysis: analyzer.analysis(), tracePath: "agg.mprof", resolve: Fixture.resolve)
        let end = cutoff ?? 12 * second
        var trend = TrendAnalyzer(window: TrendWindow(start: 0, end: end, interval: second), ageThreshold: 3 * second)
        feed(&trend)
        report.attachTrend(trend.report())
        if let cutoff {
            report.moment = Report.Moment(nanoseconds: cutoff, recordingNanoseconds: 12 * second)
        }
        return report
    }

    private static func json(_ report: Report = report()) throws -> [String: Any] {
        let data = try JSONReportRenderer().data(report)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test("JSON: snapshot.aggregate describes the snapshots and memprof's own memory")
    func jsonAggregate() throws {
        let json = try Self.json()
        let snapshot = try #require(json["snapshot"] as? [String: Any])
        let aggregate = try #require(snapshot["aggregate"] as? [String: Any])
        #expect(aggregate["snapshots"] as? Int == 12)
        #expect(aggregate["on_demand_snapshots"] as? Int == 2)
        #expect(aggregate["signal_snapshots"] as? Int == 1)
        #expect(aggregate["api_snapshots"] as? Int == 1)
        #expect(aggregate["snapshot_interval_seconds"] as? Double == 1.0)
        #expect(aggregate["last_snapshot_seconds"] as? Double == 12.0)
        let memprof = try #require(aggregate["memprof_bytes"] as? [String: Any])
        #expect(memprof["first"] as? Int == 100_010)
        #expect(memprof["last"] as? Int == 100_120)
        #expect(memprof["max"] as? Int == 100_120)
        // The contract's figures are still there, summed from the SITE records.
        #expect(snapshot["allocation_count"] as? Int == 360)
        #expect(snapshot["deallocation_count"] as? Int == 180)
        #expect(snapshot["current_usage"] as? Int == 12_000 + 3840)
        #expect((json["process"] as? [String: Any])?["mode"] as? String == "aggregate")
    }

    @Test("JSON: sizes are null (not recorded), the mean exact; a site's peak is its own")
    func jsonAllocations() throws {
        let allocations = try #require(try Self.json()["allocations"] as? [String: Any])
        #expect(allocations["median_allocation_size"] is NSNull)
        #expect(allocations["min_allocation_size"] is NSNull)
        #expect(allocations["max_allocation_size"] is NSNull)
        #expect(allocations["average_allocation_size"] as? Double == Double(12_000 + 12 * 1280) / 360)
        #expect(allocations["estimated"] == nil)
        let top = try #require(allocations["top_allocators"] as? [[String: Any]])
        let cache = try #require(top.first { ($0["location"] as? String)?.hasPrefix("Parser::parse()") == true })
        #expect(cache["peak_bytes"] as? Int == 3840)
        #expect(cache["total_bytes"] as? Int == 12 * 1280)
        let leak = try #require(top.first { ($0["location"] as? String)?.hasPrefix("make_buffer") == true })
        #expect(leak["peak_bytes"] as? Int == 12_000)
    }

    @Test("JSON: the trend marks its ages as estimates and names the leak, not the cache")
    func jsonTrend() throws {
        let trend = try #require(try Self.json()["trend"] as? [String: Any])
        #expect(trend["ages_estimated"] as? Bool == true)
        #expect(trend["leak_suspects"] as? [String] == ["make_buffer (leak.c:12)"])
        let sites = try #require(trend["site_growth"] as? [[String: Any]])
        let leak = try #require(sites.first { $0["location"] as? String == "make_buffer (leak.c:12)" })
        let rate = try #require(leak["growth_rate"] as? Double)
        #expect(abs(rate - 1000) / 1000 < 0.01, "\(rate) B/s")
        // Allocated at 1..9 s: at least 3 s before the end at 12 s.
        #expect(leak["old_blocks"] as? Int == 90)
        #expect(leak["old_bytes"] as? Int == 9000)
        let cache = try #require(sites.first { ($0["location"] as? String)?.hasPrefix("Parser::parse()") == true })
        #expect(cache["shape"] as? String == "plateaued")
        #expect(cache["leak_suspect"] as? Bool == false)
    }

    @Test("JSON: a full trace has no aggregate members")
    func jsonFull() throws {
        let json = try Self.json(Fixture.report())
        #expect((json["snapshot"] as? [String: Any])?["aggregate"] == nil)
        #expect((json["allocations"] as? [String: Any])?["median_allocation_size"] as? Double == 32)
    }

    @Test("text: the mode, the snapshots, memprof's memory, sizes not recorded, own peaks, estimated ages")
    func text() throws {
        let text = TextReportRenderer().render(Self.report())
        #expect(text.contains("mode aggregate"))
        #expect(
            text.contains(
                "note: aggregate recording, 12 snapshots (every 1.00 s; 1 on the signal, 1 from the API): counts are "
                    + "exact as of the last snapshot (at 12.00 s)"))
        #expect(
            text.contains(
                "memprof's own memory 97.67 KiB at the first snapshot, 97.77 KiB at the last, at most 97.77 KiB"))
        #expect(text.contains("(mean 76 B; sizes are not recorded in aggregate mode)"))
        #expect(!text.contains("median"))
        #expect(text.contains("Highest own peak at a snapshot (2 sites)"))
        #expect(!text.contains("Largest share of the heap peak"))
        #expect(!text.contains("replaying the events"))
        #expect(text.contains("(~ estimated from the snapshots)"))
        #expect(text.contains("~90/120"))
        #expect(text.contains("leak suspects: make_buffer (leak.c:12)"))
    }

    @Test("text: a full trace keeps its peak shares and exact ages")
    func textFull() {
        let text = TextReportRenderer().render(Fixture.report())
        #expect(text.contains("Largest share of the heap peak"))
        #expect(!text.contains("aggregate"))
        #expect(!text.contains("Highest own peak"))
    }

    @Test("--at between snapshots: the report says which snapshot it shows")
    func moment() throws {
        let report = Self.report(cutoff: 6 * Self.second + Self.second / 2)
        let text = TextReportRenderer().render(report)
        #expect(text.contains("6 snapshots"))
        #expect(text.contains("exact as of the last snapshot (at 6.00 s)"))
        #expect(text.contains("Leaks: unknown"))
        let snapshot = try #require(try Self.json(report)["snapshot"] as? [String: Any])
        #expect((snapshot["aggregate"] as? [String: Any])?["last_snapshot_seconds"] as? Double == 6.0)
        #expect(snapshot["allocation_count"] as? Int == 180)
    }

    @Test("--at before the first snapshot: nothing counted yet, and the text says why")
    func beforeTheFirstSnapshot() {
        let text = TextReportRenderer().render(Self.report(cutoff: Self.second / 2))
        #expect(text.contains("0 snapshots (every 1.00 s): no snapshot yet, so nothing is counted"))
        #expect(!text.contains("memprof's own memory"))
        let allocations = text.split(separator: "\n").first { $0.hasPrefix("  allocations ") }
        #expect(allocations?.hasSuffix(" 0  (0.0 per second)") == true)
    }

    @Test("too short for a trend: the heap is sampled at each snapshot")
    func shortTrend() {
        var analyzer = TraceAnalyzer()
        var trend = TrendAnalyzer(window: TrendWindow(start: 0, end: 2 * Self.second), ageThreshold: Self.second)
        for step in UInt64(1)...2 {
            let snapshot = SnapshotRecord(
                nanoseconds: step * Self.second, reason: .periodic, memprofBytes: 0, siteCount: 0)
            let tick = TickRecord(nanoseconds: step * Self.second, heapBytes: 1, heapPeakBytes: 1, rssBytes: 1)
            analyzer.aggregation(intervalNanoseconds: Self.second)
            analyzer.snapshot(snapshot)
            analyzer.tick(tick)
            trend.tick(tick)
        }
        var report = Report(analysis: analyzer.analysis(), resolve: Fixture.resolve)
        report.attachTrend(trend.report())
        let text = TextReportRenderer().render(report)
        #expect(text.contains("(too short for a trend: the heap is sampled at each snapshot, every 1.00 s)"))
    }
}
