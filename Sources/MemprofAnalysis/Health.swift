/// Limits a recording is judged against (`memprof check`, the report's health). A nil
/// limit is not checked.
public struct HealthThresholds: Sendable, Hashable {
    /// Where the warning level sits: a fraction of ``memoryLimitBytes`` or a byte count.
    public enum WarningLevel: Sendable, Hashable {
        case fraction(Double)
        case bytes(UInt64)
    }

    /// Peak memory (the larger of peak heap and peak RSS) at or above this is critical.
    public var memoryLimitBytes: UInt64?
    /// Peak memory at or above this is a warning. A fraction needs a memory limit.
    public var warningLevel: WarningLevel?
    /// Leaked bytes (of the counted kinds, not suppressed) above this are critical.
    public var allowedLeakBytes: UInt64?
    /// Allocations per second above this are a warning.
    public var maxAllocationRate: Double?

    /// Creates thresholds; all unset by default.
    public init(
        memoryLimitBytes: UInt64? = nil, warningLevel: WarningLevel? = nil, allowedLeakBytes: UInt64? = nil,
        maxAllocationRate: Double? = nil
    ) {
        self.memoryLimitBytes = memoryLimitBytes
        self.warningLevel = warningLevel
        self.allowedLeakBytes = allowedLeakBytes
        self.maxAllocationRate = maxAllocationRate
    }

    /// Whether no limit is set.
    public var isEmpty: Bool {
        memoryLimitBytes == nil && warningLevel == nil && allowedLeakBytes == nil && maxAllocationRate == nil
    }

    /// The warning level in bytes, nil when unset (or a fraction without a limit).
    public var warningBytes: UInt64? {
        switch warningLevel {
        case .bytes(let bytes): bytes
        case .fraction(let fraction): memoryLimitBytes.map { UInt64((Double($0) * fraction).rounded()) }
        case nil: nil
        }
    }
}

/// A recording judged against ``HealthThresholds``.
///
/// ```swift
/// let health = Health(thresholds: HealthThresholds(memoryLimitBytes: 512 << 20),
///                     measurements: .init(peakHeapBytes: analysis.peakHeapBytes, …))
/// if health.status != .healthy { print(health.warnings) }
/// ```
public struct Health: Sendable, Hashable {
    /// Worst first: `critical > warning > healthy`.
    public enum Status: Int, Sendable, Hashable, Comparable, CustomStringConvertible {
        case healthy = 0
        case warning = 1
        case critical = 2

        public static func < (lhs: Status, rhs: Status) -> Bool { lhs.rawValue < rhs.rawValue }

        public var description: String {
            switch self {
            case .healthy: "healthy"
            case .warning: "warning"
            case .critical: "critical"
            }
        }
    }

    /// The figures the thresholds are compared with.
    public struct Measurements: Sendable, Hashable {
        public var peakHeapBytes: UInt64
        public var peakRSSBytes: UInt64
        public var leakedBytes: UInt64
        /// Nil when the trace ends before the process exited (leaks unknown).
        public var leaksKnown: Bool
        public var allocationRatePerSecond: Double
        /// Locations of the sites ``SiteGrowth/isLeakSuspect`` named.
        public var leakSuspects: [String]
        /// Why leaks are unknown when ``leaksKnown`` is false; nil for the usual reason
        /// (the recording ends before the process exited).
        public var leaksUnknownReason: String? = nil

        public init(
            peakHeapBytes: UInt64, peakRSSBytes: UInt64, leakedBytes: UInt64, leaksKnown: Bool = true,
            allocationRatePerSecond: Double, leakSuspects: [String] = []
        ) {
            self.peakHeapBytes = peakHeapBytes
            self.peakRSSBytes = peakRSSBytes
            self.leakedBytes = leakedBytes
            self.leaksKnown = leaksKnown
            self.allocationRatePerSecond = allocationRatePerSecond
            self.leakSuspects = leakSuspects
        }

        /// What the memory limit is compared with.
        public var peakMemoryBytes: UInt64 { max(peakHeapBytes, peakRSSBytes) }
    }

    /// One threshold compared with its figure.
    public struct Check: Sendable, Hashable {
        /// `memory_limit`, `warning_level`, `allowed_leak_bytes` or `max_allocation_rate`.
        public var name: String
        public var value: Double
        public var limit: Double
        public var status: Status
    }

    public var thresholds: HealthThresholds
    /// The worst status of ``checks``.
    public var status: Status
    /// Every threshold that was set, in the order above.
    public var checks: [Check]
    /// One sentence per crossed threshold (and per leak suspect).
    public var warnings: [String]
    /// What to look at next, one sentence each.
    public var recommendations: [String]

    /// Judges `measurements` against `thresholds`. `describe` spells byte figures (the
    /// report's units).
    public init(
        thresholds: HealthThresholds, measurements m: Measurements, describe bytes: (UInt64) -> String = { "\($0) B" }
    ) {
        self.thresholds = thresholds
        var checks: [Check] = []
        var warnings: [String] = []
        var recommendations: [String] = []
        let peak = m.peakMemoryBytes
        if let limit = thresholds.memoryLimitBytes {
            let crossed = peak >= limit
            checks.append(
                .init(
                    name: "memory_limit", value: Double(peak), limit: Double(limit),
                    status: crossed ? .critical : .healthy))
            if crossed {
                warnings.append("peak memory \(bytes(peak)) reached the memory limit of \(bytes(limit))")
            }
        }
        if let level = thresholds.warningBytes {
            let crossed = peak >= level && !(thresholds.memoryLimitBytes.map { peak >= $0 } ?? false)
            checks.append(
                .init(
                    name: "warning_level", value: Double(peak), limit: Double(level),
                    status: peak >= level ? .warning : .healthy))
            if crossed {
                warnings.append("peak memory \(bytes(peak)) is above the warning level of \(bytes(level))")
            }
        }
        if thresholds.memoryLimitBytes != nil || thresholds.warningBytes != nil,
            checks.contains(where: { $0.status != .healthy })
        {
            recommendations.append(
                "look at the sites with the largest share of the heap peak, and at RSS against heap (allocator overhead)"
            )
        }
        if let allowed = thresholds.allowedLeakBytes {
            if m.leaksKnown {
                let crossed = m.leakedBytes > allowed
                checks.append(
                    .init(
                        name: "allowed_leak_bytes", value: Double(m.leakedBytes), limit: Double(allowed),
                        status: crossed ? .critical : .healthy))
                if crossed {
                    warnings.append("\(bytes(m.leakedBytes)) leaked, more than the \(bytes(allowed)) allowed")
                    recommendations.append(
                        "fix the leaks listed under Leaks, or suppress the expected ones with --suppressions")
                }
            } else {
                checks.append(.init(name: "allowed_leak_bytes", value: 0, limit: Double(allowed), status: .warning))
                warnings.append(
                    "leaks are unknown: "
                        + (m.leaksUnknownReason ?? "the recording (or the part judged) ends before the process exited"))
            }
        }
        if let rate = thresholds.maxAllocationRate {
            let crossed = m.allocationRatePerSecond > rate
            checks.append(
                .init(
                    name: "max_allocation_rate", value: m.allocationRatePerSecond, limit: rate,
                    status: crossed ? .warning : .healthy))
            if crossed {
                warnings.append(
                    "\(Int(m.allocationRatePerSecond.rounded())) allocations per second, more than the \(Int(rate.rounded())) allowed"
                )
                recommendations.append("reuse buffers at the sites with the most (temporary) allocations")
            }
        }
        for suspect in m.leakSuspects {
            recommendations.append("\(suspect) is still growing and holds old blocks: an unbounded cache or a leak?")
        }
        self.checks = checks
        self.status = checks.map(\.status).max() ?? .healthy
        self.warnings = warnings
        self.recommendations = recommendations
    }
}
