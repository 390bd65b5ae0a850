import CMemprofDwarf

#if canImport(Glibc)
    import Glibc
#endif

/// A frame as libdw reports it: the name is still mangled.
struct RawFrame: Sendable, Hashable {
    var function: String?
    var location: SourceLocation?
    var isInlined: Bool
}

/// One open ELF file and its debug info, looked up by module-relative address.
///
/// The only Swift type that talks to `CMemprofDwarf`. Not thread-safe (libdw fills
/// caches lazily inside the handle): ``Symbolizer`` only uses it under its lock.
final class DwarfModule {
    private let handle: OpaquePointer

    /// Opens the file at `path`, checking that it carries `buildID` (when not empty).
    ///
    /// - Parameter debugInfoPath: libdwfl's colon-separated debug-info directories;
    ///   nil for the default `":.debug:/usr/lib/debug"`.
    init(path: String, buildID: [UInt8], debugInfoPath: String?) throws(SymbolizationError) {
        var opened: OpaquePointer?
        let status = buildID.withUnsafeBufferPointer { id in
            withOptionalCString(debugInfoPath) { debugPath in
                memprof_dwarf_open(path, id.baseAddress, id.count, debugPath, &opened)
            }
        }
        // Read errno before anything else can clobber it.
        let openErrno = errno
        guard status == MEMPROF_DWARF_OK.rawValue, let opened else {
            switch status {
            case MEMPROF_DWARF_ERR_OPEN.rawValue:
                throw .cannotOpen(path: path, reason: SymbolizationError.describe(errno: openErrno))
            case MEMPROF_DWARF_ERR_BUILD_ID.rawValue:
                throw .buildIDMismatch(path: path, recordedBuildID: hexString(buildID))
            case MEMPROF_DWARF_ERR_ELF.rawValue:
                throw .notELF(path: path, reason: String(cString: memprof_dwarf_errmsg()))
            case MEMPROF_DWARF_ERR_NOMEM.rawValue:
                throw .cannotOpen(path: path, reason: "out of memory")
            default:
                throw .cannotOpen(path: path, reason: "memprof_dwarf_open status \(status)")
            }
        }
        handle = opened
    }

    deinit {
        memprof_dwarf_close(handle)
    }

    /// Frames at `address` (module-relative, already moved back into the call
    /// instruction), innermost first; empty when nothing is known.
    func frames(at address: UInt64) -> [RawFrame] {
        // Inline chains deeper than this are rare; the C side reports the real
        // count, so a deeper one costs a second call, never a truncated chain.
        var capacity = 16
        while true {
            let result: [RawFrame]? = withUnsafeTemporaryAllocation(
                of: memprof_dwarf_frame.self, capacity: capacity
            ) { buffer in
                let count = Int(memprof_dwarf_lookup(handle, address, buffer.baseAddress, buffer.count))
                guard count <= buffer.count else {
                    capacity = count
                    return nil
                }
                // A negative count is an argument error, impossible with a live
                // handle; treat it as "nothing known" rather than trapping.
                return buffer.prefix(max(count, 0)).map { frame in
                    RawFrame(
                        function: frame.function.map { String(cString: $0) },
                        location: frame.file.map {
                            SourceLocation(file: String(cString: $0), line: Int(frame.line))
                        },
                        isInlined: frame.is_inlined != 0
                    )
                }
            }
            if let result { return result }
        }
    }
}

/// Lower-case hex, the way build-ids are written everywhere (readelf, debug paths).
func hexString(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var text = [UInt8]()
    text.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0xf)])
    }
    return String(decoding: text, as: UTF8.self)
}

private func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}
