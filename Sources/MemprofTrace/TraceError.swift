extension TraceError {
    /// The one-line message behind `description`; the CLI prefixes it with `memprof: `.
    func describe() -> String {
        switch self {
        case .cannotOpen(let path, let reason):
            return "\(path): cannot open: \(reason)"
        case .empty(let path):
            return "\(path): empty file"
        case .notATrace(let path):
            return "\(path): not a memprof trace (no MEMPROF header)"
        case .unsupportedVersion(let path, let major, let minor):
            let supported =
                Format.oldestVersionMajor == Format.versionMajor
                ? "\(Format.versionMajor).x" : "\(Format.oldestVersionMajor).x to \(Format.versionMajor).x"
            return major > Format.versionMajor
                ? "\(path): format version \(major).\(minor) is newer than this memprof reads (\(supported))"
                : "\(path): format version \(major).\(minor) is not one this memprof reads (\(supported))"
        case .corrupt(let path, let offset, let reason):
            let place = offset < UInt64(Format.fileHeaderSize) ? "file header" : "block"
            return "\(path): corrupt \(place) at byte \(offset): \(reason)"
        case .readFailed(let path, let reason):
            return "\(path): read failed: \(reason)"
        }
    }
}
