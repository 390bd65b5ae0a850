import Foundation
import MemprofTrace
import Testing

/// Golden files: checked-in traces and the text the reader must make of them.
///
/// `small.mprof` is uncompressed, so the test also proves `TraceBuilder` still writes
/// it byte for byte; `small-zstd.mprof` holds the same records compressed. After an
/// intended format change, regenerate both traces and expected texts with
/// `MEMPROF_UPDATE_GOLDEN=1 swift test --filter TraceDumperTests`, then review the diff.
@Suite("TraceDumper")
struct TraceDumperTests {
    static let updating = ProcessInfo.processInfo.environment["MEMPROF_UPDATE_GOLDEN"] != nil

    /// The golden trace: a small two-thread program with every record type.
    /// The golden files are format version 1 (before tail blocks): they also check
    /// that version 1 files stay readable.
    static func goldenTrace(codec: TraceBuilder.Codec) -> [UInt8] {
        var trace = TraceBuilder(codec: codec, versionMajor: 1, versionMinor: 0)
        trace.process(
            ProcessRecord(
                pid: 31337, parentPID: 31000, startUnixNanoseconds: 1_763_913_600_000_000_000, pageSize: 4096,
                executablePath: "/opt/demo/bin/demo", arguments: ["demo", "--items", "3"], memprofVersion: "0.1.0",
                mode: .full))
        trace.threadStarted(index: 0, tid: 31337)
        trace.module(
            ModuleRecord(
                generation: 0, loadBias: 0x5555_5555_4000, path: "/opt/demo/bin/demo",
                buildID: [0x1f, 0x2e, 0x3d, 0x4c, 0x5b, 0x6a, 0x79, 0x88],
                segments: [
                    .init(virtualAddress: 0, memorySize: 0x1000, flags: 1),
                    .init(virtualAddress: 0x1000, memorySize: 0x2000, flags: 5),
                    .init(virtualAddress: 0x3000, memorySize: 0x800, flags: 3),
                ]),
            thread: 0)
        trace.module(
            ModuleRecord(
                generation: 0, loadBias: 0x7fff_f7d8_0000, path: "/usr/lib/x86_64-linux-gnu/libc.so.6", buildID: [],
                segments: [.init(virtualAddress: 0x28000, memorySize: 0x195000, flags: 5)]),
            thread: 0)
        trace.stack(StackRecord(id: 1, moduleGeneration: 0, frames: [0x5555_5555_5123, 0x5555_5555_5300]), thread: 0)
        trace.time(thread: 0, nanoseconds: 120_000)
        trace.allocation(thread: 0, size: 24, stackID: 1)
        trace.allocation(thread: 0, size: 4096, stackID: 1)
        trace.deallocation(thread: 0, size: 4096, stackID: 1, temporary: true)
        trace.tick(TickRecord(nanoseconds: 10_000_000, heapBytes: 24, heapPeakBytes: 4120, rssBytes: 3_145_728))
        trace.threadStarted(index: 1, tid: 31338)
        trace.stack(
            StackRecord(id: 2, moduleGeneration: 0, frames: [0x7fff_f7da_9000, 0x5555_5555_5200, 0x5555_5555_5300]),
            thread: 1)
        trace.time(thread: 1, nanoseconds: 15_000_000)
        trace.allocation(thread: 1, size: 100, stackID: 2)
        trace.unknownDeallocation(thread: 1)
        trace.time(thread: 0, nanoseconds: 20_000_000)
        trace.deallocation(thread: 0, size: 24, stackID: 1, temporary: false)
        trace.leak(LeakRecord(stackID: 2, size: 100, address: 0x5555_5556_a2c0, kind: .definite))
        trace.end(EndRecord(nanoseconds: 21_000_000, heapPeakBytes: 4120, threadCount: 2, flags: .viaExit))
        return trace.finish()
    }

    static let cases: [(name: String, codec: TraceBuilder.Codec)] = [("small", .none), ("small-zstd", .zstd())]

    static var sourceGoldenDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
    }

    static func bundled(_ name: String, _ fileExtension: String) throws -> URL {
        try #require(Bundle.module.url(forResource: name, withExtension: fileExtension, subdirectory: "Golden"))
    }

    @Test("the dump of each golden trace equals its expected text", arguments: cases.map(\.name))
    func goldenDump(name: String) throws {
        if Self.updating {
            let trace = try #require(Self.cases.first { $0.name == name })
            let traceURL = Self.sourceGoldenDirectory.appendingPathComponent("\(name).mprof")
            try Data(Self.goldenTrace(codec: trace.codec)).write(to: traceURL)
            let text = try TraceDumper.dump(path: traceURL.path)
            try Data(text.utf8).write(to: Self.sourceGoldenDirectory.appendingPathComponent("\(name).expected.txt"))
            return
        }
        let dump = try TraceDumper.dump(path: try Self.bundled(name, "mprof").path)
        let expected = try String(contentsOf: try Self.bundled("\(name).expected", "txt"), encoding: .utf8)
        #expect(dump == expected)
    }

    @Test("TraceBuilder still writes the uncompressed golden trace byte for byte")
    func builderMatchesGolden() throws {
        guard !Self.updating else { return }  // goldenDump is rewriting the file
        let golden = try [UInt8](Data(contentsOf: try Self.bundled("small", "mprof")))
        #expect(Self.goldenTrace(codec: .none) == golden)
    }

    @Test("the streaming initializer emits the same lines as dump(path:)")
    func streamingLines() throws {
        let file = try TemporaryTrace(Self.goldenTrace(codec: .none))
        var lines: [String] = []
        var dumper = TraceDumper { lines.append($0) }
        _ = try TraceReader(path: file.path).read(into: &dumper)
        let text = try TraceDumper.dump(path: file.path)
        let inner = text.split(separator: "\n").dropFirst().dropLast().map(String.init)
        #expect(lines == inner)
        #expect(lines.count == 22)
    }

    @Test("a truncated trace's dump ends with where it was cut")
    func truncatedSummary() throws {
        let bytes = Self.goldenTrace(codec: .none)
        let file = try TemporaryTrace(Array(bytes.dropLast(3)))
        let text = try TraceDumper.dump(path: file.path)
        let last = try #require(text.split(separator: "\n").last)
        #expect(last.hasPrefix("summary blocks="))
        #expect(last.contains("truncated at byte"))
        #expect(last.contains("the file ends inside a block"))
    }
}
