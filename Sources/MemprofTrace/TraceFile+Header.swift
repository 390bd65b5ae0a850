extension TraceFile {
    /// Reads and validates the 32-byte file header.
    ///
    /// - Throws: `.empty` for a zero-length file; `.notATrace` when the bytes present do
    ///   not start like `MEMPROF\x1a`; `.unsupportedVersion` for a major version this
    ///   reader does not know; `.corrupt` when a header that starts right is cut short or
    ///   declares a size other than 32 bytes.
    func readFileHeader() throws(TraceError) -> TraceFileHeader {
        let size = Format.fileHeaderSize
        let bytes = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { bytes.deallocate() }
        let count = try read(into: bytes, count: size, at: 0)
        guard count > 0 else { throw .empty(path: path) }

        let magic = Format.fileMagic
        for index in 0..<min(count, magic.count)
        where bytes.load(fromByteOffset: index, as: UInt8.self) != magic[index] {
            throw .notATrace(path: path)
        }
        // Version before length: a newer major version may lay the header out
        // differently, and "too new" is the more useful message then.
        let majorEnd = Format.headerVersionMajorOffset + 2
        let minorEnd = Format.headerVersionMinorOffset + 2
        if count >= max(majorEnd, minorEnd) {
            let major = field(bytes, Format.headerVersionMajorOffset, as: UInt16.self)
            let minor = field(bytes, Format.headerVersionMinorOffset, as: UInt16.self)
            guard (Format.oldestVersionMajor...Format.versionMajor).contains(major) else {
                throw .unsupportedVersion(path: path, major: major, minor: minor)
            }
        }
        guard count == size else {
            throw .corrupt(
                path: path, offset: UInt64(count),
                reason: "the file ends inside the \(size)-byte file header (\(count) bytes present)")
        }
        let declaredSize = field(bytes, Format.headerSizeOffset, as: UInt32.self)
        guard declaredSize == UInt32(size) else {
            throw .corrupt(
                path: path, offset: UInt64(Format.headerSizeOffset),
                reason:
                    "the header declares \(declaredSize) bytes; version \(field(bytes, Format.headerVersionMajorOffset, as: UInt16.self)) headers are \(size)"
            )
        }
        return TraceFileHeader(
            versionMajor: field(bytes, Format.headerVersionMajorOffset, as: UInt16.self),
            versionMinor: field(bytes, Format.headerVersionMinorOffset, as: UInt16.self))
    }

    private func field<T: FixedWidthInteger>(_ bytes: UnsafeMutableRawPointer, _ offset: Int, as type: T.Type) -> T {
        T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
