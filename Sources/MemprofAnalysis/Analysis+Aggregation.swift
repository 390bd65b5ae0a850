import MemprofTrace

extension Analysis {
    /// How an aggregate-mode recording (`memprof run --mode aggregate`) was taken: the
    /// preload kept per-stack counters and wrote them in snapshots. Then every count and
    /// byte figure is exact as of the last snapshot read, a stack's peak is the most bytes
    /// it held live at any snapshot (its own, not its share of the process's peak), and the
    /// size distribution is empty (no per-event sizes are recorded).
    public struct Aggregation: Sendable, Equatable {
        /// The periodic snapshots' interval.
        public var intervalNanoseconds: UInt64
        /// Snapshots read (up to the cutoff, for `--at`), and of those how many were
        /// asked for by the signal or by the in-process API.
        public var snapshots: Int
        public var signalSnapshots: Int
        public var apiSnapshots: Int
        /// Memory the preload held for itself, at the first and last snapshot and at most.
        public var memprofBytesFirst: UInt64
        public var memprofBytesLast: UInt64
        public var memprofBytesMaximum: UInt64
        /// When the last snapshot read was taken: the moment the counts describe (for
        /// `--at`, the last snapshot at or before the cutoff).
        public var lastSnapshotNanoseconds: UInt64 = 0

        /// Snapshots asked for by the signal or the in-process API.
        public var onDemandSnapshots: Int { signalSnapshots + apiSnapshots }

        public init(
            intervalNanoseconds: UInt64, snapshots: Int = 0, signalSnapshots: Int = 0, apiSnapshots: Int = 0,
            memprofBytesFirst: UInt64 = 0, memprofBytesLast: UInt64 = 0, memprofBytesMaximum: UInt64 = 0
        ) {
            self.intervalNanoseconds = intervalNanoseconds
            self.snapshots = snapshots
            self.signalSnapshots = signalSnapshots
            self.apiSnapshots = apiSnapshots
            self.memprofBytesFirst = memprofBytesFirst
            self.memprofBytesLast = memprofBytesLast
            self.memprofBytesMaximum = memprofBytesMaximum
        }

        /// Counts a snapshot.
        mutating func add(_ record: SnapshotRecord) {
            if snapshots == 0 { memprofBytesFirst = record.memprofBytes }
            snapshots += 1
            switch record.reason {
            case .signal: signalSnapshots += 1
            case .api: apiSnapshots += 1
            case .periodic, .end: break
            }
            memprofBytesLast = record.memprofBytes
            lastSnapshotNanoseconds = record.nanoseconds
            memprofBytesMaximum = max(memprofBytesMaximum, record.memprofBytes)
        }
    }
}
