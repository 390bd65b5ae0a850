#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Numbers as people read them: thousands separators, binary byte units, short times.
/// Always the same spelling whatever the locale, so reports diff cleanly.
enum HumanUnits {
    /// `1234567` → `"1,234,567"`.
    static func count(_ value: UInt64) -> String {
        let digits = String(value)
        var result = ""
        result.reserveCapacity(digits.count + digits.count / 3)
        for (offset, digit) in digits.enumerated() {
            if offset > 0, (digits.count - offset) % 3 == 0 { result.append(",") }
            result.append(digit)
        }
        return result
    }

    /// `1234` → `"1,234"`, `-5` → `"-5"`.
    static func count(_ value: Int) -> String {
        value < 0 ? "-" + count(UInt64(-value)) : count(UInt64(value))
    }

    /// A real number with `places` decimals and thousands separators: `12345.678` →
    /// `"12,345.7"` for one place.
    static func decimal(_ value: Double, places: Int) -> String {
        guard value.isFinite else { return "-" }
        let text = fixed(abs(value), places: places)
        let parts = text.split(separator: ".", maxSplits: 1)
        var result = count(UInt64(parts[0]) ?? 0)
        if parts.count == 2 { result += "." + parts[1] }
        let isNegative = value < 0 && (Double(text) ?? 0) != 0
        return (isNegative ? "-" : "") + result
    }

    /// `512` → `"512 B"`, `1536` → `"1.50 KiB"`, up to TiB.
    static func bytes(_ value: UInt64) -> String {
        if value < 1024 { return "\(value) B" }
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB"]
        var scaled = Double(value) / 1024
        var unit = 0
        while scaled >= 1024, unit < units.count - 1 {
            scaled /= 1024
            unit += 1
        }
        return fixed(scaled, places: 2) + " " + units[unit]
    }

    /// Bytes for a real-valued figure (means, deviations); negative values keep a sign.
    static func bytes(_ value: Double) -> String {
        guard value.isFinite else { return "-" }
        let magnitude = abs(value)
        if magnitude < 1024 {
            let text =
                magnitude == magnitude.rounded()
                ? fixed(magnitude, places: 0) + " B"
                : fixed(magnitude, places: 1) + " B"
            return (value < 0 ? "-" : "") + text
        }
        return (value < 0 ? "-" : "") + bytes(UInt64(magnitude.rounded()))
    }

    /// A growth rate with an explicit sign: `"+1.50 KiB/s"`, `"-300 B/s"`, `"0 B/s"`.
    static func byteRate(_ bytesPerSecond: Double) -> String {
        guard bytesPerSecond.isFinite else { return "-" }
        let text = bytes(abs(bytesPerSecond)) + "/s"
        if abs(bytesPerSecond) < 0.05 { return "0 B/s" }
        return (bytesPerSecond < 0 ? "-" : "+") + text
    }

    /// `0.0123` → `"12.3 ms"`, `2.5` → `"2.50 s"`, `125` → `"2 min 5.0 s"`.
    static func duration(seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "-" }
        if seconds < 0.001 { return fixed(seconds * 1e6, places: 0) + " us" }
        if seconds < 1 { return fixed(seconds * 1e3, places: 1) + " ms" }
        if seconds < 60 { return fixed(seconds, places: 2) + " s" }
        let minutes = Int(seconds / 60)
        if minutes < 60 { return "\(minutes) min " + fixed(seconds - Double(minutes) * 60, places: 1) + " s" }
        return "\(minutes / 60) h \(minutes % 60) min"
    }

    /// `duration(seconds:)` of a nanosecond count.
    static func duration(nanoseconds: UInt64) -> String {
        duration(seconds: Double(nanoseconds) / 1e9)
    }

    /// `part / whole` as `"12.5%"`; `"0.0%"` when `whole` is zero.
    static func percent(_ part: UInt64, of whole: UInt64) -> String {
        guard whole > 0 else { return "0.0%" }
        return fixed(Double(part) / Double(whole) * 100, places: 1) + "%"
    }

    /// `value` with exactly `places` decimals, as C's `%.*f` writes it (the C library
    /// rounds the exact binary value, so 0.125 becomes "0.12"); never localized.
    static func fixed(_ value: Double, places: Int) -> String {
        // 352 bytes hold every finite double with up to 20 decimals, without a retry.
        let places = Int32(min(max(places, 0), 20))
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 352) { buffer in
            let count = withVaList([places, value]) { arguments in
                vsnprintf(buffer.baseAddress, buffer.count, "%.*f", arguments)
            }
            let length = min(max(Int(count), 0), buffer.count - 1)
            return String(decoding: UnsafeRawBufferPointer(start: buffer.baseAddress, count: length), as: UTF8.self)
        }
    }
}
