/// The distribution of requested allocation sizes, exact: one count per distinct size.
///
/// Memory is bounded by the number of distinct sizes, not by the number of allocations.
public struct SizeDistribution: Sendable, Hashable {
    /// How many allocations requested one size.
    public struct Bucket: Sendable, Hashable {
        /// The requested size in bytes.
        public var size: UInt64
        /// Allocations of exactly `size` bytes.
        public var count: UInt64

        /// Creates a bucket.
        public init(size: UInt64, count: UInt64) {
            self.size = size
            self.count = count
        }
    }

    /// One bucket per distinct size, ascending by size; no bucket has a zero count.
    public let buckets: [Bucket]
    /// Number of allocations (the sum of the buckets' counts).
    public let count: UInt64
    /// Bytes requested in total.
    public let totalBytes: UInt64

    /// Creates a distribution from `(size, count)` buckets in any order; buckets of the
    /// same size are merged and empty ones dropped.
    public init(buckets: [Bucket]) {
        var merged: [UInt64: UInt64] = [:]
        for bucket in buckets where bucket.count > 0 {
            merged[bucket.size, default: 0] &+= bucket.count
        }
        self.buckets = merged.map { Bucket(size: $0.key, count: $0.value) }.sorted { $0.size < $1.size }
        self.count = self.buckets.reduce(0) { $0 &+ $1.count }
        self.totalBytes = self.buckets.reduce(0) { $0 &+ $1.size &* $1.count }
    }

    /// Creates a distribution from buckets already ascending by size, one per size, none
    /// empty: the histogram's own, which need no merging.
    init(sortedBuckets: [Bucket]) {
        self.buckets = sortedBuckets
        self.count = sortedBuckets.reduce(0) { $0 &+ $1.count }
        self.totalBytes = sortedBuckets.reduce(0) { $0 &+ $1.size &* $1.count }
    }

    /// Creates a distribution of the given sizes (convenient in tests).
    public init<S: Sequence<UInt64>>(sizes: S) {
        self.init(buckets: sizes.map { Bucket(size: $0, count: 1) })
    }

    /// The arithmetic mean size, 0 when there were no allocations.
    public var mean: Double {
        count == 0 ? 0 : Double(totalBytes) / Double(count)
    }

    /// The exact median size: the middle size of the sorted sizes, or the mean of the two
    /// middle ones when the count is even; 0 when there were no allocations.
    public var median: Double {
        guard count > 0 else { return 0 }
        if count % 2 == 1 {
            return Double(size(atRank: count / 2))
        }
        let lower = size(atRank: count / 2 - 1)
        let upper = size(atRank: count / 2)
        return (Double(lower) + Double(upper)) / 2
    }

    /// The smallest size requested, 0 when there were no allocations.
    public var minimum: UInt64 { buckets.first?.size ?? 0 }

    /// The largest size requested, 0 when there were no allocations.
    public var maximum: UInt64 { buckets.last?.size ?? 0 }

    /// The nearest-rank percentile: the smallest size such that at least `fraction` of
    /// the allocations are of that size or smaller. `fraction` is clamped to 0...1.
    public func percentile(_ fraction: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        let clamped = min(max(fraction, 0), 1)
        let rank = max(UInt64((clamped * Double(count)).rounded(.up)), 1) - 1
        return size(atRank: min(rank, count - 1))
    }

    /// The size at 0-based `rank` in the sorted list of all requested sizes.
    private func size(atRank rank: UInt64) -> UInt64 {
        var seen: UInt64 = 0
        for bucket in buckets {
            seen &+= bucket.count
            if rank < seen { return bucket.size }
        }
        return maximum
    }
}

/// Counts allocation sizes on the hot path: an array for small sizes, a dictionary for
/// the rest, so the common case costs one array increment.
struct SizeHistogram: Sendable {
    /// Sizes below this are counted in `small`.
    static let smallLimit = 4096

    private var small = [UInt64](repeating: 0, count: SizeHistogram.smallLimit)
    private var large: [UInt64: UInt64] = [:]

    @inline(__always)
    mutating func add(_ size: UInt64) {
        if size < UInt64(Self.smallLimit) {
            small[Int(size)] &+= 1
        } else {
            large[size, default: 0] &+= 1
        }
    }

    /// The distribution, built without a merging pass: the small sizes come out of the
    /// array in order, and every large size is above them.
    var distribution: SizeDistribution {
        var buckets: [SizeDistribution.Bucket] = []
        buckets.reserveCapacity(small.count { $0 > 0 } + large.count)
        for (size, count) in small.enumerated() where count > 0 {
            buckets.append(.init(size: UInt64(size), count: count))
        }
        let smallCount = buckets.count
        for (size, count) in large where count > 0 {
            buckets.append(.init(size: size, count: count))
        }
        buckets[smallCount...].sort { $0.size < $1.size }
        return SizeDistribution(sortedBuckets: buckets)
    }
}
