import CMemprofFormat
import Foundation
import MemprofTrace
import Testing

/// A trace of five blocks whose contents are known block by block, so a test can say
/// exactly which records must have been delivered before a cut or a damaged block.
struct GroupedTrace {
    static let groups: [(kind: TraceBuilder.BlockKind, thread: UInt32, events: [Event])] = [
        (.process, 0, [.process(Samples.process), .threadStarted(index: 0, tid: 100)]),
        (
            .thread, 0,
            [
                .stack(StackRecord(id: 1, moduleGeneration: 0, frames: [0x401000, 0x401100])),
                .allocation(thread: 0, size: 10, stackID: 1), .allocation(thread: 0, size: 300, stackID: 1),
                .allocation(thread: 0, size: 70_000, stackID: 1),
            ]
        ),
        (
            .thread, 1,
            [
                .allocation(thread: 1, size: 20, stackID: 1), .allocation(thread: 1, size: 21, stackID: 1),
                .deallocation(thread: 1, size: 21, stackID: 1, temporary: true),
            ]
        ),
        (
            .thread, 0,
            [.deallocation(thread: 0, size: 10, stackID: 1, temporary: false), .time(thread: 0, nanoseconds: 99)]
        ),
        (.process, 0, [.tick(Samples.tick), .end(Samples.end)]),
    ]

    let bytes: [UInt8]
    /// File offset of each block, and the file size as a last element.
    let offsets: [Int]

    init(codec: TraceBuilder.Codec) {
        var builder = TraceBuilder(codec: codec)
        for group in Self.groups {
            builder.beginBlock(kind: group.kind, thread: group.thread)
            group.events.forEach { builder.write($0, stackThread: group.thread) }
        }
        bytes = builder.finish()
        offsets = builder.blockOffsets + [bytes.count]
    }

    /// The records of blocks `0..<count`.
    static func records(inFirst count: Int) -> [Event] {
        groups.prefix(count).flatMap(\.events)
    }
}

/// Record-level bytes for hand-made damage.
private enum Tag {
    static let alloc = UInt8(MEMPROF_TAG_ALLOC.rawValue)
    static let stack = UInt8(MEMPROF_TAG_STACK.rawValue)
    static let time = UInt8(MEMPROF_TAG_TIME.rawValue)
    static let process = UInt8(MEMPROF_TAG_PROCESS.rawValue)
    static let leak = UInt8(MEMPROF_TAG_LEAK.rawValue)
}

private let threadKind = UInt8(MEMPROF_BLOCK_THREAD.rawValue)
private let processKind = UInt8(MEMPROF_BLOCK_PROCESS.rawValue)
private let codecNone = UInt8(MEMPROF_CODEC_NONE.rawValue)
private let codecZstd = UInt8(MEMPROF_CODEC_ZSTD.rawValue)

extension TraceReaderTests {
    // MARK: Opening

    @Test("a missing file cannot be opened")
    func missingFile() {
        let path = "/nonexistent-memprof-dir/trace.mprof"
        #expect(throws: TraceError.cannotOpen(path: path, reason: "No such file or directory")) {
            try TraceReader(path: path)
        }
    }

    @Test("a directory cannot be opened as a trace")
    func directory() {
        let path = FileManager.default.temporaryDirectory.path
        #expect(throws: TraceError.cannotOpen(path: path, reason: "Is a directory")) {
            try TraceReader(path: path)
        }
    }

    @Test("an empty file is reported as empty")
    func emptyFile() throws {
        let outcome = try readTrace([])
        #expect(outcome.error == .empty(path: outcome.path))
    }

    @Test(
        "bytes that do not start with the magic are not a trace",
        arguments: [Array("hello, this is not a memprof trace at all".utf8), Array("MEMX".utf8), [0x00]])
    func notATrace(bytes: [UInt8]) throws {
        let outcome = try readTrace(bytes)
        #expect(outcome.error == .notATrace(path: outcome.path))
    }

    @Test("a file cut inside the header is a corrupt header", arguments: [2, 8, 11, 20, 31])
    func truncatedHeader(length: Int) throws {
        let full = emptyTrace()
        let outcome = try readTrace(Array(full.prefix(length)))
        let reason = "the file ends inside the 32-byte file header (\(length) bytes present)"
        #expect(outcome.error == .corrupt(path: outcome.path, offset: UInt64(length), reason: reason))
    }

    @Test("a newer major version is refused, even in a short header", arguments: [12, 32])
    func newerMajorVersion(length: Int) throws {
        var builder = TraceBuilder(versionMajor: 9, versionMinor: 2)
        builder.end(Samples.end)
        let outcome = try readTrace(Array(builder.finish().prefix(length)))
        #expect(outcome.error == .unsupportedVersion(path: outcome.path, major: 9, minor: 2))
    }

    @Test("major version 0 is refused")
    func majorVersionZero() throws {
        let outcome = try readTrace(emptyTrace(versionMajor: 0, versionMinor: 3))
        #expect(outcome.error == .unsupportedVersion(path: outcome.path, major: 0, minor: 3))
    }

    @Test("a header that declares another size is corrupt")
    func wrongHeaderSize() throws {
        var bytes = emptyTrace()
        bytes[Int(MEMPROF_FH_HEADER_SIZE)] = 40
        let outcome = try readTrace(bytes)
        let reason = "the header declares 40 bytes; version 2 headers are 32"
        #expect(outcome.error == .corrupt(path: outcome.path, offset: UInt64(MEMPROF_FH_HEADER_SIZE), reason: reason))
    }

    // MARK: Truncation

    @Test("a header without blocks is truncated: no END")
    func headerOnly() throws {
        let outcome = try readTrace(emptyTrace())
        let summary = try #require(outcome.summary)
        #expect(summary.blockCount == 0)
        #expect(summary.byteCount == 32)
        #expect(summary.truncation?.offset == 32)
        #expect(summary.truncation?.reason.contains("no END record") == true)
    }

    @Test("a complete file without END is truncated", arguments: codecs)
    func missingEnd(codec: TraceBuilder.Codec) throws {
        let trace = GroupedTrace(codec: codec)
        // Drop the last block (tick + END): every other block is whole.
        let cut = trace.offsets[4]
        let outcome = try readTrace(Array(trace.bytes.prefix(cut)))
        #expect(outcome.error == nil)
        #expect(outcome.records == GroupedTrace.records(inFirst: 4))
        let reason = "the trace has no END record: the process did not finish writing it (killed or crashed?)"
        #expect(
            outcome.summary
                == TraceReadSummary(
                    blockCount: 4, byteCount: UInt64(cut),
                    truncation: TraceTruncation(offset: UInt64(cut), reason: reason)))
    }

    @Test("a file cut inside any block keeps every earlier block", arguments: codecs)
    func cutInsideBlocks(codec: TraceBuilder.Codec) throws {
        let trace = GroupedTrace(codec: codec)
        let headerSize = Int(MEMPROF_BLOCK_HEADER_SIZE)
        for block in 0..<GroupedTrace.groups.count {
            let start = trace.offsets[block]
            let length = trace.offsets[block + 1] - start
            let cuts = Set([1, 4, 5, headerSize - 1, headerSize, headerSize + (length - headerSize) / 2, length - 1])
            for present in cuts.sorted() where present < length {
                let outcome = try readTrace(Array(trace.bytes.prefix(start + present)))
                let reason =
                    present < headerSize
                    ? "the file ends inside a block header (\(present) of \(headerSize) bytes)"
                    : "the file ends inside a block (\(present) of \(length) bytes)"
                #expect(outcome.error == nil, "block \(block), \(present) bytes")
                #expect(
                    outcome.summary
                        == TraceReadSummary(
                            blockCount: block, byteCount: UInt64(start),
                            truncation: TraceTruncation(offset: UInt64(start), reason: reason)),
                    "block \(block), \(present) bytes")
                #expect(outcome.records == GroupedTrace.records(inFirst: block), "block \(block), \(present) bytes")
            }
        }
    }

    @Test("a partial block header after END is a truncation")
    func partialHeaderAfterEnd() throws {
        let trace = GroupedTrace(codec: .none)
        let outcome = try readTrace(trace.bytes + Array("MPB".utf8))
        #expect(outcome.records == GroupedTrace.records(inFirst: 5))
        #expect(
            outcome.summary?.truncation
                == TraceTruncation(
                    offset: UInt64(trace.bytes.count), reason: "the file ends inside a block header (3 of 24 bytes)"))
    }

    // MARK: Damaged blocks

    @Test("a payload byte flipped fails the checksum", arguments: codecs)
    func checksumMismatch(codec: TraceBuilder.Codec) throws {
        let trace = GroupedTrace(codec: codec)
        var bytes = trace.bytes
        let block = 2
        bytes[trace.offsets[block] + Int(MEMPROF_BLOCK_HEADER_SIZE) + 1] ^= 0x40
        let outcome = try readTrace(bytes)
        let error = try #require(outcome.error)
        guard case .corrupt(outcome.path, UInt64(trace.offsets[block]), let reason) = error else {
            Issue.record("expected corrupt block at \(trace.offsets[block]), got \(error)")
            return
        }
        #expect(reason.hasPrefix("checksum mismatch (header 0x"))
        #expect(outcome.records == GroupedTrace.records(inFirst: block))
    }

    @Test("a wrong checksum in the header is a mismatch")
    func headerChecksumWrong() throws {
        var builder = TraceBuilder()
        builder.appendRawBlock(kind: threadKind, codec: codecNone, payload: [Tag.alloc, 1, 1], checksum: 0x1234_5678)
        let outcome = try readTrace(builder.finish())
        let actual = memprof_crc32(0, [Tag.alloc, 1, 1], 3)
        let reason = "checksum mismatch (header 0x12345678, payload 0x\(String(format: "%08X", actual)))"
        #expect(outcome.error == .corrupt(path: outcome.path, offset: 32, reason: reason))
    }

    @Test("a block that does not start with MPBK is corrupt")
    func badBlockMagic() throws {
        let trace = GroupedTrace(codec: .none)
        var bytes = trace.bytes
        bytes[trace.offsets[3]] = 0x58  // "X"
        let outcome = try readTrace(bytes)
        let reason = "bad block magic 58 50 42 4B (expected 4D 50 42 4B, \"MPBK\")"
        #expect(outcome.error == .corrupt(path: outcome.path, offset: UInt64(trace.offsets[3]), reason: reason))
        #expect(outcome.records == GroupedTrace.records(inFirst: 3))
    }

    @Test("bytes after END that are not a block are corrupt")
    func trailingGarbage() throws {
        let trace = GroupedTrace(codec: .zstd())
        let outcome = try readTrace(trace.bytes + [0x0a, 0x00])
        let reason = "bad block magic 0A 00 (expected 4D 50 42 4B, \"MPBK\")"
        #expect(outcome.error == .corrupt(path: outcome.path, offset: UInt64(trace.bytes.count), reason: reason))
        #expect(outcome.records == GroupedTrace.records(inFirst: 5))
    }

    @Test("an unknown block kind is corrupt")
    func unknownBlockKind() throws {
        let trace = GroupedTrace(codec: .none)
        var bytes = trace.bytes
        bytes[trace.offsets[1] + Int(MEMPROF_BH_KIND)] = 9
        let outcome = try readTrace(bytes)
        #expect(
            outcome.error
                == .corrupt(path: outcome.path, offset: UInt64(trace.offsets[1]), reason: "unknown block kind 9"))
    }

    @Test("an unknown codec is corrupt")
    func unknownCodec() throws {
        let trace = GroupedTrace(codec: .none)
        var bytes = trace.bytes
        bytes[trace.offsets[1] + Int(MEMPROF_BH_CODEC)] = 7
        let outcome = try readTrace(bytes)
        #expect(
            outcome.error == .corrupt(path: outcome.path, offset: UInt64(trace.offsets[1]), reason: "unknown codec 7"))
    }

    @Test("a raw size over the format's limit is refused before reading")
    func rawSizeOverLimit() throws {
        var builder = TraceBuilder()
        builder.appendRawBlock(kind: threadKind, codec: codecZstd, rawSize: 16 << 20 + 1, payload: [1, 2, 3])
        let outcome = try readTrace(builder.finish())
        let reason = "the block claims 16777217 raw bytes, over the format's limit of 16777216"
        #expect(outcome.error == .corrupt(path: outcome.path, offset: 32, reason: reason))
    }

    @Test("an uncompressed block must store exactly its raw size")
    func uncompressedSizeMismatch() throws {
        var builder = TraceBuilder()
        builder.appendRawBlock(kind: threadKind, codec: codecNone, rawSize: 10, payload: [Tag.alloc, 1, 1])
        let outcome = try readTrace(builder.finish())
        let reason = "an uncompressed block stores 3 bytes but claims 10 raw bytes"
        #expect(outcome.error == .corrupt(path: outcome.path, offset: 32, reason: reason))
    }

    @Test("a compressed size beyond zstd's bound is refused")
    func compressedSizeBeyondBound() throws {
        var builder = TraceBuilder()
        builder.appendRawBlock(
            kind: threadKind, codec: codecZstd, rawSize: 10, payload: [UInt8](repeating: 7, count: 500))
        let outcome = try readTrace(builder.finish())
        let error = try #require(outcome.error)
        guard case .corrupt(_, 32, let reason) = error else {
            Issue.record("expected corrupt block at 32, got \(error)")
            return
        }
        #expect(reason.hasPrefix("the block stores 500 compressed bytes for 10 raw bytes (zstd bound"))
    }

    @Test("bytes that are not a zstd frame fail decompression")
    func badZstd() throws {
        var builder = TraceBuilder()
        builder.end(Samples.end)  // an earlier good block
        builder.appendRawBlock(kind: threadKind, codec: codecZstd, rawSize: 32, payload: Array(1...32))
        let outcome = try readTrace(builder.finish())
        let error = try #require(outcome.error)
        guard case .corrupt(_, UInt64(builder.blockOffsets[1]), let reason) = error else {
            Issue.record("expected corrupt block at \(builder.blockOffsets[1]), got \(error)")
            return
        }
        // zstd's own words for the failure vary by version; the frame is not one.
        #expect(reason.hasPrefix("zstd cannot decompress the block: "))
        #expect(reason.hasSuffix(" (header says 32 raw bytes)"))
        #expect(outcome.records == [.end(Samples.end)])
    }

    @Test("a zstd frame that decompresses to another size than the header's is corrupt")
    func zstdSizeMismatch() throws {
        let trace = GroupedTrace(codec: .zstd())
        let rawSizeField = trace.offsets[1] + Int(MEMPROF_BH_RAW_SIZE)
        let rawSize = trace.bytes[rawSizeField..<rawSizeField + 4].reversed().reduce(0) { $0 << 8 | Int($1) }
        func withRawSize(_ size: Int) -> [UInt8] {
            var bytes = trace.bytes
            for index in 0..<4 {
                bytes[rawSizeField + index] = UInt8(truncatingIfNeeded: size >> (8 * index))
            }
            return bytes
        }

        // Header claims more than the frame holds: the frame decodes, to too little.
        var outcome = try readTrace(withRawSize(rawSize + 5))
        var reason = "the block decompresses to \(rawSize) bytes but its header says \(rawSize + 5)"
        #expect(outcome.error == .corrupt(path: outcome.path, offset: UInt64(trace.offsets[1]), reason: reason))

        // Header claims less: zstd refuses to write past the buffer.
        outcome = try readTrace(withRawSize(rawSize - 1))
        reason =
            "zstd cannot decompress the block: Destination buffer is too small (header says \(rawSize - 1) raw bytes)"
        #expect(outcome.error == .corrupt(path: outcome.path, offset: UInt64(trace.offsets[1]), reason: reason))
    }

    // MARK: Damaged records

    /// Reads a trace of one good process block (END) followed by a block of `kind`
    /// holding `payload`, and returns the error and what was delivered.
    private func readDamagedBlock(
        _ payload: [UInt8], kind: TraceBuilder.BlockKind = .thread, codec: TraceBuilder.Codec = .none
    ) throws -> (outcome: ReadOutcome, blockOffset: UInt64) {
        var builder = TraceBuilder(codec: codec)
        builder.end(Samples.end)
        builder.beginBlock(kind: kind, thread: 5)
        builder.appendRawRecordBytes(payload)
        let bytes = builder.finish()
        return (try readTrace(bytes), UInt64(builder.blockOffsets[1]))
    }

    @Test("an unknown tag is corrupt, naming the record and byte", arguments: codecs)
    func unknownTag(codec: TraceBuilder.Codec) throws {
        let (outcome, offset) = try readDamagedBlock([Tag.alloc, 1, 1, 0x7f, 0, 0], codec: codec)
        let reason = "record #1 at byte 3 of the 6-byte decompressed payload: unknown record tag 0x7F"
        #expect(outcome.error == .corrupt(path: outcome.path, offset: offset, reason: reason))
        // Records before the bad one were delivered.
        #expect(
            outcome.events == [.end(Samples.end), .threadBlock(5), .allocation(thread: 5, size: 1, stackID: 1)])
    }

    @Test("a thread record in a process block is corrupt")
    func threadRecordInProcessBlock() throws {
        let (outcome, offset) = try readDamagedBlock([Tag.alloc, 1, 1], kind: .process)
        let reason =
            "record #0 (ALLOC) at byte 0 of the 3-byte decompressed payload: ALLOC records belong in thread blocks, not process blocks"
        #expect(outcome.error == .corrupt(path: outcome.path, offset: offset, reason: reason))
    }

    @Test("a process record in a thread block is corrupt")
    func processRecordInThreadBlock() throws {
        let (outcome, offset) = try readDamagedBlock([Tag.time, 5, Tag.leak, 1, 1, 1, 0])
        let reason =
            "record #1 (LEAK) at byte 2 of the 7-byte decompressed payload: LEAK records belong in process blocks, not thread blocks"
        #expect(outcome.error == .corrupt(path: outcome.path, offset: offset, reason: reason))
    }

    @Test("a record running past the end of its block is corrupt")
    func recordPastEnd() throws {
        let (outcome, offset) = try readDamagedBlock([Tag.alloc, 1, 1, Tag.alloc, 0x80])
        let reason =
            "record #1 (ALLOC) at byte 3 of the 5-byte decompressed payload: the record runs past the end of the block"
        #expect(outcome.error == .corrupt(path: outcome.path, offset: offset, reason: reason))
    }

    @Test("a string running past the end of its block is corrupt")
    func stringPastEnd() throws {
        // PROCESS: pid 1, ppid 1, start 1, page 1, exe of 9 bytes with 2 present.
        let (outcome, offset) = try readDamagedBlock([Tag.process, 1, 1, 1, 1, 9, 0x2f, 0x62], kind: .process)
        let reason =
            "record #0 (PROCESS) at byte 0 of the 8-byte decompressed payload: the record runs past the end of the block"
        #expect(outcome.error == .corrupt(path: outcome.path, offset: offset, reason: reason))
    }

    @Test("a varint longer than 10 bytes is corrupt")
    func overlongVarint() throws {
        let (outcome, offset) = try readDamagedBlock([Tag.time] + [UInt8](repeating: 0xff, count: 10) + [1])
        let reason = "record #0 (TIME) at byte 0 of the 12-byte decompressed payload: a varint is longer than 10 bytes"
        #expect(outcome.error == .corrupt(path: outcome.path, offset: offset, reason: reason))
    }

    @Test("a stack id over 32 bits is corrupt")
    func stackIDTooLarge() throws {
        // 2^32 as a varint: 0x80 0x80 0x80 0x80 0x10.
        let (outcome, offset) = try readDamagedBlock([Tag.alloc, 1, 0x80, 0x80, 0x80, 0x80, 0x10])
        let reason =
            "record #0 (ALLOC) at byte 0 of the 7-byte decompressed payload: stack id 4294967296 does not fit in 32 bits"
        #expect(outcome.error == .corrupt(path: outcome.path, offset: offset, reason: reason))
    }

    @Test("a frame count larger than the block is corrupt")
    func frameCountTooLarge() throws {
        // STACK id 1, generation 0, 1000 frames (0xE8 0x07), one byte left.
        let (outcome, offset) = try readDamagedBlock([Tag.stack, 1, 0, 0xe8, 0x07, 1])
        let reason =
            "record #0 (STACK) at byte 0 of the 6-byte decompressed payload: frame count 1000 cannot fit in the 1 bytes left in the block"
        #expect(outcome.error == .corrupt(path: outcome.path, offset: offset, reason: reason))
    }

    @Test("an invalid leak kind is corrupt")
    func invalidLeakKind() throws {
        let (outcome, offset) = try readDamagedBlock([Tag.leak, 1, 16, 0x20, 9], kind: .process)
        let reason = "record #0 (LEAK) at byte 0 of the 5-byte decompressed payload: invalid leak kind 9"
        #expect(outcome.error == .corrupt(path: outcome.path, offset: offset, reason: reason))
    }

    @Test("an invalid mode is corrupt")
    func invalidMode() throws {
        // PROCESS: pid, ppid, start, page, exe "", no arguments, version "", mode 3.
        let (outcome, offset) = try readDamagedBlock([Tag.process, 1, 1, 1, 1, 0, 0, 0, 3], kind: .process)
        let reason = "record #0 (PROCESS) at byte 0 of the 9-byte decompressed payload: invalid mode 3"
        #expect(outcome.error == .corrupt(path: outcome.path, offset: offset, reason: reason))
    }

    @Test("a second END record is corrupt")
    func secondEnd() throws {
        var builder = TraceBuilder()
        builder.end(Samples.end)
        builder.beginBlock(kind: .process)
        builder.end(Samples.end)
        let bytes = builder.finish()
        let outcome = try readTrace(bytes)
        let reason =
            "record #0 (END) at byte 0 of the 11-byte decompressed payload: a second END record (the trace had already ended)"
        #expect(outcome.error == .corrupt(path: outcome.path, offset: UInt64(builder.blockOffsets[1]), reason: reason))
    }
}
