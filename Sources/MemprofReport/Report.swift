import MemprofAnalysis
import MemprofSymbolize
import MemprofTrace

/// A recorded run ready to render: the ``Analysis`` with its stacks symbolized and
/// grouped into allocation sites by location (see ``SiteLocator``), and its blocks not
/// freed at exit sorted into leaks, blocks that do not count, and suppressed leaks by a
/// ``LeakPolicy``.
///
/// Symbolization is injected, so reports can be built and tested without debug info:
///
/// ```swift
/// let symbolizer = Symbolizer(modules: analysis.modules)
/// let report = Report(
///     analysis: analysis, tracePath: path, resolveAddress: symbolizer.symbolize(address:generation:))
/// print(TextReportRenderer(top: 10).render(report))
/// ```
public struct Report: Sendable {
    /// All allocations made at one location, over every stack that reached it.
    public struct Site: Sendable, Hashable {
        /// ``SiteLocator/location(of:)`` of the site's stacks.
        public var location: String
        /// The stacks' totals, summed. The leak figures count the leaks of the report's
        /// ``LeakPolicy`` only (counted kinds, not suppressed).
        public var totals: AllocationTotals
        /// The stacks that reached this location, heaviest (by allocated bytes) first.
        public var stackIDs: [UInt32]
        /// For each ranking, the stack with the largest figure of that kind.
        public var representativeStackIDs: [SiteOrder: UInt32]
        /// Frames of the representative stacks, innermost first, starting at the frame that
        /// names the location (the allocator's own frames are left out); empty for a
        /// stack the trace never defined.
        public var framesByStack: [UInt32: [SymbolizedFrame]]

        /// Creates a site.
        public init(
            location: String, totals: AllocationTotals, stackIDs: [UInt32],
            representativeStackIDs: [SiteOrder: UInt32] = [:], framesByStack: [UInt32: [SymbolizedFrame]]
        ) {
            self.location = location
            self.totals = totals
            self.stackIDs = stackIDs
            self.representativeStackIDs = representativeStackIDs
            self.framesByStack = framesByStack
        }

        /// How many distinct stacks reached this location.
        public var stackCount: Int { stackIDs.count }

        /// The stack that contributed most to `order`'s figure (the heaviest by bytes
        /// when the site has none of it).
        public func representativeStackID(by order: SiteOrder = .allocatedBytes) -> UInt32 {
            representativeStackIDs[order] ?? stackIDs[0]
        }

        /// The frames of ``representativeStackID(by:)``.
        public func frames(by order: SiteOrder = .allocatedBytes) -> [SymbolizedFrame] {
            framesByStack[representativeStackID(by: order)] ?? []
        }
    }

    /// Blocks not freed at exit, of one kind, allocated at one location, that no
    /// suppression matched.
    public struct Leak: Sendable, Hashable {
        /// Where the blocks were allocated.
        public var location: String
        /// How they were classified.
        public var kind: LeakKind
        /// Number of blocks.
        public var blocks: UInt64
        /// Their total size.
        public var bytes: UInt64
        /// How many distinct stacks allocated them.
        public var stackCount: Int
        /// The stack that leaked the most bytes here.
        public var representativeStackID: UInt32
        /// That stack's frames from the location's frame outwards, as in ``Site/frames``.
        public var frames: [SymbolizedFrame]
        /// Whether the report's ``LeakPolicy`` counts the kind as a leak (false, by
        /// default, for still reachable blocks).
        public var isCounted: Bool

        /// Creates a leak entry.
        public init(
            location: String, kind: LeakKind, blocks: UInt64, bytes: UInt64, stackCount: Int,
            representativeStackID: UInt32, frames: [SymbolizedFrame], isCounted: Bool = true
        ) {
            self.location = location
            self.kind = kind
            self.blocks = blocks
            self.bytes = bytes
            self.stackCount = stackCount
            self.representativeStackID = representativeStackID
            self.frames = frames
            self.isCounted = isCounted
        }
    }

    /// A figure to rank sites by.
    public enum SiteOrder: Sendable, Hashable, CaseIterable {
        /// Number of allocations.
        case allocations
        /// Bytes allocated.
        case allocatedBytes
        /// Share of the heap peak.
        case peakBytes
        /// Bytes leaked: of the counted kinds, not suppressed.
        case leakedBytes
        /// Allocations freed before their thread allocated again.
        case temporaryAllocations
        /// Bytes still live at the end of the analysed part (at ``Report/moment``).
        case liveBytes

        /// The figure of `totals` this order ranks by.
        public func value(_ totals: AllocationTotals) -> UInt64 {
            switch self {
            case .allocations: totals.allocations
            case .allocatedBytes: totals.allocatedBytes
            case .peakBytes: totals.peakBytes
            case .leakedBytes: totals.leakedBytes
            case .temporaryAllocations: totals.temporaryAllocations
            case .liveBytes: totals.liveBytes
            }
        }
    }

    /// The figures everything else is derived from.
    public let analysis: Analysis
    /// The trace file the analysis was read from, for the header.
    public let tracePath: String?
    /// Every site, by allocated bytes (see ``Analysis/sites(keyedBy:)`` for the order).
    public let sites: [Site]
    /// Every leak site and kind that no suppression matched: the counted ones first,
    /// then those of kinds the policy does not count; each part largest first.
    public let leaks: [Leak]
    /// Which blocks not freed at exit count as leaks.
    public let leakPolicy: LeakPolicy
    /// The blocks not freed at exit, summed: by kind, leaked, suppressed.
    public let leakSummary: LeakSummary
    /// The trend over a window of the recording, when one was analysed (see
    /// ``attachTrend(_:)``).
    public internal(set) var trend: TrendReport?
    /// Per site, its live bytes over the trend's window: leak suspects first, then by
    /// growth rate. Empty without a trend.
    public internal(set) var siteGrowth: [GrowingSite] = []
    /// The recording judged against thresholds, when any were given (see
    /// ``judge(against:)``).
    public internal(set) var health: Health?
    /// Set for a report of the state at one moment of the recording.
    public var moment: Moment?
    /// Modules whose frames have no names (file missing, replaced since the recording,
    /// unreadable), as the symbolizer found them while building the report (usually
    /// `Symbolizer.moduleProblems`); the renderers warn about each.
    public var moduleProblems: [ModuleProblem] = []
    /// The allocator functions the recorded executable defines itself (a statically
    /// linked allocator, whose allocations the preload cannot see), when the executable
    /// could be read; the renderers warn when there are any.
    public var ownAllocator: AllocatorSymbols?

    /// Symbolizes every stack that allocated or leaked, groups them by location, and
    /// keeps the frames of each site's representative stacks only (so memory grows with
    /// the number of sites, not with every stack's frames).
    /// - Parameters:
    ///   - leakPolicy: which blocks not freed at exit count as leaks. With suppressions,
    ///     every stack that leaked a counted kind is resolved whole once more, to match
    ///     the patterns against all its frames.
    ///   - resolve: the frames of a stack, innermost first, inlined frames expanded;
    ///     usually `Symbolizer.symbolize(stack:)`, which caches per address (a
    ///     representative stack is resolved a second time to keep its frames).
    public init(
        analysis: Analysis, tracePath: String? = nil, leakPolicy: LeakPolicy = .default,
        resolve: (StackRecord) -> [SymbolizedFrame]
    ) {
        self.init(
            analysis: analysis, tracePath: tracePath, leakPolicy: leakPolicy,
            locate: { SiteLocator.location(of: resolve($0)) },
            frames: resolve)
    }

    /// Like ``init(analysis:tracePath:resolve:)``, symbolizing address by address and
    /// each stack only as far as its location needs: from the innermost frame out to
    /// the first frame that is not the allocator's (usually the first or second
    /// address). Only the representative stacks, which the report prints, are
    /// symbolized whole. The report is the same; a trace with many deep stacks costs
    /// a fraction of the lookups.
    ///
    /// ```swift
    /// let symbolizer = Symbolizer(modules: analysis.modules)
    /// let report = Report(analysis: analysis, resolveAddress: symbolizer.symbolize(address:generation:))
    /// ```
    /// - Parameters:
    ///   - resolveAddress: the frames of one return address captured in a module-map
    ///     generation, innermost first; usually `Symbolizer.symbolize(address:generation:)`.
    public init(
        analysis: Analysis, tracePath: String? = nil, leakPolicy: LeakPolicy = .default,
        resolveAddress: (_ address: UInt64, _ generation: UInt32) -> [SymbolizedFrame]
    ) {
        self.init(
            analysis: analysis, tracePath: tracePath, leakPolicy: leakPolicy,
            locate: { stack in
                var outermost: SymbolizedFrame?
                for address in stack.frames {
                    let frames = resolveAddress(address, stack.moduleGeneration)
                    if let site = frames.first(where: { !SiteLocator.isAllocatorFrame($0) }) {
                        return SiteLocator.describe(site)
                    }
                    outermost = frames.last ?? outermost
                }
                // Every frame is the allocator's: the outermost names the site, as in
                // SiteLocator.siteFrameIndex(in:).
                return outermost.map(SiteLocator.describe) ?? "<no frames>"
            },
            frames: { stack in
                stack.frames.flatMap { resolveAddress($0, stack.moduleGeneration) }
            })
    }

    /// - Parameters:
    ///   - locate: ``SiteLocator/location(of:)`` of a stack's frames.
    ///   - frames: all frames of a stack.
    private init(
        analysis: Analysis, tracePath: String?, leakPolicy: LeakPolicy, locate: (StackRecord) -> String,
        frames resolve: (StackRecord) -> [SymbolizedFrame]
    ) {
        // An exec replaced the heap (docs/leaks.md): what it held was not leaked.
        let leakPolicy = analysis.end?.flags.contains(.viaExec) == true ? leakPolicy.forReplacedHeap : leakPolicy
        var locationByStack: [UInt32: String] = [:]
        locationByStack.reserveCapacity(analysis.stackStatistics.count)
        func addLocation(of id: UInt32) {
            guard locationByStack[id] == nil else { return }
            if let stack = analysis.stacks[id] {
                locationByStack[id] = locate(stack)
            } else {
                locationByStack[id] = "<stack \(id) not recorded>"
            }
        }
        for statistics in analysis.stackStatistics { addLocation(of: statistics.stackID) }
        for group in analysis.leakGroups { addLocation(of: group.stackID) }

        var framesCache: [UInt32: [SymbolizedFrame]] = [:]
        func frames(_ id: UInt32) -> [SymbolizedFrame] {
            if let cached = framesCache[id] { return cached }
            var frames: [SymbolizedFrame] = []
            if let stack = analysis.stacks[id] {
                let all = resolve(stack)
                frames = Array(all[(SiteLocator.siteFrameIndex(in: all) ?? 0)...])
            }
            framesCache[id] = frames
            return frames
        }
        let triage = LeakTriage(analysis: analysis, policy: leakPolicy, frames: resolve)
        // The sites count the leaks only: the analysis credits every kind to its stack.
        var countingLeaks = analysis
        countingLeaks.stackStatistics = triage.countingLeaksOnly(analysis.stackStatistics)
        var totalsByStack: [UInt32: AllocationTotals] = [:]
        totalsByStack.reserveCapacity(countingLeaks.stackStatistics.count)
        for statistics in countingLeaks.stackStatistics { totalsByStack[statistics.stackID] = statistics.totals }

        let location = { (id: UInt32) in locationByStack[id] ?? "" }
        self.analysis = analysis
        self.tracePath = tracePath
        self.leakPolicy = leakPolicy
        self.sites = countingLeaks.sites(keyedBy: location).map { site in
            var representatives: [SiteOrder: UInt32] = [:]
            var framesByStack: [UInt32: [SymbolizedFrame]] = [:]
            for order in SiteOrder.allCases {
                // stackIDs is heaviest-by-bytes first, so ties go to the heavier stack.
                var best = site.stackIDs[0]
                var bestValue = order.value(totalsByStack[best] ?? AllocationTotals())
                for id in site.stackIDs.dropFirst() {
                    let value = order.value(totalsByStack[id] ?? AllocationTotals())
                    if value > bestValue { (best, bestValue) = (id, value) }
                }
                representatives[order] = best
                framesByStack[best] = frames(best)
            }
            return Site(
                location: site.key, totals: site.totals, stackIDs: site.stackIDs,
                representativeStackIDs: representatives, framesByStack: framesByStack)
        }
        let leaks = analysis.leakSites(keyedBy: location, including: { !triage.isSuppressed($0) }).map { leak in
            Leak(
                location: leak.key, kind: leak.kind, blocks: leak.blocks, bytes: leak.bytes,
                stackCount: leak.stackIDs.count, representativeStackID: leak.representativeStackID,
                frames: frames(leak.representativeStackID), isCounted: leakPolicy.counts(leak.kind))
        }
        let counted = leaks.filter(\.isCounted)
        self.leaks = counted + leaks.filter { !$0.isCounted }
        self.leakSummary = triage.summary(leakSiteCount: counted.count)
    }

    /// The `limit` sites with the largest `order` figure, leaving out sites where it is
    /// zero; ties go to more allocated bytes, then to the location's name.
    public func topSites(by order: SiteOrder, limit: Int) -> [Site] {
        let ranked = sites.filter { order.value($0.totals) > 0 }.sorted { a, b in
            let x = order.value(a.totals)
            let y = order.value(b.totals)
            if x != y { return x > y }
            if a.totals.allocatedBytes != b.totals.allocatedBytes {
                return a.totals.allocatedBytes > b.totals.allocatedBytes
            }
            return a.location < b.location
        }
        return Array(ranked.prefix(max(limit, 0)))
    }

    /// How many sites have a non-zero `order` figure.
    public func siteCount(by order: SiteOrder) -> Int {
        sites.count { order.value($0.totals) > 0 }
    }
}
