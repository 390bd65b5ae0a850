import MemprofTrace
import Testing

@testable import MemprofAnalysis

/// Drives a ``TraceAnalyzer`` through its visitor methods, as the reader would.
private struct Script {
    var analyzer = TraceAnalyzer()

    mutating func alloc(_ stack: UInt32, _ size: UInt64, thread: UInt32 = 0) {
        analyzer.allocation(thread: thread, size: size, stackID: stack)
    }

    mutating func free(_ stack: UInt32, _ size: UInt64, temporary: Bool = false, thread: UInt32 = 0) {
        analyzer.deallocation(thread: thread, size: size, stackID: stack, temporary: temporary)
    }

    func totals(_ analysis: Analysis, _ stack: UInt32) -> AllocationTotals? {
        analysis.stackStatistics.first { $0.stackID == stack }?.totals
    }
}

@Suite("TraceAnalyzer")
struct TraceAnalyzerTests {
    @Test("counts allocations, frees, unknown frees, bytes and temporaries")
    func counting() {
        var script = Script()
        script.alloc(1, 16)
        script.alloc(1, 32)
        script.free(1, 32, temporary: true)
        script.alloc(2, 100)
        script.analyzer.unknownDeallocation(thread: 0)
        script.analyzer.unknownDeallocation(thread: 1)
        script.free(1, 16)
        let analysis = script.analyzer.analysis()

        #expect(analysis.allocationCount == 3)
        #expect(analysis.deallocationCount == 4)  // 2 known + 2 unknown
        #expect(analysis.unknownDeallocationCount == 2)
        #expect(analysis.totalAllocatedBytes == 148)
        #expect(analysis.totalDeallocatedBytes == 48)
        #expect(analysis.currentBytes == 100)
        #expect(analysis.temporaryAllocationCount == 1)

        let one = script.totals(analysis, 1)
        #expect(
            one
                == AllocationTotals(
                    allocations: 2, deallocations: 2, allocatedBytes: 48, deallocatedBytes: 48, liveBytes: 0,
                    peakBytes: 16, temporaryAllocations: 1))  // at the global peak (116) stack 1 held 16
        let two = script.totals(analysis, 2)
        #expect(two?.liveBytes == 100)
        #expect(two?.allocations == 1)
        #expect(two?.peakBytes == 100)
        #expect(analysis.replayPeakBytes == 116)
        #expect(analysis.stackStatistics.map(\.stackID) == [1, 2])
    }

    @Test("an empty trace gives zeros, not garbage")
    func emptyTrace() {
        let analysis = TraceAnalyzer().analysis()
        #expect(analysis.allocationCount == 0)
        #expect(analysis.peakHeapBytes == 0)
        #expect(analysis.peakNanoseconds == nil)
        #expect(analysis.sizes.median == 0)
        #expect(analysis.allocationRatePerSecond == 0)
        #expect(analysis.stackStatistics.isEmpty)
        #expect(!analysis.leaksRecorded)
        #expect(analysis.trend == .empty)
    }

    /// Hand-computed replay; heap after each step in the comments.
    ///
    /// The peak of 150 (A 100 + B 50) is superseded by the peak of 260 (A 10 + B 250):
    /// the lazy copy at step 3 must be overwritten at step 6, and step 8 (a free with no
    /// new peak since) must not copy again.
    @Test("peak contribution per stack follows the global peak across two stacks")
    func lazyPeakAcrossTwoStacks() {
        var script = Script()
        let a: UInt32 = 1
        let b: UInt32 = 2
        script.alloc(a, 100)  // 100, new peak
        script.alloc(b, 50)  // 150, new peak
        script.free(a, 100)  // 50: peak 150 captured as A 100, B 50
        script.alloc(b, 200)  // 250, new peak
        script.alloc(a, 10)  // 260, new peak
        script.free(b, 200)  // 60: peak 260 captured as A 10, B 250
        script.alloc(a, 30)  // 90
        script.free(a, 30, temporary: true)  // 60: no new peak, nothing captured
        let analysis = script.analyzer.analysis()

        #expect(analysis.replayPeakBytes == 260)
        #expect(analysis.peakHeapBytes == 260)
        #expect(script.totals(analysis, a)?.peakBytes == 10)
        #expect(script.totals(analysis, b)?.peakBytes == 250)
        #expect(script.totals(analysis, a)?.liveBytes == 10)
        #expect(script.totals(analysis, b)?.liveBytes == 50)
        #expect(analysis.totals.peakBytes == analysis.replayPeakBytes)
        #expect(analysis.currentBytes == 60)
    }

    @Test("a peak reached at the very end is captured once the read is over")
    func peakAtEnd() {
        var script = Script()
        script.alloc(1, 10)  // 10, new peak
        script.free(1, 10)  // 0: captured A 10
        script.alloc(2, 20)  // 20, new peak, never followed by a free
        let analysis = script.analyzer.analysis()
        #expect(script.totals(analysis, 1)?.peakBytes == 0)
        #expect(script.totals(analysis, 2)?.peakBytes == 20)
        #expect(analysis.replayPeakBytes == 20)
    }

    /// After the copy at step 3, A is never touched again: its peak must stay 100 while
    /// B and C are copied at step 5.
    @Test("stacks untouched since the last peak copy keep it")
    func untouchedStacksKeepTheirCopy() {
        var script = Script()
        script.alloc(1, 100)  // A: 100, new peak
        script.alloc(2, 10)  // 110, new peak
        script.free(2, 10)  // 100: copied A 100, B 10
        script.alloc(3, 50)  // 150, new peak
        script.free(3, 50)  // 100: copied B 0, C 50 (A untouched)
        let analysis = script.analyzer.analysis()
        #expect(script.totals(analysis, 1)?.peakBytes == 100)
        #expect(script.totals(analysis, 2)?.peakBytes == 0)
        #expect(script.totals(analysis, 3)?.peakBytes == 50)
        #expect(analysis.totals.peakBytes == 150)
    }

    @Test("peak contributions agree with a brute-force replay", arguments: [1, 2, 3, 42, 1234] as [UInt64])
    func peakMatchesBruteForce(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var script = Script()
        var live: [UInt32: [UInt64]] = [:]  // stack → sizes of its live blocks
        var liveBytes: [UInt32: Int64] = [:]
        var heap: Int64 = 0
        var peak: Int64 = 0
        var atPeak: [UInt32: Int64] = [:]
        let stackCount = UInt32(1 + random.next() % 40)
        for _ in 0..<5_000 {
            // Big stack ids now and then exercise the sparse map as well.
            var stack = UInt32(random.next() % UInt64(stackCount))
            if stack % 7 == 6 { stack += TraceAnalyzer.denseStackLimit }
            if random.next() % 100 < 55 || live[stack, default: []].isEmpty {
                let size = random.next() % 300
                script.alloc(stack, size)
                live[stack, default: []].append(size)
                liveBytes[stack, default: 0] += Int64(size)
                heap += Int64(size)
                if heap > peak {
                    peak = heap
                    atPeak = liveBytes
                }
            } else {
                let size = live[stack]!.removeLast()
                script.free(stack, size, temporary: false)
                liveBytes[stack]! -= Int64(size)
                heap -= Int64(size)
            }
        }
        let analysis = script.analyzer.analysis()
        #expect(analysis.replayPeakBytes == UInt64(peak))
        for statistics in analysis.stackStatistics {
            #expect(
                statistics.totals.peakBytes == UInt64(atPeak[statistics.stackID] ?? 0),
                "stack \(statistics.stackID)")
            #expect(statistics.totals.liveBytes == UInt64(liveBytes[statistics.stackID] ?? 0))
        }
    }

    @Test("asking for the analysis midway does not disturb the replay")
    func analysisIsNonMutating() {
        var script = Script()
        script.alloc(1, 10)
        _ = script.analyzer.analysis()
        script.alloc(2, 5)
        script.free(2, 5)
        let analysis = script.analyzer.analysis()
        #expect(script.totals(analysis, 1)?.peakBytes == 10)
        #expect(script.totals(analysis, 2)?.peakBytes == 5)
    }

    @Test("a free replayed before its allocation (another thread's block came first) balances out")
    func crossThreadOrder() {
        var script = Script()
        script.alloc(3, 64, thread: 0)
        script.free(4, 8, thread: 1)  // block allocated on thread 2, whose block comes later
        script.alloc(4, 8, thread: 2)
        let analysis = script.analyzer.analysis()
        #expect(script.totals(analysis, 4)?.liveBytes == 0)
        #expect(script.totals(analysis, 4)?.peakBytes == 0)  // clamped, never negative
        #expect(analysis.currentBytes == 64)
    }

    @Test("stack ids past the dense limit are counted in the sparse map")
    func sparseStackIDs() {
        var script = Script()
        let big = TraceAnalyzer.denseStackLimit + 7
        script.alloc(big, 40)
        script.alloc(big, 2)
        script.alloc(0, 1)
        script.free(big, 40)
        let analysis = script.analyzer.analysis()
        #expect(analysis.stackStatistics.map(\.stackID) == [0, big])
        #expect(
            script.totals(analysis, big)
                == AllocationTotals(
                    allocations: 2, deallocations: 1, allocatedBytes: 42, deallocatedBytes: 40, liveBytes: 2,
                    peakBytes: 42))
    }

    @Test(
        "median is exact for odd and even counts, across small and large sizes",
        arguments: [
            ([1, 3, 100] as [UInt64], 3.0),
            ([200, 1, 100, 3], 51.5),
            ([10, 5000, 5000, 70000], 5000.0),
            ([4095, 4096], 4095.5),
            ([7], 7.0),
        ])
    func median(sizes: [UInt64], expected: Double) {
        var script = Script()
        for size in sizes { script.alloc(1, size) }
        let analysis = script.analyzer.analysis()
        #expect(analysis.sizes.median == expected)
        #expect(analysis.sizes.count == UInt64(sizes.count))
        #expect(analysis.sizes.mean == Double(sizes.reduce(0, +)) / Double(sizes.count))
        #expect(analysis.sizes.minimum == sizes.min())
        #expect(analysis.sizes.maximum == sizes.max())
    }

    @Test("leak records are grouped by stack and kind and credited to their stacks")
    func leaks() {
        var script = Script()
        script.alloc(1, 10)
        script.alloc(1, 20)
        script.alloc(2, 5)
        script.analyzer.leak(LeakRecord(stackID: 1, size: 10, address: 0x1000, kind: .unfreed))
        script.analyzer.leak(LeakRecord(stackID: 1, size: 20, address: 0x2000, kind: .unfreed))
        script.analyzer.leak(LeakRecord(stackID: 2, size: 5, address: 0x3000, kind: .definite))
        script.analyzer.leak(LeakRecord(stackID: 9, size: 7, address: 0x4000, kind: .definite))
        let analysis = script.analyzer.analysis()

        #expect(analysis.leaksRecorded)
        #expect(
            analysis.leakGroups == [
                LeakGroup(stackID: 1, kind: .unfreed, blocks: 2, bytes: 30),
                LeakGroup(stackID: 9, kind: .definite, blocks: 1, bytes: 7),
                LeakGroup(stackID: 2, kind: .definite, blocks: 1, bytes: 5),
            ])
        #expect(analysis.leakedBytes == 42)
        #expect(analysis.leakedBlocks == 4)
        #expect(script.totals(analysis, 1)?.leakedBytes == 30)
        #expect(script.totals(analysis, 1)?.leakedBlocks == 2)
        #expect(script.totals(analysis, 2)?.leakedBytes == 5)
        // A stack that only leaked (its allocations were not readable) still shows up.
        #expect(script.totals(analysis, 9) == AllocationTotals(leakedBytes: 7, leakedBlocks: 1))
    }

    @Test("when the replay misses the exact peak, its time comes from the first tick that saw it")
    func peakTimeFromTicks() {
        var analyzer = TraceAnalyzer()
        analyzer.time(thread: 0, nanoseconds: 5_000_000)
        analyzer.allocation(thread: 0, size: 200, stackID: 1)
        // Threads interleaved differently in the process: the exact peak was 300.
        analyzer.tick(TickRecord(nanoseconds: 10_000_000, heapBytes: 100, heapPeakBytes: 100, rssBytes: 1000))
        analyzer.tick(TickRecord(nanoseconds: 20_000_000, heapBytes: 50, heapPeakBytes: 300, rssBytes: 5000))
        analyzer.end(EndRecord(nanoseconds: 30_000_000, heapPeakBytes: 300, threadCount: 2, flags: .viaExit))
        let analysis = analyzer.analysis()
        #expect(analysis.peakHeapBytes == 300)
        #expect(analysis.replayPeakBytes == 200)
        #expect(analysis.peakNanoseconds == 20_000_000)
    }

    @Test("peak, its time, RSS and duration come from ticks and the END record")
    func ticksAndEnd() {
        var analyzer = TraceAnalyzer()
        analyzer.process(
            ProcessRecord(
                pid: 42, parentPID: 1, startUnixNanoseconds: 0, pageSize: 4096, executablePath: "/bin/x",
                arguments: ["x"], memprofVersion: "0.1", mode: .full))
        analyzer.threadStarted(index: 0, tid: 42)
        analyzer.time(thread: 0, nanoseconds: 5_000_000)
        analyzer.allocation(thread: 0, size: 300, stackID: 1)
        analyzer.tick(TickRecord(nanoseconds: 10_000_000, heapBytes: 100, heapPeakBytes: 100, rssBytes: 1000))
        analyzer.tick(TickRecord(nanoseconds: 20_000_000, heapBytes: 50, heapPeakBytes: 300, rssBytes: 5000))
        analyzer.tick(TickRecord(nanoseconds: 30_000_000, heapBytes: 300, heapPeakBytes: 300, rssBytes: 3000))
        analyzer.end(EndRecord(nanoseconds: 2_000_000_000, heapPeakBytes: 300, threadCount: 3, flags: .viaExit))
        let analysis = analyzer.analysis()

        #expect(analysis.process?.pid == 42)
        #expect(analysis.peakHeapBytes == 300)
        // The replay reached the exact peak (300) on the thread's clock at 5 ms.
        #expect(analysis.peakNanoseconds == 5_000_000)
        #expect(analysis.peakRSSBytes == 5000)
        #expect(analysis.durationNanoseconds == 2_000_000_000)
        #expect(analysis.durationSeconds == 2)
        #expect(analysis.allocationRatePerSecond == 0.5)
        #expect(analysis.threadCount == 3)
        #expect(analysis.end?.flags == .viaExit)
        #expect(analysis.leaksRecorded)  // END seen: no LEAK records means nothing leaked
        #expect(analysis.timeline.count == 3)
        #expect(analysis.trend.sampleCount == 3)
    }

    @Test("without END or a matching tick, the peak and its time come from the replay")
    func peakFromReplay() {
        var analyzer = TraceAnalyzer()
        analyzer.tick(TickRecord(nanoseconds: 10_000_000, heapBytes: 0, heapPeakBytes: 0, rssBytes: 0))
        analyzer.threadBlock(thread: 0)
        analyzer.time(thread: 0, nanoseconds: 15_000_000)
        analyzer.allocation(thread: 0, size: 64, stackID: 0)
        analyzer.threadBlock(thread: 1)
        analyzer.time(thread: 1, nanoseconds: 12_000_000)
        analyzer.threadBlock(thread: 0)  // thread 0's clock is restored: 15 ms
        analyzer.allocation(thread: 0, size: 64, stackID: 0)
        let analysis = analyzer.analysis(truncation: .init(offset: 4096, reason: "the file ends inside a block"))

        #expect(analysis.peakHeapBytes == 128)
        #expect(analysis.peakNanoseconds == 15_000_000)
        #expect(analysis.durationNanoseconds == 15_000_000)
        #expect(analysis.threadCount == 0)
        #expect(analysis.end == nil)
        #expect(!analysis.leaksRecorded)
        #expect(analysis.isTruncated)
        #expect(analysis.truncation?.description == "truncated at byte 4096: the file ends inside a block")
    }

    @Test("the timeline is thinned to its capacity and keeps the first and last ticks")
    func timelineIsBounded() {
        var analyzer = TraceAnalyzer(timelineCapacity: 4)
        for index in 0..<10 as Range<UInt64> {
            analyzer.tick(TickRecord(nanoseconds: index * 10, heapBytes: index, heapPeakBytes: index, rssBytes: 0))
        }
        let timeline = analyzer.analysis().timeline
        #expect(timeline.count <= 5)
        #expect(timeline.first?.nanoseconds == 0)
        #expect(timeline.last?.nanoseconds == 90)
        #expect(timeline.map(\.nanoseconds) == timeline.map(\.nanoseconds).sorted())
        #expect(analyzer.analysis().trend.sampleCount == 10)  // trend uses every tick
    }

    @Test("modules and stacks are kept for symbolization")
    func modulesAndStacks() {
        var analyzer = TraceAnalyzer()
        let module = ModuleRecord(generation: 0, loadBias: 0x1000, path: "/bin/x", buildID: [1, 2], segments: [])
        analyzer.module(module)
        analyzer.allocation(thread: 0, size: 1, stackID: 5)  // referenced before defined
        analyzer.stack(StackRecord(id: 5, moduleGeneration: 0, frames: [0x1234, 0x5678]))
        let analysis = analyzer.analysis()
        #expect(analysis.modules == [module])
        #expect(analysis.stacks[5]?.frames == [0x1234, 0x5678])
    }
}

/// A small seeded generator, so randomized tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
