import MemprofTrace

// API CONTRACT (bodies are being implemented; signatures are fixed).

/// A source position.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }
    public var description: String { "\(file):\(line)" }
}

/// One frame of a symbolized stack. An address inside inlined code yields several
/// frames: the inlined ones first (`isInlined == true`), the physical function last.
public struct SymbolizedFrame: Sendable, Hashable {
    /// The return address as recorded.
    public var address: UInt64
    /// Demangled function name; nil when no symbol covers the address.
    public var function: String?
    /// File and line, when debug info exists.
    public var location: SourceLocation?
    /// Path of the module containing the address; nil when no module does.
    public var module: String?
    /// True when this frame was inlined into the frame after it.
    public var isInlined: Bool

    public init(address: UInt64, function: String?, location: SourceLocation?, module: String?, isInlined: Bool) {
        self.address = address
        self.function = function
        self.location = location
        self.module = module
        self.isInlined = isInlined
    }
}

/// Turns recorded return addresses into functions and source lines, offline, from a
/// trace's module map. Caches per module and per address.
public final class Symbolizer: @unchecked Sendable {
    /// - Parameter modules: every `ModuleRecord` of the trace (all generations).
    public init(modules: [ModuleRecord]) { fatalError("not implemented yet") }

    /// Frames for one return address captured in module-map `generation`, innermost first.
    public func symbolize(address: UInt64, generation: UInt32) -> [SymbolizedFrame] { fatalError("not implemented yet") }

    /// All frames of a stack, innermost first, inlined frames expanded.
    public func symbolize(stack: StackRecord) -> [SymbolizedFrame] { fatalError("not implemented yet") }
}

/// Demangles C++ (Itanium) and Swift symbols; returns other names unchanged.
public enum Demangler {
    public static func demangle(_ symbol: String) -> String { fatalError("not implemented yet") }
}
