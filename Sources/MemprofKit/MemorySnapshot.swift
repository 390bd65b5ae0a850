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
/// ``capture()`` takes them all. New parts (such as live blocks by allocation site,
/// once the preload offers them in process) join as further optional properties and
/// `init` parameters with defaults, so existing callers keep compiling.
public struct MemorySnapshot: Sendable, Hashable {
    /// The kernel's figures: RSS and virtual size.
    public var process: ProcessMemory
    /// The allocator's figure; nil when the allocator serving `malloc` is neither
    /// glibc's nor jemalloc (see ``HeapUsage/current()``).
    public var heap: HeapUsage?

    /// A snapshot of the given parts.
    public init(process: ProcessMemory, heap: HeapUsage?) {
        self.process = process
        self.heap = heap
    }

    /// The calling process's memory now.
    ///
    /// Costs a read of `/proc/self/statm` plus the allocator's query: a few `mallctl`
    /// calls under jemalloc, or `mallinfo2`, which walks every glibc arena under its
    /// lock (microseconds, up to milliseconds with many threads).
    public static func capture() throws(MemorySnapshotError) -> MemorySnapshot {
        MemorySnapshot(process: try ProcessMemory.current(), heap: try HeapUsage.current())
    }
}
