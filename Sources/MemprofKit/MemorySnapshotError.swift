#if canImport(Glibc)
    import Glibc
#endif

/// Why a ``MemorySnapshot`` (or one of its parts) could not be captured.
public enum MemorySnapshotError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A `/proc` file could not be read; `code` is the errno value.
    case cannotRead(path: String, code: Int32)
    /// A `/proc` file did not have the expected form.
    case malformed(path: String, content: String)
    /// jemalloc serves `malloc`, but its heap figure could not be read.
    case jemalloc(JemallocError)

    /// One line: what failed, where, and why.
    public var description: String {
        switch self {
        case .cannotRead(let path, let code):
            let reason = strerror(code).map { String(cString: $0) } ?? "errno \(code)"
            return "\(path): cannot read: \(reason)"
        case .malformed(let path, let content):
            return "\(path): unexpected content: \"\(content)\""
        case .jemalloc(let error):
            return "heap in use: \(error)"
        }
    }
}
