/// Streams JSON text byte for byte as Foundation's `JSONEncoder` writes it with
/// `[.sortedKeys, .withoutEscapingSlashes]` (plus `.prettyPrinted` when `pretty`): two
/// spaces per level, `"key" : value`, an empty container as an opening bracket, a blank
/// line and the closing one; strings escaped the same way; a `Double` in its shortest
/// round-trip form without a trailing `.0`.
///
/// The report is a fixed schema, so writing it directly skips the encoder's boxed
/// intermediate tree, its dynamic casts and its key sorting, which took longer than
/// everything else a small report does. Callers write members in sorted key order
/// (checked in debug builds), as `.sortedKeys` would have put them.
///
/// ```swift
/// var writer = JSONWriter(pretty: true)
/// writer.beginObject()
/// writer.key("count")
/// writer.value(3)
/// writer.endObject()  // {\n  "count" : 3\n}
/// ```
struct JSONWriter {
    /// Why a value cannot be written: JSON has no NaN or infinity.
    struct NonFiniteNumberError: Error, CustomStringConvertible {
        var value: Double
        var description: String { "cannot write \(value) as a JSON number" }
    }

    /// The UTF-8 text so far.
    private(set) var bytes: [UInt8] = []
    private let pretty: Bool
    private var depth = 0
    /// Per open container: whether nothing was written in it yet.
    private var isEmpty: [Bool] = []
    #if DEBUG
        /// Per open container: the last key written, to check the order.
        private var lastKeys: [String?] = []
    #endif

    init(pretty: Bool, capacity: Int = 16 * 1024) {
        self.pretty = pretty
        bytes.reserveCapacity(capacity)
    }

    // MARK: Containers

    mutating func beginObject() { open(UInt8(ascii: "{")) }
    mutating func endObject() { close(UInt8(ascii: "}")) }
    mutating func beginArray() { open(UInt8(ascii: "[")) }
    mutating func endArray() { close(UInt8(ascii: "]")) }

    /// Starts the member `name` of the current object; its value comes next.
    mutating func key(_ name: StaticString) {
        #if DEBUG
            let text = name.description
            if let last = lastKeys[lastKeys.count - 1] {
                assert(last.utf8.lexicographicallyPrecedes(text.utf8), "JSON keys out of order: \(last), \(text)")
            }
            lastKeys[lastKeys.count - 1] = text
        #endif
        startItem()
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        if pretty {
            bytes.append(contentsOf: [UInt8(ascii: " "), UInt8(ascii: ":"), UInt8(ascii: " ")])
        } else {
            bytes.append(UInt8(ascii: ":"))
        }
    }

    /// Starts the next element of the current array; its value comes next.
    mutating func element() { startItem() }

    // MARK: Values

    /// An object of whole-number members, given in key order.
    mutating func object(_ members: [(StaticString, UInt64)]) {
        beginObject()
        for (key, value) in members {
            self.key(key)
            self.value(value)
        }
        endObject()
    }

    mutating func value(_ string: String) {
        bytes.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { appendEscaped($0) }
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func value(_ number: UInt64) { appendDecimal(number) }

    mutating func value(_ number: Int) {
        if number < 0 { bytes.append(UInt8(ascii: "-")) }
        appendDecimal(UInt64(number.magnitude))
    }

    /// `description` without a trailing `.0`, as `JSONEncoder` writes floating-point numbers.
    mutating func value(_ number: Double) throws(NonFiniteNumberError) {
        guard number.isFinite else { throw NonFiniteNumberError(value: number) }
        var text = number.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        bytes.append(contentsOf: text.utf8)
    }

    mutating func value(_ flag: Bool) {
        bytes.append(contentsOf: (flag ? "true" : "false").utf8)
    }

    mutating func null() {
        bytes.append(contentsOf: "null".utf8)
    }

    mutating func value(_ string: String?) {
        if let string { value(string) } else { null() }
    }

    mutating func value(_ number: UInt64?) {
        if let number { value(number) } else { null() }
    }

    mutating func value(_ number: Int?) {
        if let number { value(number) } else { null() }
    }

    mutating func value(_ number: Double?) throws(NonFiniteNumberError) {
        if let number { try value(number) } else { null() }
    }

    // MARK: Layout

    private mutating func open(_ bracket: UInt8) {
        bytes.append(bracket)
        isEmpty.append(true)
        #if DEBUG
            lastKeys.append(nil)
        #endif
        if pretty {
            bytes.append(UInt8(ascii: "\n"))
            depth += 1
        }
    }

    private mutating func close(_ bracket: UInt8) {
        isEmpty.removeLast()
        #if DEBUG
            lastKeys.removeLast()
        #endif
        if pretty {
            bytes.append(UInt8(ascii: "\n"))
            depth -= 1
            indent()
        }
        bytes.append(bracket)
    }

    private mutating func startItem() {
        if isEmpty[isEmpty.count - 1] {
            isEmpty[isEmpty.count - 1] = false
        } else {
            bytes.append(UInt8(ascii: ","))
            if pretty { bytes.append(UInt8(ascii: "\n")) }
        }
        if pretty { indent() }
    }

    private mutating func indent() {
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * depth))
    }

    private mutating func appendDecimal(_ number: UInt64) {
        guard number >= 10 else {
            bytes.append(UInt8(ascii: "0") + UInt8(number))
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var remaining = number
            var start = digits.count
            while remaining > 0 {
                start -= 1
                digits[start] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
            }
            bytes.append(contentsOf: digits[start...])
        }
    }

    /// Quote, backslash and control characters escaped as `JSONEncoder` does (`\n`,
    /// `\u001f`, …); everything else, `/` and non-ASCII included, copied as is.
    private mutating func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>) {
        let hex = Array("0123456789abcdef".utf8)
        var runStart = 0
        for (index, byte) in utf8.enumerated() {
            let escape: [UInt8]
            switch byte {
            case UInt8(ascii: "\""): escape = [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): escape = [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x08: escape = [UInt8(ascii: "\\"), UInt8(ascii: "b")]
            case 0x0c: escape = [UInt8(ascii: "\\"), UInt8(ascii: "f")]
            case UInt8(ascii: "\n"): escape = [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case UInt8(ascii: "\r"): escape = [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case UInt8(ascii: "\t"): escape = [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0x00...0x1f:
                escape = Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xf)]]
            default:
                continue
            }
            bytes.append(contentsOf: utf8[runStart..<index])
            bytes.append(contentsOf: escape)
            runStart = index + 1
        }
        bytes.append(contentsOf: utf8[runStart...])
    }
}
