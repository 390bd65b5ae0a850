import MemprofAnalysis

/// Reads ``HealthThresholds`` from a TOML file and from environment variables.
///
/// The file is the small strict subset of TOML that thresholds need: `key = value`
/// lines, `#` comments, blank lines and at most one `[thresholds]` table header (keys
/// may also stand before any table). A value is a number or a double-quoted string;
/// anything else — another table, an unknown or repeated key, an array, a bad quantity —
/// is an error naming `file:line`.
///
/// ```toml
/// [thresholds]
/// memory_limit = "512MiB"        # bytes: a number, or a string with a unit
/// warning_level = 0.8            # a fraction of memory_limit, "80%", or "400MiB"
/// allowed_leak_bytes = 0
/// max_allocation_rate = 100000   # allocations per second
/// ```
///
/// Environment variables override the file key by key: `MEMPROF_MEMORY_LIMIT`,
/// `MEMPROF_WARNING_LEVEL`, `MEMPROF_ALLOWED_LEAK_BYTES`, `MEMPROF_MAX_ALLOCATION_RATE`,
/// with the same spellings as the file's strings.
public enum ThresholdsFile {
    /// A threshold's key in the file and its environment variable.
    static let keys: [(key: String, variable: String)] = [
        ("memory_limit", "MEMPROF_MEMORY_LIMIT"), ("warning_level", "MEMPROF_WARNING_LEVEL"),
        ("allowed_leak_bytes", "MEMPROF_ALLOWED_LEAK_BYTES"), ("max_allocation_rate", "MEMPROF_MAX_ALLOCATION_RATE"),
    ]

    /// The thresholds of the file at `path` (nil: none), then of `environment`.
    public static func load(path: String?, environment: [String: String]) throws(ThresholdsError) -> HealthThresholds {
        var thresholds = HealthThresholds()
        if let path {
            let text: String
            do {
                text = try readTextFile(path)
            } catch {
                throw .unreadable(path: path, reason: error.reason)
            }
            thresholds = try parse(text, file: path)
        }
        for (key, variable) in keys {
            guard let value = environment[variable] else { continue }
            do throws(Quantity.ParseError) {
                try set(key, to: value, in: &thresholds)
            } catch {
                throw .invalidVariable(name: variable, reason: error.description)
            }
        }
        return thresholds
    }

    /// The thresholds in a file's text. - Parameter file: its path, for errors.
    public static func parse(_ text: String, file: String) throws(ThresholdsError) -> HealthThresholds {
        var thresholds = HealthThresholds()
        var seen: Set<String> = []
        var sawTable = false
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            func invalid(_ reason: String) -> ThresholdsError {
                .invalidLine(path: file, line: index + 1, reason: reason)
            }
            let line = withoutComment(rawLine).trimmingBlanks()
            if line.isEmpty { continue }
            if line.hasPrefix("[") {
                guard line == "[thresholds]" else {
                    throw invalid("unexpected table \(line) (only [thresholds] is read)")
                }
                guard !sawTable, seen.isEmpty else { throw invalid("[thresholds] must come first, and once") }
                sawTable = true
                continue
            }
            guard let equals = line.firstIndex(of: "=") else {
                throw invalid("expected key = value, got '\(line)'")
            }
            let key = String(line[..<equals].trimmingBlanks())
            let rawValue = line[line.index(after: equals)...].trimmingBlanks()
            guard keys.contains(where: { $0.key == key }) else {
                throw invalid(
                    "unknown key '\(key)' (known: \(keys.map(\.key).joined(separator: ", ")))")
            }
            guard seen.insert(key).inserted else { throw invalid("\(key) is set twice") }
            let value: String
            if rawValue.hasPrefix("\"") {
                guard rawValue.count >= 2, rawValue.hasSuffix("\""),
                    !rawValue.dropFirst().dropLast().contains("\"")
                else {
                    throw invalid("unterminated string for \(key)")
                }
                value = String(rawValue.dropFirst().dropLast())
            } else {
                guard !rawValue.isEmpty, Double(rawValue.replacing("_", with: "")) != nil else {
                    throw invalid("\(key) must be a number or a quoted string, got '\(rawValue)'")
                }
                value = String(rawValue.replacing("_", with: ""))
            }
            do throws(Quantity.ParseError) {
                try set(key, to: value, in: &thresholds)
            } catch {
                throw invalid("\(key): \(error.description)")
            }
        }
        return thresholds
    }

    /// The line up to a `#` outside a string.
    private static func withoutComment(_ line: Substring) -> Substring {
        var inString = false
        for index in line.indices {
            switch line[index] {
            case "\"": inString.toggle()
            case "#" where !inString: return line[..<index]
            default: break
            }
        }
        return line
    }

    private static func set(_ key: String, to value: String, in thresholds: inout HealthThresholds)
        throws(Quantity.ParseError)
    {
        switch key {
        case "memory_limit":
            thresholds.memoryLimitBytes = try Quantity.bytes(value)
        case "warning_level":
            if let fraction = try? Quantity.fraction(value) {
                thresholds.warningLevel = .fraction(fraction)
            } else {
                do {
                    thresholds.warningLevel = .bytes(try Quantity.bytes(value))
                } catch {
                    throw Quantity.ParseError(
                        description: "'\(value)' is neither a fraction of memory_limit (0.8, 80%) nor a size (400MiB)")
                }
            }
        case "allowed_leak_bytes":
            thresholds.allowedLeakBytes = try Quantity.bytes(value)
        default:
            guard let rate = Double(value), rate.isFinite, rate >= 0 else {
                throw Quantity.ParseError(description: "'\(value)' is not a number of allocations per second")
            }
            thresholds.maxAllocationRate = rate
        }
    }
}

/// Why thresholds cannot be used.
public enum ThresholdsError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    /// Line `line` (from 1) of the file is not valid.
    case invalidLine(path: String, line: Int, reason: String)
    /// An environment variable's value is not valid.
    case invalidVariable(name: String, reason: String)

    /// One line naming the file and line, or the variable.
    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "cannot read thresholds file \(path): \(reason)"
        case .invalidLine(let path, let line, let reason): "\(path):\(line): \(reason)"
        case .invalidVariable(let name, let reason): "\(name): \(reason)"
        }
    }
}
