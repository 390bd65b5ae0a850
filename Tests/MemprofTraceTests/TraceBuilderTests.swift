import CMemprofFormat
import Foundation
import Testing

@testable import MemprofTrace

@Suite("TraceBuilder")
struct TraceBuilderTests {
    /// What `memprof_put_varint` writes for `value`.
    static func cVarint(_ value: UInt64) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 10)
        let count = buffer.withUnsafeMutableBufferPointer { out in
            memprof_put_varint(out.baseAddress!, value) - out.baseAddress!
        }
        return Array(buffer.prefix(count))
    }

    /// What `memprof_put_svarint` writes for `value`.
    static func cSignedVarint(_ value: Int64) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 10)
        let count = buffer.withUnsafeMutableBufferPointer { out in
            memprof_put_svarint(out.baseAddress!, value) - out.baseAddress!
        }
        return Array(buffer.prefix(count))
    }

    static func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }

    @Test("the file header is magic, version, size 32, zero flags")
    func fileHeader() {
        let bytes = emptyTrace()
        let expected =
            Array("MEMPROF\u{1a}".utf8) + Self.littleEndian(UInt16(MEMPROF_FORMAT_VERSION_MAJOR))
            + Self.littleEndian(UInt16(MEMPROF_FORMAT_VERSION_MINOR)) + Self.littleEndian(UInt32(32))
            + [UInt8](repeating: 0, count: 16)
        #expect(bytes == expected)
    }

    @Test("the smallest complete trace is the worked example in docs/trace-format.md")
    func workedExample() throws {
        var builder = TraceBuilder()
        builder.end(EndRecord(nanoseconds: 5, heapPeakBytes: 0, threadCount: 1, flags: .viaExit))
        let bytes = builder.finish()
        let documented: [UInt8] = [
            0x4D, 0x45, 0x4D, 0x50, 0x52, 0x4F, 0x46, 0x1A, 0x02, 0x00, 0x01, 0x00, 0x20, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x4D, 0x50, 0x42, 0x4B, 0x02, 0x00, 0x00, 0x00,
            0x05, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x3C, 0x8F, 0xA1, 0xAB,
            0x24, 0x05, 0x00, 0x01, 0x01,
        ]
        #expect(bytes == documented)
        let outcome = try readTrace(bytes)
        #expect(outcome.summary?.truncation == nil)
    }

    @Test("an uncompressed block is laid out as memprof_format.h says")
    func blockLayout() {
        var builder = TraceBuilder()
        builder.allocation(thread: 5, size: 300, stackID: 2)
        let bytes = builder.finish()
        let payload: [UInt8] = [UInt8(MEMPROF_TAG_ALLOC.rawValue), 0xac, 0x02, 0x02]
        let crc = memprof_crc32(0, payload, payload.count)
        let expectedBlock =
            Self.littleEndian(UInt32(MEMPROF_BLOCK_MAGIC)) + [UInt8(MEMPROF_BLOCK_THREAD.rawValue), 0, 0, 0]
            + Self.littleEndian(UInt32(4)) + Self.littleEndian(UInt32(4)) + Self.littleEndian(UInt32(5))
            + Self.littleEndian(crc) + payload
        #expect(Array(bytes[32...]) == expectedBlock)
        #expect(builder.blockOffsets == [32])
    }

    @Test("process blocks carry thread 0 whatever is asked")
    func processBlockThread() {
        var builder = TraceBuilder()
        builder.beginBlock(kind: .process, thread: 9)
        builder.tick(Samples.tick)
        let bytes = builder.finish()
        let threadField = 32 + Int(MEMPROF_BH_THREAD)
        #expect(bytes[Int(32 + MEMPROF_BH_KIND)] == UInt8(MEMPROF_BLOCK_PROCESS.rawValue))
        #expect(Array(bytes[threadField..<threadField + 4]) == [0, 0, 0, 0])
    }

    @Test(
        "varints match memprof_put_varint",
        arguments: [0, 1, 127, 128, 300, 16_383, 16_384, 1 << 35, UInt64(UInt32.max), .max - 1, .max] as [UInt64])
    func varints(value: UInt64) {
        var bytes: [UInt8] = []
        bytes.appendVarint(value)
        #expect(bytes == Self.cVarint(value))
    }

    @Test("signed varints match memprof_put_svarint", arguments: [0, 1, -1, 63, -64, 64, -65, .max, .min] as [Int64])
    func signedVarints(value: Int64) {
        var bytes: [UInt8] = []
        bytes.appendSignedVarint(value)
        #expect(bytes == Self.cSignedVarint(value))
    }

    @Test("stack frames are the first address, then zigzag deltas")
    func stackEncoding() {
        var builder = TraceBuilder()
        builder.stack(Samples.stack, thread: 0)
        let bytes = builder.finish()
        let frames = Samples.stack.frames
        var expected = [UInt8(MEMPROF_TAG_STACK.rawValue)]
        expected += Self.cVarint(UInt64(Samples.stack.id)) + Self.cVarint(UInt64(Samples.stack.moduleGeneration))
        expected += Self.cVarint(UInt64(frames.count)) + Self.cVarint(frames[0])
        for index in 1..<frames.count {
            expected += Self.cSignedVarint(Int64(bitPattern: frames[index] &- frames[index - 1]))
        }
        #expect(Array(bytes[(32 + Int(MEMPROF_BLOCK_HEADER_SIZE))...]) == expected)
    }

    @Test("a block closes once its payload reaches blockSize; records are never split")
    func blockSplitting() {
        var builder = TraceBuilder(blockSize: 100)
        for index in 0..<1000 {
            builder.allocation(thread: 0, size: UInt64(index), stackID: 1)
        }
        let bytes = builder.finish()
        let offsets = builder.blockOffsets + [bytes.count]
        #expect(offsets.count > 10)
        for (start, next) in zip(offsets, offsets.dropFirst()) {
            let magic = bytes[start..<start + 4]
            #expect(Array(magic) == Array("MPBK".utf8))
            let rawSize = next - start - Int(MEMPROF_BLOCK_HEADER_SIZE)
            #expect(rawSize <= 100 + 4)  // blockSize plus at most one ALLOC record
        }
    }

    @Test("a thread switch or beginBlock starts a new block; empty blocks are not written")
    func blockBoundaries() {
        var builder = TraceBuilder()
        builder.beginBlock(kind: .thread, thread: 1)  // left empty: not written
        builder.allocation(thread: 0, size: 1, stackID: 1)
        builder.allocation(thread: 0, size: 1, stackID: 1)  // same block
        builder.allocation(thread: 2, size: 1, stackID: 1)  // new block
        builder.beginBlock(kind: .thread, thread: 2)
        builder.allocation(thread: 2, size: 1, stackID: 1)  // new block, same thread
        builder.tick(Samples.tick)  // new block, process kind
        _ = builder.finish()
        #expect(builder.blockOffsets == [32, 32 + 24 + 6, 32 + 2 * 24 + 9, 32 + 3 * 24 + 12])
    }

    @Test("zstd blocks carry codec 1, the stored size of the frame and the raw size")
    func zstdBlock() {
        var builder = TraceBuilder(codec: .zstd())
        for _ in 0..<1000 {
            builder.allocation(thread: 0, size: 64, stackID: 3)
        }
        let bytes = builder.finish()
        #expect(bytes[32 + Int(MEMPROF_BH_CODEC)] == UInt8(MEMPROF_CODEC_ZSTD.rawValue))
        let field = { (offset: Int32) in
            bytes[(32 + Int(offset))..<(36 + Int(offset))].reversed().reduce(0) { $0 << 8 | Int($1) }
        }
        #expect(field(MEMPROF_BH_RAW_SIZE) == 3000)
        #expect(field(MEMPROF_BH_STORED_SIZE) == bytes.count - 32 - 24)
        #expect(field(MEMPROF_BH_STORED_SIZE) < 100)
    }
}
