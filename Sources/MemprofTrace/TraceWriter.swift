#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Whether the process a trace describes is still writing it: a trace without an END
/// record is then *live* (being recorded), not cut short by a kill or a crash.
///
/// ```swift
/// if summary.truncation != nil, let process,
///     TraceWriter.isWriting(path: path, pid: process.pid, startUnixNanoseconds: process.startUnixNanoseconds)
/// {
///     print("live: pid \(process.pid) is still recording")
/// }
/// ```
///
/// Linux only (it reads `/proc`); elsewhere the answer is always false.
public enum TraceWriter {
    /// True when process `pid` is alive and is the recorded process, writing `path`.
    ///
    /// The proof is one of the process's descriptors open for writing on the very file
    /// (same device and inode, so a renamed or hard-linked path still matches): a pid
    /// reused by another program, or a process that has closed the trace, does not
    /// count. When its descriptors cannot be read (another user's process), a process
    /// with that pid that started within 2 s before `startUnixNanoseconds` (when the
    /// preload began tracing) counts: a reused pid would have started later.
    public static func isWriting(path: String, pid: UInt64, startUnixNanoseconds: UInt64) -> Bool {
        #if os(Linux)
            guard pid > 0, pid <= UInt64(Int32.max) else { return false }
            var trace = stat()
            guard stat(path, &trace) == 0 else { return false }
            switch descriptorWriting(device: trace.st_dev, inode: trace.st_ino, pid: pid) {
            case .some(let writing): return writing
            case .none: return startedAt(pid: pid, unixNanoseconds: startUnixNanoseconds)
            }
        #else
            return false
        #endif
    }

    #if os(Linux)
        /// Whether a descriptor of `pid` is open for writing on the file; nil when the
        /// process's descriptors cannot be listed for a reason other than its absence.
        private static func descriptorWriting(device: dev_t, inode: ino_t, pid: UInt64) -> Bool? {
            guard let directory = opendir("/proc/\(pid)/fd") else {
                return errno == ENOENT || errno == ESRCH ? false : nil
            }
            defer { closedir(directory) }
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                    String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
                }
                guard let descriptor = Int(name) else { continue }  // "." and ".."
                var file = stat()
                guard stat("/proc/\(pid)/fd/\(descriptor)", &file) == 0, file.st_dev == device, file.st_ino == inode
                else { continue }
                if isOpenForWriting(pid: pid, descriptor: descriptor) { return true }
            }
            return false
        }

        /// The `flags:` line of the descriptor's fdinfo (octal open flags) says O_WRONLY or O_RDWR.
        private static func isOpenForWriting(pid: UInt64, descriptor: Int) -> Bool {
            guard let text = readSmallFile("/proc/\(pid)/fdinfo/\(descriptor)") else { return false }
            for line in text.split(separator: "\n") where line.hasPrefix("flags:") {
                let digits = line.dropFirst("flags:".count).drop { $0 == " " || $0 == "\t" }
                guard let flags = Int32(digits, radix: 8) else { return false }
                return flags & O_ACCMODE != O_RDONLY
            }
            return false
        }

        /// Whether process `pid` started in the 2 s before `unixNanoseconds`: its start
        /// (`/proc/PID/stat` field 22, clock ticks after boot) plus the boot time.
        private static func startedAt(pid: UInt64, unixNanoseconds: UInt64) -> Bool {
            guard let stat = readSmallFile("/proc/\(pid)/stat"),
                // The command name (field 2) may hold spaces and parentheses: fields resume after the last ")".
                let close = stat.lastIndex(of: ")"),
                let boot = readSmallFile("/proc/stat")?.split(separator: "\n").first(where: { $0.hasPrefix("btime ") })
                    .flatMap({ UInt64($0.dropFirst("btime ".count)) })
            else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // After the name: state is field 3, so starttime (field 22) is the 20th.
            guard fields.count >= 20, let ticks = UInt64(fields[19]) else { return false }
            let hertz = UInt64(max(sysconf(Int32(_SC_CLK_TCK)), 1))
            let started = Double(boot) + Double(ticks) / Double(hertz)
            let traced = Double(unixNanoseconds) / 1e9
            // Ticks are 10 ms and btime whole seconds: allow a second of rounding after.
            return started <= traced + 1 && started >= traced - 2
        }

        /// A /proc file's text (they report size 0, so read until the end).
        private static func readSmallFile(_ path: String) -> String? {
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { return nil }
            defer { close(descriptor) }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while bytes.count < 1 << 20 {
                let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                bytes += chunk.prefix(count)
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    #endif
}
