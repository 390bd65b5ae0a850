import MemprofTrace

/// Counters of allocation activity attributed to one call stack, or summed over the
/// stacks of a ``Site``.
///
/// Every figure is attributed to the stack that *allocated* the block: a free record
/// carries the freed block's allocation stack, so `liveBytes` and `peakBytes` are the
/// bytes that stack's blocks held, whichever thread freed them.
public struct AllocationTotals: Sendable, Hashable {
    /// Successful allocation calls.
    public var allocations: UInt64
    /// Frees of blocks allocated here.
    public var deallocations: UInt64
    /// Bytes requested by `allocations`.
    public var allocatedBytes: UInt64
    /// Bytes of the blocks freed by `deallocations`.
    public var deallocatedBytes: UInt64
    /// Bytes of blocks still allocated when the trace ends.
    public var liveBytes: UInt64
    /// Bytes these blocks held at the moment of the heap's peak (the replay's peak).
    /// Summed over all stacks this gives that peak, so it says who made the peak.
    public var peakBytes: UInt64
    /// Allocations freed before their thread allocated anything else.
    public var temporaryAllocations: UInt64
    /// Bytes of the blocks reported still allocated at exit. In an ``Analysis`` every
    /// kind counts; a report's sites count only the kinds its leak policy counts.
    public var leakedBytes: UInt64
    /// Blocks reported still allocated at exit (see ``leakedBytes``).
    public var leakedBlocks: UInt64
    /// Sample mode: the sampled allocations the other figures are estimated from (a
    /// figure resting on a few samples is a rough one); 0 in the other modes.
    public var samples: UInt64 = 0

    /// Creates totals; every counter defaults to zero.
    public init(
        allocations: UInt64 = 0, deallocations: UInt64 = 0, allocatedBytes: UInt64 = 0,
        deallocatedBytes: UInt64 = 0, liveBytes: UInt64 = 0, peakBytes: UInt64 = 0,
        temporaryAllocations: UInt64 = 0, leakedBytes: UInt64 = 0, leakedBlocks: UInt64 = 0
    ) {
        self.allocations = allocations
        self.deallocations = deallocations
        self.allocatedBytes = allocatedBytes
        self.deallocatedBytes = deallocatedBytes
        self.liveBytes = liveBytes
        self.peakBytes = peakBytes
        self.temporaryAllocations = temporaryAllocations
        self.leakedBytes = leakedBytes
        self.leakedBlocks = leakedBlocks
    }

    /// Sample mode: keeps estimated figures within the whole recording's exact totals
    /// (`heapBytes` bounds the bytes held at once; nil when unknown).
    mutating func bound(allocations: UInt64, deallocations: UInt64, allocatedBytes: UInt64, heapBytes: UInt64?) {
        self.allocations = min(self.allocations, allocations)
        self.deallocations = min(self.deallocations, deallocations)
        temporaryAllocations = min(temporaryAllocations, self.deallocations)
        self.allocatedBytes = min(self.allocatedBytes, allocatedBytes)
        deallocatedBytes = min(deallocatedBytes, self.allocatedBytes)
        let held = min(heapBytes ?? .max, self.allocatedBytes)
        liveBytes = min(liveBytes, held)
        peakBytes = min(peakBytes, held)
        leakedBytes = min(leakedBytes, held)
        leakedBlocks = min(leakedBlocks, self.allocations)
    }

    /// `allocatedBytes / allocations`, or 0 when nothing was allocated.
    public var averageAllocationSize: Double {
        allocations == 0 ? 0 : Double(allocatedBytes) / Double(allocations)
    }

    /// Adds every counter of `other`.
    ///
    /// Summing is right for every field, `peakBytes` included: all stacks' peak figures
    /// are taken at the same moment (the global peak), so their sum is the group's share
    /// of that peak.
    public static func += (lhs: inout AllocationTotals, rhs: AllocationTotals) {
        lhs.allocations &+= rhs.allocations
        lhs.deallocations &+= rhs.deallocations
        lhs.allocatedBytes &+= rhs.allocatedBytes
        lhs.deallocatedBytes &+= rhs.deallocatedBytes
        lhs.liveBytes &+= rhs.liveBytes
        lhs.peakBytes &+= rhs.peakBytes
        lhs.temporaryAllocations &+= rhs.temporaryAllocations
        lhs.leakedBytes &+= rhs.leakedBytes
        lhs.leakedBlocks &+= rhs.leakedBlocks
        lhs.samples &+= rhs.samples
    }

    /// The sum of two totals.
    public static func + (lhs: AllocationTotals, rhs: AllocationTotals) -> AllocationTotals {
        var sum = lhs
        sum += rhs
        return sum
    }
}

/// The activity of one recorded call stack.
public struct StackStatistics: Sendable, Hashable {
    /// The stack's id in the trace (see ``Analysis/stacks``).
    public var stackID: UInt32
    /// What was allocated from this stack.
    public var totals: AllocationTotals

    /// Creates statistics for `stackID`.
    public init(stackID: UInt32, totals: AllocationTotals) {
        self.stackID = stackID
        self.totals = totals
    }
}

/// Blocks still allocated at exit that share an allocation stack and a leak kind.
public struct LeakGroup: Sendable, Hashable {
    /// The stack that allocated the blocks.
    public var stackID: UInt32
    /// How the blocks were classified at exit.
    public var kind: LeakKind
    /// Number of blocks.
    public var blocks: UInt64
    /// Their total size in bytes.
    public var bytes: UInt64

    /// Creates a leak group.
    public init(stackID: UInt32, kind: LeakKind, blocks: UInt64, bytes: UInt64) {
        self.stackID = stackID
        self.kind = kind
        self.blocks = blocks
        self.bytes = bytes
    }
}
