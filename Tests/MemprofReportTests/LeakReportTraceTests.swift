import Foundation
import MemprofAnalysis
import MemprofSymbolize
import MemprofTrace
import Testing

@testable import MemprofReport

/// The whole way from a trace with a classified leak report (as the preload's scan at
/// exit writes it) to the JSON figures, through `TraceReader` and `TraceAnalyzer`.
@Suite("Leak report from a trace")
struct LeakReportTraceTests {
    /// Stack 1: `lose` (lost.c) allocates 64 B definitely lost and 16 B indirectly lost;
    /// stack 2: `cache_get` (cache.c) 500 B still reachable; stack 3: `vendor_init` in
    /// libvendor.so, 32 B definitely lost.
    private static let frames: [UInt64: SymbolizedFrame] = [
        0x10: Fixture.frame(0x10, "malloc", module: Fixture.preload),
        0x100: Fixture.frame(0x100, "lose", "/src/lost.c", 5, module: "/bin/app"),
        0x200: Fixture.frame(0x200, "cache_get", "/src/cache.c", 9, module: "/bin/app"),
        0x300: Fixture.frame(0x300, "vendor_init", module: "/opt/lib/libvendor.so"),
        0x900: Fixture.frame(0x900, "main", "/src/main.c", 3, module: "/bin/app"),
    ]

    private static func analysis() throws -> Analysis {
        var trace = TraceBuilder(codec: .zstd())
        trace.threadStarted(index: 0, tid: 1)
        trace.stack(StackRecord(id: 1, moduleGeneration: 0, frames: [0x10, 0x100, 0x900]))
        trace.stack(StackRecord(id: 2, moduleGeneration: 0, frames: [0x10, 0x200, 0x900]))
        trace.stack(StackRecord(id: 3, moduleGeneration: 0, frames: [0x10, 0x300, 0x900]))
        trace.allocation(thread: 0, size: 64, stackID: 1)
        trace.allocation(thread: 0, size: 16, stackID: 1)
        trace.allocation(thread: 0, size: 500, stackID: 2)
        trace.allocation(thread: 0, size: 32, stackID: 3)
        trace.leak(LeakRecord(stackID: 1, size: 64, address: 0x1000, kind: .definite))
        trace.leak(LeakRecord(stackID: 1, size: 16, address: 0x2000, kind: .indirect))
        trace.leak(LeakRecord(stackID: 2, size: 500, address: 0x3000, kind: .reachable))
        trace.leak(LeakRecord(stackID: 3, size: 32, address: 0x4000, kind: .definite))
        trace.end(EndRecord(nanoseconds: 1_000_000, heapPeakBytes: 612, threadCount: 1, flags: .viaExit))

        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("memprof-leaks-\(UUID().uuidString).mprof").path
        try Data(trace.finish()).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        var analyzer = TraceAnalyzer()
        let summary = try TraceReader(path: path).read(into: &analyzer)
        return analyzer.analysis(readSummary: summary)
    }

    private static func json(_ policy: LeakPolicy) throws -> [String: Any] {
        let report = Report(analysis: try analysis(), leakPolicy: policy) { address, _ in [frames[address]!] }
        let data = try JSONReportRenderer().data(report)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try #require(object["leaks"] as? [String: Any])
    }

    private static func int(_ object: [String: Any], _ key: String) -> Int? { (object[key] as? NSNumber)?.intValue }

    @Test("by default: definite and indirect count, still reachable is listed only")
    func defaults() throws {
        let leaks = try Self.json(.default)
        #expect(Self.int(leaks, "total_leaked_bytes") == 112)
        #expect(Self.int(leaks, "leaked_blocks") == 3)
        #expect(Self.int(leaks, "leak_count") == 3)
        let list = try #require(leaks["leaks"] as? [[String: Any]])
        #expect(
            list.map { $0["location"] as? String } == [
                "lose (lost.c:5)", "vendor_init (libvendor.so)", "lose (lost.c:5)", "cache_get (cache.c:9)",
            ])
        #expect(list.map { $0["counted"] as? Bool } == [true, true, true, false])
    }

    @Test("kinds and suppressions from the command line's spellings")
    func kindsAndSuppressions() throws {
        let suppressions = try LeakSuppression.parse("# vendor code\nleak:^libvendor.so$\n", file: "vendor.supp")
        let policy = LeakPolicy(
            countedKinds: try LeakPolicy.countedKinds(parsing: "definite,reachable"), suppressions: suppressions)
        let leaks = try Self.json(policy)
        // lose's 64 B definite + cache_get's 500 B reachable; vendor_init's 32 B suppressed.
        #expect(Self.int(leaks, "total_leaked_bytes") == 564)
        #expect(Self.int(leaks, "leaked_blocks") == 2)
        let suppressed = try #require(leaks["suppressed"] as? [[String: Any]])
        #expect(suppressed.count == 1)
        #expect(suppressed[0]["pattern"] as? String == "^libvendor.so$")
        #expect(Self.int(suppressed[0], "count") == 1)
        #expect(Self.int(suppressed[0], "size") == 32)
        let byKind = try #require(leaks["by_kind"] as? [String: [String: Any]])
        #expect(byKind["definite"].flatMap { Self.int($0, "bytes") } == 96)
        #expect(leaks["counted_kinds"] as? [String] == ["unfreed", "definite", "reachable"])
        let list = try #require(leaks["leaks"] as? [[String: Any]])
        #expect(list.map { $0["kind"] as? String } == ["reachable", "definite", "indirect"])
        #expect(list.map { $0["counted"] as? Bool } == [true, true, false])
    }
}
