/// The part of a recording a trend covers, cut into equal intervals.
///
/// Boundaries are `start`, `start + interval`, … and `end` (the last interval may be
/// shorter). Point `k` of a series is the state at boundary `k`; data point `k`
/// (`k ≥ 1`) summarizes the ticks in `(boundary k-1, boundary k]`, the first one also
/// the tick at `start`.
///
/// ```swift
/// // The last 30 s of a 95 s recording, one point per second:
/// let window = TrendWindow(lastNanoseconds: 30_000_000_000, before: 95_000_000_000,
///                          intervalNanoseconds: 1_000_000_000)
/// ```
public struct TrendWindow: Sendable, Hashable {
    /// Most intervals a window may have: the per-site series cost intervals × sites.
    public static let maximumIntervals = 10_000
    /// Intervals when none is asked for.
    public static let defaultIntervals = 40

    /// Nanoseconds since the process started.
    public var start: UInt64
    /// Nanoseconds since the process started; at least `start`.
    public var end: UInt64
    /// At least 1.
    public var interval: UInt64

    /// Creates a window; `interval` nil picks one that cuts it into about
    /// ``defaultIntervals`` intervals (at least 10 ms, the tick period).
    public init(start: UInt64, end: UInt64, interval: UInt64? = nil) {
        self.start = min(start, end)
        self.end = end
        let span = end - self.start
        let parts = UInt64(Self.defaultIntervals)
        let chosen = interval ?? max((span + parts - 1) / parts, 10_000_000)
        // Never longer than the window: a 4 ms run is one interval of 4 ms.
        self.interval = max(span > 0 ? min(chosen, span) : chosen, 1)
    }

    /// The last `duration` nanoseconds before `end` (all of it when `duration` is nil or
    /// longer than the recording).
    public init(lastNanoseconds duration: UInt64?, before end: UInt64, intervalNanoseconds: UInt64? = nil) {
        let start = duration.map { end > $0 ? end - $0 : 0 } ?? 0
        self.init(start: start, end: end, interval: intervalNanoseconds)
    }

    /// `end - start`.
    public var span: UInt64 { end - start }

    /// Number of intervals, at least 1.
    public var intervalCount: Int {
        guard span > 0 else { return 1 }
        return Int((span + interval - 1) / interval)
    }

    /// Boundary `k` for `k` in `0...intervalCount`.
    public func boundary(_ k: Int) -> UInt64 {
        k >= intervalCount ? end : start + UInt64(k) * interval
    }

    /// The index of the first boundary at or after `time`: 0 for times up to `start`,
    /// ``intervalCount`` for the last interval; nil past `end`.
    func slot(of time: UInt64) -> Int? {
        guard time <= end else { return nil }
        guard time > start else { return 0 }
        let k = (time - start + interval - 1) / interval
        return min(Int(k), intervalCount)
    }
}
