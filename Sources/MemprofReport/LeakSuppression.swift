import MemprofSymbolize

#if canImport(Glibc)
    import Glibc
#endif

/// One `leak:PATTERN` line of a LeakSanitizer-style suppression file: leaks whose
/// allocation stack has a frame the pattern matches are not counted.
///
/// A file holds one suppression per line; `#` starts a comment line; blank lines and
/// the whitespace around a line or a pattern are ignored. Only the `leak` type exists
/// (any other type, such as ThreadSanitizer's `race:`, is an error, as is a line
/// without a type or with an empty pattern).
///
/// ```
/// # third-party caches, freed by the OS at exit
/// leak:libfontconfig.so
/// leak:^OpenSSL_*init$
/// leak:vendor/json.c
/// ```
///
/// A pattern is matched against each frame's function name, source file (its path and
/// its file name) and module (its path and its file name), the way LeakSanitizer
/// matches: `*` matches any run of characters, a leading `^` anchors the pattern at the
/// start and a trailing `$` at the end, and otherwise the pattern may match anywhere
/// (a substring). Unlike LeakSanitizer, a `$` that does not end the pattern is an
/// ordinary character (Swift's mangled names begin with `$s`), and a match is found
/// whenever one exists (LeakSanitizer's left-to-right search misses some, such as
/// `a*b$` in `abxb`). An empty name never matches.
///
/// ```swift
/// let suppressions = try LeakSuppression.load(path: "memprof.supp")
/// let report = Report(analysis: analysis, leakPolicy: LeakPolicy(suppressions: suppressions), resolve: resolve)
/// ```
public struct LeakSuppression: Sendable, Hashable, CustomStringConvertible {
    /// The pattern as written after `leak:`.
    public let pattern: String
    /// The file the suppression was read from; nil when made in code.
    public let file: String?
    /// Its line number in ``file`` (from 1); nil when made in code.
    public let line: Int?

    /// The pattern without its anchors, split at every `*`.
    private let pieces: [[UInt8]]
    /// Whether the pattern starts with `^`: the first piece must begin the name.
    private let anchoredAtStart: Bool
    /// Whether the pattern ends with `$`: the last piece must end the name.
    private let anchoredAtEnd: Bool

    /// Creates a suppression for `pattern` (without the `leak:` prefix).
    public init(pattern: String, file: String? = nil, line: Int? = nil) {
        self.pattern = pattern
        self.file = file
        self.line = line
        var body = Substring(pattern)
        anchoredAtStart = body.hasPrefix("^")
        if anchoredAtStart { body = body.dropFirst() }
        anchoredAtEnd = body.hasSuffix("$")
        if anchoredAtEnd { body = body.dropLast() }
        pieces = body.split(separator: "*", omittingEmptySubsequences: false).map { Array($0.utf8) }
    }

    /// `leak:PATTERN`, as in the file.
    public var description: String { "leak:\(pattern)" }

    /// Whether the pattern matches `name` (a function, a path or a file name).
    public func matches(_ name: String) -> Bool {
        guard !name.isEmpty else { return false }
        var name = name
        return name.withUTF8 { matches(utf8: $0) }
    }

    /// Whether the pattern matches the frame's function name, source file or module.
    public func matches(_ frame: SymbolizedFrame) -> Bool {
        if let function = frame.function, matches(function) { return true }
        if let file = frame.location?.file, matches(file) || matches(SiteLocator.fileName(file)) { return true }
        if let module = frame.module, matches(module) || matches(SiteLocator.moduleName(module)) { return true }
        return false
    }

    /// Whether the pattern matches any frame of a stack (allocator frames included, as in
    /// LeakSanitizer).
    public func matches(anyOf frames: some Sequence<SymbolizedFrame>) -> Bool {
        frames.contains { matches($0) }
    }

    /// The glob match: the first piece at the start (anchored) or anywhere, each middle
    /// piece at its leftmost place after the previous one — which leaves the most room
    /// for the rest, so no backtracking is needed — and the last piece at the end
    /// (anchored) or anywhere after.
    private func matches(utf8 name: UnsafeBufferPointer<UInt8>) -> Bool {
        let name = UnsafeBufferPointer(rebasing: name[...])
        if pieces.count == 1 {
            let piece = pieces[0]
            switch (anchoredAtStart, anchoredAtEnd) {
            case (true, true): return name.elementsEqual(piece)
            case (true, false): return name.starts(with: piece)
            case (false, true): return name.count >= piece.count && name.suffix(piece.count).elementsEqual(piece)
            case (false, false): return Self.find(piece, in: name, from: 0) != nil
            }
        }
        var position = 0
        let first = pieces[0]
        if anchoredAtStart {
            guard name.starts(with: first) else { return false }
            position = first.count
        } else {
            guard let end = Self.find(first, in: name, from: 0) else { return false }
            position = end
        }
        for piece in pieces.dropFirst().dropLast() {
            guard let end = Self.find(piece, in: name, from: position) else { return false }
            position = end
        }
        let last = pieces[pieces.count - 1]
        if anchoredAtEnd {
            return name.count - last.count >= position && name.suffix(last.count).elementsEqual(last)
        }
        return Self.find(last, in: name, from: position) != nil
    }

    /// The end index of the first occurrence of `piece` in `name` at or after `start`.
    private static func find(_ piece: [UInt8], in name: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        guard !piece.isEmpty else { return start }
        guard name.count - start >= piece.count else { return nil }
        let head = piece[0]
        var index = start
        while index <= name.count - piece.count {
            if name[index] == head, name[index..<index + piece.count].elementsEqual(piece) {
                return index + piece.count
            }
            index += 1
        }
        return nil
    }
}

extension LeakSuppression {
    /// The suppressions in the text of a suppression file, in file order.
    /// - Parameter file: the file's path, for error messages and ``file``.
    /// - Throws: ``LeakSuppressionError/invalidLine(path:line:reason:)`` for the first
    ///   line that is not blank, a comment or `leak:PATTERN`.
    public static func parse(_ text: String, file: String) throws(LeakSuppressionError) -> [LeakSuppression] {
        var suppressions: [LeakSuppression] = []
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = rawLine.trimmingBlanks()
            if line.isEmpty || line.hasPrefix("#") { continue }
            func invalid(_ reason: String) -> LeakSuppressionError {
                .invalidLine(path: file, line: index + 1, reason: reason)
            }
            guard let colon = line.firstIndex(of: ":") else {
                throw invalid("expected leak:PATTERN, got '\(line)'")
            }
            let type = line[..<colon]
            guard type == "leak" else {
                let isWord = !type.isEmpty && type.allSatisfy { $0.isLetter || $0 == "_" }
                throw invalid(
                    isWord
                        ? "unsupported suppression type '\(type)' (memprof reads only leak:PATTERN lines)"
                        : "expected leak:PATTERN, got '\(line)'")
            }
            let pattern = line[line.index(after: colon)...].trimmingBlanks()
            guard !pattern.isEmpty else {
                throw invalid("empty pattern after 'leak:' (to suppress every leak, write leak:*)")
            }
            suppressions.append(LeakSuppression(pattern: String(pattern), file: file, line: index + 1))
        }
        return suppressions
    }

    /// The suppressions in the file at `path`, in file order.
    /// - Throws: ``LeakSuppressionError/unreadable(path:reason:)`` when the file cannot
    ///   be read, ``LeakSuppressionError/invalidLine(path:line:reason:)`` for a bad line.
    public static func load(path: String) throws(LeakSuppressionError) -> [LeakSuppression] {
        try parse(try readFile(path), file: path)
    }

    private static func readFile(_ path: String) throws(LeakSuppressionError) -> String {
        do {
            return try readTextFile(path)
        } catch {
            throw .unreadable(path: path, reason: error.reason)
        }
    }
}

/// Why ``readTextFile(_:)`` failed: the system's reason.
struct FileReadError: Error {
    var reason: String
}

/// The whole file as text (invalid UTF-8 replaced), with the system's reason on failure.
func readTextFile(_ path: String) throws(FileReadError) -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw FileReadError(reason: String(cString: strerror(errno))) }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR { continue }
            throw FileReadError(reason: String(cString: strerror(errno)))
        }
        if count == 0 { break }
        bytes.append(contentsOf: chunk[..<count])
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Why a suppression file cannot be used.
public enum LeakSuppressionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file cannot be opened or read; `reason` is the system's.
    case unreadable(path: String, reason: String)
    /// Line `line` (from 1) is not blank, a comment or `leak:PATTERN`.
    case invalidLine(path: String, line: Int, reason: String)

    /// One line naming the file (and line) and what is wrong.
    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "cannot read suppression file \(path): \(reason)"
        case .invalidLine(let path, let line, let reason): "\(path):\(line): \(reason)"
        }
    }
}

extension Substring {
    /// Without spaces, tabs and carriage returns at either end.
    func trimmingBlanks() -> Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" || first == "\r" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" || last == "\r" { text = text.dropLast() }
        return text
    }
}
