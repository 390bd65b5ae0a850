#if canImport(Glibc)
    import Glibc
#endif

/// The calling process's memory as the kernel counts it (`/proc/self/statm`).
public struct ProcessMemory: Sendable, Hashable {
    /// Resident set size: bytes of the process in physical memory (RSS).
    public var residentBytes: Int
    /// Virtual size: bytes of address space mapped, resident or not.
    public var virtualBytes: Int

    /// Figures as given.
    public init(residentBytes: Int, virtualBytes: Int) {
        self.residentBytes = residentBytes
        self.virtualBytes = virtualBytes
    }

    /// The calling process's memory now. Costs one small read of `/proc/self/statm`.
    public static func current() throws(MemorySnapshotError) -> ProcessMemory {
        let path = "/proc/self/statm"
        let text = try readSmallFile(path)
        // "size resident shared text lib data dt", in pages.
        let fields = text.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 2, let pages = Int(fields[0]), let residentPages = Int(fields[1]) else {
            throw .malformed(path: path, content: text)
        }
        let pageSize = sysconf(Int32(_SC_PAGESIZE))
        return ProcessMemory(residentBytes: residentPages * pageSize, virtualBytes: pages * pageSize)
    }

    /// The text of a `/proc` file of at most a few hundred bytes, without its final newline.
    private static func readSmallFile(_ path: String) throws(MemorySnapshotError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotRead(path: path, code: errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .cannotRead(path: path, code: errno)
            }
            if n == 0 { break }
            bytes += chunk[..<n]
        }
        var text = String(decoding: bytes, as: UTF8.self)
        while text.last == "\n" { text.removeLast() }
        return text
    }
}
