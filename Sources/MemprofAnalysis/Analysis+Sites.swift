import MemprofTrace

/// Stacks that share a key — usually the source location that allocated, which comes
/// from symbolization — with their totals summed.
///
/// Several stacks often meet in one site: the same `malloc` call reached through
/// different callers. A report ranks sites, and shows the heaviest stack of each.
public struct Site<Key: Hashable & Sendable>: Sendable {
    /// What the stacks have in common.
    public var key: Key
    /// The sum of the stacks' totals (see ``AllocationTotals/+=(_:_:)`` for why summing
    /// is right for peak bytes too).
    public var totals: AllocationTotals
    /// The site's stacks, heaviest first (by allocated bytes, then leaked bytes, then
    /// allocations, then id).
    public var stackIDs: [UInt32]

    /// Creates a site; `stackIDs` must not be empty.
    public init(key: Key, totals: AllocationTotals, stackIDs: [UInt32]) {
        precondition(!stackIDs.isEmpty, "a site has at least one stack")
        self.key = key
        self.totals = totals
        self.stackIDs = stackIDs
    }

    /// The heaviest stack: the one a report shows for the site.
    public var representativeStackID: UInt32 { stackIDs[0] }
}

/// Leak groups that share a key and a leak kind, summed.
public struct LeakSite<Key: Hashable & Sendable>: Sendable {
    /// What the allocation stacks have in common.
    public var key: Key
    /// How the blocks were classified.
    public var kind: LeakKind
    /// Number of blocks.
    public var blocks: UInt64
    /// Their total size.
    public var bytes: UInt64
    /// The allocation stacks, most leaked bytes first.
    public var stackIDs: [UInt32]

    /// Creates a leak site; `stackIDs` must not be empty.
    public init(key: Key, kind: LeakKind, blocks: UInt64, bytes: UInt64, stackIDs: [UInt32]) {
        precondition(!stackIDs.isEmpty, "a leak site has at least one stack")
        self.key = key
        self.kind = kind
        self.blocks = blocks
        self.bytes = bytes
        self.stackIDs = stackIDs
    }

    /// The stack that leaked the most bytes here.
    public var representativeStackID: UInt32 { stackIDs[0] }
}

extension Analysis {
    /// Groups ``stackStatistics`` into sites by `key(stackID)`.
    ///
    /// - Returns: sites ordered by allocated bytes, then allocations, then leaked bytes
    ///   (all descending), then by their representative stack id — a deterministic order.
    public func sites<Key: Hashable & Sendable>(keyedBy key: (UInt32) -> Key) -> [Site<Key>] {
        var indexOfKey: [Key: Int] = [:]
        var keys: [Key] = []
        var totals: [AllocationTotals] = []
        var members: [[StackStatistics]] = []
        for statistics in stackStatistics {
            let siteKey = key(statistics.stackID)
            if let index = indexOfKey[siteKey] {
                totals[index] += statistics.totals
                members[index].append(statistics)
            } else {
                indexOfKey[siteKey] = keys.count
                keys.append(siteKey)
                totals.append(statistics.totals)
                members.append([statistics])
            }
        }
        var sites: [Site<Key>] = []
        sites.reserveCapacity(keys.count)
        for index in keys.indices {
            let ordered = members[index].sorted { a, b in
                let x = a.totals
                let y = b.totals
                if x.allocatedBytes != y.allocatedBytes { return x.allocatedBytes > y.allocatedBytes }
                if x.leakedBytes != y.leakedBytes { return x.leakedBytes > y.leakedBytes }
                if x.allocations != y.allocations { return x.allocations > y.allocations }
                return a.stackID < b.stackID
            }
            sites.append(Site(key: keys[index], totals: totals[index], stackIDs: ordered.map(\.stackID)))
        }
        sites.sort { a, b in
            let x = a.totals
            let y = b.totals
            if x.allocatedBytes != y.allocatedBytes { return x.allocatedBytes > y.allocatedBytes }
            if x.allocations != y.allocations { return x.allocations > y.allocations }
            if x.leakedBytes != y.leakedBytes { return x.leakedBytes > y.leakedBytes }
            return a.representativeStackID < b.representativeStackID
        }
        return sites
    }

    /// Groups ``leakGroups`` by `key(stackID)` and leak kind.
    ///
    /// - Parameters:
    ///   - isIncluded: which groups to group; by default all (a report leaves out the
    ///     suppressed ones).
    /// - Returns: leak sites ordered by bytes, then blocks (descending), then by their
    ///   representative stack id and kind.
    public func leakSites<Key: Hashable & Sendable>(
        keyedBy key: (UInt32) -> Key, including isIncluded: (LeakGroup) -> Bool = { _ in true }
    ) -> [LeakSite<Key>] {
        var indexOfKey: [LeakSiteKey<Key>: Int] = [:]
        var groups: [(key: LeakSiteKey<Key>, blocks: UInt64, bytes: UInt64, members: [LeakGroup])] = []
        for group in leakGroups where isIncluded(group) {
            let groupKey = LeakSiteKey<Key>(key: key(group.stackID), kind: group.kind)
            if let index = indexOfKey[groupKey] {
                groups[index].blocks &+= group.blocks
                groups[index].bytes &+= group.bytes
                groups[index].members.append(group)
            } else {
                indexOfKey[groupKey] = groups.count
                groups.append((groupKey, group.blocks, group.bytes, [group]))
            }
        }
        var sites = groups.map { group in
            let ordered = group.members.sorted { ($0.bytes, $1.stackID) > ($1.bytes, $0.stackID) }
            return LeakSite(
                key: group.key.key, kind: group.key.kind, blocks: group.blocks, bytes: group.bytes,
                stackIDs: ordered.map(\.stackID))
        }
        sites.sort { a, b in
            if a.bytes != b.bytes { return a.bytes > b.bytes }
            if a.blocks != b.blocks { return a.blocks > b.blocks }
            if a.representativeStackID != b.representativeStackID {
                return a.representativeStackID < b.representativeStackID
            }
            return a.kind.rawValue < b.kind.rawValue
        }
        return sites
    }
}

/// A leak site's identity: its key and leak kind.
private struct LeakSiteKey<Key: Hashable>: Hashable {
    var key: Key
    var kind: LeakKind
}
