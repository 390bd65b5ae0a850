import CMemprofFormat

/// The trace format's numbers as Swift values.
///
/// Everything here comes from `memprof_format.h`, the one definition shared with the C
/// writer; this enum only converts the imported C types (enum structs, `Int32` macros)
/// into the integer widths the reader and builder work with. The members the decoder
/// uses are `@inlinable` computed properties rather than stored `static let`s, so that a
/// visitor's module, where the generic decoder gets specialized, folds them to
/// immediates instead of calling a lazy-global accessor per record.
@usableFromInline
enum Format {
    // MARK: File header

    static let fileMagic: [UInt8] = Array(MEMPROF_FILE_MAGIC.utf8)
    static let fileHeaderSize = Int(MEMPROF_FILE_HEADER_SIZE)
    static let versionMajor = UInt16(MEMPROF_FORMAT_VERSION_MAJOR)
    /// The oldest major version this reader reads (older files lack newer block kinds).
    static let oldestVersionMajor = UInt16(MEMPROF_FORMAT_OLDEST_MAJOR)
    static let versionMinor = UInt16(MEMPROF_FORMAT_VERSION_MINOR)
    static let headerVersionMajorOffset = Int(MEMPROF_FH_VERSION_MAJOR)
    static let headerVersionMinorOffset = Int(MEMPROF_FH_VERSION_MINOR)
    static let headerSizeOffset = Int(MEMPROF_FH_HEADER_SIZE)
    static let headerFlagsOffset = Int(MEMPROF_FH_FLAGS)

    // MARK: Block header

    static let blockMagic = UInt32(MEMPROF_BLOCK_MAGIC)
    static let blockHeaderSize = Int(MEMPROF_BLOCK_HEADER_SIZE)
    static let blockMagicOffset = Int(MEMPROF_BH_MAGIC)
    static let blockKindOffset = Int(MEMPROF_BH_KIND)
    static let blockCodecOffset = Int(MEMPROF_BH_CODEC)
    static let blockStoredSizeOffset = Int(MEMPROF_BH_STORED_SIZE)
    static let blockRawSizeOffset = Int(MEMPROF_BH_RAW_SIZE)
    static let blockThreadOffset = Int(MEMPROF_BH_THREAD)
    static let blockChecksumOffset = Int(MEMPROF_BH_CHECKSUM)

    /// The largest raw block a reader accepts (16 MiB).
    static let maxRawBlockSize = Int(MEMPROF_MAX_RAW_BLOCK_SIZE)

    static let blockKindThread = UInt8(MEMPROF_BLOCK_THREAD.rawValue)
    static let blockKindProcess = UInt8(MEMPROF_BLOCK_PROCESS.rawValue)
    static let blockKindThreadTail = UInt8(MEMPROF_BLOCK_THREAD_TAIL.rawValue)
    static let codecNone = UInt8(MEMPROF_CODEC_NONE.rawValue)
    static let codecZstd = UInt8(MEMPROF_CODEC_ZSTD.rawValue)

    // MARK: Record tags

    @inlinable static var tagAlloc: UInt8 { UInt8(truncatingIfNeeded: MEMPROF_TAG_ALLOC.rawValue) }
    @inlinable static var tagFree: UInt8 { UInt8(truncatingIfNeeded: MEMPROF_TAG_FREE.rawValue) }
    @inlinable static var tagFreeTemp: UInt8 { UInt8(truncatingIfNeeded: MEMPROF_TAG_FREE_TEMP.rawValue) }
    @inlinable static var tagFreeUnknown: UInt8 {
        UInt8(truncatingIfNeeded: MEMPROF_TAG_FREE_UNKNOWN.rawValue)
    }
    @inlinable static var tagStack: UInt8 { UInt8(truncatingIfNeeded: MEMPROF_TAG_STACK.rawValue) }
    @inlinable static var tagModule: UInt8 { UInt8(truncatingIfNeeded: MEMPROF_TAG_MODULE.rawValue) }
    @inlinable static var tagTime: UInt8 { UInt8(truncatingIfNeeded: MEMPROF_TAG_TIME.rawValue) }
    @inlinable static var tagFreeLast: UInt8 { UInt8(truncatingIfNeeded: MEMPROF_TAG_FREE_LAST.rawValue) }
    @inlinable static var tagInherited: UInt8 { UInt8(truncatingIfNeeded: MEMPROF_TAG_INHERITED.rawValue) }
    @inlinable static var tagProcess: UInt8 { UInt8(truncatingIfNeeded: MEMPROF_TAG_PROCESS.rawValue) }
    @inlinable static var tagTick: UInt8 { UInt8(truncatingIfNeeded: MEMPROF_TAG_TICK.rawValue) }
    @inlinable static var tagThread: UInt8 { UInt8(truncatingIfNeeded: MEMPROF_TAG_THREAD.rawValue) }
    @inlinable static var tagLeak: UInt8 { UInt8(truncatingIfNeeded: MEMPROF_TAG_LEAK.rawValue) }
    @inlinable static var tagEnd: UInt8 { UInt8(truncatingIfNeeded: MEMPROF_TAG_END.rawValue) }
    @inlinable static var tagSampling: UInt8 { UInt8(truncatingIfNeeded: MEMPROF_TAG_SAMPLING.rawValue) }
    @inlinable static var tagCounts: UInt8 { UInt8(truncatingIfNeeded: MEMPROF_TAG_COUNTS.rawValue) }
    @inlinable static var tagJemalloc: UInt8 { UInt8(truncatingIfNeeded: MEMPROF_TAG_JEMALLOC.rawValue) }
    @inlinable static var tagAggregate: UInt8 { UInt8(truncatingIfNeeded: MEMPROF_TAG_AGGREGATE.rawValue) }
    @inlinable static var tagSnapshot: UInt8 { UInt8(truncatingIfNeeded: MEMPROF_TAG_SNAPSHOT.rawValue) }
    @inlinable static var tagSite: UInt8 { UInt8(truncatingIfNeeded: MEMPROF_TAG_SITE.rawValue) }

    /// The header's name for a record tag, for error messages.
    @usableFromInline
    static func tagName(_ tag: UInt8) -> String? {
        switch tag {
        case tagAlloc: "ALLOC"
        case tagFree: "FREE"
        case tagFreeTemp: "FREE_TEMP"
        case tagFreeUnknown: "FREE_UNKNOWN"
        case tagStack: "STACK"
        case tagModule: "MODULE"
        case tagTime: "TIME"
        case tagFreeLast: "FREE_LAST"
        case tagInherited: "INHERITED"
        case tagProcess: "PROCESS"
        case tagTick: "TICK"
        case tagThread: "THREAD"
        case tagLeak: "LEAK"
        case tagEnd: "END"
        case tagSampling: "SAMPLING"
        case tagCounts: "COUNTS"
        case tagJemalloc: "JEMALLOC"
        case tagAggregate: "AGGREGATE"
        case tagSnapshot: "SNAPSHOT"
        case tagSite: "SITE"
        default: nil
        }
    }

    /// Whether `tag` belongs in thread blocks (`true`) or process blocks (`false`);
    /// `nil` for a tag the format does not define.
    @usableFromInline
    static func tagIsThreadRecord(_ tag: UInt8) -> Bool? {
        switch tag {
        case tagAlloc, tagFree, tagFreeTemp, tagFreeUnknown, tagStack, tagModule, tagTime, tagFreeLast, tagInherited:
            true
        case tagProcess, tagTick, tagThread, tagLeak, tagEnd, tagSampling, tagCounts, tagJemalloc, tagAggregate,
            tagSnapshot, tagSite:
            false
        default: nil
        }
    }

    // MARK: Enumerations carried in records

    static func leakKindValue(_ kind: LeakKind) -> UInt8 {
        let value: memprof_leak_kind =
            switch kind {
            case .unfreed: MEMPROF_LEAK_UNFREED
            case .definite: MEMPROF_LEAK_DEFINITE
            case .indirect: MEMPROF_LEAK_INDIRECT
            case .possible: MEMPROF_LEAK_POSSIBLE
            case .reachable: MEMPROF_LEAK_REACHABLE
            }
        return UInt8(value.rawValue)
    }

    static func modeValue(_ mode: TraceMode) -> UInt8 {
        let value: memprof_mode =
            switch mode {
            case .full: MEMPROF_MODE_FULL
            case .sample: MEMPROF_MODE_SAMPLE
            case .aggregate: MEMPROF_MODE_AGGREGATE
            }
        return UInt8(value.rawValue)
    }

    // The contract declares `LeakKind` and `TraceMode` with literal raw values (Swift
    // requires literals there); decoding goes through these mappings so a drift between
    // those literals and the C enums shows up in `TraceFormatTests` rather than as
    // silently mislabelled records.
    @usableFromInline
    static func leakKind(_ value: UInt8) -> LeakKind? {
        LeakKind.allCases.first { leakKindValue($0) == value }
    }

    static func snapshotReasonValue(_ reason: SnapshotRecord.Reason) -> UInt8 {
        let value: memprof_snapshot_reason =
            switch reason {
            case .periodic: MEMPROF_SNAPSHOT_PERIODIC
            case .signal: MEMPROF_SNAPSHOT_SIGNAL
            case .api: MEMPROF_SNAPSHOT_API
            case .end: MEMPROF_SNAPSHOT_END
            }
        return UInt8(value.rawValue)
    }

    @usableFromInline
    static func snapshotReason(_ value: UInt8) -> SnapshotRecord.Reason? {
        SnapshotRecord.Reason.allCases.first { snapshotReasonValue($0) == value }
    }

    @usableFromInline
    static func mode(_ value: UInt8) -> TraceMode? {
        [TraceMode.full, .sample, .aggregate].first { modeValue($0) == value }
    }
}
