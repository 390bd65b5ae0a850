import Foundation
import MemprofTrace
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The test process itself plays the recorded process: it holds the trace open for
/// writing, or not.
@Suite("TraceWriter")
struct TraceWriterTests {
    private let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("memprof-writer-\(UUID().uuidString).mprof").path
    private let pid = UInt64(getpid())
    /// This process's start, as the preload would have recorded it (near enough).
    private var started: UInt64 {
        get throws {
            let stat = try String(contentsOfFile: "/proc/self/stat", encoding: .utf8)
            let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
            let boot = try String(contentsOfFile: "/proc/stat", encoding: .utf8).split(separator: "\n")
                .first { $0.hasPrefix("btime ") }.map { UInt64($0.dropFirst(6))! }!
            let seconds = Double(boot) + Double(UInt64(fields[19])!) / Double(sysconf(Int32(_SC_CLK_TCK)))
            return UInt64(seconds * 1e9)
        }
    }

    @Test("a process holding the file open for writing is writing it")
    func openForWriting() throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        try #require(descriptor >= 0)
        defer { unlink(path) }
        #expect(TraceWriter.isWriting(path: path, pid: pid, startUnixNanoseconds: try started))
        // The same file under another name (the report may be given a hard link).
        let link = path + ".link"
        try #require(Glibc.link(path, link) == 0)
        defer { unlink(link) }
        #expect(TraceWriter.isWriting(path: link, pid: pid, startUnixNanoseconds: try started))
        close(descriptor)
        #expect(!TraceWriter.isWriting(path: path, pid: pid, startUnixNanoseconds: try started))
    }

    @Test("a file open only for reading, another file, or no such process: not written")
    func notWriting() throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        try #require(descriptor >= 0)
        close(descriptor)
        defer { unlink(path) }
        let reader = open(path, O_RDONLY | O_CLOEXEC)
        defer { close(reader) }
        #expect(!TraceWriter.isWriting(path: path, pid: pid, startUnixNanoseconds: try started))
        // A pid no process has (above the kernel's pid_max, 4,194,304 at most).
        #expect(!TraceWriter.isWriting(path: path, pid: 5_000_000, startUnixNanoseconds: try started))
        #expect(!TraceWriter.isWriting(path: path + ".missing", pid: pid, startUnixNanoseconds: try started))
    }
}
