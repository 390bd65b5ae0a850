import Foundation
import MemprofTrace
import Testing

@testable import MemprofAnalysis

/// The analyzer behind the real reader: a trace encoded by `TraceBuilder`, written to a
/// file, read back by `TraceReader`.
extension TraceAnalyzerTests {
    /// Two threads; thread 1's block comes after thread 0's although its free of a block
    /// from stack 1 happened in between. Figures in the comments.
    private static func trace() -> TraceBuilder {
        var trace = TraceBuilder(codec: .zstd())
        trace.process(
            ProcessRecord(
                pid: 7, parentPID: 1, startUnixNanoseconds: 1_000, pageSize: 4096, executablePath: "/bin/demo",
                arguments: ["demo", "-v"], memprofVersion: "0.1.0", mode: .full))
        trace.threadStarted(index: 0, tid: 7)
        trace.threadStarted(index: 1, tid: 8)
        trace.module(
            ModuleRecord(
                generation: 0, loadBias: 0x400000, path: "/bin/demo", buildID: [0xde, 0xad],
                segments: [.init(virtualAddress: 0x1000, memorySize: 0x2000, flags: 5)]))
        trace.stack(StackRecord(id: 1, moduleGeneration: 0, frames: [0x401010, 0x401200]))
        trace.stack(StackRecord(id: 2, moduleGeneration: 0, frames: [0x401020, 0x401200]))
        trace.time(thread: 0, nanoseconds: 1_000_000)
        for _ in 0..<1000 {
            trace.allocation(thread: 0, size: 24, stackID: 2)
            trace.deallocation(thread: 0, size: 24, stackID: 2, temporary: true)
        }
        trace.allocation(thread: 0, size: 4096, stackID: 1)  // heap 4096
        trace.allocation(thread: 0, size: 100, stackID: 1)  // heap 4196: the peak
        trace.tick(TickRecord(nanoseconds: 10_000_000, heapBytes: 4196, heapPeakBytes: 4196, rssBytes: 1 << 20))
        trace.beginBlock(kind: .thread, thread: 1)
        trace.time(thread: 1, nanoseconds: 12_000_000)
        trace.deallocation(thread: 1, size: 4096, stackID: 1)  // heap 100
        trace.unknownDeallocation(thread: 1)
        trace.tick(TickRecord(nanoseconds: 20_000_000, heapBytes: 100, heapPeakBytes: 4196, rssBytes: 2 << 20))
        trace.leak(LeakRecord(stackID: 1, size: 100, address: 0x7f00_0000_1000, kind: .unfreed))
        trace.end(EndRecord(nanoseconds: 25_000_000, heapPeakBytes: 4196, threadCount: 2, flags: .viaExit))
        return trace
    }

    private static func analyse(_ bytes: [UInt8]) throws -> Analysis {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("memprof-analyzer-\(UUID().uuidString).mprof").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let reader = try TraceReader(path: path)
        var analyzer = TraceAnalyzer()
        let summary = try reader.read(into: &analyzer)
        return analyzer.analysis(readSummary: summary)
    }

    @Test("a trace file read by TraceReader gives the expected analysis")
    func readsATraceFile() throws {
        var trace = Self.trace()
        let analysis = try Self.analyse(trace.finish())

        #expect(analysis.process?.arguments == ["demo", "-v"])
        #expect(analysis.modules.map(\.path) == ["/bin/demo"])
        #expect(analysis.stacks.keys.sorted() == [1, 2])
        #expect(analysis.allocationCount == 1002)
        #expect(analysis.deallocationCount == 1002)
        #expect(analysis.unknownDeallocationCount == 1)
        #expect(analysis.totalAllocatedBytes == 24_000 + 4196)
        #expect(analysis.currentBytes == 100)
        #expect(analysis.temporaryAllocationCount == 1000)
        #expect(analysis.peakHeapBytes == 4196)
        // The replay reached the exact peak after the thread's TIME of 1 ms: that clock
        // times it, finer than the 10 ms tick.
        #expect(analysis.peakNanoseconds == 1_000_000)
        #expect(analysis.peakRSSBytes == 2 << 20)
        #expect(analysis.durationNanoseconds == 25_000_000)
        #expect(analysis.threadCount == 2)
        #expect(analysis.sizes.median == 24)
        #expect(analysis.leakGroups == [LeakGroup(stackID: 1, kind: .unfreed, blocks: 1, bytes: 100)])
        #expect(analysis.truncation == nil)
        let heavy = analysis.stackStatistics.first { $0.stackID == 1 }?.totals
        #expect(
            heavy
                == AllocationTotals(
                    allocations: 2, deallocations: 1, allocatedBytes: 4196, deallocatedBytes: 4096, liveBytes: 100,
                    peakBytes: 4196, leakedBytes: 100, leakedBlocks: 1))
        #expect(analysis.stackStatistics.first { $0.stackID == 2 }?.totals.peakBytes == 0)
    }

    @Test("a file cut inside its last block is analysed up to where it ends")
    func truncatedFile() throws {
        var trace = Self.trace()
        let bytes = trace.finish()
        let lastBlock = try #require(trace.blockOffsets.last)
        let analysis = try Self.analyse(Array(bytes[..<(lastBlock + 10)]))

        let truncation = try #require(analysis.truncation)
        #expect(truncation.offset == UInt64(lastBlock))
        #expect(analysis.end == nil)
        #expect(!analysis.leaksRecorded)
        #expect(analysis.allocationCount >= 1000)  // the events before the cut were counted
    }
}
