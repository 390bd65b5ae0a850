#if canImport(Glibc)
    import Glibc
#endif

/// What one sampled block stands for in a recording made with Poisson sampling by
/// bytes (`memprof run --mode sample`).
///
/// Sample points fall on the stream of allocated bytes with mean interval `R`, so a
/// block of `s` bytes is sampled with probability `p = 1 − exp(−s/R)`, independently of
/// the others. Counting each sampled block as `1/p` blocks and `s/p` bytes (a
/// Horvitz–Thompson estimator) makes every per-site figure unbiased: its expectation is
/// the figure a full recording gives. Small blocks get large weights (a 64-byte block at
/// `R` = 512 KiB stands for about 8192 like it), blocks much larger than `R` weigh 1.
///
/// ```swift
/// let weights = SampleWeights(intervalBytes: 512 * 1024)
/// weights.allocations(size: 64)   // ≈ 8192.5
/// weights.bytes(size: 4 << 20)    // ≈ 4 MiB: a 4 MiB block is always sampled
/// ```
public struct SampleWeights: Sendable, Hashable {
    /// The mean sampling interval `R` in bytes.
    public var intervalBytes: UInt64

    /// Creates the weights for mean interval `intervalBytes` (0 is treated as 1).
    public init(intervalBytes: UInt64) {
        self.intervalBytes = max(intervalBytes, 1)
    }

    /// The probability that a block of `size` bytes is sampled: `1 − exp(−size/R)`.
    public func probability(size: UInt64) -> Double {
        // -expm1 keeps full precision where size/R is tiny and 1 − exp would cancel.
        -expm1(-Double(size) / Double(intervalBytes))
    }

    /// How many allocations one sampled block of `size` bytes stands for: `1/p`.
    /// A zero-byte block can never be sampled by bytes; it stands for itself.
    public func allocations(size: UInt64) -> Double {
        size == 0 ? 1 : 1 / probability(size: size)
    }

    /// How many bytes one sampled block of `size` bytes stands for: `size/p`.
    public func bytes(size: UInt64) -> Double {
        size == 0 ? 0 : Double(size) / probability(size: size)
    }
}
