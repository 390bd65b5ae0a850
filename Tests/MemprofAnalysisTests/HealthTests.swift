import Testing

@testable import MemprofAnalysis

@Suite("Health")
struct HealthTests {
    private func measurements(
        peak: UInt64 = 100 << 20, rss: UInt64 = 0, leaked: UInt64 = 0, leaksKnown: Bool = true, rate: Double = 10
    ) -> Health.Measurements {
        Health.Measurements(
            peakHeapBytes: peak, peakRSSBytes: rss, leakedBytes: leaked, leaksKnown: leaksKnown,
            allocationRatePerSecond: rate)
    }

    private let limits = HealthThresholds(
        memoryLimitBytes: 512 << 20, warningLevel: .fraction(0.8), allowedLeakBytes: 1024, maxAllocationRate: 1000)

    @Test("under every threshold: healthy, one check per threshold")
    func healthy() {
        let health = Health(thresholds: limits, measurements: measurements())
        #expect(health.status == .healthy)
        #expect(
            health.checks.map(\.name) == ["memory_limit", "warning_level", "allowed_leak_bytes", "max_allocation_rate"])
        #expect(health.warnings.isEmpty)
    }

    @Test("the warning level (a fraction of the limit, or bytes) and the allocation rate warn")
    func warnings() {
        let high = Health(thresholds: limits, measurements: measurements(peak: 420 << 20))
        #expect(high.status == .warning)
        #expect(high.warnings.count == 1)
        #expect(high.warnings[0].contains("warning level"))
        var bytes = limits
        bytes.warningLevel = .bytes(50 << 20)
        #expect(Health(thresholds: bytes, measurements: measurements()).status == .warning)
        let churn = Health(thresholds: limits, measurements: measurements(rate: 5000))
        #expect(churn.status == .warning)
        #expect(churn.recommendations.contains { $0.contains("reuse buffers") })
    }

    @Test("the memory limit (heap or RSS, the larger) and leaks over the allowance are critical")
    func critical() {
        let rss = Health(thresholds: limits, measurements: measurements(peak: 1 << 20, rss: 600 << 20))
        #expect(rss.status == .critical)
        #expect(rss.warnings.count == 1)  // the limit, not the warning level as well
        let leaks = Health(thresholds: limits, measurements: measurements(leaked: 1025))
        #expect(leaks.status == .critical)
        #expect(Health(thresholds: limits, measurements: measurements(leaked: 1024)).status == .healthy)
    }

    @Test("unknown leaks are a warning against an allowance; suspects become recommendations")
    func unknownLeaksAndSuspects() {
        var input = measurements(leaksKnown: false)
        input.leakSuspects = ["grow (grow.c:3)"]
        let health = Health(thresholds: HealthThresholds(allowedLeakBytes: 0), measurements: input)
        #expect(health.status == .warning)
        #expect(health.recommendations.contains { $0.hasPrefix("grow (grow.c:3)") })
    }

    @Test("no thresholds: nothing is judged")
    func empty() {
        #expect(HealthThresholds().isEmpty)
        #expect(Health(thresholds: HealthThresholds(), measurements: measurements()).checks.isEmpty)
        #expect(HealthThresholds(warningLevel: .fraction(0.5)).warningBytes == nil)
    }
}
