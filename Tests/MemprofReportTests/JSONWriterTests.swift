import Foundation
import Testing

@testable import MemprofReport

/// The writer promises `JSONEncoder`'s exact text; these compare the two on values
/// that exercise every escape, number form and container layout.
@Suite("JSONWriter")
struct JSONWriterTests {
    private static func encoder(pretty: Bool) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting =
            pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    private static func expected<T: Encodable>(_ value: T, pretty: Bool) throws -> String {
        String(decoding: try encoder(pretty: pretty).encode(value), as: UTF8.self)
    }

    private static func written(pretty: Bool, _ body: (inout JSONWriter) throws -> Void) rethrows -> String {
        var writer = JSONWriter(pretty: pretty)
        try body(&writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    @Test("strings are escaped as JSONEncoder escapes them", arguments: [true, false])
    func strings(pretty: Bool) throws {
        var strings = (0..<128).map { String(UnicodeScalar(UInt8($0))) }
        strings += [
            "", "plain", "a/b\\c\"d", "é ü 漢 🎉", "tab\there\nnext\r\u{8}\u{c}\u{0}\u{1f}\u{7f}", "\u{2028}\u{feff}",
        ]
        let text = Self.written(pretty: pretty) { json in
            json.beginArray()
            for string in strings {
                json.element()
                json.value(string)
            }
            json.endArray()
        }
        #expect(text == (try Self.expected(strings, pretty: pretty)))
    }

    @Test("numbers print as JSONEncoder prints them", arguments: [true, false])
    func numbers(pretty: Bool) throws {
        var generator = SystemRandomNumberGenerator()
        var doubles: [Double] = [
            0, -0.0, 1, -1, 0.1, 0.5, 1.5, 100, 1e15, 1e16, 1e17, 1.5e300, 1e-4, 1e-5, 1e-7, 123456789.123457,
            9e27, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 46.4, 65.104, -168.78,
        ]
        for _ in 0..<1000 {
            doubles.append(Double(bitPattern: UInt64.random(in: 0...UInt64.max, using: &generator)))
            doubles.append((Double.random(in: -1e9...1e9, using: &generator) * 1000).rounded() / 1000)
        }
        doubles.removeAll { !$0.isFinite }
        let integers: [UInt64] = [0, 1, 9, 10, 99, 100, 12345, UInt64(Int64.max), .max]
        let signed: [Int] = [0, -1, -10, .min, .max, 42]
        let text = try Self.written(pretty: pretty) { json in
            json.beginArray()
            for value in doubles {
                json.element()
                try json.value(value)
            }
            json.endArray()
        }
        #expect(text == (try Self.expected(doubles, pretty: pretty)))
        let unsignedText = Self.written(pretty: pretty) { json in
            json.beginArray()
            for value in integers {
                json.element()
                json.value(value)
            }
            json.endArray()
        }
        #expect(unsignedText == (try Self.expected(integers, pretty: pretty)))
        let signedText = Self.written(pretty: pretty) { json in
            json.beginArray()
            for value in signed {
                json.element()
                json.value(value)
            }
            json.endArray()
        }
        #expect(signedText == (try Self.expected(signed, pretty: pretty)))
    }

    private struct Nested: Encodable {
        var a: [[Int]]
        var b: [String: [Bool]]
        var c: String?
        var d: [Inner]

        struct Inner: Encodable {
            var x: Int
        }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(a, forKey: .a)
            try container.encode(b, forKey: .b)
            try container.encode(c, forKey: .c)
            try container.encode(d, forKey: .d)
        }

        enum CodingKeys: String, CodingKey { case a, b, c, d }
    }

    @Test("containers, empty ones and nulls are laid out as JSONEncoder lays them out", arguments: [true, false])
    func containers(pretty: Bool) throws {
        let value = Nested(
            a: [[], [1], [2, 3]], b: ["e": [], "f": [true, false]], c: nil, d: [.init(x: 1), .init(x: 2)])
        let text = Self.written(pretty: pretty) { json in
            json.beginObject()
            json.key("a")
            json.beginArray()
            for row in value.a {
                json.element()
                json.beginArray()
                for number in row {
                    json.element()
                    json.value(number)
                }
                json.endArray()
            }
            json.endArray()
            json.key("b")
            json.beginObject()
            json.key("e")
            json.beginArray()
            json.endArray()
            json.key("f")
            json.beginArray()
            for flag in [true, false] {
                json.element()
                json.value(flag)
            }
            json.endArray()
            json.endObject()
            json.key("c")
            json.value(value.c)
            json.key("d")
            json.beginArray()
            for inner in value.d {
                json.element()
                json.beginObject()
                json.key("x")
                json.value(inner.x)
                json.endObject()
            }
            json.endArray()
            json.endObject()
        }
        #expect(text == (try Self.expected(value, pretty: pretty)))
        #expect(
            Self.written(pretty: pretty) {
                $0.beginObject(); $0.endObject()
            } == (try Self.expected([String: Int](), pretty: pretty)))
    }

    @Test("NaN and infinity are refused, as JSONEncoder refuses them")
    func nonFinite() {
        var writer = JSONWriter(pretty: false)
        #expect(throws: JSONWriter.NonFiniteNumberError.self) { try writer.value(Double.nan) }
        #expect(throws: JSONWriter.NonFiniteNumberError.self) { try writer.value(-Double.infinity) }
    }
}
