import Foundation
import Glibc

/// A shared library compiled from source at test time and loaded with `dlopen`.
struct TestLibrary: Sendable {
    /// Where the library file is.
    let path: String
    /// Where its source is, as the compiler saw it (and as DWARF records it).
    let sourcePath: String
    let source: String
    /// The `dlopen` handle, as a bit pattern so the value stays `Sendable`.
    private let handle: UInt

    init(path: String, sourcePath: String, source: String) throws {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            throw FixtureError(message: "dlopen \(path): \(String(cString: dlerror()))")
        }
        self.path = path
        self.sourcePath = sourcePath
        self.source = source
        self.handle = UInt(bitPattern: handle)
    }

    /// The runtime address of an exported symbol.
    func address(of symbol: String) throws -> UInt64 {
        guard let address = dlsym(UnsafeMutableRawPointer(bitPattern: handle), symbol) else {
            throw FixtureError(message: "\(symbol) not found in \(path)")
        }
        return UInt64(UInt(bitPattern: address))
    }

    /// An exported function, typed.
    func function<Function>(_ symbol: String, as type: Function.Type) throws -> Function {
        let address = try address(of: symbol)
        return unsafeBitCast(UnsafeRawPointer(bitPattern: UInt(address)), to: type)
    }

    /// The 1-based line of the source containing `marker` (a comment), so expected
    /// lines follow the source text rather than being hard-coded.
    func line(of marker: String) throws -> Int {
        try Fixtures.line(of: marker, in: source)
    }
}

/// Written once, before `atexit` can read it.
private nonisolated(unsafe) var fixtureDirectoryToRemove: String?

struct FixtureError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Libraries compiled once per test run into a fresh temporary directory.
struct Fixtures: Sendable {
    /// C, `-g -O2`: `outer` inlines `inner` (always_inline), which calls
    /// `memprof_test_return_address`; that returns its own return address, a real
    /// return address inside the inlined code. Also a qsort comparator that records
    /// its return address inside libc.
    static let inlineSource = """
        #include <stdint.h>

        volatile uintptr_t memprof_test_sink;

        /* Returns its return address: the instruction after the call in the caller. */
        __attribute__((noinline, noipa)) void *memprof_test_return_address(void)
        {
            return __builtin_return_address(0);
        }

        static inline __attribute__((always_inline)) void *inner(int x)
        {
            memprof_test_sink = (uintptr_t)x;
            void *r = memprof_test_return_address(); /* MARK: inner-call */
            /* Work after the call, so it is not a tail call. */
            memprof_test_sink = (uintptr_t)r + 1;
            return r;
        }

        void *outer(int x)
        {
            void *r = inner(x * 2); /* MARK: outer-call */
            memprof_test_sink = 3;
            return r;
        }

        /* Records where libc's qsort called it from. */
        void *memprof_test_comparator_caller;

        int memprof_test_compare(const void *a, const void *b)
        {
            memprof_test_comparator_caller = __builtin_return_address(0);
            int x = *(const int *)a, y = *(const int *)b;
            return (x > y) - (x < y);
        }
        """

    /// C++, `-g -O2`: a static member of a class template in a namespace.
    static let widgetSource = """
        #include <cstdint>

        namespace ns {
        volatile std::uintptr_t sink;

        extern "C" __attribute__((noinline, noipa)) void *widget_return_address()
        {
            return __builtin_return_address(0);
        }

        template <class T> struct Widget {
            __attribute__((noinline)) static void *make(unsigned long n)
            {
                sink = n;
                void *r = widget_return_address(); /* MARK: make-call */
                sink = reinterpret_cast<std::uintptr_t>(r) + n;
                return r;
            }
        };
        } // namespace ns

        extern "C" void *widget_entry(unsigned long n)
        {
            return ns::Widget<int>::make(n);
        }
        """

    /// C compiled as several libraries with `-DNAME=alpha`, `-DNAME=bravo`, …: `NAME`
    /// returns a return address inside itself. `alpha` and `bravo` have equal-length
    /// names and identical code, so both functions sit at the same module offset.
    static let namedSource = """
        #include <stdint.h>

        volatile uintptr_t memprof_test_named_sink;

        __attribute__((noinline, noipa)) static void *named_return_address(void)
        {
            return __builtin_return_address(0);
        }

        void *NAME(int x)
        {
            memprof_test_named_sink = (uintptr_t)x;
            void *r = named_return_address(); /* MARK: named-call */
            memprof_test_named_sink = (uintptr_t)r;
            return r;
        }
        """

    let directory: String
    let inline: TestLibrary
    let widget: TestLibrary
    let alpha: TestLibrary
    let bravo: TestLibrary
    /// `namedSource` as `doomed`; one test deletes the file while it is loaded.
    let doomed: TestLibrary
    /// `namedSource` as `split`, stripped of DWARF, its debug info moved to
    /// `debugDirectory/.build-id/xx/yyyy.debug`.
    let split: TestLibrary
    let debugDirectory: String
    /// `namedSource` as `linked`, stripped of DWARF, its debug info zlib-compressed in
    /// `.debug/liblinked.so.debug` beside it and named by its `.gnu_debuglink`.
    let linked: TestLibrary

    /// Built on first use; every test shares the result.
    static let shared: Result<Fixtures, FixtureError> = {
        do {
            return .success(try Fixtures())
        } catch let error as FixtureError {
            return .failure(error)
        } catch {
            return .failure(FixtureError(message: "\(error)"))
        }
    }()

    private init() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("memprof-symbolize-\(getpid())-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.directory = directory
        // The libraries stay loaded for the whole run; remove their files at exit.
        fixtureDirectoryToRemove = directory
        atexit {
            if let directory = fixtureDirectoryToRemove {
                try? FileManager.default.removeItem(atPath: directory)
            }
        }

        inline = try Self.build("inline.c", source: Self.inlineSource, in: directory, compiler: "gcc")
        widget = try Self.build("widget.cpp", source: Self.widgetSource, in: directory, compiler: "g++")
        alpha = try Self.build(
            "alpha.c", source: Self.namedSource, in: directory, compiler: "gcc", defines: ["NAME=alpha"])
        bravo = try Self.build(
            "bravo.c", source: Self.namedSource, in: directory, compiler: "gcc", defines: ["NAME=bravo"])
        doomed = try Self.build(
            "doomed.c", source: Self.namedSource, in: directory, compiler: "gcc", defines: ["NAME=doomed"])

        // Split debug info the way distributions ship it: the library keeps its
        // symbol table, the DWARF goes to a file named by the build-id.
        debugDirectory = directory + "/debug"
        let splitLibrary = directory + "/libsplit.so"
        let splitSource = directory + "/split.c"
        try Self.compile(
            source: Self.namedSource, to: splitSource, output: splitLibrary, compiler: "gcc", defines: ["NAME=split"])
        let buildID = try Self.buildID(of: splitLibrary)
        let debugFileDirectory = "\(debugDirectory)/.build-id/\(buildID.prefix(2))"
        try FileManager.default.createDirectory(atPath: debugFileDirectory, withIntermediateDirectories: true)
        let debugFile = "\(debugFileDirectory)/\(buildID.dropFirst(2)).debug"
        try Self.run(["objcopy", "--only-keep-debug", splitLibrary, debugFile])
        try Self.run(["strip", "--strip-debug", splitLibrary])
        split = try TestLibrary(path: splitLibrary, sourcePath: splitSource, source: Self.namedSource)

        // The other way debug files are found: by .gnu_debuglink, in the library's own
        // .debug directory; compressed, as distributions compress them.
        let linkedLibrary = directory + "/liblinked.so"
        let linkedSource = directory + "/linked.c"
        try Self.compile(
            source: Self.namedSource, to: linkedSource, output: linkedLibrary, compiler: "gcc",
            defines: ["NAME=linked"])
        try FileManager.default.createDirectory(atPath: directory + "/.debug", withIntermediateDirectories: true)
        let linkedDebugFile = directory + "/.debug/liblinked.so.debug"
        try Self.run(
            ["objcopy", "--only-keep-debug", "--compress-debug-sections=zlib", linkedLibrary, linkedDebugFile])
        try Self.run(["strip", "--strip-debug", linkedLibrary])
        try Self.run(["objcopy", "--add-gnu-debuglink=\(linkedDebugFile)", linkedLibrary])
        linked = try TestLibrary(path: linkedLibrary, sourcePath: linkedSource, source: Self.namedSource)
    }

    private static func build(
        _ fileName: String, source: String, in directory: String, compiler: String, defines: [String] = []
    ) throws -> TestLibrary {
        let sourcePath = "\(directory)/\(fileName)"
        let base = fileName.split(separator: ".").first.map(String.init) ?? fileName
        let libraryPath = "\(directory)/lib\(base).so"
        try compile(source: source, to: sourcePath, output: libraryPath, compiler: compiler, defines: defines)
        return try TestLibrary(path: libraryPath, sourcePath: sourcePath, source: source)
    }

    private static func compile(
        source: String, to sourcePath: String, output: String, compiler: String, defines: [String]
    ) throws {
        try source.write(toFile: sourcePath, atomically: true, encoding: .utf8)
        // --build-id: Debian's gcc passes it anyway; be explicit, the tests rely on it.
        try run(
            [compiler, "-g", "-O2", "-shared", "-fPIC", "-Wl,--build-id"] + defines.map { "-D\($0)" }
                + ["-o", output, sourcePath])
    }

    /// The hex build-id `readelf -n` shows.
    private static func buildID(of path: String) throws -> String {
        let output = try run(["readelf", "-n", path])
        guard let line = output.split(separator: "\n").first(where: { $0.contains("Build ID:") }),
            let id = line.split(separator: " ").last
        else {
            throw FixtureError(message: "no build-id in \(path)")
        }
        return String(id)
    }

    @discardableResult
    static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw FixtureError(message: "\(arguments.joined(separator: " ")) failed:\n\(text)")
        }
        return text
    }

    static func line(of marker: String, in source: String) throws -> Int {
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        guard let index = lines.firstIndex(where: { $0.contains(marker) }) else {
            throw FixtureError(message: "marker \(marker) not in source")
        }
        return index + 1
    }
}
