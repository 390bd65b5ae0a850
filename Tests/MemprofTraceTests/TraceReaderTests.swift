import CMemprofFormat
import Foundation
import MemprofTrace
import Testing

@Suite("TraceReader")
struct TraceReaderTests {
    static let codecs: [TraceBuilder.Codec] = [.none, .zstd()]

    @Test("every record type round-trips", arguments: codecs)
    func everyRecordRoundTrips(codec: TraceBuilder.Codec) throws {
        var builder = TraceBuilder(codec: codec)
        for event in Samples.everyRecord {
            builder.write(event)
        }
        let bytes = builder.finish()
        let outcome = try readTrace(bytes)

        #expect(outcome.error == nil)
        #expect(outcome.records == Samples.everyRecord)
        let summary = try #require(outcome.summary)
        #expect(summary.truncation == nil)
        #expect(summary.blockCount == builder.blockOffsets.count)
        #expect(summary.byteCount == UInt64(bytes.count))
        // Thread blocks as written: thread 0 (module … unknown free), then thread 1.
        #expect(outcome.events.filter(\.isThreadBlockMarker) == [.threadBlock(0), .threadBlock(1)])
    }

    @Test("the header's version is reported")
    func headerVersion() throws {
        var builder = TraceBuilder()
        builder.end(Samples.end)
        let file = try TemporaryTrace(builder.finish())
        let reader = try TraceReader(path: file.path)
        #expect(reader.path == file.path)
        #expect(
            reader.header
                == TraceFileHeader(
                    versionMajor: UInt16(MEMPROF_FORMAT_VERSION_MAJOR),
                    versionMinor: UInt16(MEMPROF_FORMAT_VERSION_MINOR)))
    }

    @Test("a newer minor version of the same major version is read")
    func newerMinorVersion() throws {
        var builder = TraceBuilder(versionMinor: 7)
        builder.allocation(thread: 0, size: 1, stackID: 1)
        builder.end(Samples.end)
        let file = try TemporaryTrace(builder.finish())
        let reader = try TraceReader(path: file.path)
        #expect(reader.header.versionMinor == 7)
        var visitor = RecordingVisitor()
        let summary = try reader.read(into: &visitor)
        #expect(summary.truncation == nil)
        #expect(visitor.records.count == 2)
    }

    @Test("threadBlock is called at the start of every thread block", arguments: codecs)
    func threadBlocksAreAnnounced(codec: TraceBuilder.Codec) throws {
        // A 16-byte block size splits each thread's run of events into several blocks.
        var builder = TraceBuilder(codec: codec, blockSize: 16)
        var expected: [Event] = []
        for round in 0..<3 {
            for thread: UInt32 in [3, 9] {
                expected.append(.threadBlock(thread))
                for index in 0..<8 {
                    // Records are 3 bytes; a block closes once it holds 16 or more,
                    // so after 6 records.
                    if index == 6 {
                        expected.append(.threadBlock(thread))
                    }
                    let event = Event.allocation(thread: thread, size: UInt64(index), stackID: UInt32(round))
                    builder.write(event)
                    expected.append(event)
                }
            }
        }
        builder.end(Samples.end)
        expected.append(.end(Samples.end))

        let outcome = try readTrace(builder.finish())
        #expect(outcome.error == nil)
        #expect(outcome.events == expected)
        #expect(outcome.summary?.blockCount == 13)
    }

    @Test("reading twice gives the same records")
    func readTwice() throws {
        var builder = TraceBuilder(codec: .zstd())
        Samples.everyRecord.forEach { builder.write($0) }
        let file = try TemporaryTrace(builder.finish())
        let reader = try TraceReader(path: file.path)
        var first = RecordingVisitor()
        var second = RecordingVisitor()
        let summary = try reader.read(into: &first)
        #expect(try reader.read(into: &second) == summary)
        #expect(first.events == second.events)
    }

    @Test("invalid UTF-8 in paths and arguments decodes lossily")
    func invalidUTF8IsReplaced() throws {
        var builder = TraceBuilder()
        builder.beginBlock(kind: .thread, thread: 0)
        // MODULE generation 0, bias 0, path "f\xFFo", no build-id, no segments.
        builder.appendRawRecordBytes([UInt8(MEMPROF_TAG_MODULE.rawValue), 0, 0, 3, 0x66, 0xff, 0x6f, 0, 0])
        builder.end(Samples.end)
        let outcome = try readTrace(builder.finish())
        #expect(outcome.error == nil)
        #expect(
            outcome.records.first
                == .module(ModuleRecord(generation: 0, loadBias: 0, path: "f\u{FFFD}o", buildID: [], segments: [])))
    }

    @Test("an empty block is valid and delivers nothing but its start")
    func emptyBlock() throws {
        var builder = TraceBuilder()
        builder.appendRawBlock(kind: UInt8(MEMPROF_BLOCK_THREAD.rawValue), codec: 0, thread: 4, payload: [])
        builder.end(Samples.end)
        let outcome = try readTrace(builder.finish())
        #expect(outcome.error == nil)
        #expect(outcome.events == [.threadBlock(4), .end(Samples.end)])
        #expect(outcome.summary?.truncation == nil)
    }

    @Test("blocks after the END block are still read")
    func blocksAfterEnd() throws {
        // A writer may flush a thread's last buffer after END; the trace is complete.
        var builder = TraceBuilder()
        builder.end(Samples.end)
        builder.allocation(thread: 2, size: 5, stackID: 1)
        let outcome = try readTrace(builder.finish())
        #expect(outcome.error == nil)
        #expect(outcome.records == [.end(Samples.end), .allocation(thread: 2, size: 5, stackID: 1)])
        #expect(outcome.summary?.truncation == nil)
    }

    /// Counts without storing: the shape of a real analysis visitor.
    struct Totals: TraceVisitor {
        var allocations = 0
        var deallocations = 0
        var temporary = 0
        var bytesAllocated: UInt64 = 0
        var bytesFreed: UInt64 = 0
        var threadBlocks = 0
        var ended = false

        mutating func allocation(thread: UInt32, size: UInt64, stackID: UInt32) {
            allocations += 1
            bytesAllocated += size
        }
        mutating func deallocation(thread: UInt32, size: UInt64, stackID: UInt32, temporary: Bool) {
            deallocations += 1
            bytesFreed += size
            if temporary { self.temporary += 1 }
        }
        mutating func threadBlock(thread: UInt32) { threadBlocks += 1 }
        mutating func end(_ record: EndRecord) { ended = true }
    }

    @Test("two million events stream through in many blocks")
    func largeTraceStreams() throws {
        let pairs = 1_000_000
        var builder = TraceBuilder(codec: .zstd(level: 1))
        var expectedBytes: UInt64 = 0
        for index in 0..<pairs {
            // Runs of 10,000 pairs per thread, as per-thread buffers would flush them.
            let thread = UInt32(index / 10_000 % 4)
            let size = UInt64(16 + index % 3000)
            let stack = UInt32(index % 1000)
            builder.allocation(thread: thread, size: size, stackID: stack)
            builder.deallocation(thread: thread, size: size, stackID: stack, temporary: index % 2 == 0)
            expectedBytes += size
        }
        builder.end(Samples.end)
        let bytes = builder.finish()
        let file = try TemporaryTrace(bytes)

        var totals = Totals()
        let summary = try TraceReader(path: file.path).read(into: &totals)
        #expect(summary.truncation == nil)
        #expect(summary.byteCount == UInt64(bytes.count))
        #expect(totals.allocations == pairs)
        #expect(totals.deallocations == pairs)
        #expect(totals.temporary == pairs / 2)
        #expect(totals.bytesAllocated == expectedBytes)
        #expect(totals.bytesFreed == expectedBytes)
        #expect(totals.ended)
        // Many blocks, each decoded and dropped before the next is read; all but the
        // last (END) are thread blocks.
        #expect(totals.threadBlocks == summary.blockCount - 1)
        #expect(summary.blockCount > 100)
    }
}
