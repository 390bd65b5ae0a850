import Testing

@testable import MemprofReport

@Suite("Quantity")
struct QuantityTests {
    @Test(
        "durations need a unit",
        arguments: [
            ("1.5s", 1_500_000_000), ("250ms", 250_000_000), ("2m", 120_000_000_000), ("1h", 3_600_000_000_000),
            ("30 s", 30_000_000_000), ("10us", 10_000), ("5min", 300_000_000_000), ("1e3ms", 1_000_000_000),
        ] as [(String, UInt64)])
    func durations(text: String, nanoseconds: UInt64) throws {
        #expect(try Quantity.nanoseconds(text) == nanoseconds)
    }

    @Test("bad durations say what was expected", arguments: ["1.5", "abc", "-2s", "1.5x", "", "s"])
    func badDurations(text: String) {
        #expect(throws: Quantity.ParseError.self) { try Quantity.nanoseconds(text) }
        let message = (try? Quantity.nanoseconds(text)).map { "\($0)" } ?? describe { try Quantity.nanoseconds(text) }
        #expect(message.contains("'\(text)' is not a duration"))
    }

    @Test("sizes: binary units, decimal KB/MB, plain bytes")
    func sizes() throws {
        #expect(try Quantity.bytes("4096") == 4096)
        #expect(try Quantity.bytes("64k") == 65536)
        #expect(try Quantity.bytes("512MiB") == 512 << 20)
        #expect(try Quantity.bytes("1.5 GiB") == 3 << 29)
        #expect(try Quantity.bytes("2MB") == 2_000_000)
        #expect(throws: Quantity.ParseError.self) { try Quantity.bytes("12 parsecs") }
    }

    @Test("fractions: 0.8 or 80%, never 0 or above 1")
    func fractions() throws {
        #expect(try Quantity.fraction("0.8") == 0.8)
        #expect(try Quantity.fraction("80%") == 0.8)
        #expect(throws: Quantity.ParseError.self) { try Quantity.fraction("0") }
        #expect(throws: Quantity.ParseError.self) { try Quantity.fraction("120%") }
        #expect(throws: Quantity.ParseError.self) { try Quantity.fraction("400MiB") }
    }

    @Test("moments: a time, a percentage, peak or end")
    func moments() throws {
        #expect(try Quantity.moment("1.5s") == .offset(1_500_000_000))
        #expect(try Quantity.moment("90%") == .fraction(0.9))
        #expect(try Quantity.moment("peak") == .peak)
        #expect(try Quantity.moment("END") == .end)
        #expect(throws: Quantity.ParseError.self) { try Quantity.moment("150%") }
        #expect(describe { try Quantity.moment("soon") }.contains("'soon' is not a time"))
    }

    private func describe(_ body: () throws -> some Any) -> String {
        do {
            _ = try body()
            return ""
        } catch {
            return "\(error)"
        }
    }
}
