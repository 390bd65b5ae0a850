// API CONTRACT (bodies are being implemented; signatures are fixed).

/// The file header's version.
public struct TraceFileHeader: Sendable, Equatable {
    public var versionMajor: UInt16
    public var versionMinor: UInt16
}

/// Where and why a trace ends early. Reading still returns everything before it.
public struct TraceTruncation: Sendable, Equatable, CustomStringConvertible {
    /// Byte offset in the file where the readable part ends.
    public var offset: UInt64
    /// Human-readable reason, e.g. "the file ends inside a block (12 of 4100 bytes)".
    public var reason: String
    public var description: String { "truncated at byte \(offset): \(reason)" }
}

/// What a complete read saw.
public struct TraceReadSummary: Sendable, Equatable {
    public var blockCount: Int
    public var byteCount: UInt64
    /// nil for a complete trace (it ended with an END record and nothing after it).
    public var truncation: TraceTruncation?
}

/// Why a trace could not be read. `description` is one line naming path, offset and cause.
public enum TraceError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case empty(path: String)
    case notATrace(path: String)
    case unsupportedVersion(path: String, major: UInt16, minor: UInt16)
    case corrupt(path: String, offset: UInt64, reason: String)
    case readFailed(path: String, reason: String)

    public var description: String { fatalError("not implemented yet") }
}

/// Streams a trace file block by block in bounded memory.
public struct TraceReader: Sendable {
    public let path: String
    public let header: TraceFileHeader

    /// Opens `path` and validates the file header.
    public init(path: String) throws(TraceError) { fatalError("not implemented yet") }

    /// Decodes every block in file order, calling `visitor` for each record.
    /// A file cut short is not an error: the summary's `truncation` says where it ends.
    public func read<V: TraceVisitor>(into visitor: inout V) throws(TraceError) -> TraceReadSummary {
        fatalError("not implemented yet")
    }
}
