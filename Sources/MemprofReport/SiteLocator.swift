import MemprofSymbolize

/// The location rule: which frame of an allocation stack names the allocation site, and
/// how that frame is written.
///
/// A site is the innermost frame that is not the allocator itself. Skipped as allocator
/// frames: the malloc family and its glibc aliases, `operator new`/`new[]` (every
/// overload), `strdup`/`strndup`, the standard C++ allocators' `allocate`, the Swift and
/// Rust runtimes' allocation entry points, and every frame in the memprof preload
/// (`libmemprof…`).
///
/// ```swift
/// let frames = symbolizer.symbolize(stack: stack)   // innermost first
/// SiteLocator.location(of: frames)                   // "make_buffer (leak.c:12)"
/// ```
public enum SiteLocator {
    /// C allocation entry points, without the `__libc_` / `__GI_` / `je_` / `mi_`
    /// prefixes that `baseName(of:)` strips.
    static let allocatorFunctions: Set<String> = [
        "malloc", "calloc", "realloc", "reallocarray", "free", "cfree", "posix_memalign", "aligned_alloc",
        "memalign", "valloc", "pvalloc", "malloc_usable_size", "free_sized", "free_aligned_sized",
        "__posix_memalign",
        "strdup", "strndup", "__strdup", "__strndup", "wcsdup",
        // jemalloc's non-standard API
        "mallocx", "rallocx", "xallocx", "sdallocx", "dallocx",
        // Swift runtime
        "swift_allocObject", "swift_slowAlloc", "swift_slowAllocTyped", "swift_allocBox", "swift_allocEmptyBox",
        // Rust's global allocator shims
        "__rust_alloc", "__rust_alloc_zeroed", "__rust_realloc", "__rust_dealloc",
        "__rdl_alloc", "__rdl_alloc_zeroed", "__rdl_realloc", "__rdl_dealloc",
    ]

    /// Prefixes of allocator symbols: demangled and (when demangling failed) mangled
    /// `operator new` / `new[]` / `delete`, libc++'s allocation helper.
    static let allocatorPrefixes = [
        "operator new", "operator delete", "_Znw", "_Zna", "_ZdlPv", "_ZdaPv",
        "std::__libcpp_allocate", "std::__1::__libcpp_allocate",
    ]

    /// Classes whose `allocate` member only forwards to `operator new`.
    static let allocatorClasses = [
        "std::allocator<", "std::__new_allocator<", "__gnu_cxx::new_allocator<", "std::allocator_traits<",
        "std::__1::allocator<", "std::__1::allocator_traits<",
    ]

    /// Prefixes of alias names glibc and prefixed allocators give the same functions.
    static let aliasPrefixes = ["__GI___libc_", "__GI_", "__libc_", "je_", "mi_"]

    /// The C library's process and thread start-up code, below `main` or a thread's
    /// start routine in every stack.
    static let startupFunctions: Set<String> = [
        "_start", "__libc_start_main", "__libc_start_main_impl", "__libc_start_call_main", "start_thread",
        "clone", "clone3", "__clone", "__clone3", "__GI___clone", "__GI___clone3", "__clone_internal",
    ]

    /// Whether `frame` is process or thread start-up code of the C library (`_start`,
    /// `__libc_start_main`, `start_thread`, `clone3` …), which text reports leave out.
    public static func isStartupFrame(_ frame: SymbolizedFrame) -> Bool {
        guard let function = frame.function else { return false }
        return startupFunctions.contains(baseName(of: function))
    }

    /// `frames` without the start-up frames at their outer end (see ``isStartupFrame(_:)``).
    public static func trimmingStartupFrames(_ frames: [SymbolizedFrame]) -> ArraySlice<SymbolizedFrame> {
        var end = frames.endIndex
        while end > frames.startIndex + 1, isStartupFrame(frames[end - 1]) { end -= 1 }
        return frames[..<end]
    }

    /// Whether `frame` belongs to the allocator rather than to the program.
    public static func isAllocatorFrame(_ frame: SymbolizedFrame) -> Bool {
        if let module = frame.module, moduleName(module).hasPrefix("libmemprof") { return true }
        guard let function = frame.function else { return false }
        let name = baseName(of: function)
        if allocatorFunctions.contains(name) { return true }
        if allocatorPrefixes.contains(where: { name.hasPrefix($0) }) { return true }
        if allocatorClasses.contains(where: { name.hasPrefix($0) }), name.contains("::allocate") { return true }
        return false
    }

    /// Index of the frame that names the site: the first (innermost) frame that is not
    /// an allocator frame; the outermost frame when all are; nil when `frames` is empty.
    public static func siteFrameIndex(in frames: [SymbolizedFrame]) -> Int? {
        guard !frames.isEmpty else { return nil }
        return frames.firstIndex { !isAllocatorFrame($0) } ?? frames.count - 1
    }

    /// The site's location: ``describe(_:)`` of the frame ``siteFrameIndex(in:)`` picks,
    /// or `"<no frames>"` for an empty stack.
    public static func location(of frames: [SymbolizedFrame]) -> String {
        guard let index = siteFrameIndex(in: frames) else { return "<no frames>" }
        return describe(frames[index])
    }

    /// One frame as a location: `function (file:line)` with debug info (file by its last
    /// path component, like valgrind), else `function (module)`, else
    /// `0xADDRESS (module)`; the module also by its file name.
    public static func describe(_ frame: SymbolizedFrame) -> String {
        let name = frame.function ?? hexAddress(frame.address)
        if let location = frame.location {
            return "\(name) (\(fileName(location.file)):\(location.line))"
        }
        if let module = frame.module {
            return "\(name) (\(moduleName(module)))"
        }
        return name
    }

    /// `0x` and lowercase hex digits.
    public static func hexAddress(_ address: UInt64) -> String {
        "0x" + String(address, radix: 16)
    }

    /// The last path component of a module path (`/usr/lib/libc.so.6` → `libc.so.6`).
    public static func moduleName(_ path: String) -> String { fileName(path) }

    static func fileName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        let name = path[path.index(after: slash)...]
        return name.isEmpty ? path : String(name)
    }

    /// `function` without a symbol version (`malloc@@GLIBC_2.2.5`) or alias prefix.
    static func baseName(of function: String) -> String {
        var name = Substring(function)
        if let at = name.firstIndex(of: "@"), at != name.startIndex { name = name[..<at] }
        for prefix in aliasPrefixes where name.hasPrefix(prefix) {
            let stripped = name.dropFirst(prefix.count)
            // Only strip when what remains is a known C entry point: `mi_` or `je_`
            // may begin an ordinary function's name.
            if allocatorFunctions.contains(String(stripped)) { return String(stripped) }
        }
        return String(name)
    }
}
