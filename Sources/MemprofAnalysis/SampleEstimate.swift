/// One figure of a sampled recording (`memprof run --mode sample`) that the samples
/// estimate, with what the samples can say about its error.
///
/// The estimate is the Horvitz–Thompson sum over the sampled blocks (see
/// ``SampleWeights``). Blocks are sampled independently (sample points are a Poisson
/// process over the allocated bytes), so its variance is estimated, without bias, by
/// summing `(w² − w)·s²` over the sampled blocks it adds (`w` a block's weight, `s` its
/// size; `s` = 1 for a count). Exact figures bound it: a heap never holds more than was
/// allocated, and never less than the sampled blocks it held. A figure no sample fell
/// into is unknown (``isKnown``), not zero.
///
/// ```swift
/// let peak = analysis.sampling!.peak
/// print("~\(peak.value) ± \(peak.standardError) from \(peak.samples) samples")
/// ```
public struct SampleEstimate: Sendable, Hashable {
    /// The estimate, moved inside the bounds when the samples alone overshoot them.
    public var value: UInt64
    /// The estimate's standard error, from the samples' own variance. With few
    /// samples it is itself uncertain: read it with ``samples``.
    public var standardError: Double
    /// Sampled blocks (or frees) the estimate is made of.
    public var samples: UInt64
    /// What the figure is at least, certainly: the sampled blocks' own sizes or number.
    public var lowerBound: UInt64
    /// What the figure is at most, certainly (from the exact totals); nil when no exact
    /// total bounds it (a trace without COUNTS, or one that began with inherited blocks).
    public var upperBound: UInt64?
    /// Whether the samples alone gave a figure outside the bounds (then ``value`` is
    /// the nearer bound).
    public var wasBounded: Bool

    /// Creates an estimate from the weighted sum `estimate` and its variance; `value`
    /// is `estimate` rounded and moved inside the bounds.
    public init(estimate: Double, variance: Double, samples: UInt64, lowerBound: UInt64, upperBound: UInt64?) {
        let rounded = estimate.isFinite && estimate > 0 ? UInt64(estimate.rounded()) : 0
        var value = max(rounded, lowerBound)
        if let upperBound { value = min(value, max(upperBound, lowerBound)) }
        self.value = value
        self.standardError = variance.isFinite && variance > 0 ? variance.squareRoot() : 0
        self.samples = samples
        self.lowerBound = lowerBound
        self.upperBound = upperBound
        self.wasBounded = value != rounded
    }

    /// No sample and no bound: nothing known.
    public static let none = SampleEstimate(estimate: 0, variance: 0, samples: 0, lowerBound: 0, upperBound: nil)

    /// Whether any sample went into the figure, or its bounds pin it to zero; when not,
    /// nothing is known of it but its bounds.
    public var isKnown: Bool { samples > 0 || upperBound == 0 }

    /// The standard error relative to the value (infinite for a zero estimate with an error).
    public var relativeError: Double {
        value == 0 ? (standardError > 0 ? .infinity : 0) : standardError / Double(value)
    }
}

/// Sample mode's running sums beside the weighted replay: raw sizes of the sampled
/// blocks (for the certain bounds) and the variance of each estimated figure.
struct SampleTally: Sendable {
    var rawAllocated: UInt64 = 0
    var rawFreed: UInt64 = 0
    var freedVariance: Double = 0
    var freedSamples: UInt64 = 0
    /// The live sampled blocks (signed: a free may be replayed before its allocation).
    var liveSamples: Int64 = 0
    var rawLive: Int64 = 0
    var liveVariance: Double = 0
    var maximumRawLive: Int64 = 0
    /// The live sampled blocks when the replay reached its peak.
    var peakSamples: Int64 = 0
    var peakVariance: Double = 0
    var temporarySamples: UInt64 = 0
    var temporaryVariance: Double = 0
    var leakSamples: UInt64 = 0
    var rawLeaked: UInt64 = 0
    var leakBytesVariance: Double = 0
    var leakBlocksVariance: Double = 0
    var inheritedBlocks: UInt64 = 0

    /// `(w² − w)` for a block of `size`: its term in a count's variance.
    static func countVariance(size: UInt64, _ weights: SampleWeights) -> Double {
        let weight = weights.allocations(size: size)
        return weight * weight - weight
    }

    /// `(w² − w)·s²`: its term in a byte total's variance.
    static func bytesVariance(size: UInt64, _ weights: SampleWeights) -> Double {
        countVariance(size: size, weights) * Double(size) * Double(size)
    }

    mutating func allocated(size: UInt64, _ weights: SampleWeights) {
        rawAllocated &+= size
        becameLive(size: size, weights)
    }

    mutating func inherited(size: UInt64, _ weights: SampleWeights) {
        inheritedBlocks &+= 1
        becameLive(size: size, weights)
    }

    private mutating func becameLive(size: UInt64, _ weights: SampleWeights) {
        liveSamples &+= 1
        rawLive &+= Int64(bitPattern: size)
        liveVariance += Self.bytesVariance(size: size, weights)
        maximumRawLive = max(maximumRawLive, rawLive)
    }

    mutating func freed(size: UInt64, temporary: Bool, _ weights: SampleWeights) {
        let variance = Self.bytesVariance(size: size, weights)
        rawFreed &+= size
        freedSamples &+= 1
        freedVariance += variance
        liveSamples &-= 1
        rawLive &-= Int64(bitPattern: size)
        liveVariance -= variance
        if temporary {
            temporarySamples &+= 1
            temporaryVariance += Self.countVariance(size: size, weights)
        }
    }

    /// The replay's heap is at a new peak.
    mutating func atPeak() {
        peakSamples = liveSamples
        peakVariance = liveVariance
    }

    mutating func leaked(size: UInt64, _ weights: SampleWeights) {
        leakSamples &+= 1
        rawLeaked &+= size
        leakBytesVariance += Self.bytesVariance(size: size, weights)
        leakBlocksVariance += Self.countVariance(size: size, weights)
    }
}
