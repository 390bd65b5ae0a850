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
}
