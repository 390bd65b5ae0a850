#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why the symbols of one module could not be read.
///
/// Symbolization never fails as a whole: frames in such a module keep their module
/// path and have no function or location. ``Symbolizer/moduleErrors`` lists these
/// errors so a report can say why names are missing (and what to install).
public enum SymbolizationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The module record names no file (an anonymous or unnamed mapping).
    case noFile(loadBias: UInt64)
    /// The file could not be opened, and no debug file with its build-id was found.
    case cannotOpen(path: String, reason: String)
    /// The file is not an ELF file that libdw can read.
    case notELF(path: String, reason: String)
    /// The file on disk is not the one that ran (its build-id differs: rebuilt or
    /// upgraded since the recording), and no debug file with the recorded build-id
    /// was found. Its symbols would be wrong, so none are used.
    case buildIDMismatch(path: String, recordedBuildID: String)

    /// The module path this error is about; empty for ``noFile(loadBias:)``.
    public var path: String {
        switch self {
        case .noFile: ""
        case .cannotOpen(let path, _), .notELF(let path, _), .buildIDMismatch(let path, _): path
        }
    }

    /// One line: what failed, where, and why.
    public var description: String {
        switch self {
        case .noFile(let loadBias):
            return "module at load bias 0x\(String(loadBias, radix: 16)) has no file name: no symbols"
        case .cannotOpen(let path, let reason):
            return "\(path): cannot open: \(reason)"
        case .notELF(let path, let reason):
            return "\(path): not a readable ELF file: \(reason)"
        case .buildIDMismatch(let path, let buildID):
            return "\(path): build-id differs from the recorded \(buildID) (file replaced since the recording)"
                + " and no debug file with that build-id was found"
        }
    }

    /// `strerror` text for an errno value.
    static func describe(errno code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text)
    }
}
