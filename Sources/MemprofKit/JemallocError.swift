#if canImport(Glibc)
    import Glibc
#endif

/// Why a jemalloc query failed: jemalloc is not loaded, or one `mallctl` call failed.
///
/// The ``description`` is one line naming the ctl, the operation and the reason.
public enum JemallocError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The process has no `mallctl`: jemalloc is not loaded.
    case notLoaded
    /// `mallctl` returned the errno-style `code` for the ctl `name`.
    ///
    /// `ENOENT`: no such ctl, or no such (initialized) arena. `EINVAL`: the value's
    /// size is not the ctl's, or the ctl refused the value. `EPERM`: the ctl is
    /// read-only, or takes no value. `EAGAIN`: jemalloc ran out of memory. `EFAULT`:
    /// the ctl's side effect failed.
    case ctlFailed(name: String, operation: Operation, code: Int32)

    /// What was asked of a ctl.
    public enum Operation: Sendable, Hashable {
        /// A read of a value of the C type `cType`.
        case read(cType: String)
        /// A write of a value of the C type `cType`.
        case write(cType: String)
        /// A call of a ctl that takes and returns nothing.
        case call
    }

    /// One line: what failed, where, and why (and, for ``notLoaded``, how to load jemalloc).
    public var description: String {
        switch self {
        case .notLoaded:
            return "jemalloc is not loaded in this process (no mallctl symbol found): run the program with "
                + "LD_PRELOAD=libjemalloc.so.2 (Debian package libjemalloc2) or link it with -ljemalloc"
        case .ctlFailed(let name, let operation, let code):
            let what: String
            switch operation {
            case .read(let cType): what = "read as \(cType)"
            case .write(let cType): what = "write as \(cType)"
            case .call: what = "call"
            }
            return "jemalloc ctl \"\(name)\": \(what) failed: \(Self.reason(code))"
        }
    }

    /// What `mallctl`'s return code means (jemalloc's own meanings, which differ
    /// from `strerror`'s), with the code's name.
    private static func reason(_ code: Int32) -> String {
        switch code {
        case ENOENT: return "no such ctl name, or no such arena (ENOENT)"
        case EINVAL: return "wrong value size for this ctl, or a value it refuses (EINVAL)"
        case EPERM: return "the ctl is read-only or takes no value (EPERM)"
        case EAGAIN: return "jemalloc ran out of memory (EAGAIN)"
        case EFAULT: return "the ctl's operation failed inside jemalloc (EFAULT)"
        default:
            let text = strerror(code).map { String(cString: $0) } ?? "unknown error"
            return "\(text) (errno \(code))"
        }
    }
}
