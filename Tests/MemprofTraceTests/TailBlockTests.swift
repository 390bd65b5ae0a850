import CMemprofFormat
import Foundation
import MemprofTrace
import Testing

/// Thread tail blocks: periodic copies of a thread's unfinished buffer. A later block
/// of the same thread supersedes a tail; a tail nothing supersedes (the process was
/// killed) is the thread's last events.
@Suite("Thread tail blocks")
struct TailBlockTests {
    /// Writes one uncompressed block of `kind` for `thread` with allocations (stack 1)
    /// of the given sizes, each under 128 bytes (one-byte varints).
    static func block(_ builder: inout TraceBuilder, _ kind: TraceBuilder.BlockKind, thread: UInt32, sizes: [UInt64]) {
        let payload: [UInt8] = sizes.flatMap { size -> [UInt8] in [UInt8(MEMPROF_TAG_ALLOC.rawValue), UInt8(size), 1] }
        let raw = kind == .thread ? MEMPROF_BLOCK_THREAD.rawValue : MEMPROF_BLOCK_THREAD_TAIL.rawValue
        builder.appendRawBlock(kind: UInt8(raw), codec: 0, thread: thread, payload: payload)
    }

    static func sizes(_ events: [Event], thread: UInt32) -> [UInt64] {
        events.compactMap {
            if case .allocation(let t, let size, _) = $0, t == thread { return size }
            return nil
        }
    }

    @Test("a tail superseded by the thread's next block is not decoded; the others' tails are")
    func superseded() throws {
        var builder = TraceBuilder()
        Self.block(&builder, .thread, thread: 1, sizes: [1])
        Self.block(&builder, .threadTail, thread: 1, sizes: [2, 3])  // superseded below
        Self.block(&builder, .threadTail, thread: 2, sizes: [20])  // superseded by the next tail
        Self.block(&builder, .threadTail, thread: 2, sizes: [20, 21])
        Self.block(&builder, .thread, thread: 1, sizes: [2, 3, 4])
        Self.block(&builder, .threadTail, thread: 1, sizes: [5])
        let outcome = try readTrace(builder.finish())
        #expect(outcome.error == nil)
        #expect(Self.sizes(outcome.events, thread: 1) == [1, 2, 3, 4, 5])
        #expect(Self.sizes(outcome.events, thread: 2) == [20, 21])
        // No END: the summary says the trace was cut short.
        #expect(outcome.summary?.truncation != nil)
    }

    @Test("version 1 files (no tail blocks) are still read")
    func versionOne() throws {
        var builder = TraceBuilder(versionMajor: 1)
        builder.allocation(thread: 0, size: 9, stackID: 1)
        builder.end(Samples.end)
        let outcome = try readTrace(builder.finish())
        #expect(outcome.error == nil)
        #expect(Self.sizes(outcome.events, thread: 0) == [9])
    }
}

@Suite("JEMALLOC record")
struct JemallocRecordTests {
    @Test("a JEMALLOC record round-trips through the builder and the reader")
    func roundTrip() throws {
        let record = JemallocStatsRecord(
            nanoseconds: 1_000_000_000, allocated: 1 << 20, active: 2 << 20, metadata: 300_000, resident: 3 << 20,
            mapped: 1 << 30, retained: 5 << 20)
        struct Collect: TraceVisitor {
            var records: [JemallocStatsRecord] = []
            mutating func jemalloc(_ record: JemallocStatsRecord) { records.append(record) }
        }
        var builder = TraceBuilder()
        builder.jemalloc(record)
        builder.end(Samples.end)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("je-\(getpid()).mprof").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(builder.finish()).write(to: URL(fileURLWithPath: path))
        var visitor = Collect()
        _ = try TraceReader(path: path).read(into: &visitor)
        #expect(visitor.records == [record])
    }
}
