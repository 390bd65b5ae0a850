import CMemprofDwarf

/// The allocator functions an executable defines itself: a statically linked
/// jemalloc, mimalloc or tcmalloc (or Rust's jemallocator), whose allocations the
/// preload cannot see. `memprof run` warns before it starts such a program, and
/// `memprof report` says why a trace of one is empty.
public struct AllocatorSymbols: Sendable, Equatable {
    /// The names found, malloc, calloc, realloc and free first, then prefixed entry
    /// points such as `je_malloc` or `mi_malloc`.
    public let names: [String]

    /// Reads the ELF file's symbol tables: .dynsym, where an executable that replaces
    /// malloc exports it (microseconds), and unless `exportedOnly`, .symtab too, which
    /// also names prefixed allocators' functions when the file is not stripped (it can
    /// take milliseconds in a large program). Nil when the file cannot be read as ELF
    /// (gone, not a regular file, not ELF); an empty list when it defines none of them.
    public init?(executable path: String, exportedOnly: Bool = false) {
        var found = [UnsafePointer<CChar>?](repeating: nil, count: 16)
        let tables = Int32(MEMPROF_ELF_DYNSYM) | (exportedOnly ? 0 : Int32(MEMPROF_ELF_SYMTAB))
        let n = Int(memprof_elf_allocator_symbols(path, tables, &found, Int32(found.count)))
        guard n >= 0 else { return nil }
        names = found.prefix(min(n, found.count)).compactMap { $0.map { String(cString: $0) } }
    }

    /// Whether the preload misses the program's own allocations: it defines malloc
    /// (so its calls never reach a preload) or an allocator's prefixed entry points.
    public var bypassesThePreload: Bool { !names.isEmpty }

    /// Whether the executable replaces malloc and free themselves: then even the
    /// libraries' calls go to it, and memprof records nothing at all.
    public var replacesMalloc: Bool { names.contains("malloc") || names.contains("free") }

    /// One sentence for people: what was found and what it means.
    public var explanation: String {
        let list = names.joined(separator: ", ")
        if replacesMalloc {
            return
                "it defines its own malloc (\(list): an allocator linked in statically), so its allocations never reach memprof's preload and are not recorded"
        }
        let them = names.count == 1 ? "it" : "them"
        return
            "it defines \(list) (an allocator linked in statically): allocations made through \(them) are not recorded, only those through the C library's malloc"
    }

    /// What works instead, for the same message.
    public static let advice =
        "link the allocator dynamically (libjemalloc.so.2, libmimalloc.so; `memprof run --jemalloc` records behind jemalloc), or build with the system allocator"
}
