/// The calling process's memory at one moment: what the kernel counts (RSS,
/// virtual size) and what the allocator counts (heap in use).
///
/// ```swift
/// let before = try MemorySnapshot.capture()
/// runWorkload()
/// let after = try MemorySnapshot.capture()
/// print("RSS +\(after.process.residentBytes - before.process.residentBytes) B")
/// if let heap = after.heap { print("heap \(heap.bytesInUse) B (\(heap.source))") }
/// ```
///
/// A snapshot is built from independent parts, each with its own `current()`;
/// ``capture()`` takes them all. Live blocks by allocation site need memprof's
/// interposer in the process: ``capture(includingSites:)``.
public struct MemorySnapshot: Sendable, Hashable {
    /// The kernel's figures: RSS and virtual size.
    public var process: ProcessMemory
    /// The allocator's figure; nil when the allocator serving `malloc` is neither
    /// glibc's nor jemalloc (see ``HeapUsage/current()``).
    public var heap: HeapUsage?

    /// Live heap blocks by allocation site, largest first; nil unless captured with
    /// `includingSites: true`.
    public var sites: [SiteUsage]?

    /// A snapshot of the given parts.
    public init(process: ProcessMemory, heap: HeapUsage?, sites: [SiteUsage]? = nil) {
        self.process = process
        self.heap = heap
        self.sites = sites
    }

    /// The calling process's memory now.
    ///
    /// Costs a read of `/proc/self/statm` plus the allocator's query: a few `mallctl`
    /// calls under jemalloc, or `mallinfo2`, which walks every glibc arena under its
    /// lock (microseconds, up to milliseconds with many threads).
    public static func capture() throws(MemorySnapshotError) -> MemorySnapshot {
        MemorySnapshot(process: try ProcessMemory.current(), heap: try HeapUsage.current())
    }

    /// The calling process's memory now, with every live heap block summed by
    /// allocation site when `includingSites` (which needs memprof's interposer in the
    /// process: it knows each block's stack; throws ``MemprofError`` without it).
    public static func capture(includingSites: Bool) throws -> MemorySnapshot {
        var snapshot = try capture()
        if includingSites { snapshot.sites = try SiteUsage.current() }
        return snapshot
    }
}
