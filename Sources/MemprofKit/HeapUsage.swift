/// Which allocator's own accounting a ``HeapUsage`` comes from.
public enum HeapSource: String, Sendable, Hashable, CaseIterable {
    /// glibc's malloc: `mallinfo2()`'s `uordblks + hblkhd` (arena chunks in use plus
    /// chunks mmapped on their own).
    case glibc
    /// jemalloc: `stats.allocated`, after an epoch refresh.
    case jemalloc
}

/// Bytes the program has allocated and not freed, as its allocator counts them.
///
/// Allocator figures include the allocator's rounding up to its size classes and
/// chunk headers (glibc), so they exceed the sum of requested sizes a little;
/// jemalloc's also count blocks held in thread caches (see
/// ``Jemalloc/Statistics/allocated``), so they move in steps of tens of KiB.
public struct HeapUsage: Sendable, Hashable {
    /// Bytes in use.
    public var bytesInUse: Int
    /// The allocator that counted them.
    public var source: HeapSource

    /// Figures as given.
    public init(bytesInUse: Int, source: HeapSource) {
        self.bytesInUse = bytesInUse
        self.source = source
    }

    /// The heap in use now, from the allocator that serves `malloc`: jemalloc when it
    /// does (preloaded or linked), else glibc's malloc.
    ///
    /// - Returns: nil when neither serves `malloc` (another allocator such as
    ///   tcmalloc or mimalloc replaced it, or the C library is not glibc): no figure
    ///   rather than glibc's figure for arenas nobody uses.
    /// - Throws: ``MemorySnapshotError/jemalloc(_:)`` when jemalloc serves `malloc`
    ///   but does not answer (a build without statistics).
    public static func current() throws(MemorySnapshotError) -> HeapUsage? {
        if Mallctl.isAvailable && Mallctl.servesMalloc {
            do throws(JemallocError) {
                let jemalloc = try Jemalloc.current()
                try jemalloc.refreshEpoch()
                let allocated = try jemalloc.value("stats.allocated", as: UInt.self)
                return HeapUsage(bytesInUse: Int(allocated), source: .jemalloc)
            } catch {
                throw .jemalloc(error)
            }
        }
        guard GlibcMalloc.servesMalloc, let bytes = GlibcMalloc.bytesInUse() else { return nil }
        return HeapUsage(bytesInUse: bytes, source: .glibc)
    }
}
