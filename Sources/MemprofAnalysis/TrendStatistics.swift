import MemprofTrace

/// How heap usage moved over the run, computed from every tick (not only the kept
/// ``Analysis/timeline`` points).
public struct TrendStatistics: Sendable, Hashable {
    /// Ticks the figures are computed from.
    public var sampleCount: Int
    /// Mean heap bytes over the samples.
    public var averageBytes: Double
    /// Largest sampled heap bytes. The exact peak, which can fall between two samples,
    /// is ``Analysis/peakHeapBytes``.
    public var peakBytes: UInt64
    /// Smallest sampled heap bytes.
    public var minimumBytes: UInt64
    /// Slope of the least-squares line through (seconds, heap bytes), in bytes per second.
    public var growthBytesPerSecond: Double
    /// Population standard deviation of the sampled heap bytes.
    public var volatilityBytes: Double

    /// Creates trend figures.
    public init(
        sampleCount: Int, averageBytes: Double, peakBytes: UInt64, minimumBytes: UInt64,
        growthBytesPerSecond: Double, volatilityBytes: Double
    ) {
        self.sampleCount = sampleCount
        self.averageBytes = averageBytes
        self.peakBytes = peakBytes
        self.minimumBytes = minimumBytes
        self.growthBytesPerSecond = growthBytesPerSecond
        self.volatilityBytes = volatilityBytes
    }

    /// Figures for no samples: all zero.
    public static let empty = TrendStatistics(
        sampleCount: 0, averageBytes: 0, peakBytes: 0, minimumBytes: 0, growthBytesPerSecond: 0,
        volatilityBytes: 0)

    /// Computes the figures from `ticks` (time from `nanoseconds`, usage from `heapBytes`).
    public init<S: Sequence<TickRecord>>(ticks: S) {
        var accumulator = TrendAccumulator()
        for tick in ticks { accumulator.add(tick) }
        self = accumulator.statistics
    }
}

/// Running least-squares and variance over (time, heap bytes), numerically stable
/// (Welford-style co-moments), in constant memory.
struct TrendAccumulator: Sendable {
    private var count = 0
    private var meanTime = 0.0
    private var meanBytes = 0.0
    private var timeMoment = 0.0  // Σ (t - mean t)²
    private var bytesMoment = 0.0  // Σ (y - mean y)²
    private var coMoment = 0.0  // Σ (t - mean t)(y - mean y)
    private var peak: UInt64 = 0
    private var minimum: UInt64 = .max

    mutating func add(_ tick: TickRecord) {
        add(nanoseconds: tick.nanoseconds, bytes: tick.heapBytes)
    }

    /// Adds the point (`nanoseconds` as seconds, `bytes`).
    mutating func add(nanoseconds: UInt64, bytes value: UInt64) {
        let time = Double(nanoseconds) / 1e9
        let bytes = Double(value)
        count += 1
        let n = Double(count)
        let timeDelta = time - meanTime
        let bytesDelta = bytes - meanBytes
        meanTime += timeDelta / n
        meanBytes += bytesDelta / n
        timeMoment += timeDelta * (time - meanTime)
        bytesMoment += bytesDelta * (bytes - meanBytes)
        coMoment += timeDelta * (bytes - meanBytes)
        peak = max(peak, value)
        minimum = min(minimum, value)
    }

    var statistics: TrendStatistics {
        guard count > 0 else { return .empty }
        return TrendStatistics(
            sampleCount: count,
            averageBytes: meanBytes,
            peakBytes: peak,
            minimumBytes: minimum,
            growthBytesPerSecond: timeMoment > 0 ? coMoment / timeMoment : 0,
            volatilityBytes: (max(bytesMoment, 0) / Double(count)).squareRoot())
    }
}

/// Keeps an evenly thinned subset of the ticks, at most `capacity` of them plus the
/// last one, so a 24-hour trace (8 million ticks) costs a few kilobytes.
///
/// Every `stride`-th tick is kept; when the buffer fills, every other kept tick is
/// dropped and the stride doubles.
struct TimelineSampler: Sendable {
    let capacity: Int
    private var kept: [TickRecord] = []
    private var stride = 1
    private var seen = 0
    private var last: TickRecord?

    init(capacity: Int) {
        self.capacity = max(capacity, 2)
    }

    mutating func add(_ tick: TickRecord) {
        defer {
            seen += 1
            last = tick
        }
        guard seen % stride == 0 else { return }
        if kept.count == capacity {
            kept = kept.enumerated().compactMap { $0.offset % 2 == 0 ? $0.element : nil }
            stride *= 2
            guard seen % stride == 0 else { return }
        }
        kept.append(tick)
    }

    /// The kept ticks in arrival order, ending with the last tick seen.
    var ticks: [TickRecord] {
        guard let last, kept.last != last else { return kept }
        return kept + [last]
    }
}
