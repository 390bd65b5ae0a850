import CMemprofFormat
import CZstd

/// Encodes a memprof trace in memory, record by record: synthetic traces for tests,
/// golden files and tools.
///
/// It writes the layout of `memprof_format.h` exactly as the preload does: the 32-byte
/// file header, then blocks of records, each with its 24-byte header, CRC-32 and
/// optional zstd frame. Each record method names the block kind its record belongs in;
/// the builder opens a block of that kind (and thread) when the current one differs, and
/// closes a block once its raw payload reaches `blockSize`. `beginBlock(kind:thread:)`
/// forces a block boundary, e.g. to give one thread several blocks.
///
/// ```swift
/// var trace = TraceBuilder(codec: .zstd())
/// trace.process(ProcessRecord(pid: 42, parentPID: 1, startUnixNanoseconds: 0, pageSize: 4096,
///                             executablePath: "/bin/demo", arguments: ["demo"],
///                             memprofVersion: "0.1.0", mode: .full))
/// trace.stack(StackRecord(id: 1, moduleGeneration: 0, frames: [0x401000, 0x401234]), thread: 0)
/// trace.allocation(thread: 0, size: 64, stackID: 1)
/// trace.deallocation(thread: 0, size: 64, stackID: 1, temporary: true)
/// trace.end(EndRecord(nanoseconds: 1_000, heapPeakBytes: 64, threadCount: 1, flags: .viaExit))
/// let bytes: [UInt8] = trace.finish()
/// ```
///
/// For tests of damaged input, `appendRawRecordBytes(_:)` and
/// `appendRawBlock(kind:codec:thread:rawSize:payload:checksum:)` write bytes the record
/// methods never would, and `blockOffsets` says where each block starts.
public struct TraceBuilder: Sendable {
    /// How block payloads are stored.
    public enum Codec: Sendable, Equatable {
        /// Stored as is (`MEMPROF_CODEC_NONE`).
        case none
        /// One zstd frame per block (`MEMPROF_CODEC_ZSTD`), made by `ZSTD_compress` at
        /// `level` (`ZSTD_CLEVEL_DEFAULT`, 3, unless given).
        case zstd(level: Int32 = ZSTD_CLEVEL_DEFAULT)
    }

    /// The two kinds of block.
    public enum BlockKind: Sendable, Equatable {
        /// Events of one thread: allocations, frees, stacks, modules, times.
        case thread
        /// Process-wide records: process info, ticks, thread starts, leaks, end.
        case process
        /// A copy of a thread's unfinished buffer, superseded by the thread's next block.
        case threadTail

        var formatValue: UInt8 {
            switch self {
            case .thread: Format.blockKindThread
            case .process: Format.blockKindProcess
            case .threadTail: Format.blockKindThreadTail
            }
        }
    }

    /// The codec of the blocks the record methods write.
    public let codec: Codec
    /// Raw payload size at which a block is closed; a record is never split, so a block
    /// may exceed it by one record.
    public let blockSize: Int

    private var output: [UInt8]
    private var payload: [UInt8] = []
    private var openBlock: (kind: BlockKind, thread: UInt32)?
    /// File offset of each block written so far, in order.
    public private(set) var blockOffsets: [Int] = []

    /// Starts a trace with its file header.
    ///
    /// - Parameters:
    ///   - codec: how to store block payloads.
    ///   - blockSize: raw payload size at which a block is closed (at most 16 MiB,
    ///     `MEMPROF_MAX_RAW_BLOCK_SIZE`).
    ///   - versionMajor, versionMinor: the header's version; other than the current
    ///     version only to test how readers treat other versions.
    public init(
        codec: Codec = .none,
        blockSize: Int = 64 * 1024,
        versionMajor: UInt16 = UInt16(MEMPROF_FORMAT_VERSION_MAJOR),
        versionMinor: UInt16 = UInt16(MEMPROF_FORMAT_VERSION_MINOR)
    ) {
        precondition(blockSize > 0 && blockSize <= Format.maxRawBlockSize, "blockSize must be 1...16 MiB")
        self.codec = codec
        self.blockSize = blockSize
        var header = Format.fileMagic
        header.append(littleEndian: versionMajor)
        header.append(littleEndian: versionMinor)
        header.append(littleEndian: UInt32(Format.fileHeaderSize))
        header.append(littleEndian: UInt64(0))  // flags
        header.append(contentsOf: repeatElement(0, count: Format.fileHeaderSize - header.count))
        output = header
        payload.reserveCapacity(blockSize + 64)
    }

    // MARK: Blocks

    /// Closes the current block (if it holds any record) and opens a new one, so the
    /// next records of this kind and thread go into a block of their own.
    ///
    /// The record methods open blocks themselves; call this only to place a boundary.
    /// A block that receives no record is not written.
    public mutating func beginBlock(kind: BlockKind, thread: UInt32 = 0) {
        flush()
        openBlock = (kind, kind == .thread ? thread : 0)
    }

    /// Closes the current block, writing it if it holds any record.
    public mutating func endBlock() {
        flush()
        openBlock = nil
    }

    /// Closes the current block and returns the whole trace.
    public mutating func finish() -> [UInt8] {
        endBlock()
        return output
    }

    // MARK: Thread-block records

    /// An ALLOC record: `thread` allocated `size` bytes at stack `stackID`.
    public mutating func allocation(thread: UInt32, size: UInt64, stackID: UInt32) {
        record(.thread, thread, Format.tagAlloc) { out in
            out.appendVarint(size)
            out.appendVarint(UInt64(stackID))
        }
    }

    /// A FREE record, or FREE_TEMP when `temporary` (the freed block was the thread's
    /// latest allocation); `size` and `stackID` are those of the block freed.
    public mutating func deallocation(thread: UInt32, size: UInt64, stackID: UInt32, temporary: Bool = false) {
        record(.thread, thread, temporary ? Format.tagFreeTemp : Format.tagFree) { out in
            out.appendVarint(size)
            out.appendVarint(UInt64(stackID))
        }
    }

    /// A FREE_LAST record: the temporary free of the block made by the last ALLOC record
    /// of the current block (the preload writes it instead of FREE_TEMP when it can).
    public mutating func deallocationOfLastAllocation(thread: UInt32) {
        record(.thread, thread, Format.tagFreeLast) { _ in }
    }

    /// A FREE_UNKNOWN record: a free of a pointer memprof never saw allocated.
    /// An INHERITED record: a block the process had when its trace began.
    public mutating func inherited(thread: UInt32, size: UInt64, stackID: UInt32) {
        record(.thread, thread, Format.tagInherited) { out in
            out.appendVarint(size)
            out.appendVarint(UInt64(stackID))
        }
    }

    public mutating func unknownDeallocation(thread: UInt32) {
        record(.thread, thread, Format.tagFreeUnknown) { _ in }
    }

    /// A TIME record: the thread's following events happened at or after `nanoseconds`.
    public mutating func time(thread: UInt32, nanoseconds: UInt64) {
        record(.thread, thread, Format.tagTime) { out in
            out.appendVarint(nanoseconds)
        }
    }

    /// A STACK record, in a block of `thread` (the thread that first saw the stack).
    /// Frames are written as the first address, then zigzag deltas.
    public mutating func stack(_ stack: StackRecord, thread: UInt32 = 0) {
        record(.thread, thread, Format.tagStack) { out in
            out.appendVarint(UInt64(stack.id))
            out.appendVarint(UInt64(stack.moduleGeneration))
            out.appendVarint(UInt64(stack.frames.count))
            var previous: UInt64 = 0
            for (index, frame) in stack.frames.enumerated() {
                if index == 0 {
                    out.appendVarint(frame)
                } else {
                    out.appendSignedVarint(Int64(bitPattern: frame &- previous))
                }
                previous = frame
            }
        }
    }

    /// A MODULE record, in a block of `thread` (the thread that saw the module map change).
    public mutating func module(_ module: ModuleRecord, thread: UInt32 = 0) {
        record(.thread, thread, Format.tagModule) { out in
            out.appendVarint(UInt64(module.generation))
            out.appendVarint(module.loadBias)
            out.appendBytes(Array(module.path.utf8))
            out.appendBytes(module.buildID)
            out.appendVarint(UInt64(module.segments.count))
            for segment in module.segments {
                out.appendVarint(segment.virtualAddress)
                out.appendVarint(segment.memorySize)
                out.append(segment.flags)
            }
        }
    }

    // MARK: Process-block records

    /// A PROCESS record.
    public mutating func process(_ process: ProcessRecord) {
        record(.process, 0, Format.tagProcess) { out in
            out.appendVarint(process.pid)
            out.appendVarint(process.parentPID)
            out.appendVarint(process.startUnixNanoseconds)
            out.appendVarint(process.pageSize)
            out.appendBytes(Array(process.executablePath.utf8))
            out.appendVarint(UInt64(process.arguments.count))
            for argument in process.arguments {
                out.appendBytes(Array(argument.utf8))
            }
            out.appendBytes(Array(process.memprofVersion.utf8))
            out.append(Format.modeValue(process.mode))
        }
    }

    /// A TICK record.
    public mutating func tick(_ tick: TickRecord) {
        record(.process, 0, Format.tagTick) { out in
            out.appendVarint(tick.nanoseconds)
            out.appendVarint(tick.heapBytes)
            out.appendVarint(tick.heapPeakBytes)
            out.appendVarint(tick.rssBytes)
        }
    }

    /// A THREAD record: thread `index` (the index its blocks carry) has OS id `tid`.
    public mutating func threadStarted(index: UInt32, tid: UInt64) {
        record(.process, 0, Format.tagThread) { out in
            out.appendVarint(UInt64(index))
            out.appendVarint(tid)
        }
    }

    /// A LEAK record.
    public mutating func leak(_ leak: LeakRecord) {
        record(.process, 0, Format.tagLeak) { out in
            out.appendVarint(UInt64(leak.stackID))
            out.appendVarint(leak.size)
            out.appendVarint(leak.address)
            out.append(Format.leakKindValue(leak.kind))
        }
    }

    /// A SAMPLING record: the trace's ALLOC records are samples at this mean interval.
    public mutating func sampling(intervalBytes: UInt64) {
        record(.process, 0, Format.tagSampling) { out in out.appendVarint(intervalBytes) }
    }

    /// A COUNTS record: exact totals of a sampled recording.
    public mutating func counts(_ counts: CountsRecord) {
        record(.process, 0, Format.tagCounts) { out in
            out.appendVarint(counts.allocations)
            out.appendVarint(counts.deallocations)
            out.appendVarint(counts.allocatedBytes)
        }
    }

    /// A JEMALLOC record: jemalloc's own statistics.
    public mutating func jemalloc(_ stats: JemallocStatsRecord) {
        record(.process, 0, Format.tagJemalloc) { out in
            for value in [
                stats.nanoseconds, stats.allocated, stats.active, stats.metadata, stats.resident, stats.mapped,
                stats.retained,
            ] {
                out.appendVarint(value)
            }
        }
    }

    /// An AGGREGATE record: the trace holds snapshots of per-stack counters.
    public mutating func aggregation(intervalNanoseconds: UInt64) {
        record(.process, 0, Format.tagAggregate) { out in out.appendVarint(intervalNanoseconds) }
    }

    /// A SNAPSHOT record; its SITE records follow (``site(_:)``).
    public mutating func snapshot(_ snapshot: SnapshotRecord) {
        record(.process, 0, Format.tagSnapshot) { out in
            out.appendVarint(snapshot.nanoseconds)
            out.append(Format.snapshotReasonValue(snapshot.reason))
            out.appendVarint(snapshot.memprofBytes)
            out.appendVarint(snapshot.siteCount)
        }
    }

    /// A SITE record: one stack's counts since its previous one.
    public mutating func site(_ site: SiteRecord) {
        record(.process, 0, Format.tagSite) { out in
            for value in [
                UInt64(site.stackID), site.allocations, site.deallocations, site.allocatedBytes,
                site.deallocatedBytes, site.temporaries, site.peakLiveBytes,
            ] {
                out.appendVarint(value)
            }
        }
    }

    /// The END record that marks a complete trace.
    public mutating func end(_ end: EndRecord) {
        record(.process, 0, Format.tagEnd) { out in
            out.appendVarint(end.nanoseconds)
            out.appendVarint(end.heapPeakBytes)
            out.appendVarint(end.threadCount)
            out.appendVarint(end.flags.rawValue)
        }
    }

    // MARK: Damaged input, for tests

    /// Appends `bytes` verbatim to the current block's payload, as if a record: for
    /// tests of unknown tags, bad values and records that run past their block.
    ///
    /// - Precondition: a block is open (`beginBlock(kind:thread:)` or a record method).
    public mutating func appendRawRecordBytes(_ bytes: [UInt8]) {
        precondition(openBlock != nil, "appendRawRecordBytes needs an open block")
        payload.append(contentsOf: bytes)
    }

    /// Closes the current block and writes one block exactly as given, unchecked.
    ///
    /// - Parameters:
    ///   - kind: the header's kind byte (1 thread, 2 process; others to test rejection).
    ///   - codec: the header's codec byte (0 none, 1 zstd).
    ///   - thread: the header's thread index.
    ///   - rawSize: the header's raw size; `nil` for `payload.count`.
    ///   - payload: the stored payload, written as is.
    ///   - checksum: the header's checksum; `nil` for the payload's correct CRC-32.
    public mutating func appendRawBlock(
        kind: UInt8, codec: UInt8, thread: UInt32 = 0, rawSize: UInt32? = nil, payload: [UInt8],
        checksum: UInt32? = nil
    ) {
        endBlock()
        let crc = checksum ?? payload.withUnsafeBytes { CRC32.checksum($0) }
        writeBlock(
            kind: kind, codec: codec, thread: thread, rawSize: rawSize ?? UInt32(payload.count), stored: payload,
            checksum: crc)
    }

    // MARK: Encoding

    private mutating func record(_ kind: BlockKind, _ thread: UInt32, _ tag: UInt8, _ fields: (inout [UInt8]) -> Void) {
        if let open = openBlock, open.kind == kind, open.thread == thread {
            if payload.count >= blockSize {
                flush()
            }
        } else {
            beginBlock(kind: kind, thread: thread)
        }
        payload.append(tag)
        fields(&payload)
    }

    /// Writes the open block if it holds any bytes and empties the payload (the block
    /// stays open, so further records of its kind and thread start a new block).
    private mutating func flush() {
        guard let open = openBlock, !payload.isEmpty else { return }
        precondition(payload.count <= Format.maxRawBlockSize, "a block's raw payload exceeds 16 MiB")
        let stored: [UInt8]
        let codecValue: UInt8
        switch codec {
        case .none:
            stored = payload
            codecValue = Format.codecNone
        case .zstd(let level):
            stored = Self.compress(payload, level: level)
            codecValue = Format.codecZstd
        }
        let crc = stored.withUnsafeBytes { CRC32.checksum($0) }
        writeBlock(
            kind: open.kind.formatValue, codec: codecValue, thread: open.thread, rawSize: UInt32(payload.count),
            stored: stored, checksum: crc)
        payload.removeAll(keepingCapacity: true)
    }

    private mutating func writeBlock(
        kind: UInt8, codec: UInt8, thread: UInt32, rawSize: UInt32, stored: [UInt8], checksum: UInt32
    ) {
        blockOffsets.append(output.count)
        output.append(littleEndian: Format.blockMagic)
        output.append(kind)
        output.append(codec)
        output.append(littleEndian: UInt16(0))  // reserved
        output.append(littleEndian: UInt32(stored.count))
        output.append(littleEndian: rawSize)
        output.append(littleEndian: thread)
        output.append(littleEndian: checksum)
        output.append(contentsOf: stored)
    }

    private static func compress(_ input: [UInt8], level: Int32) -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        var result = [UInt8](repeating: 0, count: bound)
        let size = result.withUnsafeMutableBytes { out in
            input.withUnsafeBytes { source in
                ZSTD_compress(out.baseAddress, bound, source.baseAddress, source.count, level)
            }
        }
        // Compressing into a buffer of ZSTD_compressBound bytes cannot fail.
        precondition(ZSTD_isError(size) == 0, "ZSTD_compress failed: \(String(cString: ZSTD_getErrorName(size)))")
        result.removeSubrange(size...)
        return result
    }
}

extension [UInt8] {
    /// Appends an unsigned LEB128 varint, as `memprof_put_varint` writes it.
    mutating func appendVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        append(UInt8(value))
    }

    /// Appends a zigzag-encoded signed varint, as `memprof_put_svarint` writes it.
    mutating func appendSignedVarint(_ value: Int64) {
        appendVarint(UInt64(bitPattern: value << 1) ^ UInt64(bitPattern: value >> 63))
    }

    /// Appends a `b` field: varint length, then the bytes.
    mutating func appendBytes(_ bytes: [UInt8]) {
        appendVarint(UInt64(bytes.count))
        append(contentsOf: bytes)
    }

    mutating func append<T: FixedWidthInteger>(littleEndian value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
