import CMemprofClient

/// Allocations, frees and bytes, under valgrind's counting rules (DESIGN.md): every
/// successful malloc-family call is one allocation, every free of a non-null pointer
/// one free, and a realloc that succeeds both.
public struct AllocationCounts: Sendable, Hashable, CustomStringConvertible {
    public var allocations: Int
    public var frees: Int
    public var bytesAllocated: Int
    public var bytesFreed: Int

    public init(allocations: Int = 0, frees: Int = 0, bytesAllocated: Int = 0, bytesFreed: Int = 0) {
        self.allocations = allocations
        self.frees = frees
        self.bytesAllocated = bytesAllocated
        self.bytesFreed = bytesFreed
    }

    init(_ c: memprof_counts) {
        self.init(
            allocations: Int(c.allocations), frees: Int(c.frees), bytesAllocated: Int(c.bytes_allocated),
            bytesFreed: Int(c.bytes_freed))
    }

    /// Allocations not freed: allocations − frees (negative when more was freed).
    public var netAllocations: Int { allocations - frees }
    /// Bytes allocated − bytes freed.
    public var netBytes: Int { bytesAllocated - bytesFreed }

    /// What happened between two readings.
    public static func - (after: AllocationCounts, before: AllocationCounts) -> AllocationCounts {
        AllocationCounts(
            allocations: after.allocations - before.allocations, frees: after.frees - before.frees,
            bytesAllocated: after.bytesAllocated - before.bytesAllocated,
            bytesFreed: after.bytesFreed - before.bytesFreed)
    }

    public var description: String {
        "\(allocations) allocations (\(bytesAllocated) bytes), \(frees) frees (\(bytesFreed) bytes)"
    }
}
