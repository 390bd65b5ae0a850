// Record decoding: the hot loop of the reader.
//
// Everything on the per-record path is `@inlinable`, so that `TraceReader.read(into:)`
// is specialized for the caller's concrete visitor in the caller's module: visitor
// calls become direct (usually inlined) calls, and nothing is allocated per event.
// Pointer arithmetic over the decompressed payload avoids bounds-check overhead; the
// cursor checks against the block's end itself, so a damaged record is reported, never
// read past.

/// A field-level decoding failure; `RecordError` adds which record and where.
@usableFromInline
enum FieldError: Error {
    /// A field (or the tag-less remainder of a record) extends past the block's end.
    case pastEnd
    /// Ten bytes with the continuation bit set: no valid varint is that long.
    case overlongVarint
    /// A varint too large for the 32-bit field the model stores it in.
    case tooLarge(field: StaticString, value: UInt64)
    /// An element count that cannot fit in the bytes that remain in the block.
    case countTooLarge(field: StaticString, count: UInt64, remaining: Int)
    /// A one-byte enumeration holding a value the format does not define.
    case invalidValue(field: StaticString, value: UInt8)
    case unknownTag
    /// A defined tag in the other kind of block (e.g. ALLOC in a process block).
    case misplacedTag(inThreadBlock: Bool)
    case secondEnd
    /// FREE_LAST with no ALLOC before it in the same block.
    case freeLastWithoutAlloc
}

/// A record that could not be decoded: which one, where in the decompressed payload,
/// and why. The reader turns it into `TraceError.corrupt` at the block's file offset.
@usableFromInline
struct RecordError: Error {
    @usableFromInline let index: Int
    @usableFromInline let byteOffset: Int
    @usableFromInline let tag: UInt8
    @usableFromInline let problem: FieldError

    @inlinable
    init(index: Int, byteOffset: Int, tag: UInt8, problem: FieldError) {
        self.index = index
        self.byteOffset = byteOffset
        self.tag = tag
        self.problem = problem
    }

    @usableFromInline
    func traceError(path: String, blockOffset: UInt64, payloadSize: Int) -> TraceError {
        let name = Format.tagName(tag).map { " (\($0))" } ?? ""
        let place = "record #\(index)\(name) at byte \(byteOffset) of the \(payloadSize)-byte decompressed payload"
        let why: String
        switch problem {
        case .pastEnd:
            why = "the record runs past the end of the block"
        case .overlongVarint:
            why = "a varint is longer than 10 bytes"
        case .tooLarge(let field, let value):
            why = "\(field) \(value) does not fit in 32 bits"
        case .countTooLarge(let field, let count, let remaining):
            why = "\(field) \(count) cannot fit in the \(remaining) bytes left in the block"
        case .invalidValue(let field, let value):
            why = "invalid \(field) \(value)"
        case .unknownTag:
            why = "unknown record tag 0x\(hex(UInt32(tag), digits: 2))"
        case .misplacedTag(let inThreadBlock):
            let (here, there) = inThreadBlock ? ("thread", "process") : ("process", "thread")
            why = "\(Format.tagName(tag) ?? "?") records belong in \(there) blocks, not \(here) blocks"
        case .secondEnd:
            why = "a second END record (the trace had already ended)"
        case .freeLastWithoutAlloc:
            why = "FREE_LAST with no ALLOC before it in the block"
        }
        return .corrupt(path: path, offset: blockOffset, reason: "\(place): \(why)")
    }
}

/// Reads fields from a decompressed block payload.
@usableFromInline
struct RecordCursor {
    @usableFromInline var position: UnsafeRawPointer
    @usableFromInline let end: UnsafeRawPointer

    @inlinable
    init(start: UnsafeRawPointer, count: Int) {
        position = start
        end = start + count
    }

    @inlinable
    var isAtEnd: Bool {
        @inline(__always) get { position >= end }
    }

    @inlinable
    var remaining: Int {
        @inline(__always) get { end - position }
    }

    @inlinable @inline(__always)
    mutating func byte() throws(FieldError) -> UInt8 {
        guard position < end else { throw .pastEnd }
        let value = position.load(as: UInt8.self)
        position += 1
        return value
    }

    /// An unsigned LEB128 varint, as `memprof_get_varint` reads it: at most 10 bytes,
    /// bits beyond 64 ignored.
    @inlinable @inline(__always)
    mutating func varint() throws(FieldError) -> UInt64 {
        // Most sizes and stack ids of small programs fit one byte.
        if position < end {
            let first = position.load(as: UInt8.self)
            if first < 0x80 {
                position += 1
                return UInt64(first)
            }
        }
        return try longVarint()
    }

    @inlinable
    mutating func longVarint() throws(FieldError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        var p = position
        while shift < 70 {
            guard p < end else { throw .pastEnd }
            let byte = p.load(as: UInt8.self)
            p += 1
            value |= UInt64(byte & 0x7f) &<< shift
            if byte < 0x80 {
                position = p
                return value
            }
            shift += 7
        }
        throw .overlongVarint
    }

    /// A varint that the model keeps in 32 bits (stack ids, generations, thread indexes).
    @inlinable @inline(__always)
    mutating func varint32(_ field: StaticString) throws(FieldError) -> UInt32 {
        let value = try varint()
        guard value <= UInt64(UInt32.max) else { throw .tooLarge(field: field, value: value) }
        return UInt32(truncatingIfNeeded: value)
    }

    /// A zigzag-encoded signed varint.
    @inlinable @inline(__always)
    mutating func signedVarint() throws(FieldError) -> Int64 {
        let value = try varint()
        return Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1)
    }

    /// An element count, checked against the bytes left so that a damaged count cannot
    /// make the reader reserve gigabytes: each element takes at least `minimumSize` bytes.
    @inlinable
    mutating func count(_ field: StaticString, minimumSize: Int) throws(FieldError) -> Int {
        let value = try varint()
        guard value <= UInt64(remaining / minimumSize) else {
            throw .countTooLarge(field: field, count: value, remaining: remaining)
        }
        return Int(value)
    }

    /// A `b` field: varint length, then that many bytes (a view into the payload).
    @inlinable
    mutating func bytes() throws(FieldError) -> UnsafeRawBufferPointer {
        let length = try varint()
        guard length <= UInt64(remaining) else { throw .pastEnd }
        let value = UnsafeRawBufferPointer(start: position, count: Int(length))
        position += Int(length)
        return value
    }

    /// A `b` field as text. Paths and arguments are bytes on Linux, not necessarily
    /// UTF-8; invalid sequences become U+FFFD rather than failing the whole trace.
    @inlinable
    mutating func string() throws(FieldError) -> String {
        String(decoding: try bytes(), as: UTF8.self)
    }
}

/// Decodes a thread block, reporting its events as made by `thread`.
@inlinable
func decodeThreadBlock<V: TraceVisitor>(
    _ payload: UnsafeRawBufferPointer, thread: UInt32, into visitor: inout V
) throws(RecordError) {
    visitor.threadBlock(thread: thread)
    guard let start = payload.baseAddress else { return }
    var cursor = RecordCursor(start: start, count: payload.count)
    var index = 0
    // The last ALLOC of this block, which a FREE_LAST refers to (stack 0: none yet).
    var lastSize: UInt64 = 0
    var lastStack: UInt32 = 0
    while !cursor.isAtEnd {
        let recordStart = cursor.position
        let tag = recordStart.load(as: UInt8.self)
        cursor.position += 1
        do throws(FieldError) {
            // ALLOC and the frees are nearly every record: test them first, inline.
            if tag == Format.tagAlloc {
                let size = try cursor.varint()
                let stackID = try cursor.varint32("stack id")
                visitor.allocation(thread: thread, size: size, stackID: stackID)
                lastSize = size
                lastStack = stackID
            } else if tag == Format.tagFreeLast {
                guard lastStack != 0 else { throw FieldError.freeLastWithoutAlloc }
                visitor.deallocation(thread: thread, size: lastSize, stackID: lastStack, temporary: true)
            } else if tag == Format.tagFree || tag == Format.tagFreeTemp {
                let size = try cursor.varint()
                let stackID = try cursor.varint32("stack id")
                visitor.deallocation(
                    thread: thread, size: size, stackID: stackID, temporary: tag == Format.tagFreeTemp)
            } else {
                try decodeUncommonThreadRecord(tag: tag, from: &cursor, thread: thread, into: &visitor)
            }
        } catch {
            throw RecordError(index: index, byteOffset: recordStart - start, tag: tag, problem: error)
        }
        index += 1
    }
}

@inlinable
func decodeUncommonThreadRecord<V: TraceVisitor>(
    tag: UInt8, from cursor: inout RecordCursor, thread: UInt32, into visitor: inout V
) throws(FieldError) {
    switch tag {
    case Format.tagFreeUnknown:
        visitor.unknownDeallocation(thread: thread)
    case Format.tagInherited:
        let size = try cursor.varint()
        visitor.inherited(thread: thread, size: size, stackID: try cursor.varint32("stack id"))
    case Format.tagTime:
        visitor.time(thread: thread, nanoseconds: try cursor.varint())
    case Format.tagStack:
        let id = try cursor.varint32("stack id")
        let generation = try cursor.varint32("module generation")
        let count = try cursor.count("frame count", minimumSize: 1)
        var frames = [UInt64]()
        frames.reserveCapacity(count)
        if count > 0 {
            var frame = try cursor.varint()
            frames.append(frame)
            for _ in 1..<count {
                frame &+= UInt64(bitPattern: try cursor.signedVarint())
                frames.append(frame)
            }
        }
        visitor.stack(StackRecord(id: id, moduleGeneration: generation, frames: frames))
    case Format.tagModule:
        let generation = try cursor.varint32("module generation")
        let loadBias = try cursor.varint()
        let path = try cursor.string()
        let buildID = Array(try cursor.bytes())
        let segmentCount = try cursor.count("segment count", minimumSize: 3)
        var segments = [ModuleRecord.Segment]()
        segments.reserveCapacity(segmentCount)
        for _ in 0..<segmentCount {
            let virtualAddress = try cursor.varint()
            let memorySize = try cursor.varint()
            let flags = try cursor.byte()
            segments.append(.init(virtualAddress: virtualAddress, memorySize: memorySize, flags: flags))
        }
        visitor.module(
            ModuleRecord(generation: generation, loadBias: loadBias, path: path, buildID: buildID, segments: segments))
    default:
        throw Format.tagIsThreadRecord(tag) == nil ? .unknownTag : .misplacedTag(inThreadBlock: true)
    }
}

/// Decodes a process block. `sawEnd` carries across blocks: a second END is damage.
@inlinable
func decodeProcessBlock<V: TraceVisitor>(
    _ payload: UnsafeRawBufferPointer, sawEnd: inout Bool, into visitor: inout V
) throws(RecordError) {
    guard let start = payload.baseAddress else { return }
    var cursor = RecordCursor(start: start, count: payload.count)
    var index = 0
    while !cursor.isAtEnd {
        let recordStart = cursor.position
        let tag = recordStart.load(as: UInt8.self)
        cursor.position += 1
        do throws(FieldError) {
            try decodeProcessRecord(tag: tag, from: &cursor, sawEnd: &sawEnd, into: &visitor)
        } catch {
            throw RecordError(index: index, byteOffset: recordStart - start, tag: tag, problem: error)
        }
        index += 1
    }
}

@inlinable
func decodeProcessRecord<V: TraceVisitor>(
    tag: UInt8, from cursor: inout RecordCursor, sawEnd: inout Bool, into visitor: inout V
) throws(FieldError) {
    switch tag {
    case Format.tagTick:
        let nanoseconds = try cursor.varint()
        let heapBytes = try cursor.varint()
        let heapPeakBytes = try cursor.varint()
        let rssBytes = try cursor.varint()
        visitor.tick(
            TickRecord(nanoseconds: nanoseconds, heapBytes: heapBytes, heapPeakBytes: heapPeakBytes, rssBytes: rssBytes)
        )
    case Format.tagThread:
        let index = try cursor.varint32("thread index")
        let tid = try cursor.varint()
        visitor.threadStarted(index: index, tid: tid)
    case Format.tagLeak:
        let stackID = try cursor.varint32("stack id")
        let size = try cursor.varint()
        let address = try cursor.varint()
        let kindValue = try cursor.byte()
        guard let kind = Format.leakKind(kindValue) else {
            throw .invalidValue(field: "leak kind", value: kindValue)
        }
        visitor.leak(LeakRecord(stackID: stackID, size: size, address: address, kind: kind))
    case Format.tagProcess:
        let pid = try cursor.varint()
        let parentPID = try cursor.varint()
        let startUnixNanoseconds = try cursor.varint()
        let pageSize = try cursor.varint()
        let executablePath = try cursor.string()
        let argumentCount = try cursor.count("argument count", minimumSize: 1)
        var arguments = [String]()
        arguments.reserveCapacity(argumentCount)
        for _ in 0..<argumentCount {
            arguments.append(try cursor.string())
        }
        let memprofVersion = try cursor.string()
        let modeValue = try cursor.byte()
        guard let mode = Format.mode(modeValue) else {
            throw .invalidValue(field: "mode", value: modeValue)
        }
        visitor.process(
            ProcessRecord(
                pid: pid, parentPID: parentPID, startUnixNanoseconds: startUnixNanoseconds, pageSize: pageSize,
                executablePath: executablePath, arguments: arguments, memprofVersion: memprofVersion, mode: mode))
    case Format.tagEnd:
        let nanoseconds = try cursor.varint()
        let heapPeakBytes = try cursor.varint()
        let threadCount = try cursor.varint()
        let flags = try cursor.varint()
        guard !sawEnd else { throw .secondEnd }
        sawEnd = true
        visitor.end(
            EndRecord(
                nanoseconds: nanoseconds, heapPeakBytes: heapPeakBytes, threadCount: threadCount,
                flags: EndRecord.Flags(rawValue: flags)))
    case Format.tagSampling:
        visitor.sampling(intervalBytes: try cursor.varint())
    case Format.tagCounts:
        let allocations = try cursor.varint()
        let deallocations = try cursor.varint()
        let allocatedBytes = try cursor.varint()
        visitor.counts(
            CountsRecord(allocations: allocations, deallocations: deallocations, allocatedBytes: allocatedBytes))
    case Format.tagJemalloc:
        let nanoseconds = try cursor.varint()
        let allocated = try cursor.varint()
        let active = try cursor.varint()
        let metadata = try cursor.varint()
        let resident = try cursor.varint()
        let mapped = try cursor.varint()
        let retained = try cursor.varint()
        visitor.jemalloc(
            JemallocStatsRecord(
                nanoseconds: nanoseconds, allocated: allocated, active: active, metadata: metadata,
                resident: resident, mapped: mapped, retained: retained))
    case Format.tagAggregate:
        visitor.aggregation(intervalNanoseconds: try cursor.varint())
    case Format.tagSnapshot:
        let nanoseconds = try cursor.varint()
        let reasonValue = try cursor.byte()
        guard let reason = Format.snapshotReason(reasonValue) else {
            throw .invalidValue(field: "snapshot reason", value: reasonValue)
        }
        let memprofBytes = try cursor.varint()
        let siteCount = try cursor.varint()
        visitor.snapshot(
            SnapshotRecord(nanoseconds: nanoseconds, reason: reason, memprofBytes: memprofBytes, siteCount: siteCount))
    case Format.tagSite:
        let stackID = try cursor.varint32("stack id")
        let allocations = try cursor.varint()
        let deallocations = try cursor.varint()
        let allocatedBytes = try cursor.varint()
        let deallocatedBytes = try cursor.varint()
        let temporaries = try cursor.varint()
        let peakLiveBytes = try cursor.varint()
        visitor.site(
            SiteRecord(
                stackID: stackID, allocations: allocations, deallocations: deallocations,
                allocatedBytes: allocatedBytes, deallocatedBytes: deallocatedBytes, temporaries: temporaries,
                peakLiveBytes: peakLiveBytes))
    default:
        throw Format.tagIsThreadRecord(tag) == nil ? .unknownTag : .misplacedTag(inThreadBlock: false)
    }
}
