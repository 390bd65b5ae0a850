import MemprofTrace
import Testing

@testable import MemprofAnalysis

#if canImport(Glibc)
    import Glibc
#endif

/// The preload's sampler (memprof_sample.c) in miniature: sample points on the stream
/// of allocated bytes, exponentially spaced with mean `interval`.
private struct Sampler {
    var random: SplitMix64
    let interval: Double
    var left: Double

    init(seed: UInt64, interval: UInt64) {
        random = SplitMix64(seed: seed)
        self.interval = Double(interval)
        left = 0
        left = gap()
    }

    /// Exponentially distributed with mean `interval`; the uniform is in (0, 1].
    mutating func gap() -> Double { -log(Double((random.next() >> 11) + 1) / 9_007_199_254_740_992) * interval }

    /// Whether an allocation of `size` bytes is a sample point.
    mutating func sample(_ size: UInt64) -> Bool {
        left -= Double(size)
        guard left <= 0 else { return false }
        left = gap()
        return true
    }
}

/// One site of the synthetic program: its stack id, block size and block count.
struct SampledSite {
    var stack: UInt32
    var size: UInt64
    var count: Int
    var trueBytes: Double { Double(size) * Double(count) }
}

@Suite("Sample estimates")
struct SampleEstimateTests {
    static let interval: UInt64 = 64 * 1024
    /// 64 B blocks are sampled with p ≈ 1/1024, 4 KiB ones with p ≈ 0.061 (where the
    /// naive weight R/s = 16 would be 3% short of 1/p ≈ 16.5), 1 MiB ones always.
    static let sites = [
        SampledSite(stack: 1, size: 64, count: 50_000),
        SampledSite(stack: 2, size: 4096, count: 10_000),
        SampledSite(stack: 3, size: 1 << 20, count: 20),
    ]

    /// Runs the synthetic program once through the sampler and the analyzer: every
    /// block is allocated, and all but each site's last 10 are freed (those leak).
    private static func sampledAnalysis(seed: UInt64) -> Analysis {
        var sampler = Sampler(seed: seed, interval: interval)
        var analyzer = TraceAnalyzer()
        analyzer.sampling(intervalBytes: interval)
        let most = sites.map(\.count).max() ?? 0
        var leaked: [(UInt32, UInt64)] = []
        for i in 0..<most {
            for site in sites where i * site.count / most < (i + 1) * site.count / most {
                guard sampler.sample(site.size) else { continue }
                analyzer.allocation(thread: 0, size: site.size, stackID: site.stack)
                if i >= most - most / site.count * 10 {
                    leaked.append((site.stack, site.size))
                } else {
                    analyzer.deallocation(thread: 0, size: site.size, stackID: site.stack, temporary: false)
                }
            }
        }
        for (stack, size) in leaked {
            analyzer.leak(LeakRecord(stackID: stack, size: size, address: 0, kind: .unfreed))
        }
        return analyzer.analysis()
    }

    @Test("weights: 1/p blocks and s/p bytes, p = 1 − exp(−s/R)")
    func weights() {
        let weights = SampleWeights(intervalBytes: 1000)
        #expect(abs(weights.probability(size: 1000) - 0.632_120_558_828_557_7) < 1e-12)
        #expect(abs(weights.allocations(size: 1000) - 1.581_976_706_869_326_4) < 1e-12)
        #expect(abs(weights.bytes(size: 1000) - 1581.976_706_869_326_4) < 1e-9)
        // Tiny blocks: 1/p ≈ R/s + 1/2, computed without cancellation.
        #expect(abs(weights.allocations(size: 1) - 1000.500_083) < 1e-5)
        // Huge blocks are always sampled and stand for themselves.
        #expect(weights.allocations(size: 1 << 30) == 1)
        #expect(weights.allocations(size: 0) == 1)
        #expect(weights.bytes(size: 0) == 0)
    }

    @Test("the estimates' mean over many sampled runs is the true figure (unbiased)")
    func unbiased() {
        let runs = 100
        var bytes = [UInt32: Double](), counts = [UInt32: Double](), leakedBytes = [UInt32: Double]()
        for run in 0..<runs {
            let analysis = Self.sampledAnalysis(seed: 0x5EED_0000 + UInt64(run))
            #expect(analysis.sampling?.intervalBytes == Self.interval)
            for statistics in analysis.stackStatistics {
                bytes[statistics.stackID, default: 0] += Double(statistics.totals.allocatedBytes)
                counts[statistics.stackID, default: 0] += Double(statistics.totals.allocations)
                leakedBytes[statistics.stackID, default: 0] += Double(statistics.totals.leakedBytes)
            }
        }
        for site in Self.sites {
            // One run's relative standard deviation is sqrt((1 − p) / (n p)): 7.2% for the
            // 64 B site, 4.0% for the 4 KiB one, 0 for 1 MiB; over 100 runs the mean's is a
            // tenth of that, so 1.5% is over 3.5 deviations for the 4 KiB site (and the
            // naive weight's 3% bias would fail it). The 64 B site gets 3% (4 deviations).
            let tolerance = site.size == 64 ? 0.03 : 0.015
            let meanBytes = (bytes[site.stack] ?? 0) / Double(runs)
            #expect(abs(meanBytes / site.trueBytes - 1) < tolerance, "site \(site.size) B: \(meanBytes)")
            let meanCount = (counts[site.stack] ?? 0) / Double(runs)
            #expect(abs(meanCount / Double(site.count) - 1) < tolerance, "site \(site.size) B: \(meanCount)")
        }
        // The blocks never freed: 10 of 1 MiB (always sampled, so exact) ...
        #expect((leakedBytes[3] ?? 0) / Double(runs) == 10 * 1_048_576)
        // ... and on average 10 × 4 KiB: about 0.6 sampled per run, 61 in 100 runs, so the
        // mean's relative deviation is about 1/sqrt(61) = 13%; 40% is 3 deviations.
        let meanLeaked4K = (leakedBytes[2] ?? 0) / Double(runs)
        #expect(abs(meanLeaked4K / 40960 - 1) < 0.4, "\(meanLeaked4K)")
    }

    @Test("a block's free cancels its weighted allocation: live bytes end at the leaks")
    func liveBytesBalance() {
        let analysis = Self.sampledAnalysis(seed: 7)
        for statistics in analysis.stackStatistics {
            #expect(statistics.totals.liveBytes == statistics.totals.leakedBytes)
            #expect(
                statistics.totals.allocatedBytes - statistics.totals.deallocatedBytes == statistics.totals.liveBytes)
        }
        #expect(analysis.currentBytes == analysis.stackStatistics.reduce(0) { $0 + $1.totals.liveBytes })
    }

    @Test("the standard error is the samples' own: over many runs it matches the estimates' spread")
    func standardError() {
        // Bytes freed: every block but each site's last 10.
        let truth = Self.sites.reduce(0.0) { $0 + Double($1.size) * Double($1.count - 10) }
        let runs = 100
        var estimates: [Double] = []
        var variances: [Double] = []
        for run in 0..<runs {
            let freed = try! #require(Self.sampledAnalysis(seed: 0xE220_0000 + UInt64(run)).sampling?.freed)
            estimates.append(Double(freed.value))
            variances.append(freed.standardError * freed.standardError)
        }
        let mean = estimates.reduce(0, +) / Double(runs)
        #expect(abs(mean / truth - 1) < 0.01)
        let spread = estimates.reduce(0) { $0 + ($1 - truth) * ($1 - truth) } / Double(runs)
        let predicted = variances.reduce(0, +) / Double(runs)
        // The spread of 100 runs is itself known to about sqrt(2/100) = 14%: 40% is ~3 deviations.
        #expect(abs(spread / predicted - 1) < 0.4, "spread \(spread), predicted \(predicted)")
    }

    /// known_counts as a sampled run at R = 512 KiB may see a single 1 KiB block: it
    /// weighs 512 KiB, twenty times what the program ever allocated (24.5 KiB).
    private static func oneSample(leakSampled: Bool = false) -> Analysis {
        var analyzer = TraceAnalyzer()
        analyzer.sampling(intervalBytes: 512 * 1024)
        analyzer.allocation(thread: 0, size: 1024, stackID: 1)
        analyzer.deallocation(thread: 0, size: 1024, stackID: 1, temporary: true)
        if leakSampled {
            analyzer.allocation(thread: 0, size: 2000, stackID: 2)
            analyzer.leak(LeakRecord(stackID: 2, size: 2000, address: 0x1000, kind: .unfreed))
        }
        analyzer.counts(CountsRecord(allocations: 123, deallocations: 120, allocatedBytes: 25062))
        analyzer.end(EndRecord(nanoseconds: 1_000_000, heapPeakBytes: 524_800, threadCount: 1, flags: .viaExit))
        return analyzer.analysis()
    }

    @Test("estimates stay within what the exact totals allow, and say so")
    func bounded() throws {
        let analysis = Self.oneSample()
        let sampling = try #require(analysis.sampling)
        // The peak: never above the bytes allocated, never below the sampled block.
        #expect(analysis.peakHeapBytes == 25062)
        #expect(sampling.peak.wasBounded && sampling.peak.samples == 1)
        #expect(sampling.peak.lowerBound == 1024 && sampling.peak.upperBound == 25062)
        // One block of weight w = 1/(1 − exp(−1024/R)) has variance (w² − w)·s².
        let weight = SampleWeights(intervalBytes: 512 * 1024).allocations(size: 1024)
        #expect(abs(sampling.peak.standardError - (weight * weight - weight).squareRoot() * 1024) < 1e-6)
        // Temporaries: never more than the allocations (the sample alone says 512).
        #expect(analysis.temporaryAllocationCount <= analysis.allocationCount)
        #expect(sampling.temporaries.value == 120 && sampling.temporaries.wasBounded)
        // No sample was left at exit, yet 3 blocks were: unknown, not none.
        #expect(!sampling.inUse.isKnown && !sampling.leakedBytes.isKnown)
        #expect(sampling.unfreedBlocks == 3)
        #expect(sampling.unsampledLeakBytesBound == 25062 - 1024)
    }

    @Test("a sampled leak is bounded by the exact counts; with every block not freed sampled, nothing is unseen")
    func boundedLeak() throws {
        let sampling = try #require(Self.oneSample(leakSampled: true).sampling)
        #expect(sampling.leakedBlocks.samples == 1)
        #expect(sampling.leakedBlocks.value <= 3 && sampling.leakedBlocks.lowerBound == 1)
        #expect(sampling.leakedBytes.value >= 2000 && sampling.leakedBytes.value <= 25062 - 1024)
        #expect(sampling.unsampledLeakBytesBound > 0)  // 2 of the 3 blocks were not sampled

        var analyzer = TraceAnalyzer()
        analyzer.sampling(intervalBytes: 1024)
        analyzer.allocation(thread: 0, size: 4096, stackID: 1)
        analyzer.leak(LeakRecord(stackID: 1, size: 4096, address: 0x1000, kind: .unfreed))
        analyzer.counts(CountsRecord(allocations: 1, deallocations: 0, allocatedBytes: 4096))
        analyzer.end(EndRecord(nanoseconds: 1_000, heapPeakBytes: 4096, threadCount: 1, flags: .viaExit))
        let all = try #require(analyzer.analysis().sampling)
        #expect(all.unfreedBlocks == 1 && all.unsampledLeakBytesBound == 0)
    }

    @Test("a full recording is not weighted")
    func fullRecordingUnweighted() {
        var analyzer = TraceAnalyzer()
        analyzer.allocation(thread: 0, size: 64, stackID: 1)
        let analysis = analyzer.analysis()
        #expect(analysis.sampling == nil)
        #expect(analysis.stackStatistics.first?.totals.allocatedBytes == 64)
        #expect(analysis.stackStatistics.first?.totals.allocations == 1)
    }
}
