import MemprofAnalysis

extension Report {
    /// One site's live bytes over the trend's window (its stacks summed) and what they
    /// look like.
    public struct GrowingSite: Sendable, Hashable {
        /// The site's location, as in ``Report/Site/location``.
        public var location: String
        public var growth: SiteGrowth
        /// How many of the site's stacks held live bytes in the window.
        public var stackCount: Int
    }

    /// Adds `trend` (from a `TrendAnalyzer` run over the same trace) and groups its
    /// per-stack series into sites by location.
    public mutating func attachTrend(_ trend: TrendReport) {
        var locationByStack: [UInt32: String] = [:]
        for site in sites {
            for id in site.stackIDs { locationByStack[id] = site.location }
        }
        var summed: [String: (growth: StackGrowth, stacks: Int)] = [:]
        for (id, growth) in trend.stacks {
            let location = locationByStack[id] ?? "<stack \(id) not recorded>"
            summed[location, default: (StackGrowth(liveBytes: []), 0)].growth += growth
            summed[location]!.stacks += 1
        }
        self.trend = trend
        if analysis.sampling != nil, analysis.end != nil {
            // Sample mode: the window's estimated counts cannot exceed the run's exact ones.
            self.trend?.allocations = min(trend.allocations, analysis.allocationCount)
            self.trend?.deallocations = min(trend.deallocations, analysis.deallocationCount)
        }
        siteGrowth = summed.map { location, entry in
            GrowingSite(
                location: location, growth: SiteGrowth(entry.growth, window: trend.siteWindow),
                stackCount: entry.stacks)
        }.sorted { a, b in
            if a.growth.isLeakSuspect != b.growth.isLeakSuspect { return a.growth.isLeakSuspect }
            if a.growth.growthBytesPerSecond != b.growth.growthBytesPerSecond {
                return a.growth.growthBytesPerSecond > b.growth.growthBytesPerSecond
            }
            return a.location < b.location
        }
    }

    /// The sites ``SiteGrowth/isLeakSuspect`` names, in ``siteGrowth`` order.
    public var leakSuspects: [GrowingSite] { siteGrowth.filter(\.growth.isLeakSuspect) }

    /// Judges the recording against `thresholds` (nothing is judged when they are empty):
    /// peak heap and RSS, leaked bytes of the report's leak policy, the allocation rate
    /// over the whole recording, and the leak suspects of the trend, if attached.
    public mutating func judge(against thresholds: HealthThresholds) {
        guard !thresholds.isEmpty else {
            health = nil
            return
        }
        var measurements = Health.Measurements(
            peakHeapBytes: analysis.peakHeapBytes, peakRSSBytes: analysis.peakRSSBytes,
            leakedBytes: leakSummary.leaked.bytes, leaksKnown: analysis.leaksRecorded,
            allocationRatePerSecond: analysis.allocationRatePerSecond,
            leakSuspects: leakSuspects.map(\.location))
        if let sampling = analysis.sampling, analysis.leaksRecorded, sampling.leakedBytes.samples == 0,
            sampling.unfreedBlocks != 0
        {
            // Sample mode: no sampled block was left at exit, which does not make 0 leaked.
            measurements.leaksKnown = false
            measurements.leaksUnknownReason =
                (sampling.unfreedBlocks.map { "\($0) blocks were not freed at exit and none of them was sampled" }
                    ?? "no block not freed at exit was sampled") + " (record with --mode full to judge leaks)"
        }
        health = Health(thresholds: thresholds, measurements: measurements, describe: HumanUnits.bytes)
    }
}

extension Report {
    /// The moment a report describes (`memprof report --at`): its analysis covers the
    /// recording up to ``nanoseconds`` only.
    public struct Moment: Sendable, Hashable {
        /// Nanoseconds since the process started.
        public var nanoseconds: UInt64
        /// The whole recording's duration.
        public var recordingNanoseconds: UInt64
        /// How it was asked for, when not as a time (`peak`, `end`, `90%`).
        public var name: String?

        /// Creates a moment.
        public init(nanoseconds: UInt64, recordingNanoseconds: UInt64, name: String? = nil) {
            self.nanoseconds = nanoseconds
            self.recordingNanoseconds = recordingNanoseconds
            self.name = name
        }
    }
}
