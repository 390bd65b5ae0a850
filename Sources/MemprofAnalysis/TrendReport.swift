/// What ``TrendAnalyzer`` found over a ``TrendWindow``.
public struct TrendReport: Sendable, Hashable {
    /// The window and its intervals (the data points').
    public var window: TrendWindow
    /// The per-stack series' intervals: ``window``'s, or coarser for a fine interval.
    public var siteWindow: TrendWindow
    /// Live blocks allocated at least this long before the window's end count as old.
    public var ageThreshold: UInt64
    /// Average, peak, minimum, least-squares growth and volatility of the ticks in the
    /// window.
    public var statistics: TrendStatistics
    /// One point per interval that has ticks.
    public var dataPoints: [TrendDataPoint]
    /// Per stack that held live bytes in the window.
    public var stacks: [UInt32: StackGrowth]
    /// Allocations, frees and bytes allocated inside the window.
    public var allocations: UInt64
    public var deallocations: UInt64
    public var allocatedBytes: UInt64

    /// Creates a trend report.
    public init(
        window: TrendWindow, siteWindow: TrendWindow, ageThreshold: UInt64, statistics: TrendStatistics,
        dataPoints: [TrendDataPoint], stacks: [UInt32: StackGrowth], allocations: UInt64 = 0,
        deallocations: UInt64 = 0, allocatedBytes: UInt64 = 0
    ) {
        self.window = window
        self.siteWindow = siteWindow
        self.ageThreshold = ageThreshold
        self.statistics = statistics
        self.dataPoints = dataPoints
        self.stacks = stacks
        self.allocations = allocations
        self.deallocations = deallocations
        self.allocatedBytes = allocatedBytes
    }

    /// Allocations per second inside the window.
    public var allocationRatePerSecond: Double {
        window.span == 0 ? 0 : Double(allocations) / (Double(window.span) / 1e9)
    }
}

/// The ticks of one interval.
public struct TrendDataPoint: Sendable, Hashable {
    /// The interval's end, nanoseconds since the process started.
    public var nanoseconds: UInt64
    /// Ticks in the interval.
    public var sampleCount: Int
    public var averageHeapBytes: Double
    public var minimumHeapBytes: UInt64
    public var peakHeapBytes: UInt64
    /// Largest resident set size sampled in the interval.
    public var rssBytes: UInt64

    /// Creates a data point.
    public init(
        nanoseconds: UInt64, sampleCount: Int, averageHeapBytes: Double, minimumHeapBytes: UInt64,
        peakHeapBytes: UInt64, rssBytes: UInt64
    ) {
        self.nanoseconds = nanoseconds
        self.sampleCount = sampleCount
        self.averageHeapBytes = averageHeapBytes
        self.minimumHeapBytes = minimumHeapBytes
        self.peakHeapBytes = peakHeapBytes
        self.rssBytes = rssBytes
    }
}

/// One stack's (or, summed, one site's) live bytes over a window.
public struct StackGrowth: Sendable, Hashable {
    /// Live bytes at each boundary of ``TrendReport/siteWindow``. Signed: with several
    /// threads a free can be placed before its allocation by a few milliseconds.
    public var liveBytes: [Int64]
    /// Blocks live at the window's end.
    public var liveBlocks: UInt64
    /// Of those, blocks allocated at least the age threshold before the end (a lower
    /// bound, see ``TrendAnalyzer``), and their bytes.
    public var oldBlocks: UInt64
    public var oldBytes: UInt64

    /// Creates a series.
    public init(liveBytes: [Int64], liveBlocks: UInt64 = 0, oldBlocks: UInt64 = 0, oldBytes: UInt64 = 0) {
        self.liveBytes = liveBytes
        self.liveBlocks = liveBlocks
        self.oldBlocks = oldBlocks
        self.oldBytes = oldBytes
    }

    /// Adds `rhs` point by point (both series must have the same length).
    public static func += (lhs: inout StackGrowth, rhs: StackGrowth) {
        if lhs.liveBytes.isEmpty { lhs.liveBytes = Array(repeating: 0, count: rhs.liveBytes.count) }
        for index in lhs.liveBytes.indices where index < rhs.liveBytes.count {
            lhs.liveBytes[index] &+= rhs.liveBytes[index]
        }
        lhs.liveBlocks &+= rhs.liveBlocks
        lhs.oldBlocks &+= rhs.oldBlocks
        lhs.oldBytes &+= rhs.oldBytes
    }
}

/// How a site's live bytes moved over a window, and whether that looks like a leak.
///
/// A bounded cache fills and then stays flat (or churns around a level); an unbounded
/// leak keeps rising to the end and holds old blocks. So a site is a **leak suspect**
/// when its live bytes are still rising at the end (the least-squares slope over the
/// last quarter of the window adds at least 2% of the end figure, and is positive), it
/// ends above where it started, and it holds at least one live block older than the age
/// threshold.
public struct SiteGrowth: Sendable, Hashable {
    /// The shape of the series.
    public enum Shape: String, Sendable, Hashable {
        /// Still rising at the end of the window.
        case growing
        /// Rose, then levelled off: what a bounded cache does.
        case plateaued
        /// Ended where it started, give or take.
        case steady
        /// Ended lower than it started.
        case shrinking
        /// Too few points to tell (fewer than ``SiteGrowth/minimumPoints``): a window
        /// of one or a few intervals.
        case undetermined
    }

    /// Points a series needs for a shape: four intervals, so the last quarter is one.
    public static let minimumPoints = 5

    /// Share of the end figure the last quarter must add to count as still rising.
    public static let risingFraction = 0.02

    /// Live bytes at each boundary (negative values read as 0).
    public var liveBytes: [UInt64]
    /// Boundary times, nanoseconds since the process started.
    public var times: [UInt64]
    public var liveBlocks: UInt64
    public var oldBlocks: UInt64
    public var oldBytes: UInt64
    /// Least-squares slope over the whole window, bytes per second.
    public var growthBytesPerSecond: Double
    /// Least-squares slope over the last quarter of the window (at least 3 points).
    public var recentGrowthBytesPerSecond: Double
    public var shape: Shape

    /// Classifies `growth`, a series over `window`.
    public init(_ growth: StackGrowth, window: TrendWindow) {
        liveBytes = growth.liveBytes.map { UInt64(max($0, 0)) }
        times = liveBytes.indices.map { window.boundary($0) }
        liveBlocks = growth.liveBlocks
        oldBlocks = growth.oldBlocks
        oldBytes = growth.oldBytes
        growthBytesPerSecond = Self.slope(times: times, values: liveBytes)
        let recentCount = min(max(3, (liveBytes.count + 3) / 4), liveBytes.count)
        let recentTimes = Array(times.suffix(recentCount))
        recentGrowthBytesPerSecond = Self.slope(times: recentTimes, values: Array(liveBytes.suffix(recentCount)))
        let first = liveBytes.first ?? 0
        let last = liveBytes.last ?? 0
        let recentSpan = Double((recentTimes.last ?? 0) - (recentTimes.first ?? 0)) / 1e9
        let recentRise = recentGrowthBytesPerSecond * recentSpan
        if liveBytes.count < Self.minimumPoints {
            shape = .undetermined
        } else if recentGrowthBytesPerSecond > 0 && recentRise >= Self.risingFraction * Double(max(last, 1)) {
            shape = .growing
        } else if last < first && Double(first - last) > Self.risingFraction * Double(first) {
            shape = .shrinking
        } else if (liveBytes.max() ?? 0) > first && Double(last - min(first, last)) > Self.risingFraction * Double(last)
        {
            shape = .plateaued
        } else {
            shape = .steady
        }
    }

    /// Still rising at the end, above where it started, and holding old blocks.
    public var isLeakSuspect: Bool {
        shape == .growing && (liveBytes.last ?? 0) > (liveBytes.first ?? 0) && oldBlocks > 0
    }

    /// Least-squares slope of (seconds, bytes); 0 for fewer than two distinct times.
    static func slope(times: [UInt64], values: [UInt64]) -> Double {
        var accumulator = TrendAccumulator()
        for (time, value) in zip(times, values) { accumulator.add(nanoseconds: time, bytes: value) }
        return accumulator.statistics.growthBytesPerSecond
    }
}
