import MemprofReport
import MemprofSymbolize

/// One frame of an allocation stack, symbolized in process.
public struct StackFrame: Sendable, Hashable, CustomStringConvertible {
    /// The return address (or, for an inlined frame, its caller's).
    public var address: UInt64
    /// The demangled function, when the module has symbols.
    public var function: String?
    /// Source file and line, when the module has debug info.
    public var file: String?
    public var line: Int?
    /// The module's path.
    public var module: String?
    /// Inlined into the next frame out.
    public var isInlined: Bool

    public init(
        address: UInt64, function: String?, file: String?, line: Int?, module: String?, isInlined: Bool = false
    ) {
        self.address = address
        self.function = function
        self.file = file
        self.line = line
        self.module = module
        self.isInlined = isInlined
    }

    init(_ frame: SymbolizedFrame) {
        self.init(
            address: frame.address, function: frame.function, file: frame.location?.file, line: frame.location?.line,
            module: frame.module, isInlined: frame.isInlined)
    }

    var symbolized: SymbolizedFrame {
        SymbolizedFrame(
            address: address, function: function,
            location: file.map { SourceLocation(file: $0, line: line ?? 0) }, module: module, isInlined: isInlined)
    }

    /// A frame of the check machinery itself (LeakCheck, Allocations, expectNoLeaks).
    var isMemprofCheck: Bool {
        guard let function else { return false }
        return ["MemprofKit.", "static MemprofKit.", "MemprofTesting.", "static MemprofTesting."].contains {
            function.hasPrefix($0)
        }
    }

    /// `function (file:line)`, else `function (module)`, else the address — as in
    /// `memprof report`.
    public var description: String { SiteLocator.describe(symbolized) }

    /// The Swift runtime and standard library: an allocation made inside them (an
    /// array's buffer, a dictionary's storage, a runtime cache) is named after the
    /// program's code that asked for it.
    static let swiftRuntimeModules = [
        "libswiftCore.so", "libswift_Concurrency.so", "libswiftSwiftOnoneSupport.so", "libswift_StringProcessing.so",
        "libswiftDispatch.so", "libswiftSynchronization.so",
    ]

    var isSwiftRuntime: Bool {
        guard let module else { return false }
        return Self.swiftRuntimeModules.contains(SiteLocator.moduleName(module))
    }

    /// The frame that names an allocation site: the innermost one that is neither the
    /// allocator (malloc, `swift_allocObject`, `operator new` …, as in `memprof report`)
    /// nor the Swift runtime or standard library; when every frame is one of those, the
    /// innermost non-allocator frame. Nil for no frames.
    public static func siteIndex(in frames: [StackFrame]) -> Int? {
        let symbolized = frames.map(\.symbolized)
        guard let plain = SiteLocator.siteFrameIndex(in: symbolized) else { return nil }
        return frames[plain...].firstIndex { !$0.isSwiftRuntime && !SiteLocator.isAllocatorFrame($0.symbolized) }
            ?? plain
    }

    /// The site frame's description, or `"<no frames>"`.
    public static func location(of frames: [StackFrame]) -> String {
        siteIndex(in: frames).map { frames[$0].description } ?? "<no frames>"
    }
}
