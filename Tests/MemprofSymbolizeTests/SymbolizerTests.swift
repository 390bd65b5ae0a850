import Foundation
import Glibc
import MemprofSymbolize
import MemprofTrace
import Testing

/// Symbolizes real return addresses of this test process: libraries compiled at test
/// time and `dlopen`ed, libc, and the test binary itself, against module records
/// built with `dl_iterate_phdr` as the preload builds them.
@Suite("Symbolizer")
struct SymbolizerTests {
    private typealias ReturnAddressFunction = @convention(c) (Int32) -> UnsafeMutableRawPointer?

    private let fixtures: Fixtures

    init() throws {
        fixtures = try Fixtures.shared.get()
    }

    /// Calls `symbol(argument)` in `library`, which returns a return address inside itself.
    private func returnAddress(in library: TestLibrary, _ symbol: String, argument: Int32 = 7) throws -> UInt64 {
        let function = try library.function(symbol, as: ReturnAddressFunction.self)
        return UInt64(UInt(bitPattern: function(argument)))
    }

    @Test("an address in inlined code yields the inlined frame, then the physical one at the call site")
    func inlineChain() throws {
        let address = try returnAddress(in: fixtures.inline, "outer")
        let symbolizer = Symbolizer(modules: LoadedModules.snapshot(generation: 0))

        let frames = symbolizer.symbolize(address: address, generation: 0)

        let library = fixtures.inline
        #expect(
            frames == [
                SymbolizedFrame(
                    address: address, function: "inner",
                    location: SourceLocation(file: library.sourcePath, line: try library.line(of: "MARK: inner-call")),
                    module: library.path, isInlined: true),
                SymbolizedFrame(
                    address: address, function: "outer",
                    location: SourceLocation(file: library.sourcePath, line: try library.line(of: "MARK: outer-call")),
                    module: library.path, isInlined: false),
            ])
    }

    @Test("C++ names are demangled, with namespace, template arguments and parameters")
    func cxxFunction() throws {
        let address = try returnAddress(in: fixtures.widget, "widget_entry")
        let symbolizer = Symbolizer(modules: LoadedModules.snapshot(generation: 0))

        let frames = symbolizer.symbolize(address: address, generation: 0)

        let library = fixtures.widget
        #expect(
            frames == [
                SymbolizedFrame(
                    address: address, function: "ns::Widget<int>::make(unsigned long)",
                    location: SourceLocation(file: library.sourcePath, line: try library.line(of: "MARK: make-call")),
                    module: library.path, isInlined: false)
            ])
    }

    @Test("a Swift function of the test binary is demangled and located")
    func swiftFunction() throws {
        let capture = try fixtures.inline.function(
            "memprof_test_return_address", as: (@convention(c) () -> UnsafeMutableRawPointer?).self)
        let address = SwiftMarker.returnAddress(via: capture)
        let symbolizer = Symbolizer(modules: LoadedModules.snapshot(generation: 0))

        let frames = symbolizer.symbolize(address: address, generation: 0)

        let source = try String(contentsOfFile: #filePath, encoding: .utf8)
        // Built at run time so that this line does not contain the marker itself.
        let marker = "swift-call" + "-site"
        #expect(
            frames == [
                SymbolizedFrame(
                    address: address,
                    function: "static MemprofSymbolizeTests.SwiftMarker.returnAddress(via: @convention(c) () -> "
                        + "Swift.Optional<Swift.UnsafeMutableRawPointer>) -> Swift.UInt64",
                    location: SourceLocation(file: #filePath, line: try Fixtures.line(of: marker, in: source)),
                    module: LoadedModules.executablePath(), isInlined: false)
            ])
    }

    @Test("a return address inside libc resolves through its separate debug info")
    func libcReturnAddress() throws {
        let compare = try fixtures.inline.function(
            "memprof_test_compare", as: (@convention(c) (UnsafeRawPointer?, UnsafeRawPointer?) -> Int32).self)
        var values: [Int32] = [5, 3, 9, 1, 7]
        qsort(&values, values.count, MemoryLayout<Int32>.stride, compare)
        #expect(values == [1, 3, 5, 7, 9])
        let callerSlot = try fixtures.inline.address(of: "memprof_test_comparator_caller")
        let address = try #require(UnsafePointer<UInt64>(bitPattern: UInt(callerSlot))).pointee
        let modules = LoadedModules.snapshot(generation: 0)
        let libc = try #require(modules.first { $0.contains(address) })
        #expect(libc.path.hasSuffix("/libc.so.6"))

        let frames = Symbolizer(modules: modules).symbolize(address: address, generation: 0)

        // glibc's qsort is a merge sort (stdlib/msort.c) that calls the comparator
        // from msort_with_tmp; libc6-dbg's DWARF, found by build-id, gives the line.
        let physical = try #require(frames.last)
        #expect(frames.allSatisfy { $0.module == libc.path && $0.address == address })
        #expect(physical.function == "msort_with_tmp")
        #expect(physical.location?.file.hasSuffix("msort.c") == true)
        #expect((physical.location?.line ?? 0) > 0)
    }

    @Test("an address outside every module has no module and no function")
    func addressInNoModule() {
        let symbolizer = Symbolizer(modules: LoadedModules.snapshot(generation: 0))

        #expect(
            symbolizer.symbolize(address: 0x10, generation: 0) == [
                SymbolizedFrame(address: 0x10, function: nil, location: nil, module: nil, isInlined: false)
            ])
        // A generation the trace never recorded has no modules at all.
        let address = UInt64(UInt(bitPattern: dlsym(nil, "malloc")))
        #expect(symbolizer.symbolize(address: address, generation: 99).map(\.module) == [nil])
    }

    @Test("a module whose file is gone keeps its path but has no function, and says why")
    func deletedModuleFile() throws {
        let address = try returnAddress(in: fixtures.doomed, "doomed")
        let record = try #require(LoadedModules.module(containing: address))
        #expect(record.path == fixtures.doomed.path)
        try FileManager.default.removeItem(atPath: fixtures.doomed.path)
        let symbolizer = Symbolizer(modules: [record])

        let frames = symbolizer.symbolize(address: address, generation: 0)

        #expect(
            frames == [
                SymbolizedFrame(address: address, function: nil, location: nil, module: record.path, isInlined: false)
            ])
        #expect(
            symbolizer.moduleErrors == [
                .cannotOpen(path: record.path, reason: "No such file or directory")
            ])
    }

    @Test("two generations mapping different libraries at one address resolve per generation")
    func generations() throws {
        let alphaAddress = try returnAddress(in: fixtures.alpha, "alpha")
        let bravoAddress = try returnAddress(in: fixtures.bravo, "bravo")
        let alpha = try #require(LoadedModules.module(containing: alphaAddress, generation: 1))
        var bravo = try #require(LoadedModules.module(containing: bravoAddress, generation: 2))
        // Same code, same offset: after moving bravo to alpha's bias, one runtime
        // address means alpha in generation 1 and bravo in generation 2.
        try #require(alphaAddress - alpha.loadBias == bravoAddress - bravo.loadBias)
        bravo.loadBias = alpha.loadBias
        let symbolizer = Symbolizer(modules: [alpha, bravo])

        let inFirst = symbolizer.symbolize(address: alphaAddress, generation: 1)
        let inSecond = symbolizer.symbolize(address: alphaAddress, generation: 2)

        let line = try fixtures.alpha.line(of: "MARK: named-call")
        #expect(
            inFirst == [
                SymbolizedFrame(
                    address: alphaAddress, function: "alpha",
                    location: SourceLocation(file: fixtures.alpha.sourcePath, line: line),
                    module: fixtures.alpha.path, isInlined: false)
            ])
        #expect(
            inSecond == [
                SymbolizedFrame(
                    address: alphaAddress, function: "bravo",
                    location: SourceLocation(file: fixtures.bravo.sourcePath, line: line),
                    module: fixtures.bravo.path, isInlined: false)
            ])
    }

    @Test("a file replaced since the recording (other build-id) gives no names rather than wrong ones")
    func buildIDMismatch() throws {
        let address = try returnAddress(in: fixtures.alpha, "alpha")
        var record = try #require(LoadedModules.module(containing: address))
        #expect(!record.buildID.isEmpty)
        record.buildID = [0xde, 0xad, 0xbe, 0xef]
        let symbolizer = Symbolizer(modules: [record])

        let frames = symbolizer.symbolize(address: address, generation: 0)

        #expect(frames.map(\.function) == [nil])
        #expect(frames.map(\.module) == [record.path])
        #expect(symbolizer.moduleErrors == [.buildIDMismatch(path: record.path, recordedBuildID: "deadbeef")])
        // What a report says: the recorded build-id, and where a debug file with it was sought.
        #expect(
            symbolizer.moduleProblems == [
                ModuleProblem(
                    error: .buildIDMismatch(path: record.path, recordedBuildID: "deadbeef"),
                    recordedBuildID: "deadbeef", debugFilesSearched: ["/usr/lib/debug/.build-id/de/adbeef.debug"])
            ])
        let elsewhere = Symbolizer(modules: [record], debugInfoPath: "+:.debug:/srv/symbols:-/opt/debug")
        _ = elsewhere.symbolize(address: address, generation: 0)
        #expect(
            elsewhere.moduleProblems.map(\.debugFilesSearched) == [
                ["/srv/symbols/.build-id/de/adbeef.debug", "/opt/debug/.build-id/de/adbeef.debug"]
            ])
    }

    @Test("separate debug info is found by build-id in the debug-info path")
    func separateDebugInfo() throws {
        let address = try returnAddress(in: fixtures.split, "split")
        let record = try #require(LoadedModules.module(containing: address))
        let expected = SymbolizedFrame(
            address: address, function: "split",
            location: SourceLocation(
                file: fixtures.split.sourcePath, line: try fixtures.split.line(of: "MARK: named-call")),
            module: record.path, isInlined: false)

        // The stripped library alone: the symbol table names the function, no lines.
        let withoutDebugInfo = Symbolizer(modules: [record]).symbolize(address: address, generation: 0)
        #expect(
            withoutDebugInfo == [
                SymbolizedFrame(
                    address: address, function: "split", location: nil, module: record.path, isInlined: false)
            ])

        // With the debug directory: lines, through `.build-id/xx/yyyy.debug`.
        let withDebugInfo = Symbolizer(modules: [record], debugInfoPath: fixtures.debugDirectory)
        #expect(withDebugInfo.symbolize(address: address, generation: 0) == [expected])

        // The library missing on this machine: the debug file alone still describes it.
        var missing = record
        missing.path = fixtures.directory + "/not-copied/libsplit.so"
        let fromDebugFileOnly = Symbolizer(modules: [missing], debugInfoPath: fixtures.debugDirectory)
        var expectedMissing = expected
        expectedMissing.module = missing.path
        #expect(fromDebugFileOnly.symbolize(address: address, generation: 0) == [expectedMissing])
        #expect(fromDebugFileOnly.moduleErrors.isEmpty)

        // Another library now sits at the recorded path (build-id differs): the debug
        // file with the recorded build-id wins over the wrong file.
        var replaced = record
        replaced.path = fixtures.alpha.path
        let fromDebugFileOverReplaced = Symbolizer(modules: [replaced], debugInfoPath: fixtures.debugDirectory)
        #expect(fromDebugFileOverReplaced.symbolize(address: address, generation: 0).map(\.function) == ["split"])
    }

    @Test("separate debug info is found by .gnu_debuglink, compressed, without debuginfod")
    func debugLink() throws {
        let address = try returnAddress(in: fixtures.linked, "linked")
        let record = try #require(LoadedModules.module(containing: address))
        let symbolizer = Symbolizer(modules: [record])

        let frames = symbolizer.symbolize(address: address, generation: 0)

        #expect(
            frames == [
                SymbolizedFrame(
                    address: address, function: "linked",
                    location: SourceLocation(
                        file: fixtures.linked.sourcePath, line: try fixtures.linked.line(of: "MARK: named-call")),
                    module: record.path, isInlined: false)
            ])
        #expect(symbolizer.moduleErrors.isEmpty)
        // Unless DEBUGINFOD_URLS names a server, nothing loads the debuginfod client
        // (and with it libcurl and a TLS stack) to look for debug files.
        if getenv("DEBUGINFOD_URLS") == nil {
            #expect(dlopen("libdebuginfod.so.1", RTLD_NOW | RTLD_NOLOAD) == nil)
        }
    }

    @Test("a stack expands inlined frames in order and uses the stack's generation")
    func stack() throws {
        let inlineAddress = try returnAddress(in: fixtures.inline, "outer")
        let widgetAddress = try returnAddress(in: fixtures.widget, "widget_entry")
        let symbolizer = Symbolizer(modules: LoadedModules.snapshot(generation: 3))

        let frames = symbolizer.symbolize(
            stack: StackRecord(id: 1, moduleGeneration: 3, frames: [inlineAddress, widgetAddress, 0x10]))

        #expect(frames.map(\.function) == ["inner", "outer", "ns::Widget<int>::make(unsigned long)", nil])
        #expect(frames.map(\.address) == [inlineAddress, inlineAddress, widgetAddress, 0x10])
        #expect(frames.map(\.isInlined) == [true, false, false, false])
        #expect(frames.map(\.module) == [fixtures.inline.path, fixtures.inline.path, fixtures.widget.path, nil])
    }

    @Test("10,000 addresses in libc and the test binary resolve consistently, and the cache returns the same frames")
    func manyAddresses() throws {
        let modules = LoadedModules.snapshot(generation: 0)
        let libc = try #require(modules.first { $0.path.hasSuffix("/libc.so.6") })
        let executable = try #require(modules.first { $0.path == LoadedModules.executablePath() })
        let libcAddresses = try Self.spread(5_000, overTextOf: libc)
        let executableAddresses = try Self.spread(5_000, overTextOf: executable)
        let symbolizer = Symbolizer(modules: modules)

        let libcFrames = libcAddresses.map { symbolizer.symbolize(address: $0, generation: 0) }
        let executableFrames = executableAddresses.map { symbolizer.symbolize(address: $0, generation: 0) }

        // The second pass comes from the cache and must not differ.
        #expect(libcAddresses.map { symbolizer.symbolize(address: $0, generation: 0) } == libcFrames)
        #expect(executableAddresses.map { symbolizer.symbolize(address: $0, generation: 0) } == executableFrames)
        for (addresses, results, module) in [
            (libcAddresses, libcFrames, libc), (executableAddresses, executableFrames, executable),
        ] {
            for (address, frames) in zip(addresses, results) {
                #expect(!frames.isEmpty)
                #expect(frames.allSatisfy { $0.address == address && $0.module == module.path })
                // Exactly one physical frame, and it is the outermost.
                #expect(frames.dropLast().allSatisfy { $0.isInlined })
                #expect(frames.last?.isInlined == false)
            }
            // Every function is named; only the padding between functions is not.
            let named = results.filter { $0.last?.function != nil }.count
            #expect(named >= addresses.count * 9 / 10, "\(named) of \(addresses.count) named in \(module.path)")
        }
        // libc6-dbg's DWARF gives (nearly) every libc address a line. (Swift's
        // -Onone code has many line-0 rows, so no such bound for the test binary.)
        let located = libcFrames.filter { $0.first?.location != nil }.count
        #expect(located >= libcAddresses.count * 9 / 10, "\(located) of \(libcAddresses.count) libc addresses located")
        #expect(symbolizer.moduleErrors.isEmpty)
    }

    /// `count` addresses evenly spread over the `.text` section of `module`.
    private static func spread(_ count: Int, overTextOf module: ModuleRecord) throws -> [UInt64] {
        let text = try ELFSections.range(of: ".text", inFile: module.path)
        let step = max((text.upperBound - text.lowerBound) / UInt64(count), 1)
        return (0..<UInt64(count)).map { module.loadBias + text.lowerBound + $0 * step }
    }
}

/// A Swift function whose return address the tests capture.
enum SwiftMarker {
    @inline(never)
    static func returnAddress(via capture: @convention(c) () -> UnsafeMutableRawPointer?) -> UInt64 {
        let address = capture()  // swift-call-site
        return UInt64(UInt(bitPattern: address))
    }
}
