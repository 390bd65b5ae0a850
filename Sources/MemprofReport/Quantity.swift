/// Parses the quantities users type: durations (`1.5s`, `250ms`, `2m`, `1h`), byte
/// sizes (`512MiB`, `64k`, `1G`, `4096`), fractions (`0.8`, `80%`) and moments of a
/// recording (`--at`: a duration, a percentage of the recording, `peak` or `end`).
/// Errors are one sentence saying what was expected.
public enum Quantity {
    /// A moment of a recording.
    public enum Moment: Sendable, Hashable {
        /// Nanoseconds since the process started.
        case offset(UInt64)
        /// A fraction of the recording's duration, 0...1.
        case fraction(Double)
        /// When the heap peaked.
        case peak
        /// The end of the recording.
        case end
    }

    /// Why a quantity could not be read.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// `"1.5s"` → 1_500_000_000. Units: `ns`, `us`, `ms`, `s`, `m` (or `min`), `h`; a unit
    /// is required.
    public static func nanoseconds(_ text: String) throws(ParseError) -> UInt64 {
        let units: [(String, Double)] = [
            ("ns", 1), ("us", 1e3), ("ms", 1e6), ("min", 60e9), ("s", 1e9), ("m", 60e9), ("h", 3600e9),
        ]
        let (number, unit) = split(text)
        guard let value = Double(number), value.isFinite, value >= 0,
            let scale = units.first(where: { $0.0 == unit.lowercased() })?.1
        else {
            throw ParseError(
                description: "'\(text)' is not a duration (a number and a unit: ns, us, ms, s, m, h; e.g. 1.5s, 250ms)")
        }
        let nanoseconds = value * scale
        guard nanoseconds < 1.8e19 else { throw ParseError(description: "'\(text)' is too long a duration") }
        return UInt64(nanoseconds.rounded())
    }

    /// `"512MiB"` → 536_870_912. Units: none (bytes), `B`, `k`/`KiB`, `M`/`MiB`, `G`/`GiB`,
    /// `T`/`TiB` (powers of 1024; `KB`, `MB`, `GB` are powers of 1000).
    public static func bytes(_ text: String) throws(ParseError) -> UInt64 {
        let (number, unit) = split(text)
        let binary: [String: Double] = [
            "": 1, "b": 1, "k": 1024, "kib": 1024, "m": 1_048_576, "mib": 1_048_576, "g": 1_073_741_824,
            "gib": 1_073_741_824,
            "t": 1_099_511_627_776, "tib": 1_099_511_627_776, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
        ]
        guard let value = Double(number), value.isFinite, value >= 0, let scale = binary[unit.lowercased()] else {
            throw ParseError(description: "'\(text)' is not a size (a number of bytes, or with a unit: KiB, MiB, GiB)")
        }
        let bytes = value * scale
        guard bytes < 1.8e19 else { throw ParseError(description: "'\(text)' is too large") }
        return UInt64(bytes.rounded())
    }

    /// `"0.8"` or `"80%"` → 0.8, strictly between 0 and 1 (inclusive of 1).
    public static func fraction(_ text: String) throws(ParseError) -> Double {
        let (number, unit) = split(text)
        guard let value = Double(number), value.isFinite, unit.isEmpty || unit == "%" else {
            throw ParseError(description: "'\(text)' is not a fraction (e.g. 0.8 or 80%)")
        }
        let fraction = unit == "%" ? value / 100 : value
        guard fraction > 0 && fraction <= 1 else {
            throw ParseError(description: "'\(text)' is not a fraction between 0 and 1 (or 0% and 100%)")
        }
        return fraction
    }

    /// A moment: `peak`, `end`, `90%` (of the recording), or a duration since the start.
    public static func moment(_ text: String) throws(ParseError) -> Moment {
        switch text.lowercased() {
        case "peak": return .peak
        case "end": return .end
        default: break
        }
        if text.hasSuffix("%") {
            let (number, _) = split(text)
            guard let value = Double(number), value >= 0, value <= 100 else {
                throw ParseError(description: "'\(text)' is not a percentage of the recording (0% to 100%)")
            }
            return .fraction(value / 100)
        }
        do {
            return .offset(try nanoseconds(text))
        } catch {
            throw ParseError(
                description: "'\(text)' is not a time (a duration since the start such as 1.5s or 250ms, "
                    + "a percentage of the recording such as 90%, peak or end)")
        }
    }

    /// The leading number (digits, sign, point, exponent) and the rest, spaces trimmed.
    private static func split(_ text: String) -> (number: String, unit: String) {
        let trimmed = Substring(text).trimmingBlanks()
        var end = trimmed.startIndex
        var previous: Character = " "
        while end < trimmed.endIndex {
            let character = trimmed[end]
            let isNumeric =
                character.isNumber || character == "." || character == "-" || character == "+"
                || ((character == "e" || character == "E") && previous.isNumber
                    && trimmed.index(after: end) < trimmed.endIndex
                    && (trimmed[trimmed.index(after: end)].isNumber || trimmed[trimmed.index(after: end)] == "-"))
            guard isNumeric else { break }
            previous = character
            end = trimmed.index(after: end)
        }
        return (String(trimmed[..<end]), String(trimmed[end...].trimmingBlanks()))
    }
}

extension Quantity {
    /// A duration as reports spell it (`2.01 s`, `250.0 ms`).
    public static func describe(nanoseconds: UInt64) -> String {
        HumanUnits.duration(nanoseconds: nanoseconds)
    }
}

extension Quantity.Moment {
    /// Whether the moment was given as a time since the start.
    public var isOffset: Bool {
        if case .offset = self { return true }
        return false
    }
}
