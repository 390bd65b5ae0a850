import MemprofAnalysis
import MemprofSymbolize
import MemprofTrace

extension Report {
    /// The blocks not freed at exit, summed the ways a report shows them. Every block is
    /// in exactly one of ``leaked``, ``suppressedTotals`` and ``uncounted``, which add up
    /// to ``notFreed``.
    public struct LeakSummary: Sendable, Hashable {
        /// Every block not freed at exit, whatever its kind, suppressed or not.
        public var notFreed: LeakTotals
        /// ``notFreed`` per kind, with every ``LeakKind`` present (zero where none).
        public var byKind: [LeakKind: LeakTotals]
        /// Whether a reachability scan classified the blocks (see
        /// ``MemprofAnalysis/Analysis/leaksAreClassified``).
        public var isClassified: Bool
        /// The leaks: blocks of the counted kinds that no suppression matched.
        public var leaked: LeakTotals
        /// Entries of ``Report/leaks`` that count (leak sites).
        public var leakSiteCount: Int
        /// Blocks of the kinds the policy does not count (still reachable by default).
        public var uncounted: LeakTotals
        /// Per suppression of the policy, in its order, the leaks it kept out of
        /// ``leaked``; zero for a suppression that matched nothing.
        public var suppressed: [SuppressionUse]

        /// Creates a summary.
        public init(
            notFreed: LeakTotals, byKind: [LeakKind: LeakTotals], isClassified: Bool, leaked: LeakTotals,
            leakSiteCount: Int, uncounted: LeakTotals, suppressed: [SuppressionUse]
        ) {
            self.notFreed = notFreed
            self.byKind = byKind
            self.isClassified = isClassified
            self.leaked = leaked
            self.leakSiteCount = leakSiteCount
            self.uncounted = uncounted
            self.suppressed = suppressed
        }

        /// All suppressed leaks.
        public var suppressedTotals: LeakTotals {
            suppressed.reduce(into: LeakTotals()) { $0 += $1.totals }
        }

        /// The blocks of `kind`.
        public func totals(of kind: LeakKind) -> LeakTotals { byKind[kind] ?? LeakTotals() }
    }

    /// What one suppression kept out of the leaks (LeakSanitizer's "Suppressions used").
    public struct SuppressionUse: Sendable, Hashable {
        /// The suppression.
        public var suppression: LeakSuppression
        /// The leaked blocks it matched.
        public var totals: LeakTotals

        /// Creates a use.
        public init(suppression: LeakSuppression, totals: LeakTotals) {
            self.suppression = suppression
            self.totals = totals
        }
    }
}

/// Sorts an analysis's leak groups by a ``LeakPolicy``: counted, uncounted, or
/// suppressed (by which suppression).
struct LeakTriage {
    private let analysis: Analysis
    private let policy: LeakPolicy
    /// For each stack that leaked a counted kind and has a frame a suppression matches,
    /// the first such suppression's index.
    private var suppressionByStack: [UInt32: Int] = [:]
    /// Per stack, its leaks: counted and not suppressed.
    private var leakedByStack: [UInt32: LeakTotals] = [:]
    /// Whether every group counts as a leak, so the analysis's per-stack figures stand.
    private let excludesNothing: Bool

    /// - Parameter frames: all frames of a stack, innermost first; called only with
    ///   suppressions, once per stack that leaked a counted kind.
    init(analysis: Analysis, policy: LeakPolicy, frames: (StackRecord) -> [SymbolizedFrame]) {
        self.analysis = analysis
        self.policy = policy
        if !policy.suppressions.isEmpty {
            var checked: Set<UInt32> = []
            for group in analysis.leakGroups where policy.counts(group.kind) {
                guard checked.insert(group.stackID).inserted, let stack = analysis.stacks[group.stackID] else {
                    continue
                }
                if let index = policy.suppressionIndex(matching: frames(stack)) {
                    suppressionByStack[group.stackID] = index
                }
            }
        }
        var excludesNothing = true
        for group in analysis.leakGroups {
            if policy.counts(group.kind) && suppressionByStack[group.stackID] == nil {
                leakedByStack[group.stackID, default: LeakTotals()] += group.totals
            } else {
                excludesNothing = false
            }
        }
        self.excludesNothing = excludesNothing
    }

    /// Whether `group` is a leak that a suppression matched.
    func isSuppressed(_ group: LeakGroup) -> Bool {
        policy.counts(group.kind) && suppressionByStack[group.stackID] != nil
    }

    /// `statistics` with leak figures that count only the leaks; stacks left with no
    /// activity at all (they only had uncounted or suppressed blocks) are dropped.
    func countingLeaksOnly(_ statistics: [StackStatistics]) -> [StackStatistics] {
        guard !excludesNothing else { return statistics }
        return statistics.compactMap { entry in
            var totals = entry.totals
            let leaked = leakedByStack[entry.stackID] ?? LeakTotals()
            totals.leakedBytes = leaked.bytes
            totals.leakedBlocks = leaked.blocks
            if totals.allocations == 0 && totals.deallocations == 0 && leaked.blocks == 0 { return nil }
            return StackStatistics(stackID: entry.stackID, totals: totals)
        }
    }

    /// The summary, given the number of counted leak sites.
    func summary(leakSiteCount: Int) -> Report.LeakSummary {
        var leaked = LeakTotals()
        var uncounted = LeakTotals()
        var suppressed = [LeakTotals](repeating: LeakTotals(), count: policy.suppressions.count)
        for group in analysis.leakGroups {
            if !policy.counts(group.kind) {
                uncounted += group.totals
            } else if let index = suppressionByStack[group.stackID] {
                suppressed[index] += group.totals
            } else {
                leaked += group.totals
            }
        }
        return Report.LeakSummary(
            notFreed: LeakTotals(blocks: analysis.leakedBlocks, bytes: analysis.leakedBytes),
            byKind: analysis.leakTotalsByKind, isClassified: analysis.leaksAreClassified, leaked: leaked,
            leakSiteCount: leakSiteCount, uncounted: uncounted,
            suppressed: zip(policy.suppressions, suppressed).map { Report.SuppressionUse(suppression: $0, totals: $1) })
    }
}
