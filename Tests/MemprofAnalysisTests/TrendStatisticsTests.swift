import MemprofTrace
import Testing

@testable import MemprofAnalysis

@Suite("TrendStatistics")
struct TrendStatisticsTests {
    private func tick(seconds: Double, heap: UInt64) -> TickRecord {
        TickRecord(nanoseconds: UInt64(seconds * 1e9), heapBytes: heap, heapPeakBytes: heap, rssBytes: 0)
    }

    @Test("least-squares growth, mean, extremes and volatility")
    func linearGrowth() {
        let trend = TrendStatistics(ticks: [
            tick(seconds: 0, heap: 100), tick(seconds: 1, heap: 200), tick(seconds: 2, heap: 300),
            tick(seconds: 3, heap: 400),
        ])
        #expect(trend.sampleCount == 4)
        #expect(abs(trend.growthBytesPerSecond - 100) < 1e-9)
        #expect(trend.averageBytes == 250)
        #expect(trend.peakBytes == 400)
        #expect(trend.minimumBytes == 100)
        #expect(abs(trend.volatilityBytes - 12_500.0.squareRoot()) < 1e-9)
    }

    @Test("a flat heap has no growth and no volatility; one sample has no slope")
    func flat() {
        let flat = TrendStatistics(ticks: (0..<5).map { tick(seconds: Double($0), heap: 1 << 20) })
        #expect(flat.growthBytesPerSecond == 0)
        #expect(flat.volatilityBytes == 0)
        let single = TrendStatistics(ticks: [tick(seconds: 1, heap: 7)])
        #expect(single.growthBytesPerSecond == 0)
        #expect(single.averageBytes == 7)
    }

    @Test("a sawtooth that does not grow has a slope near zero")
    func sawtooth() {
        let ticks = (0..<1000).map { tick(seconds: Double($0) / 100, heap: $0 % 2 == 0 ? 1_000 : 3_000) }
        let trend = TrendStatistics(ticks: ticks)
        #expect(abs(trend.growthBytesPerSecond) < 5)
        #expect(abs(trend.volatilityBytes - 1_000) < 1e-6)
    }
}
