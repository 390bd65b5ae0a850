import Foundation
import Glibc
import MemprofTrace

/// The module map of this test process, built the way the preload builds it:
/// `dl_iterate_phdr`, `PT_LOAD` segments relative to `dlpi_addr`, and the GNU
/// build-id read from the `PT_NOTE` segments in memory.
///
/// Swift's Glibc module does not import `<link.h>`, so `dl_iterate_phdr` is looked up
/// with `dlsym` and `struct dl_phdr_info` / `Elf64_Phdr` are read at their fixed
/// x86-64 / AArch64 LP64 offsets.
enum LoadedModules {
    private typealias Callback = @convention(c) (UnsafeMutableRawPointer?, Int, UnsafeMutableRawPointer?) -> Int32
    private typealias Iterate = @convention(c) (Callback?, UnsafeMutableRawPointer?) -> Int32

    private static let programHeaderSize = 56
    private static let ptLoad: UInt32 = 1
    private static let ptNote: UInt32 = 4
    private static let ntGNUBuildID: UInt32 = 3

    private final class Collector {
        let generation: UInt32
        var records: [ModuleRecord] = []
        init(generation: UInt32) { self.generation = generation }
    }

    /// Every module loaded right now, as records of `generation`.
    static func snapshot(generation: UInt32) -> [ModuleRecord] {
        guard let symbol = dlsym(nil, "dl_iterate_phdr") else { return [] }
        let iterate = unsafeBitCast(symbol, to: Iterate.self)
        let collector = Collector(generation: generation)
        withExtendedLifetime(collector) {
            _ = iterate(
                { info, size, context in
                    guard let info, let context, size >= 26 else { return 0 }
                    let collector = Unmanaged<Collector>.fromOpaque(context).takeUnretainedValue()
                    let record = LoadedModules.record(info: UnsafeRawPointer(info), generation: collector.generation)
                    collector.records.append(record)
                    return 0
                },
                Unmanaged.passUnretained(collector).toOpaque()
            )
        }
        return collector.records
    }

    /// The record of the loaded module containing `address`.
    static func module(containing address: UInt64, generation: UInt32 = 0) -> ModuleRecord? {
        snapshot(generation: generation).first { $0.contains(address) }
    }

    private static func record(info: UnsafeRawPointer, generation: UInt32) -> ModuleRecord {
        // struct dl_phdr_info { Elf64_Addr dlpi_addr; const char *dlpi_name;
        //                       const Elf64_Phdr *dlpi_phdr; Elf64_Half dlpi_phnum; … }
        let bias = info.load(fromByteOffset: 0, as: UInt64.self)
        let namePointer = info.load(fromByteOffset: 8, as: UnsafePointer<CChar>?.self)
        let headers = info.load(fromByteOffset: 16, as: UnsafeRawPointer?.self)
        let count = Int(info.load(fromByteOffset: 24, as: UInt16.self))

        var name = namePointer.map { String(cString: $0) } ?? ""
        if name.isEmpty {
            // The main program has an empty name; the preload records its path.
            name = executablePath()
        }
        var segments: [ModuleRecord.Segment] = []
        var buildID: [UInt8] = []
        for index in 0..<count {
            guard let header = headers?.advanced(by: index * programHeaderSize) else { break }
            let type = header.load(fromByteOffset: 0, as: UInt32.self)
            let flags = header.load(fromByteOffset: 4, as: UInt32.self)
            let virtualAddress = header.load(fromByteOffset: 16, as: UInt64.self)
            let memorySize = header.load(fromByteOffset: 40, as: UInt64.self)
            let alignment = header.load(fromByteOffset: 48, as: UInt64.self)
            switch type {
            case ptLoad:
                // ELF: PF_X = 1, PF_W = 2, PF_R = 4; the record: readable 1, writable 2, executable 4.
                let recordFlags = UInt8((flags & 4 != 0 ? 1 : 0) | (flags & 2 != 0 ? 2 : 0) | (flags & 1 != 0 ? 4 : 0))
                segments.append(.init(virtualAddress: virtualAddress, memorySize: memorySize, flags: recordFlags))
            case ptNote where buildID.isEmpty:
                guard let notes = UnsafeRawPointer(bitPattern: UInt(bias &+ virtualAddress)) else { continue }
                buildID = gnuBuildID(notes: notes, size: Int(memorySize), alignment: alignment == 8 ? 8 : 4)
            default:
                continue
            }
        }
        return ModuleRecord(generation: generation, loadBias: bias, path: name, buildID: buildID, segments: segments)
    }

    /// The descriptor of the `NT_GNU_BUILD_ID` note named "GNU", if present.
    private static func gnuBuildID(notes: UnsafeRawPointer, size: Int, alignment: Int) -> [UInt8] {
        func aligned(_ value: Int) -> Int { (value + alignment - 1) & ~(alignment - 1) }
        var offset = 0
        while offset + 12 <= size {
            let nameSize = Int(notes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            let descriptorSize = Int(notes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
            let type = notes.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)
            let nameStart = offset + 12
            let descriptorStart = nameStart + aligned(nameSize)
            guard descriptorStart + descriptorSize <= size else { break }
            let name = UnsafeRawBufferPointer(start: notes + nameStart, count: nameSize)
            if type == ntGNUBuildID, Array(name) == Array("GNU\0".utf8) {
                return Array(UnsafeRawBufferPointer(start: notes + descriptorStart, count: descriptorSize))
            }
            offset = descriptorStart + aligned(descriptorSize)
        }
        return []
    }

    static func executablePath() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return "" }
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Reads one section's address range from an ELF file's section headers, so tests
/// can sample addresses inside `.text` only: some linkers put `.rodata` and
/// `.eh_frame` in the executable segment too, where no function lives.
enum ELFSections {
    /// `[start, end)` of the section named `name`, as file virtual addresses
    /// (module-relative for a shared object or PIE).
    static func range(of name: String, inFile path: String) throws -> Range<UInt64> {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        func read<T: FixedWidthInteger>(_ offset: Int, as _: T.Type) throws -> T {
            guard offset >= 0, offset + MemoryLayout<T>.size <= bytes.count else {
                throw FixtureError(message: "\(path): section headers run past the end of the file")
            }
            return bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
        }
        // Elf64_Ehdr: e_shoff at 0x28, e_shentsize at 0x3A, e_shnum at 0x3C, e_shstrndx at 0x3E.
        let sectionHeaders = Int(try read(0x28, as: UInt64.self))
        let entrySize = Int(try read(0x3A, as: UInt16.self))
        let count = Int(try read(0x3C, as: UInt16.self))
        let namesIndex = Int(try read(0x3E, as: UInt16.self))
        // Elf64_Shdr: sh_name at 0, sh_addr at 16, sh_offset at 24, sh_size at 32.
        let names = Int(try read(sectionHeaders + namesIndex * entrySize + 24, as: UInt64.self))
        for index in 0..<count {
            let header = sectionHeaders + index * entrySize
            var nameOffset = names + Int(try read(header, as: UInt32.self))
            var sectionName = [UInt8]()
            while nameOffset < bytes.count, bytes[nameOffset] != 0 {
                sectionName.append(bytes[nameOffset])
                nameOffset += 1
            }
            if String(decoding: sectionName, as: UTF8.self) == name {
                let address = try read(header + 16, as: UInt64.self)
                let size = try read(header + 32, as: UInt64.self)
                return address..<(address + size)
            }
        }
        throw FixtureError(message: "\(path): no \(name) section")
    }
}
