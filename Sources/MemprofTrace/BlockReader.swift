import CZstd

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Walks a trace's blocks in file order: reads each one, verifies its checksum and
/// decompresses it, handing out its raw payload.
///
/// Memory stays bounded by the largest block: one buffer holds the stored payload and
/// one the decompressed payload, both reused and grown only when a larger block comes.
/// Each block costs one `pread`, which also fetches the next block's header.
///
/// This type is not generic, so the I/O and zstd code is compiled once here; only the
/// record decoding loop is inlined into each visitor's module.
@usableFromInline
final class BlockReader {
    /// One verified, decompressed block. `payload` is valid until the next `next()`.
    @usableFromInline
    struct Block {
        /// A `MEMPROF_BLOCK_THREAD` block; otherwise `MEMPROF_BLOCK_PROCESS` or
        /// `MEMPROF_BLOCK_THREAD_TAIL` (others are rejected before a block is handed out).
        @usableFromInline let isThreadBlock: Bool
        /// A `MEMPROF_BLOCK_THREAD_TAIL` block: a thread's unfinished buffer, valid
        /// only if no later block of the thread supersedes it.
        @usableFromInline let isTail: Bool
        @usableFromInline let thread: UInt32
        /// File offset of the block header, for error messages.
        @usableFromInline let offset: UInt64
        @usableFromInline let payload: UnsafeRawBufferPointer
    }

    private let file: TraceFile
    /// Offset of the next block's header.
    private var offset: UInt64
    /// Bytes of the next block's header already read (at the end of the previous read).
    private let header: UnsafeMutableRawPointer
    private var headerCount = 0
    private var stored = GrowableBuffer()
    private var raw = GrowableBuffer()
    private var decompressor: OpaquePointer?
    private var finished = false

    /// Complete blocks returned so far.
    @usableFromInline private(set) var blockCount = 0
    /// Set when the file ends inside a block or its header.
    @usableFromInline private(set) var truncation: TraceTruncation?

    @usableFromInline
    init(file: TraceFile) {
        self.file = file
        self.offset = UInt64(Format.fileHeaderSize)
        self.header = .allocate(byteCount: Format.blockHeaderSize, alignment: 8)
    }

    deinit {
        header.deallocate()
        stored.release()
        raw.release()
        if let decompressor {
            ZSTD_freeDCtx(decompressor)
        }
    }

    /// What a complete pass read; call after `next()` has returned nil.
    @usableFromInline
    func summary(sawEnd: Bool) -> TraceReadSummary {
        var truncation = self.truncation
        if truncation == nil, !sawEnd {
            truncation = TraceTruncation(
                offset: offset,
                reason: TraceTruncation.noEndRecordReason)
        }
        return TraceReadSummary(blockCount: blockCount, byteCount: offset, truncation: truncation)
    }

    /// The next block, or nil at the end of the readable part of the file.
    ///
    /// - Throws: `.corrupt` for a block that is present but wrong (magic, kind, codec,
    ///   sizes, checksum, compressed data); `.readFailed` for an OS read error.
    @usableFromInline
    func next() throws(TraceError) -> Block? {
        guard !finished else { return nil }
        let blockHeaderSize = Format.blockHeaderSize
        if headerCount < blockHeaderSize {
            headerCount += try file.read(
                into: header + headerCount, count: blockHeaderSize - headerCount,
                at: offset + UInt64(headerCount))
        }
        if headerCount == 0 {
            finished = true
            return nil
        }
        try checkMagic()
        if headerCount < blockHeaderSize {
            finished = true
            truncation = TraceTruncation(
                offset: offset,
                reason: "the file ends inside a block header (\(headerCount) of \(blockHeaderSize) bytes)")
            return nil
        }

        let kind = header.load(fromByteOffset: Format.blockKindOffset, as: UInt8.self)
        let codec = header.load(fromByteOffset: Format.blockCodecOffset, as: UInt8.self)
        let storedSize = Int(headerField(Format.blockStoredSizeOffset))
        let rawSize = Int(headerField(Format.blockRawSizeOffset))
        let thread = headerField(Format.blockThreadOffset)
        let checksum = headerField(Format.blockChecksumOffset)
        guard kind == Format.blockKindThread || kind == Format.blockKindProcess || kind == Format.blockKindThreadTail
        else {
            throw corrupt("unknown block kind \(kind)")
        }
        guard rawSize <= Format.maxRawBlockSize else {
            throw corrupt("the block claims \(rawSize) raw bytes, over the format's limit of \(Format.maxRawBlockSize)")
        }
        switch codec {
        case Format.codecNone:
            guard storedSize == rawSize else {
                throw corrupt("an uncompressed block stores \(storedSize) bytes but claims \(rawSize) raw bytes")
            }
        case Format.codecZstd:
            // Any zstd frame of at most `rawSize` bytes fits in ZSTD_compressBound(rawSize);
            // a larger claim is damage, and refusing it keeps memory bounded.
            let bound = Int(ZSTD_compressBound(rawSize))
            guard storedSize <= bound else {
                throw corrupt(
                    "the block stores \(storedSize) compressed bytes for \(rawSize) raw bytes (zstd bound \(bound))")
            }
        default:
            throw corrupt("unknown codec \(codec)")
        }

        // Read the payload and, in the same call, the following block's header.
        let wanted = storedSize + blockHeaderSize
        stored.reserve(wanted)
        let got = try file.read(into: stored.base, count: wanted, at: offset + UInt64(blockHeaderSize))
        guard got >= storedSize else {
            finished = true
            let total = blockHeaderSize + storedSize
            truncation = TraceTruncation(
                offset: offset,
                reason: "the file ends inside a block (\(blockHeaderSize + got) of \(total) bytes)")
            return nil
        }
        headerCount = got - storedSize
        header.copyMemory(from: stored.base + storedSize, byteCount: headerCount)

        let storedPayload = UnsafeRawBufferPointer(start: stored.base, count: storedSize)
        let actual = CRC32.checksum(storedPayload)
        guard actual == checksum else {
            throw corrupt("checksum mismatch (header 0x\(hex(checksum)), payload 0x\(hex(actual)))")
        }
        let payload =
            codec == Format.codecZstd
            ? try decompress(storedPayload, rawSize: rawSize)
            : storedPayload

        let block = Block(
            isThreadBlock: kind == Format.blockKindThread, isTail: kind == Format.blockKindThreadTail, thread: thread,
            offset: offset, payload: payload)
        offset += UInt64(blockHeaderSize + storedSize)
        blockCount += 1
        return block
    }

    /// Rejects a header that does not start with `MPBK`, even when only part of it is
    /// present: trailing bytes that are not the start of a block are damage, not a cut.
    private func checkMagic() throws(TraceError) {
        var magic = Format.blockMagic.littleEndian
        let matches = withUnsafeBytes(of: &magic) { expected in
            let count = min(headerCount, expected.count)
            return memcmp(header, expected.baseAddress!, count) == 0
        }
        guard matches else {
            let present = (0..<min(headerCount, 4)).map {
                hex(UInt32(header.load(fromByteOffset: $0, as: UInt8.self)), digits: 2)
            }
            throw corrupt("bad block magic \(present.joined(separator: " ")) (expected 4D 50 42 4B, \"MPBK\")")
        }
    }

    private func decompress(
        _ input: UnsafeRawBufferPointer, rawSize: Int
    ) throws(TraceError) -> UnsafeRawBufferPointer {
        if decompressor == nil {
            decompressor = ZSTD_createDCtx()
            guard decompressor != nil else {
                throw .readFailed(path: file.path, reason: "cannot create a zstd decompression context")
            }
        }
        raw.reserve(max(rawSize, 1))
        let result = ZSTD_decompressDCtx(decompressor, raw.base, rawSize, input.baseAddress, input.count)
        if ZSTD_isError(result) != 0 {
            let name = String(cString: ZSTD_getErrorName(result))
            throw corrupt("zstd cannot decompress the block: \(name) (header says \(rawSize) raw bytes)")
        }
        guard result == rawSize else {
            throw corrupt("the block decompresses to \(result) bytes but its header says \(rawSize)")
        }
        return UnsafeRawBufferPointer(start: raw.base, count: rawSize)
    }

    private func headerField(_ fieldOffset: Int) -> UInt32 {
        UInt32(littleEndian: header.loadUnaligned(fromByteOffset: fieldOffset, as: UInt32.self))
    }

    private func corrupt(_ reason: String) -> TraceError {
        .corrupt(path: file.path, offset: offset, reason: reason)
    }
}

/// A reusable heap buffer that only grows.
private struct GrowableBuffer {
    private(set) var base = UnsafeMutableRawPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    private(set) var capacity = 64 * 1024

    /// Makes room for `count` bytes, discarding the contents when it must grow.
    mutating func reserve(_ count: Int) {
        guard count > capacity else { return }
        // Doubling (capped at the largest legal raw block) avoids a reallocation per
        // slightly larger block; a single larger request still gets exactly its size.
        let newCapacity = max(count, min(capacity * 2, Format.maxRawBlockSize))
        base.deallocate()
        base = .allocate(byteCount: newCapacity, alignment: 16)
        capacity = newCapacity
    }

    func release() {
        base.deallocate()
    }
}

/// Upper-case hexadecimal, zero-padded to `digits`.
func hex(_ value: UInt32, digits: Int = 8) -> String {
    let text = String(value, radix: 16, uppercase: true)
    return String(repeating: "0", count: max(0, digits - text.count)) + text
}
