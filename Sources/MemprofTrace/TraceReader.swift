/// The file header's version.
public struct TraceFileHeader: Sendable, Equatable {
    public var versionMajor: UInt16
    public var versionMinor: UInt16

    public init(versionMajor: UInt16, versionMinor: UInt16) {
        self.versionMajor = versionMajor
        self.versionMinor = versionMinor
    }
}

/// Where and why a trace ends early. Reading still returns everything before it.
public struct TraceTruncation: Sendable, Equatable, CustomStringConvertible {
    /// Byte offset in the file where the readable part ends.
    public var offset: UInt64
    /// Human-readable reason, e.g. "the file ends inside a block (12 of 4100 bytes)".
    public var reason: String
    public var description: String { "truncated at byte \(offset): \(reason)" }

    public init(offset: UInt64, reason: String) {
        self.offset = offset
        self.reason = reason
    }

    /// The reason of a trace whose blocks are all whole but that lacks its END record.
    public static let noEndRecordReason =
        "the trace has no END record: the process did not finish writing it (killed or crashed?)"

    /// The reason of such a trace while its process is still writing it (see ``TraceWriter``).
    public static let liveReason = "the trace has no END record yet: the process is still running and writing it"
}

/// What a complete read saw.
public struct TraceReadSummary: Sendable, Equatable {
    /// Complete blocks decoded.
    public var blockCount: Int
    /// Bytes of the file that were read and decoded: the file header plus every complete
    /// block. Equals the file size unless the trace is cut inside a block.
    public var byteCount: UInt64
    /// nil for a complete trace (it ended with an END record and nothing after it).
    public var truncation: TraceTruncation?

    public init(blockCount: Int, byteCount: UInt64, truncation: TraceTruncation?) {
        self.blockCount = blockCount
        self.byteCount = byteCount
        self.truncation = truncation
    }
}

/// Why a trace could not be read. `description` is one line naming path, offset and cause.
public enum TraceError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case empty(path: String)
    case notATrace(path: String)
    case unsupportedVersion(path: String, major: UInt16, minor: UInt16)
    case corrupt(path: String, offset: UInt64, reason: String)
    case readFailed(path: String, reason: String)

    public var description: String { describe() }
}

/// Streams a trace file block by block in bounded memory.
///
/// ```swift
/// struct Counter: TraceVisitor {
///     var allocations = 0
///     mutating func allocation(thread: UInt32, size: UInt64, stackID: UInt32) {
///         allocations += 1
///     }
/// }
/// let reader = try TraceReader(path: "app.mprof")
/// var counter = Counter()
/// let summary = try reader.read(into: &counter)
/// if let truncation = summary.truncation { print("warning: \(truncation)") }
/// ```
///
/// The file stays open while any copy of the reader exists; `read(into:)` may be called
/// more than once (each call reads the file from the start) and from any thread.
public struct TraceReader: Sendable {
    public let path: String
    public let header: TraceFileHeader
    @usableFromInline let file: TraceFile

    /// Opens `path` and validates the file header.
    public init(path: String) throws(TraceError) {
        let file = try TraceFile(opening: path)
        self.header = try file.readFileHeader()
        self.path = path
        self.file = file
    }

    /// Decodes every block in file order, calling `visitor` for each record.
    /// A file cut short is not an error: the summary's `truncation` says where it ends.
    ///
    /// Records of a block are delivered as they are decoded, so when a block turns out
    /// to be corrupt part-way, the visitor has already seen its earlier records. A block
    /// cut off by the end of the file is not delivered at all: its checksum cannot be
    /// verified.
    @inlinable
    public func read<V: TraceVisitor>(into visitor: inout V) throws(TraceError) -> TraceReadSummary {
        let blocks = BlockReader(file: file)
        var sawEnd = false
        // Each thread's latest tail block, until a later block of the thread supersedes it.
        var tails: [UInt32: (offset: UInt64, payload: [UInt8])] = [:]
        while let block = try blocks.next() {
            if block.isTail {
                tails[block.thread] = (block.offset, Array(block.payload))
                continue
            }
            do throws(RecordError) {
                if block.isThreadBlock {
                    tails[block.thread] = nil
                    try decodeThreadBlock(block.payload, thread: block.thread, into: &visitor)
                } else {
                    try decodeProcessBlock(block.payload, sawEnd: &sawEnd, into: &visitor)
                }
            } catch {
                throw error.traceError(path: path, blockOffset: block.offset, payloadSize: block.payload.count)
            }
        }
        // Tails nothing superseded hold the last events of a process killed outright.
        for (thread, tail) in tails.sorted(by: { $0.value.offset < $1.value.offset }) {
            let decoded = tail.payload.withUnsafeBytes { payload in
                Result { () throws(RecordError) in try decodeThreadBlock(payload, thread: thread, into: &visitor) }
            }
            if case .failure(let error) = decoded {
                throw error.traceError(path: path, blockOffset: tail.offset, payloadSize: tail.payload.count)
            }
        }
        return blocks.summary(sawEnd: sawEnd)
    }
}
