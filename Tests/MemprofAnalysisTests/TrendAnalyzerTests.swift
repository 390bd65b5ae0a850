import MemprofTrace
import Testing

@testable import MemprofAnalysis

/// Feeds a visitor events on one thread's clock and ticks, as the reader would.
private struct Timeline<V: TraceVisitor> {
    var visitor: V

    mutating func at(_ milliseconds: UInt64, thread: UInt32 = 0) {
        visitor.time(thread: thread, nanoseconds: milliseconds * 1_000_000)
    }

    mutating func alloc(_ stack: UInt32, _ size: UInt64, thread: UInt32 = 0) {
        visitor.allocation(thread: thread, size: size, stackID: stack)
    }

    mutating func free(_ stack: UInt32, _ size: UInt64, thread: UInt32 = 0) {
        visitor.deallocation(thread: thread, size: size, stackID: stack, temporary: false)
    }

    mutating func tick(_ milliseconds: UInt64, heap: UInt64, rss: UInt64 = 0) {
        visitor.tick(
            TickRecord(nanoseconds: milliseconds * 1_000_000, heapBytes: heap, heapPeakBytes: heap, rssBytes: rss))
    }
}

private let millisecond: UInt64 = 1_000_000
private let second: UInt64 = 1_000_000_000

@Suite("TrendWindow")
struct TrendWindowTests {
    @Test("the last D of a recording, cut into intervals; the last one may be shorter")
    func lastDuration() {
        let window = TrendWindow(lastNanoseconds: 30 * second, before: 95 * second, intervalNanoseconds: 7 * second)
        #expect(window.start == 65 * second)
        #expect(window.intervalCount == 5)  // 7, 14, 21, 28, 30
        #expect(window.boundary(4) == 93 * second)
        #expect(window.boundary(5) == 95 * second)
        #expect(window.slot(of: 10 * second) == 0)
        #expect(window.slot(of: 65 * second) == 0)
        #expect(window.slot(of: 65 * second + 1) == 1)
        #expect(window.slot(of: 72 * second) == 1)
        #expect(window.slot(of: 94 * second) == 5)
        #expect(window.slot(of: 95 * second + 1) == nil)
    }

    @Test("a window longer than the recording starts at 0; no interval asked gives 40 intervals")
    func defaults() {
        let window = TrendWindow(lastNanoseconds: 60 * second, before: 4 * second)
        #expect(window.start == 0)
        #expect(window.interval == 100 * millisecond)
        #expect(window.intervalCount == 40)
        // Never finer than a tick.
        #expect(TrendWindow(start: 0, end: 100 * millisecond).interval == 10 * millisecond)
    }
}

@Suite("TrendAnalyzer")
struct TrendAnalyzerTests {
    @Test("least squares, extremes and volatility over the window's ticks only")
    func windowStatistics() {
        var timeline = Timeline(
            visitor: TrendAnalyzer(
                window: TrendWindow(start: 1 * second, end: 3 * second, interval: 500 * millisecond),
                ageThreshold: second))
        // Before the window: a spike the window must not see.
        timeline.tick(500, heap: 1_000_000)
        // In it: 300 B/s exactly, from 1 s to 3 s, every 10 ms.
        for ms in stride(from: UInt64(1000), through: 3000, by: 10) {
            timeline.tick(ms, heap: 10_000 + (ms - 1000) * 3 / 10, rss: 50_000)
        }
        let report = timeline.visitor.report()
        #expect(report.statistics.sampleCount == 201)
        #expect(abs(report.statistics.growthBytesPerSecond - 300) < 1e-6)
        #expect(report.statistics.minimumBytes == 10_000)
        #expect(report.statistics.peakBytes == 10_600)
        #expect(abs(report.statistics.averageBytes - 10_300) < 1e-6)
        // A uniform ramp: standard deviation = range × sqrt((n+1) / (12 (n-1))) for n points.
        let expected = 600.0 * (202.0 / (12.0 * 200.0)).squareRoot()
        #expect(abs(report.statistics.volatilityBytes - expected) < 1e-6)
        // Four data points: the first holds the tick at 1 s and those up to 1.5 s.
        #expect(report.dataPoints.map(\.nanoseconds) == [1500, 2000, 2500, 3000].map { $0 * millisecond })
        #expect(report.dataPoints.map(\.sampleCount) == [51, 50, 50, 50])
        #expect(report.dataPoints[0].minimumHeapBytes == 10_000)
        #expect(report.dataPoints[0].peakHeapBytes == 10_150)
        #expect(report.dataPoints.allSatisfy { $0.rssBytes == 50_000 })
    }

    @Test("intervals without ticks give no data point")
    func gaps() {
        var timeline = Timeline(
            visitor: TrendAnalyzer(
                window: TrendWindow(start: 0, end: 4 * second, interval: second), ageThreshold: second))
        timeline.tick(500, heap: 1)
        timeline.tick(3500, heap: 2)
        let points = timeline.visitor.report().dataPoints
        #expect(points.map(\.nanoseconds) == [1 * second, 4 * second])
    }

    @Test("per-stack live bytes at each boundary follow the events' clocks, not file order")
    func stackSeries() {
        var timeline = Timeline(
            visitor: TrendAnalyzer(
                window: TrendWindow(start: 0, end: 3 * second, interval: second), ageThreshold: second))
        timeline.at(100)
        timeline.alloc(1, 100)
        timeline.at(1500)
        timeline.alloc(1, 100)
        // Thread 1's block arrives later in the file but happened at 0.5 s.
        timeline.at(500, thread: 1)
        timeline.alloc(2, 40, thread: 1)
        timeline.at(2500, thread: 1)
        timeline.free(2, 40, thread: 1)
        // Past the window's end: ignored.
        timeline.at(3500)
        timeline.alloc(1, 1_000)
        let stacks = timeline.visitor.report().stacks
        #expect(stacks[1]?.liveBytes == [0, 100, 200, 200])
        #expect(stacks[2]?.liveBytes == [0, 40, 40, 0])
    }

    @Test("ages: the oldest block of a stack and size is the one freed, so old blocks are a lower bound")
    func ages() {
        var timeline = Timeline(
            visitor: TrendAnalyzer(window: TrendWindow(start: 0, end: 10 * second), ageThreshold: 5 * second))
        // A cache: ten 64-byte entries at 0..0.9 s, each replaced at 6..6.9 s.
        for index in 0..<UInt64(10) {
            timeline.at(index * 100)
            timeline.alloc(7, 64)
        }
        for index in 0..<UInt64(10) {
            timeline.at(6000 + index * 100)
            timeline.free(7, 64)
            timeline.alloc(7, 64)
        }
        // A leak: one 32-byte block a second, never freed.
        for index in 0..<UInt64(10) {
            timeline.at(index * 1000)
            timeline.alloc(9, 32)
        }
        let stacks = timeline.visitor.report().stacks
        #expect(stacks[7]?.liveBlocks == 10)
        #expect(stacks[7]?.oldBlocks == 0)  // all allocated after 5 s
        #expect(stacks[9]?.liveBlocks == 10)
        #expect(stacks[9]?.oldBlocks == 6)  // allocated at 0..5 s
        #expect(stacks[9]?.oldBytes == 6 * 32)
    }

    @Test("sample mode: a sampled block stands for 1/p blocks of s/p bytes in the window and at its site")
    func sampled() {
        var timeline = Timeline(
            visitor: TrendAnalyzer(window: TrendWindow(start: 0, end: 10 * second), ageThreshold: 5 * second))
        timeline.visitor.sampling(intervalBytes: 64 * 1024)
        let weights = SampleWeights(intervalBytes: 64 * 1024)
        for step in 1...4 {
            timeline.at(UInt64(step) * 2000)
            timeline.alloc(5, 64)
        }
        timeline.free(5, 64)
        let report = timeline.visitor.report()
        let bytes = Int64(weights.bytes(size: 64).rounded())
        #expect(report.stacks[5]?.liveBytes.last == 3 * bytes)
        #expect(report.stacks[5]?.liveBlocks == UInt64((3 * weights.allocations(size: 64)).rounded()))
        // Two sampled blocks were allocated 5 s or more before the end (at 2 and 4 s),
        // one of them freed: one old sampled block, standing for 1/p.
        #expect(report.stacks[5]?.oldBlocks == UInt64(weights.allocations(size: 64).rounded()))
        #expect(report.allocations == UInt64((4 * weights.allocations(size: 64)).rounded()))
    }

    @Test("a free replayed before its allocation cancels it")
    func freeBeforeAllocation() {
        var timeline = Timeline(
            visitor: TrendAnalyzer(window: TrendWindow(start: 0, end: 2 * second), ageThreshold: 1))
        timeline.at(1000, thread: 1)
        timeline.free(3, 8, thread: 1)
        timeline.at(900)
        timeline.alloc(3, 8)
        let stacks = timeline.visitor.report().stacks
        #expect(stacks[3]?.liveBlocks == 0)
        #expect(stacks[3]?.liveBytes.last == 0)
    }
}

@Suite("SiteGrowth")
struct SiteGrowthTests {
    private let window = TrendWindow(start: 0, end: 20 * second, interval: second)

    @Test("an unbounded leak is growing and, with old blocks, a suspect; its slope is exact")
    func leak() {
        let series = (0...20).map { Int64($0) * 4096 }
        let growth = SiteGrowth(StackGrowth(liveBytes: series, liveBlocks: 20, oldBlocks: 5), window: window)
        #expect(growth.shape == .growing)
        #expect(abs(growth.growthBytesPerSecond - 4096) < 1e-6)
        #expect(abs(growth.recentGrowthBytesPerSecond - 4096) < 1e-6)
        #expect(growth.isLeakSuspect)
        // Without old blocks it is only growing (a working set being built).
        #expect(!SiteGrowth(StackGrowth(liveBytes: series, liveBlocks: 20), window: window).isLeakSuspect)
    }

    @Test("a bounded cache rises, then stays flat: plateaued, not a suspect, whatever its ages")
    func cache() {
        let series = (0...20).map { Int64(min($0, 5)) * 1024 }
        let growth = SiteGrowth(StackGrowth(liveBytes: series, liveBlocks: 5, oldBlocks: 5), window: window)
        #expect(growth.shape == .plateaued)
        #expect(growth.growthBytesPerSecond > 0)
        #expect(growth.recentGrowthBytesPerSecond == 0)
        #expect(!growth.isLeakSuspect)
    }

    @Test("a cache churning around its level is steady; a draining one is shrinking")
    func steadyAndShrinking() {
        let churn = (0...20).map { Int64(10_000 + ($0 % 2 == 0 ? 50 : -50)) }
        #expect(SiteGrowth(StackGrowth(liveBytes: churn, oldBlocks: 3), window: window).shape == .steady)
        let draining = (0...20).map { Int64(20_000 - $0 * 1000) }
        #expect(SiteGrowth(StackGrowth(liveBytes: draining, oldBlocks: 3), window: window).shape == .shrinking)
    }

    @Test("stack series sum point by point into a site")
    func summing() {
        var site = StackGrowth(liveBytes: [])
        site += StackGrowth(liveBytes: [1, 2, 3], liveBlocks: 1, oldBlocks: 1, oldBytes: 3)
        site += StackGrowth(liveBytes: [10, 20, 30], liveBlocks: 2, oldBlocks: 0, oldBytes: 0)
        #expect(site == StackGrowth(liveBytes: [11, 22, 33], liveBlocks: 3, oldBlocks: 1, oldBytes: 3))
    }
}

@Suite("TraceAnalyzer cut-off")
struct TraceAnalyzerCutoffTests {
    @Test("the state at a moment: events, ticks, leaks and END after it are left out")
    func cutoff() {
        var timeline = Timeline(visitor: TraceAnalyzer(cutoff: 2 * second))
        timeline.at(500)
        timeline.alloc(1, 100)
        timeline.alloc(2, 50)
        timeline.tick(1000, heap: 150, rss: 4096)
        timeline.at(1500)
        timeline.free(2, 50)
        timeline.at(2500)
        timeline.alloc(1, 1_000)
        timeline.free(1, 100)
        timeline.tick(3000, heap: 1_000, rss: 8192)
        timeline.visitor.leak(LeakRecord(stackID: 1, size: 1_000, address: 0x10, kind: .definite))
        timeline.visitor.end(EndRecord(nanoseconds: 3 * second, heapPeakBytes: 1_100, threadCount: 1, flags: .viaExit))
        let analysis = timeline.visitor.analysis()
        #expect(analysis.allocationCount == 2)
        #expect(analysis.deallocationCount == 1)
        #expect(analysis.currentBytes == 100)
        #expect(analysis.peakHeapBytes == 150)
        #expect(analysis.peakRSSBytes == 4096)
        #expect(analysis.leakGroups.isEmpty)
        #expect(!analysis.leaksRecorded)
        #expect(analysis.end?.flags == .viaExit)  // how the recording ended, no figure of it
        #expect(analysis.threadCount == 0)
        #expect(analysis.cutoffNanoseconds == 2 * second)
        #expect(analysis.durationNanoseconds == 2 * second)
        #expect(analysis.stackStatistics.first { $0.stackID == 1 }?.totals.liveBytes == 100)
    }

    @Test("a cut-off at or past the end is the whole recording")
    func pastTheEnd() {
        var timeline = Timeline(visitor: TraceAnalyzer(cutoff: 5 * second))
        timeline.at(500)
        timeline.alloc(1, 100)
        timeline.visitor.leak(LeakRecord(stackID: 1, size: 100, address: 0x10, kind: .definite))
        timeline.visitor.end(EndRecord(nanoseconds: 3 * second, heapPeakBytes: 100, threadCount: 1, flags: .viaExit))
        let analysis = timeline.visitor.analysis()
        #expect(analysis.leaksRecorded)
        #expect(analysis.leakedBytes == 100)
        #expect(analysis.cutoffNanoseconds == nil)
    }
}

@Suite("TrendAnalyzer block ages")
struct BlockAgesTests {
    @Test("runs stay sorted when another thread's older allocation arrives late; frees take the oldest")
    func sortedRuns() {
        var ages = TrendAnalyzer.BlockAges()
        ages.allocate(at: 10)
        ages.allocate(at: 30)
        ages.allocate(at: 20)
        ages.allocate(at: 30)
        #expect(ages.times == [10, 20, 30])
        #expect(ages.counts == [1, 1, 2])
        ages.free()
        #expect(ages.times[ages.head...] == [20, 30])
        ages.free()
        ages.free()
        ages.free()
        #expect(ages.isEmpty)
        // A free before any allocation waits for it; then the runs start afresh.
        ages.free()
        #expect(!ages.isEmpty)
        ages.allocate(at: 40)
        #expect(ages.isEmpty)
        ages.allocate(at: 50)
        #expect(Array(ages.times[ages.head...]) == [50])
    }
}

@Suite("SiteGrowth on short windows")
struct ShortWindowTests {
    @Test("fewer than five points: undetermined, never a suspect; a window shorter than its interval is one interval")
    func short() {
        let window = TrendWindow(start: 0, end: 4_000_000)
        #expect(window.interval == 4_000_000)
        #expect(window.intervalCount == 1)
        let growth = SiteGrowth(StackGrowth(liveBytes: [0, 4096], liveBlocks: 1, oldBlocks: 1), window: window)
        #expect(growth.shape == .undetermined)
        #expect(!growth.isLeakSuspect)
    }
}
