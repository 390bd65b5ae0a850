import MemprofAnalysis
import MemprofReport
import MemprofSymbolize
import MemprofTrace

/// A hand-built analysis with known figures, and fake symbolization for its stacks.
///
/// Stacks 1 and 2 allocate in `make_buffer` at leak.c:12 (through different callers),
/// stack 3 through `operator new` in `Parser::parse()`, stack 4 was never defined
/// (its STACK record was lost).
enum Fixture {
    static let executable = "/work/examples/leaky"
    static let preload = "/usr/lib/memprof/libmemprof.so"

    static func frame(
        _ address: UInt64, _ function: String?, _ file: String? = nil, _ line: Int = 0, module: String = executable,
        inlined: Bool = false
    ) -> SymbolizedFrame {
        SymbolizedFrame(
            address: address, function: function, location: file.map { SourceLocation(file: $0, line: line) },
            module: module, isInlined: inlined)
    }

    static let frames: [UInt64: SymbolizedFrame] = [
        0x10: frame(0x10, "malloc", module: preload),
        0x20: frame(0x20, "operator new(unsigned long)", module: "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"),
        0x100: frame(0x100, "make_buffer", "/work/examples/leak.c", 12),
        0x200: frame(0x200, "main", "/work/examples/leak.c", 30),
        0x300: frame(0x300, "helper", "/work/examples/leak.c", 40),
        0x400: frame(0x400, "Parser::parse()", "/work/examples/parser.cpp", 88),
        0x500: frame(0x500, "__libc_start_call_main", module: "/usr/lib/x86_64-linux-gnu/libc.so.6"),
    ]

    /// Symbolizes by table lookup; unknown addresses get a bare frame.
    static func resolve(_ stack: StackRecord) -> [SymbolizedFrame] {
        stack.frames.map {
            frames[$0] ?? SymbolizedFrame(address: $0, function: nil, location: nil, module: nil, isInlined: false)
        }
    }

    static let process = ProcessRecord(
        pid: 4242, parentPID: 4200, startUnixNanoseconds: 1_700_000_000_500_000_000, pageSize: 4096,
        executablePath: executable, arguments: ["./leaky", "3", "hello world"], memprofVersion: "0.1.0", mode: .full)

    static let ticks = [
        TickRecord(nanoseconds: 500_000_000, heapBytes: 100, heapPeakBytes: 100, rssBytes: 4 << 20),
        TickRecord(nanoseconds: 1_500_000_000, heapBytes: 1364, heapPeakBytes: 1364, rssBytes: 8 << 20),
        TickRecord(nanoseconds: 2_500_000_000, heapBytes: 216, heapPeakBytes: 1364, rssBytes: 6 << 20),
    ]

    static func analysis(truncation: Analysis.Truncation? = nil) -> Analysis {
        Analysis(
            process: process,
            modules: [ModuleRecord(generation: 0, loadBias: 0, path: executable, buildID: [0xab], segments: [])],
            stacks: [
                1: StackRecord(id: 1, moduleGeneration: 0, frames: [0x10, 0x100, 0x200, 0x500]),
                2: StackRecord(id: 2, moduleGeneration: 0, frames: [0x10, 0x100, 0x300, 0x200, 0x500]),
                3: StackRecord(id: 3, moduleGeneration: 0, frames: [0x10, 0x20, 0x400, 0x200, 0x500]),
            ],
            threadCount: 2,
            durationNanoseconds: 2_500_000_000,
            allocationCount: 116,
            deallocationCount: 114,
            unknownDeallocationCount: 1,
            totalAllocatedBytes: 9216,
            totalDeallocatedBytes: 9000,
            currentBytes: 216,
            peakHeapBytes: 1364,
            peakNanoseconds: 1_500_000_000,
            replayPeakBytes: 1364,
            peakRSSBytes: 8 << 20,
            temporaryAllocationCount: 52,
            sizes: SizeDistribution(buckets: [
                .init(size: 100, count: 10), .init(size: 1000, count: 5), .init(size: 32, count: 100),
                .init(size: 16, count: 1),
            ]),
            stackStatistics: [
                StackStatistics(
                    stackID: 1,
                    totals: AllocationTotals(
                        allocations: 10, deallocations: 8, allocatedBytes: 1000, deallocatedBytes: 800, liveBytes: 200,
                        peakBytes: 300, temporaryAllocations: 2, leakedBytes: 200, leakedBlocks: 2)),
                StackStatistics(
                    stackID: 2,
                    totals: AllocationTotals(
                        allocations: 5, deallocations: 5, allocatedBytes: 5000, deallocatedBytes: 5000, peakBytes: 1000)
                ),
                StackStatistics(
                    stackID: 3,
                    totals: AllocationTotals(
                        allocations: 100, deallocations: 100, allocatedBytes: 3200, deallocatedBytes: 3200,
                        peakBytes: 64,
                        temporaryAllocations: 50)),
                StackStatistics(
                    stackID: 4,
                    totals: AllocationTotals(
                        allocations: 1, allocatedBytes: 16, liveBytes: 16, leakedBytes: 16, leakedBlocks: 1)),
            ],
            leakGroups: [
                LeakGroup(stackID: 1, kind: .unfreed, blocks: 2, bytes: 200),
                LeakGroup(stackID: 4, kind: .unfreed, blocks: 1, bytes: 16),
            ],
            leaksRecorded: true,
            timeline: ticks,
            trend: TrendStatistics(ticks: ticks),
            truncation: truncation,
            end: EndRecord(nanoseconds: 2_500_000_000, heapPeakBytes: 1364, threadCount: 2, flags: .viaExit))
    }

    static func report(truncation: Analysis.Truncation? = nil) -> Report {
        Report(analysis: analysis(truncation: truncation), tracePath: "leaky.mprof", resolve: resolve)
    }

    /// ``analysis(truncation:)`` with its blocks not freed at exit classified by a
    /// reachability scan (630 B in 8 blocks):
    ///
    /// | stack | location                  | kind      | blocks | bytes |
    /// | ----: | ------------------------- | --------- | -----: | ----: |
    /// | 1     | make_buffer, from main    | definite  | 2      | 200   |
    /// | 1     | make_buffer, from main    | indirect  | 1      | 50    |
    /// | 2     | make_buffer, from helper  | reachable | 3      | 300   |
    /// | 3     | Parser::parse()           | possible  | 1      | 64    |
    /// | 4     | (stack not recorded)      | definite  | 1      | 16    |
    static func classifiedAnalysis() -> Analysis {
        var analysis = analysis()
        analysis.leakGroups = [
            LeakGroup(stackID: 2, kind: .reachable, blocks: 3, bytes: 300),
            LeakGroup(stackID: 1, kind: .definite, blocks: 2, bytes: 200),
            LeakGroup(stackID: 3, kind: .possible, blocks: 1, bytes: 64),
            LeakGroup(stackID: 1, kind: .indirect, blocks: 1, bytes: 50),
            LeakGroup(stackID: 4, kind: .definite, blocks: 1, bytes: 16),
        ]
        let leaked: [UInt32: (blocks: UInt64, bytes: UInt64)] = [1: (3, 250), 2: (3, 300), 3: (1, 64), 4: (1, 16)]
        for index in analysis.stackStatistics.indices {
            let id = analysis.stackStatistics[index].stackID
            analysis.stackStatistics[index].totals.leakedBytes = leaked[id]?.bytes ?? 0
            analysis.stackStatistics[index].totals.leakedBlocks = leaked[id]?.blocks ?? 0
        }
        return analysis
    }

    /// The classified analysis's report under `policy`.
    static func classifiedReport(_ policy: LeakPolicy = .default) -> Report {
        Report(analysis: classifiedAnalysis(), tracePath: "leaky.mprof", leakPolicy: policy, resolve: resolve)
    }
}
