#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An open trace file, read with `pread` so that readers sharing it never race on a
/// file position. The descriptor closes when the last `TraceReader` copy goes away.
///
/// This, `BlockReader` and `TraceWriter` are the only places in the module that talk
/// to the OS.
@usableFromInline
final class TraceFile: Sendable {
    let descriptor: Int32
    let path: String

    /// Opens `path` read-only.
    ///
    /// - Throws: `.cannotOpen` with the OS's reason when the file is missing,
    ///   unreadable, or a directory (which `open` itself would accept).
    init(opening path: String) throws(TraceError) {
        var descriptor: Int32
        repeat {
            descriptor = open(path, O_RDONLY | O_CLOEXEC)
        } while descriptor < 0 && errno == EINTR
        guard descriptor >= 0 else {
            throw .cannotOpen(path: path, reason: Self.describe(errno: errno))
        }
        var status = stat()
        if fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFDIR {
            close(descriptor)
            throw .cannotOpen(path: path, reason: Self.describe(errno: EISDIR))
        }
        self.descriptor = descriptor
        self.path = path
    }

    deinit {
        close(descriptor)
    }

    /// Reads `count` bytes at `offset` into `buffer`, fewer only where the file ends.
    ///
    /// - Returns: the number of bytes read; less than `count` means end of file.
    /// - Throws: `.readFailed` when the OS reports an error (EIO, …).
    func read(into buffer: UnsafeMutableRawPointer, count: Int, at offset: UInt64) throws(TraceError) -> Int {
        var done = 0
        while done < count {
            let position = offset + UInt64(done)
            let result = pread(descriptor, buffer + done, count - done, off_t(position))
            if result > 0 {
                done += result
            } else if result == 0 {
                break
            } else if errno != EINTR {
                let reason = "reading at byte \(position): \(Self.describe(errno: errno))"
                throw .readFailed(path: path, reason: reason)
            }
        }
        return done
    }

    /// The C library's text for an errno value, e.g. "No such file or directory".
    static func describe(errno code: Int32) -> String {
        String(cString: strerror(code))
    }
}
