import CMemprofJemalloc

/// The only Swift code that talks to `CMemprofJemalloc`: jemalloc's `mallctl`,
/// looked up at run time, and glibc's `mallinfo2`.
enum Mallctl {
    /// Whether the process has a `mallctl` (jemalloc is loaded).
    static var isAvailable: Bool { memprof_jemalloc_available() != 0 }

    /// Whether jemalloc serves the process's `malloc` (probed once: the allocator
    /// of a process does not change). Only meaningful when ``isAvailable``.
    static let servesMalloc: Bool = memprof_jemalloc_serves_malloc() != 0

    /// Reads the ctl `name` as a `T`.
    static func read<T: JemallocValue>(_ name: String, as type: T.Type = T.self) throws(JemallocError) -> T {
        let size = MemoryLayout<T>.size
        let (status, value) = withUnsafeTemporaryAllocation(
            byteCount: size, alignment: MemoryLayout<T>.alignment
        ) { buffer -> (Int32, T?) in
            let status = memprof_jemalloc_read(name, buffer.baseAddress, size)
            return (status, status == 0 ? buffer.load(as: T.self) : nil)
        }
        guard let value else { throw error(status, name, .read(cType: T.cTypeName)) }
        return value
    }

    /// Writes `value` to the ctl `name`.
    static func write<T: JemallocValue>(_ value: T, to name: String) throws(JemallocError) {
        var value = value
        let status = withUnsafeBytes(of: &value) { memprof_jemalloc_write(name, $0.baseAddress, $0.count) }
        guard status == 0 else { throw error(status, name, .write(cType: T.cTypeName)) }
    }

    /// Calls the void ctl `name`.
    static func call(_ name: String) throws(JemallocError) {
        let status = memprof_jemalloc_call(name)
        guard status == 0 else { throw error(status, name, .call) }
    }

    private static func error(_ status: Int32, _ name: String, _ operation: JemallocError.Operation) -> JemallocError {
        status == MEMPROF_JEMALLOC_NOT_LOADED ? .notLoaded : .ctlFailed(name: name, operation: operation, code: status)
    }

    /// jemalloc's `MALLCTL_ARENAS_ALL`.
    static let allArenas = Int(MEMPROF_JEMALLOC_ARENAS_ALL)
}

/// glibc's own figures, from `mallinfo2`.
enum GlibcMalloc {
    /// Whether glibc's allocator serves the process's `malloc` (probed once).
    static let servesMalloc: Bool = memprof_glibc_serves_malloc() != 0

    /// Bytes in use: in arena chunks (`uordblks`) plus in chunks mmapped on their own
    /// (`hblkhd`); nil without `mallinfo2` (not glibc, or glibc older than 2.33).
    static func bytesInUse() -> Int? {
        var heap = memprof_glibc_heap()
        guard memprof_glibc_heap_read(&heap) == 0 else { return nil }
        return heap.arena_in_use + heap.mmapped_in_use
    }
}
