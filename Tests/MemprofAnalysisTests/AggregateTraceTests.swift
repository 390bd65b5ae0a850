import Foundation
import MemprofTrace
import Testing

@testable import MemprofAnalysis

/// Aggregate traces through the real reader, and their trends: a leak growing at a
/// known rate beside a cache that fills and then only churns.
@Suite("Aggregate traces: files and trends")
struct AggregateTraceTests {
    private static let second: UInt64 = 1_000_000_000

    private static func site(
        _ stack: UInt32, allocations: UInt64, frees: UInt64 = 0, bytes: UInt64, freed: UInt64 = 0,
        temporaries: UInt64 = 0, peak: UInt64
    ) -> SiteRecord {
        SiteRecord(
            stackID: stack, allocations: allocations, deallocations: frees, allocatedBytes: bytes,
            deallocatedBytes: freed, temporaries: temporaries, peakLiveBytes: peak)
    }

    private static func analyse(_ bytes: [UInt8], cutoff: UInt64? = nil) throws -> Analysis {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("memprof-aggregate-\(UUID().uuidString).mprof").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        var analyzer = TraceAnalyzer(cutoff: cutoff)
        let summary = try TraceReader(path: path).read(into: &analyzer)
        return analyzer.analysis(readSummary: summary)
    }

    /// Three snapshots. Stack 5 allocates 3, 2, 4 blocks of 50 B and frees 1 in the
    /// second; stack 6 appears in the first only. The stacks are defined after the SITE
    /// records that use them, and the first snapshot's SITE records span two blocks.
    private static func file() -> [UInt8] {
        var trace = TraceBuilder(codec: .zstd())
        trace.process(
            ProcessRecord(
                pid: 9, parentPID: 1, startUnixNanoseconds: 1_000, pageSize: 4096, executablePath: "/bin/agg",
                arguments: ["agg"], memprofVersion: "0.1.0", mode: .aggregate))
        trace.aggregation(intervalNanoseconds: second)
        trace.threadStarted(index: 0, tid: 9)
        trace.time(thread: 0, nanoseconds: 1_000)
        trace.snapshot(SnapshotRecord(nanoseconds: 1 * second, reason: .periodic, memprofBytes: 4096, siteCount: 2))
        trace.site(site(5, allocations: 3, bytes: 150, peak: 150))
        trace.beginBlock(kind: .process)
        trace.site(site(6, allocations: 7, frees: 7, bytes: 700, freed: 700, temporaries: 7, peak: 100))
        trace.tick(TickRecord(nanoseconds: 1 * second, heapBytes: 150, heapPeakBytes: 200, rssBytes: 1 << 20))
        trace.stack(StackRecord(id: 5, moduleGeneration: 0, frames: [0x401010, 0x401200]))
        trace.stack(StackRecord(id: 6, moduleGeneration: 0, frames: [0x401020, 0x401200]))
        trace.snapshot(SnapshotRecord(nanoseconds: 2 * second, reason: .api, memprofBytes: 8192, siteCount: 1))
        trace.site(site(5, allocations: 2, frees: 1, bytes: 100, freed: 50, peak: 200))
        trace.tick(TickRecord(nanoseconds: 2 * second, heapBytes: 200, heapPeakBytes: 250, rssBytes: 1 << 20))
        trace.snapshot(SnapshotRecord(nanoseconds: 3 * second, reason: .end, memprofBytes: 6144, siteCount: 1))
        trace.site(site(5, allocations: 4, bytes: 200, peak: 400))
        trace.tick(TickRecord(nanoseconds: 3 * second, heapBytes: 400, heapPeakBytes: 400, rssBytes: 1 << 20))
        trace.leak(LeakRecord(stackID: 5, size: 50, address: 0x7f00_0000_1000, kind: .definite))
        trace.end(EndRecord(nanoseconds: 3 * second, heapPeakBytes: 400, threadCount: 1, flags: .viaExit))
        return trace.finish()
    }

    @Test("read from a file: per-stack totals are the sums of the deltas; stacks defined late resolve")
    func file() throws {
        let analysis = try Self.analyse(Self.file())
        #expect(analysis.process?.mode == .aggregate)
        let leak = try #require(analysis.stackStatistics.first { $0.stackID == 5 })
        #expect(leak.totals.allocations == 9)
        #expect(leak.totals.deallocations == 1)
        #expect(leak.totals.allocatedBytes == 450)
        #expect(leak.totals.deallocatedBytes == 50)
        #expect(leak.totals.liveBytes == 400)
        #expect(leak.totals.peakBytes == 400)
        #expect(leak.totals.leakedBlocks == 1)
        let churn = try #require(analysis.stackStatistics.first { $0.stackID == 6 })
        #expect(churn.totals.liveBytes == 0)
        #expect(churn.totals.peakBytes == 100)
        #expect(churn.totals.temporaryAllocations == 7)
        #expect(analysis.stacks[5]?.frames == [0x401010, 0x401200])
        #expect(analysis.stacks[6] != nil)
        #expect(analysis.allocationCount == 16)
        #expect(analysis.deallocationCount == 8)
        #expect(analysis.currentBytes == 400)
        #expect(analysis.sizes.count == 0)
        let aggregation = try #require(analysis.aggregation)
        #expect(aggregation.intervalNanoseconds == Self.second)
        #expect(aggregation.snapshots == 3)
        #expect(aggregation.onDemandSnapshots == 1)
        #expect(aggregation.lastSnapshotNanoseconds == 3 * Self.second)
        #expect(aggregation.memprofBytesMaximum == 8192)
        #expect(analysis.leaksRecorded)
    }

    @Test("--at: a snapshot at the cutoff is in, the next one is out, with its SITE records")
    func cutoffAtASnapshot() throws {
        let analysis = try Self.analyse(Self.file(), cutoff: 2 * Self.second)
        #expect(analysis.aggregation?.snapshots == 2)
        #expect(analysis.aggregation?.lastSnapshotNanoseconds == 2 * Self.second)
        let leak = try #require(analysis.stackStatistics.first { $0.stackID == 5 })
        #expect(leak.totals.allocations == 5)
        #expect(leak.totals.liveBytes == 200)
        #expect(leak.totals.peakBytes == 200)
        #expect(analysis.currentBytes == 200)
        #expect(!analysis.leaksRecorded)
        let early = try Self.analyse(Self.file(), cutoff: Self.second - 1)
        #expect(early.allocationCount == 0)
        #expect(early.aggregation?.snapshots == 0)
    }

    /// As the preload writes it: the thread's block, with its TIME record from the first
    /// event (189 µs), reaches the file after the periodic snapshots and before the last
    /// one. The heap peak is the heap of the snapshot that summed it, at that snapshot's
    /// time — not at the thread clock read last (the report said "at 189 us" for a heap
    /// that reached its peak after 2 s).
    @Test("the heap peak of an aggregate trace is timed by its snapshot, not by a thread's clock read later")
    func peakTimeIsTheSnapshots() throws {
        var trace = TraceBuilder(codec: .zstd())
        trace.process(
            ProcessRecord(
                pid: 9, parentPID: 1, startUnixNanoseconds: 1_000, pageSize: 4096, executablePath: "/bin/agg",
                arguments: ["agg"], memprofVersion: "0.1.0", mode: .aggregate))
        trace.aggregation(intervalNanoseconds: Self.second)
        trace.snapshot(
            SnapshotRecord(nanoseconds: 1 * Self.second, reason: .periodic, memprofBytes: 4096, siteCount: 1))
        trace.site(Self.site(5, allocations: 2, bytes: 200, peak: 200))
        trace.snapshot(
            SnapshotRecord(nanoseconds: 2 * Self.second, reason: .periodic, memprofBytes: 4096, siteCount: 1))
        trace.site(Self.site(5, allocations: 3, bytes: 300, peak: 500))
        trace.time(thread: 0, nanoseconds: 188_621)
        trace.stack(StackRecord(id: 5, moduleGeneration: 0, frames: [0x401010]))
        // A live trace stops here: the last snapshot's heap is the peak.
        var live = trace
        let liveAnalysis = try Self.analyse(live.finish())
        #expect(liveAnalysis.peakHeapBytes == 500)
        #expect(liveAnalysis.peakNanoseconds == 2 * Self.second)

        trace.snapshot(SnapshotRecord(nanoseconds: 2 * Self.second + 5, reason: .end, memprofBytes: 4096, siteCount: 0))
        trace.end(EndRecord(nanoseconds: 2 * Self.second + 10, heapPeakBytes: 500, threadCount: 1, flags: .viaExit))
        let analysis = try Self.analyse(trace.finish())
        #expect(analysis.peakHeapBytes == 500)
        #expect(analysis.peakNanoseconds == 2 * Self.second)
    }

    @Test("a stack's peak is the highest its SITE records gave, even if a later one says less")
    func peakIsTheMaximum() throws {
        var analyzer = TraceAnalyzer()
        analyzer.aggregation(intervalNanoseconds: Self.second)
        analyzer.snapshot(SnapshotRecord(nanoseconds: 1, reason: .periodic, memprofBytes: 0, siteCount: 1))
        analyzer.site(Self.site(1, allocations: 4, bytes: 400, peak: 400))
        analyzer.snapshot(SnapshotRecord(nanoseconds: 2, reason: .periodic, memprofBytes: 0, siteCount: 1))
        analyzer.site(Self.site(1, allocations: 0, frees: 3, bytes: 0, freed: 300, peak: 300))
        let totals = try #require(analyzer.analysis().stackStatistics.first?.totals)
        #expect(totals.peakBytes == 400)
        #expect(totals.liveBytes == 100)
    }

    /// Snapshots every second for 40 s. Stack 1 leaks 10 blocks of 409.6 B a second
    /// (4,096 B/s) and frees nothing; stack 2 is a cache that fills with 100 blocks of
    /// 64 B over the first 10 s, then replaces 20 entries a second; stack 3 leaks one 64 B
    /// block a second but also churns 99 temporaries a second from the same stack.
    private static func growingTrace<V: TraceVisitor>(_ visitor: inout V) {
        visitor.aggregation(intervalNanoseconds: second)
        for step in UInt64(1)...40 {
            visitor.snapshot(
                SnapshotRecord(nanoseconds: step * second, reason: .periodic, memprofBytes: 0, siteCount: 3))
            visitor.site(site(1, allocations: 10, bytes: 4096, peak: step * 4096))
            if step <= 10 {
                visitor.site(site(2, allocations: 10, bytes: 640, peak: step * 640))
            } else {
                visitor.site(site(2, allocations: 20, frees: 20, bytes: 1280, freed: 1280, peak: 6400))
            }
            visitor.site(
                site(3, allocations: 100, frees: 99, bytes: 6400, freed: 6336, temporaries: 99, peak: step * 64 + 64))
            visitor.tick(
                TickRecord(
                    nanoseconds: step * second, heapBytes: step * 4160 + min(step, 10) * 640,
                    heapPeakBytes: step * 4160 + min(step, 10) * 640, rssBytes: 1 << 22))
        }
    }

    private static func trend(interval: UInt64 = second) -> TrendReport {
        let window = TrendWindow(start: 0, end: 40 * second, interval: interval)
        var analyzer = TrendAnalyzer(window: window, ageThreshold: 10 * second)
        growingTrace(&analyzer)
        return analyzer.report()
    }

    @Test("a linearly growing stack's growth rate from the snapshots, within 1%")
    func linearGrowth() throws {
        let report = Self.trend()
        let leak = SiteGrowth(try #require(report.stacks[1]), window: report.siteWindow)
        #expect(abs(leak.growthBytesPerSecond - 4096) / 4096 < 0.01, "\(leak.growthBytesPerSecond) B/s")
        #expect(leak.liveBytes.last == 40 * 4096)
        // Every block is live; those of the first 30 s are at least 10 s old.
        #expect(leak.liveBlocks == 400)
        #expect(leak.oldBlocks == 300)
        #expect(leak.oldBytes == 30 * 4096)
        #expect(leak.isLeakSuspect)
        // 400 leaked, 100 + 30 × 20 by the cache, 40 × 100 by stack 3.
        #expect(report.allocations == 400 + 700 + 4000)
    }

    @Test("the leak is a suspect, the cache that filled and churns is not")
    func leakVersusCache() throws {
        let report = Self.trend()
        let cache = SiteGrowth(try #require(report.stacks[2]), window: report.siteWindow)
        #expect(cache.shape == .plateaued)
        #expect(!cache.isLeakSuspect)
        #expect(cache.liveBytes.last == 6400)
        // 20 of the 100 entries replaced each second, oldest first: none is 10 s old.
        #expect(cache.liveBlocks == 100)
        #expect(cache.oldBlocks == 0)
        let leak = SiteGrowth(try #require(report.stacks[1]), window: report.siteWindow)
        #expect(leak.shape == .growing)
    }

    @Test("temporaries free the snapshot's own blocks: a leak that churns keeps its old blocks")
    func temporariesKeepOldBlocks() throws {
        let report = Self.trend()
        let mixed = SiteGrowth(try #require(report.stacks[3]), window: report.siteWindow)
        // One block a second stays: 40 live, the first 30 at least 10 s old. Taking the
        // oldest blocks for the 99 frees would leave only the last second's.
        #expect(mixed.liveBlocks == 40)
        #expect(mixed.oldBlocks == 30)
        #expect(mixed.oldBytes == 30 * 64)
        #expect(mixed.isLeakSuspect)
        #expect(abs(mixed.growthBytesPerSecond - 64) / 64 < 0.01)
    }

    @Test("a full trace's malloc(0) blocks do not make its old bytes estimates")
    func zeroSizedBlocksInAFullTrace() throws {
        var analyzer = TrendAnalyzer(
            window: TrendWindow(start: 0, end: 10 * Self.second), ageThreshold: 5 * Self.second)
        analyzer.time(thread: 0, nanoseconds: Self.second)
        analyzer.allocation(thread: 0, size: 100, stackID: 4)
        analyzer.allocation(thread: 0, size: 0, stackID: 4)
        analyzer.time(thread: 0, nanoseconds: 9 * Self.second)
        analyzer.allocation(thread: 0, size: 300, stackID: 4)
        let stack = try #require(analyzer.report().stacks[4])
        #expect(stack.liveBlocks == 3)
        #expect(stack.oldBlocks == 2)
        // Exact: 100 + 0 bytes are old (an average-size estimate would say 266).
        #expect(stack.oldBytes == 100)
    }
}
