import Testing

@testable import MemprofAnalysis

@Suite("SizeDistribution")
struct SizeDistributionTests {
    @Test("buckets are merged, sorted and empty ones dropped")
    func buckets() {
        let distribution = SizeDistribution(buckets: [
            .init(size: 64, count: 2), .init(size: 8, count: 1), .init(size: 64, count: 1), .init(size: 9, count: 0),
        ])
        #expect(distribution.buckets == [.init(size: 8, count: 1), .init(size: 64, count: 3)])
        #expect(distribution.count == 4)
        #expect(distribution.totalBytes == 200)
        #expect(distribution.mean == 50)
        #expect(distribution.median == 64)
    }

    @Test("nearest-rank percentiles")
    func percentiles() {
        let distribution = SizeDistribution(sizes: 1...100 as ClosedRange<UInt64>)
        #expect(distribution.percentile(0.5) == 50)
        #expect(distribution.percentile(0.9) == 90)
        #expect(distribution.percentile(0.99) == 99)
        #expect(distribution.percentile(1) == 100)
        #expect(distribution.percentile(0) == 1)
        #expect(distribution.median == 50.5)
    }

    @Test("the hot-path histogram agrees with the plain distribution")
    func histogram() {
        var histogram = SizeHistogram()
        let sizes: [UInt64] = [0, 1, 4095, 4096, 1 << 40, 1 << 40, 17]
        for size in sizes { histogram.add(size) }
        #expect(histogram.distribution == SizeDistribution(sizes: sizes))
    }
}
