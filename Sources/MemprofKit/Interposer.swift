import CMemprofClient

/// memprof's interposer as this process has it: linked into the program (the
/// `MemprofInterposer` product, pulled in by `MemprofTesting`), preloaded by
/// `memprof run`, or absent.
///
/// ```swift
/// switch Interposer.current {
/// case .linked, .preloaded: try LeakCheck.run { … }
/// case .absent: print("run under memprof, or link MemprofInterposer")
/// }
/// ```
public enum Interposer: Sendable, Hashable {
    /// Linked into the program: it records without LD_PRELOAD and writes no trace
    /// unless `MEMPROF_OUTPUT` names a file.
    case linked
    /// `libmemprof.so`, preloaded by `memprof run` (which also writes the trace). It
    /// takes over from a linked copy, which then passes every call through.
    case preloaded
    /// Neither: in-process checks throw ``MemprofError/interposerMissing``.
    case absent

    /// Where this process's interposer comes from.
    public static var current: Interposer {
        guard let api = memprof_client_api() else { return .absent }
        return String(cString: api.pointee.flavor) == "linked" ? .linked : .preloaded
    }

    /// The interposer's function table, or the error to throw.
    static func api() throws(MemprofError) -> memprof_api_v1 {
        guard let pointer = memprof_client_api() else { throw .interposerMissing }
        let api = pointer.pointee
        guard api.version == MEMPROF_API_VERSION, api.size >= MemoryLayout<memprof_api_v1>.size else {
            throw .incompatibleInterposer(version: api.version)
        }
        return api
    }

    /// The table of an interposer that records every allocation now.
    static func recording() throws(MemprofError) -> memprof_api_v1 {
        let api = try api()
        if let error = MemprofError(status: api.status()) { throw error }
        return api
    }
}
