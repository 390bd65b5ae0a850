import MemprofTrace
import Testing

@testable import MemprofAnalysis

/// Aggregate traces (`memprof run --mode aggregate`): SITE records carry each stack's
/// counts since its previous one, a snapshot at a time; the analysis sums them.
@Suite("Aggregate traces")
struct AggregateAnalysisTests {
    private static let second: UInt64 = 1_000_000_000

    private static func site(
        _ stack: UInt32, allocations: UInt64, frees: UInt64, bytes: UInt64, freed: UInt64, temporaries: UInt64 = 0,
        peak: UInt64
    ) -> SiteRecord {
        SiteRecord(
            stackID: stack, allocations: allocations, deallocations: frees, allocatedBytes: bytes,
            deallocatedBytes: freed, temporaries: temporaries, peakLiveBytes: peak)
    }

    /// Stack 1 grows by 1,000 B a second (10 blocks of 100 B); stack 2 churns 64 B
    /// temporaries and holds 640 B from the first second on. Snapshots at 1, 2, 3 s, the
    /// last one at the end; stack 2 does not change in the third.
    private static func feed<V: TraceVisitor>(_ visitor: inout V) {
        visitor.aggregation(intervalNanoseconds: second)
        visitor.snapshot(SnapshotRecord(nanoseconds: 1 * second, reason: .periodic, memprofBytes: 1000, siteCount: 2))
        visitor.site(site(1, allocations: 10, frees: 0, bytes: 1000, freed: 0, peak: 1000))
        visitor.site(site(2, allocations: 110, frees: 100, bytes: 7040, freed: 6400, temporaries: 100, peak: 640))
        visitor.tick(TickRecord(nanoseconds: 1 * second, heapBytes: 1640, heapPeakBytes: 1700, rssBytes: 1 << 20))
        visitor.snapshot(SnapshotRecord(nanoseconds: 2 * second, reason: .signal, memprofBytes: 1200, siteCount: 2))
        visitor.site(site(1, allocations: 10, frees: 0, bytes: 1000, freed: 0, peak: 2000))
        visitor.site(site(2, allocations: 50, frees: 50, bytes: 3200, freed: 3200, temporaries: 50, peak: 640))
        visitor.tick(TickRecord(nanoseconds: 2 * second, heapBytes: 2640, heapPeakBytes: 2700, rssBytes: 1 << 20))
        visitor.snapshot(SnapshotRecord(nanoseconds: 3 * second, reason: .end, memprofBytes: 1100, siteCount: 1))
        visitor.site(site(1, allocations: 10, frees: 0, bytes: 1000, freed: 0, peak: 3000))
        visitor.tick(TickRecord(nanoseconds: 3 * second, heapBytes: 3640, heapPeakBytes: 3700, rssBytes: 1 << 20))
        visitor.end(EndRecord(nanoseconds: 3 * second, heapPeakBytes: 3700, threadCount: 1, flags: .viaExit))
    }

    @Test("the SITE records' changes add up per stack and in total; a stack's peak is its highest")
    func sums() throws {
        var analyzer = TraceAnalyzer()
        Self.feed(&analyzer)
        let analysis = analyzer.analysis()
        #expect(analysis.allocationCount == 190)
        #expect(analysis.deallocationCount == 150)
        #expect(analysis.totalAllocatedBytes == 13240)
        #expect(analysis.totalDeallocatedBytes == 9600)
        #expect(analysis.currentBytes == 3640)
        #expect(analysis.temporaryAllocationCount == 150)
        let growing = try #require(analysis.stackStatistics.first { $0.stackID == 1 })
        #expect(growing.totals.allocations == 30)
        #expect(growing.totals.liveBytes == 3000)
        #expect(growing.totals.peakBytes == 3000)
        let churning = try #require(analysis.stackStatistics.first { $0.stackID == 2 })
        #expect(churning.totals.liveBytes == 640)
        #expect(churning.totals.peakBytes == 640)
        #expect(churning.totals.temporaryAllocations == 150)
        // The heap peak: the END record's (sampled every 10 ms) beats the snapshots' sums.
        #expect(analysis.peakHeapBytes == 3700)
        let aggregation = try #require(analysis.aggregation)
        #expect(aggregation.snapshots == 3)
        #expect(aggregation.signalSnapshots == 1)
        #expect(aggregation.apiSnapshots == 0)
        #expect(aggregation.memprofBytesFirst == 1000)
        #expect(aggregation.memprofBytesLast == 1100)
        #expect(aggregation.memprofBytesMaximum == 1200)
        #expect(analysis.sizes.count == 0)
    }

    @Test("--at between snapshots: the state of the last snapshot before the moment")
    func cutoff() throws {
        var analyzer = TraceAnalyzer(cutoff: 2 * Self.second + 500_000_000)
        Self.feed(&analyzer)
        let analysis = analyzer.analysis()
        #expect(analysis.allocationCount == 180)
        #expect(analysis.currentBytes == 2640)
        #expect(analysis.aggregation?.snapshots == 2)
        let growing = try #require(analysis.stackStatistics.first { $0.stackID == 1 })
        #expect(growing.totals.peakBytes == 2000)
        #expect(analysis.leaksRecorded == false)
    }

    @Test("trends: a stack's live bytes at snapshot times, its growth, and old blocks estimated FIFO")
    func trend() throws {
        var analyzer = TrendAnalyzer(window: TrendWindow(start: 0, end: 3 * Self.second), ageThreshold: Self.second)
        Self.feed(&analyzer)
        let report = analyzer.report()
        let growing = try #require(report.stacks[1])
        #expect(growing.liveBytes.last == 3000)
        #expect(growing.liveBlocks == 30)
        // Allocated at 1 s and 2 s, so at least 1 s before the end at 3 s: 20 of the 30.
        #expect(growing.oldBlocks == 20)
        #expect(growing.oldBytes == 2000)
        let churning = try #require(report.stacks[2])
        // 110 then 50 allocated, 150 freed oldest first: the 10 live ones are from 2 s.
        #expect(churning.liveBlocks == 10)
        #expect(churning.oldBlocks == 10)
        #expect(report.allocations == 190)
        #expect(abs(report.statistics.growthBytesPerSecond - 1000) < 1e-6)
    }
}
