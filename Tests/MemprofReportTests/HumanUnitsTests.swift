import Foundation
import Testing

@testable import MemprofReport

@Suite("HumanUnits")
struct HumanUnitsTests {
    @Test("thousands separators")
    func counts() {
        #expect(HumanUnits.count(0 as UInt64) == "0")
        #expect(HumanUnits.count(999 as UInt64) == "999")
        #expect(HumanUnits.count(1000 as UInt64) == "1,000")
        #expect(HumanUnits.count(1_234_567 as UInt64) == "1,234,567")
        #expect(HumanUnits.count(-1234) == "-1,234")
        #expect(HumanUnits.decimal(12345.678, places: 1) == "12,345.7")
        #expect(HumanUnits.decimal(-0.01, places: 1) == "0.0")
    }

    @Test("binary byte units")
    func bytes() {
        #expect(HumanUnits.bytes(0 as UInt64) == "0 B")
        #expect(HumanUnits.bytes(1023 as UInt64) == "1023 B")
        #expect(HumanUnits.bytes(1536 as UInt64) == "1.50 KiB")
        #expect(HumanUnits.bytes(3 << 20 as UInt64) == "3.00 MiB")
        #expect(HumanUnits.bytes(5 << 30 as UInt64) == "5.00 GiB")
        #expect(HumanUnits.bytes(79.5) == "79.5 B")
        #expect(HumanUnits.bytes(32.0) == "32 B")
        #expect(HumanUnits.byteRate(1536) == "+1.50 KiB/s")
        #expect(HumanUnits.byteRate(-300) == "-300 B/s")
        #expect(HumanUnits.byteRate(0) == "0 B/s")
    }

    @Test("durations")
    func durations() {
        #expect(HumanUnits.duration(seconds: 0.0005) == "500 us")
        #expect(HumanUnits.duration(seconds: 0.0123) == "12.3 ms")
        #expect(HumanUnits.duration(seconds: 2.5) == "2.50 s")
        #expect(HumanUnits.duration(seconds: 125) == "2 min 5.0 s")
        #expect(HumanUnits.duration(seconds: 7260) == "2 h 1 min")
        #expect(HumanUnits.percent(1, of: 8) == "12.5%")
        #expect(HumanUnits.percent(1, of: 0) == "0.0%")
    }

    @Test("fixed-point text is printf's, as Foundation's String(format:) wrote it")
    func fixedMatchesPrintf() {
        var generator = SystemRandomNumberGenerator()
        var values: [Double] = [
            0, 0.5, 1.5, 2.5, 0.125, 0.005, 0.015, 1e-7, 123.455, 999.995, 1023.995, 1e15, 1.7976931348623157e308,
            Double.leastNonzeroMagnitude, 4.35, 79.448, 65.104,
        ]
        for _ in 0..<2000 {
            values.append(Double(Int64.random(in: 0...1_000_000_000, using: &generator)) / 1000)
            values.append(Double.random(in: 0..<1e12, using: &generator))
        }
        for value in values {
            for places in 0...3 {
                #expect(HumanUnits.fixed(value, places: places) == String(format: "%.\(places)f", value), "\(value)")
            }
        }
    }
}
