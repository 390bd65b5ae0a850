import MemprofTrace

/// A number of blocks and their total size: one line of a leak summary.
public struct LeakTotals: Sendable, Hashable {
    /// Number of blocks.
    public var blocks: UInt64
    /// Their total size in bytes.
    public var bytes: UInt64

    /// Creates totals; both default to zero.
    public init(blocks: UInt64 = 0, bytes: UInt64 = 0) {
        self.blocks = blocks
        self.bytes = bytes
    }

    /// Adds `rhs`'s blocks and bytes.
    public static func += (lhs: inout LeakTotals, rhs: LeakTotals) {
        lhs.blocks &+= rhs.blocks
        lhs.bytes &+= rhs.bytes
    }
}

extension LeakGroup {
    /// The group's blocks and bytes.
    public var totals: LeakTotals { LeakTotals(blocks: blocks, bytes: bytes) }
}

extension Analysis {
    /// Blocks not freed at exit per kind, for every ``LeakKind`` (zero where none was
    /// reported): the figures of valgrind's LEAK SUMMARY. Which kinds count as leaks is
    /// a report's choice (`LeakPolicy` in MemprofReport), not the analysis's.
    public var leakTotalsByKind: [LeakKind: LeakTotals] {
        var totals = Dictionary(uniqueKeysWithValues: LeakKind.allCases.map { ($0, LeakTotals()) })
        for group in leakGroups { totals[group.kind, default: LeakTotals()] += group.totals }
        return totals
    }

    /// Blocks not freed at exit whose kind is in `kinds`.
    public func leakTotals(kinds: Set<LeakKind>) -> LeakTotals {
        var totals = LeakTotals()
        for group in leakGroups where kinds.contains(group.kind) { totals += group.totals }
        return totals
    }

    /// Whether the blocks not freed at exit were classified by a reachability scan:
    /// some group has a kind other than ``LeakKind/unfreed``.
    public var leaksAreClassified: Bool { leakGroups.contains { $0.kind != .unfreed } }
}
