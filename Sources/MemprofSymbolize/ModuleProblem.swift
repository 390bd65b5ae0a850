/// A module whose frames have no names, with what the symbolizer tried: the file the
/// trace names and, by the build-id recorded, the separate debug files it looked for.
/// ``Symbolizer/moduleProblems`` lists one per module that addresses fell into.
///
/// ```swift
/// for problem in symbolizer.moduleProblems {
///     print("warning: \(problem.error); looked for \(problem.debugFilesSearched)")
/// }
/// ```
public struct ModuleProblem: Sendable, Hashable {
    /// Why the module gave no names.
    public var error: SymbolizationError
    /// The build-id the trace recorded for the module, in lower-case hex; empty when none
    /// was recorded.
    public var recordedBuildID: String
    /// The separate debug files tried by the recorded build-id (`DIR/.build-id/xx/rest.debug`
    /// for each absolute directory of the debug-info path), none of which exists with it.
    public var debugFilesSearched: [String]

    /// Creates a problem.
    public init(error: SymbolizationError, recordedBuildID: String, debugFilesSearched: [String]) {
        self.error = error
        self.recordedBuildID = recordedBuildID
        self.debugFilesSearched = debugFilesSearched
    }

    /// The module's path as the trace recorded it; empty for a module with no file.
    public var path: String { error.path }

    /// Where a debug file with `buildID` is looked for along `debugInfoPath` (libdwfl's
    /// syntax: colon-separated, a leading `+` or `-` ignored): the same candidates
    /// the C side (memprof_dwarf.c, report_build_id_file) opens, in its order.
    static func debugFiles(buildID: [UInt8], debugInfoPath: String) -> [String] {
        guard buildID.count >= 2, buildID.count <= 64 else { return [] }
        let hex = hexString(buildID)
        let name = "\(hex.prefix(2))/\(hex.dropFirst(2)).debug"
        return debugInfoPath.split(separator: ":", omittingEmptySubsequences: true).compactMap { element in
            let directory = element.first == "+" || element.first == "-" ? element.dropFirst() : element
            guard directory.first == "/" else { return nil }
            return "\(directory)/.build-id/\(name)"
        }
    }
}
