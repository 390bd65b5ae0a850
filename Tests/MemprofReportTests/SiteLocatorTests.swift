import MemprofSymbolize
import Testing

@testable import MemprofReport

@Suite("SiteLocator")
struct SiteLocatorTests {
    private func frame(_ function: String?, module: String? = "/usr/bin/app", file: String? = nil, line: Int = 0)
        -> SymbolizedFrame
    {
        SymbolizedFrame(
            address: 0x4011aa, function: function, location: file.map { SourceLocation(file: $0, line: line) },
            module: module, isInlined: false)
    }

    @Test(
        "allocator functions are skipped",
        arguments: [
            "malloc", "calloc", "realloc", "reallocarray", "free", "posix_memalign", "aligned_alloc", "memalign",
            "valloc", "pvalloc", "__libc_malloc", "__GI___libc_malloc", "__libc_calloc", "malloc@@GLIBC_2.2.5",
            "operator new(unsigned long)", "operator new[](unsigned long)",
            "operator new(unsigned long, std::align_val_t)", "operator new(unsigned long, std::nothrow_t const&)",
            "_Znwm", "_Znam", "strdup", "strndup", "__strdup", "__GI___strdup", "swift_allocObject", "swift_slowAlloc",
            "std::__new_allocator<int>::allocate(unsigned long, void const*)", "je_malloc", "mi_malloc",
            "__rust_alloc",
        ])
    func allocatorFunctions(name: String) {
        #expect(SiteLocator.isAllocatorFrame(frame(name, module: "/usr/lib/x86_64-linux-gnu/libc.so.6")))
    }

    @Test(
        "program functions are kept",
        arguments: [
            "main", "make_buffer", "mallocate", "my_malloc_wrapper", "mi_parse", "je_ne_sais_quoi",
            "std::vector<int, std::allocator<int> >::push_back(int const&)", "Parser::parse()",
            "operator<<(std::ostream&, Foo const&)", "$s4main3FooCACycfC",
        ])
    func programFunctions(name: String) {
        #expect(!SiteLocator.isAllocatorFrame(frame(name)))
    }

    @Test("every frame in the memprof preload is skipped, named or not")
    func preloadModule() {
        #expect(SiteLocator.isAllocatorFrame(frame("memprof_record", module: "/opt/memprof/lib/libmemprof.so")))
        #expect(SiteLocator.isAllocatorFrame(frame(nil, module: "/opt/memprof/lib/libmemprof_preload.so.1")))
        #expect(!SiteLocator.isAllocatorFrame(frame(nil, module: nil)))
    }

    @Test("the location is the innermost frame that is not the allocator")
    func innermostProgramFrame() {
        let frames = [
            frame("malloc", module: "/usr/lib/libmemprof.so"),
            frame("operator new(unsigned long)", module: "/usr/lib/libstdc++.so.6"),
            frame("Parser::parse()", file: "/src/app/parser.cpp", line: 88),
            frame("main", file: "/src/app/main.cpp", line: 3),
        ]
        #expect(SiteLocator.siteFrameIndex(in: frames) == 2)
        #expect(SiteLocator.location(of: frames) == "Parser::parse() (parser.cpp:88)")
    }

    @Test("without debug info the module names the place; without a symbol, the address")
    func fallbacks() {
        #expect(SiteLocator.location(of: [frame("compute")]) == "compute (app)")
        #expect(SiteLocator.location(of: [frame(nil)]) == "0x4011aa (app)")
        #expect(SiteLocator.location(of: [frame(nil, module: nil)]) == "0x4011aa")
        #expect(SiteLocator.location(of: [frame("f", module: nil, file: "f.c", line: 1)]) == "f (f.c:1)")
    }

    @Test("start-up frames are trimmed from the outer end, never down to nothing")
    func startupFrames() {
        let frames = [
            frame("work", file: "w.c", line: 1), frame("main", file: "m.c", line: 2),
            frame("__libc_start_call_main", module: "/lib/libc.so.6"), frame("__libc_start_main_impl"),
            frame("_start"),
        ]
        #expect(SiteLocator.trimmingStartupFrames(frames).map(\.function) == ["work", "main"])
        let thread = [frame("worker"), frame("start_thread"), frame("__GI___clone3")]
        #expect(SiteLocator.trimmingStartupFrames(thread).map(\.function) == ["worker"])
        #expect(SiteLocator.trimmingStartupFrames([frame("_start")]).count == 1)
        #expect(!SiteLocator.isStartupFrame(frame("main")))
    }

    @Test("a stack of allocator frames only names its outermost frame; an empty one says so")
    func degenerateStacks() {
        let frames = [frame("malloc", module: "/lib/libmemprof.so"), frame("__libc_malloc", module: "/lib/libc.so.6")]
        #expect(SiteLocator.siteFrameIndex(in: frames) == 1)
        #expect(SiteLocator.location(of: frames) == "__libc_malloc (libc.so.6)")
        #expect(SiteLocator.siteFrameIndex(in: []) == nil)
        #expect(SiteLocator.location(of: []) == "<no frames>")
    }
}
