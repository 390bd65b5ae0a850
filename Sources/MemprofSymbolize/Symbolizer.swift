import MemprofTrace
import Synchronization

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
///
/// ```swift
/// let symbolizer = Symbolizer(modules: trace.modules)
/// for frame in symbolizer.symbolize(stack: stack) {
///     print(frame.function ?? "??", frame.location.map(String.init(describing:)) ?? "")
/// }
/// ```
///
/// Every address is treated as a *return address*: the line and inline chain describe
/// `address - 1`, the call instruction, because the return address itself may already
/// belong to the next statement (or, after a `noreturn` call, to the next function).
/// Frames still report the recorded address.
///
/// Names come from elfutils libdw: DWARF when the module or a separate debug file
/// (found by build-id under `/usr/lib/debug`) has it, else the ELF symbol table.
/// A module whose file is missing, unreadable, or replaced since the recording (its
/// build-id differs) yields frames with the module path and no function; see
/// ``moduleProblems``. Each ELF file is opened once, on first use, and serves every
/// generation that maps it.
///
/// Thread safety: all methods may be called from any thread; lookups are serialized.
public final class Symbolizer: @unchecked Sendable {
    /// libdwfl's default debug-info path: the module's directory, its `.debug`
    /// subdirectory, and `/usr/lib/debug` (by build-id, then by path).
    public static let defaultDebugInfoPath = ":.debug:/usr/lib/debug"

    /// Identifies one ELF file: the same path with another build-id is another file.
    private struct FileKey: Hashable {
        var path: String
        var buildID: [UInt8]
    }

    /// An opened file (nil when it is unusable) and its per-address cache. The cache
    /// is keyed by module-relative address, so a library mapped in many generations,
    /// even at different biases, is looked up once per address.
    private struct FileEntry {
        var module: DwarfModule?
        var frames: [UInt64: [RawFrame]] = [:]
    }

    private struct AddressKey: Hashable {
        var generation: UInt32
        var address: UInt64
    }

    private struct State {
        /// Indexed like `Symbolizer.files`; nil until the file is first needed.
        var files: [FileEntry?]
        var results: [AddressKey: [SymbolizedFrame]] = [:]
        /// Raw name → demangled name: one function recurs at many addresses.
        var demangled: [String: String] = [:]
        var problems: [ModuleProblem] = []
    }

    private let maps: [UInt32: ModuleMap]
    private let debugInfoPath: String
    private let state: Mutex<State>

    /// - Parameter modules: every `ModuleRecord` of the trace (all generations).
    public convenience init(modules: [ModuleRecord]) {
        self.init(modules: modules, debugInfoPath: Self.defaultDebugInfoPath)
    }

    /// - Parameters:
    ///   - modules: every `ModuleRecord` of the trace (all generations).
    ///   - debugInfoPath: where to look for separate debug info, in libdwfl's syntax:
    ///     colon-separated directories; absolute ones are searched by build-id
    ///     (`DIR/.build-id/xx/yyyy.debug`) and by path, an empty element means the
    ///     module's own directory. Use it for a sysroot or a symbol store copied from
    ///     the machine that made the recording.
    public init(modules: [ModuleRecord], debugInfoPath: String) {
        // Number every distinct file of the trace, whatever generation maps it.
        var files: [FileKey] = []
        var fileIndices: [FileKey: Int] = [:]
        self.maps = Dictionary(grouping: modules, by: \.generation).mapValues { records in
            let indices = records.map { record in
                let key = FileKey(path: record.path, buildID: record.buildID)
                if let index = fileIndices[key] { return index }
                files.append(key)
                fileIndices[key] = files.count - 1
                return files.count - 1
            }
            return ModuleMap(modules: records, fileIndices: indices)
        }
        self.debugInfoPath = debugInfoPath
        self.state = Mutex(State(files: Array(repeating: nil, count: files.count)))
    }

    /// Frames for one return address captured in module-map `generation`, innermost first.
    public func symbolize(address: UInt64, generation: UInt32) -> [SymbolizedFrame] {
        state.withLock { state in
            frames(for: address, generation: generation, state: &state)
        }
    }

    /// All frames of a stack, innermost first, inlined frames expanded.
    public func symbolize(stack: StackRecord) -> [SymbolizedFrame] {
        state.withLock { state in
            var result = [SymbolizedFrame]()
            result.reserveCapacity(stack.frames.count)
            for address in stack.frames {
                result += frames(for: address, generation: stack.moduleGeneration, state: &state)
            }
            return result
        }
    }

    /// Why some modules gave no names, in the order they were first needed. Modules
    /// are opened lazily, so this lists only modules that addresses fell into so far.
    public var moduleErrors: [SymbolizationError] {
        state.withLock { $0.problems.map(\.error) }
    }

    /// ``moduleErrors`` with the recorded build-id and the debug files looked for: what
    /// a report shows so that missing names are never a silent surprise.
    public var moduleProblems: [ModuleProblem] {
        state.withLock { $0.problems }
    }

    // MARK: - Lookup

    private func frames(for address: UInt64, generation: UInt32, state: inout State) -> [SymbolizedFrame] {
        let key = AddressKey(generation: generation, address: address)
        if let cached = state.results[key] { return cached }

        let result: [SymbolizedFrame]
        if let map = maps[generation], let index = map.module(containing: address) {
            let module = map.modules[index]
            let raw = rawFrames(for: address, in: module, file: map.fileIndices[index], state: &state)
            if raw.isEmpty {
                result = [
                    SymbolizedFrame(
                        address: address, function: nil, location: nil, module: module.path, isInlined: false)
                ]
            } else {
                result = raw.map { frame in
                    SymbolizedFrame(
                        address: address,
                        function: frame.function.map { demangle($0, state: &state) },
                        location: frame.location,
                        module: module.path,
                        isInlined: frame.isInlined
                    )
                }
            }
        } else {
            result = [SymbolizedFrame(address: address, function: nil, location: nil, module: nil, isInlined: false)]
        }
        state.results[key] = result
        return result
    }

    private func rawFrames(for address: UInt64, in module: ModuleRecord, file: Int, state: inout State) -> [RawFrame] {
        if state.files[file] == nil {
            state.files[file] = FileEntry(module: open(module, problems: &state.problems))
        }
        guard let dwarf = state.files[file]?.module else { return [] }

        // Module-relative, then back into the call instruction. `address` lies in a
        // segment, so it is above the bias; the guard only protects address 0 of a
        // module mapped at bias 0.
        let relative = address &- module.loadBias
        let lookupAddress = relative > 0 ? relative - 1 : relative
        if let cached = state.files[file]?.frames[lookupAddress] { return cached }
        let frames = dwarf.frames(at: lookupAddress)
        state.files[file]?.frames[lookupAddress] = frames
        return frames
    }

    private func open(_ module: ModuleRecord, problems: inout [ModuleProblem]) -> DwarfModule? {
        guard !module.path.isEmpty else {
            problems.append(
                ModuleProblem(
                    error: .noFile(loadBias: module.loadBias), recordedBuildID: hexString(module.buildID),
                    debugFilesSearched: []))
            return nil
        }
        do {
            return try DwarfModule(path: module.path, buildID: module.buildID, debugInfoPath: debugInfoPath)
        } catch {
            // A missing or replaced file is looked for by build-id (memprof_dwarf_open).
            let searched: [String]
            switch error {
            case .cannotOpen, .buildIDMismatch:
                searched = ModuleProblem.debugFiles(buildID: module.buildID, debugInfoPath: debugInfoPath)
            case .notELF, .noFile: searched = []
            }
            problems.append(
                ModuleProblem(
                    error: error, recordedBuildID: hexString(module.buildID), debugFilesSearched: searched))
            return nil
        }
    }

    private func demangle(_ symbol: String, state: inout State) -> String {
        if let cached = state.demangled[symbol] { return cached }
        let name = Demangler.demangle(symbol)
        state.demangled[symbol] = name
        return name
    }
}

/// Demangles C++ (Itanium) and Swift symbols; returns other names unchanged.
public enum Demangler {
    /// The readable form of `symbol`: `_ZN2ns6WidgetIiE4makeEm` becomes
    /// `ns::Widget<int>::make(unsigned long)`, `$s4main3fooyyF` becomes
    /// `main.foo() -> ()`. C names, and names that fail to demangle, come back as is.
    public static func demangle(_ symbol: String) -> String {
        if isSwiftMangled(symbol) {
            return RuntimeDemangler.demangleSwift(symbol) ?? symbol
        }
        // Itanium names start with `_Z`; GCC's clone suffixes (`.cold`,
        // `.constprop.0`) are understood by `__cxa_demangle` itself.
        if symbol.hasPrefix("_Z") {
            return RuntimeDemangler.demangleCXX(symbol) ?? symbol
        }
        return symbol
    }

    /// Swift's mangling prefixes: `$s` (stable ABI), `$S` (Swift 4.2), `$e` (Embedded),
    /// `_T0` (Swift 4), with an optional leading `_` as some object formats add.
    private static func isSwiftMangled(_ symbol: String) -> Bool {
        let body = symbol.hasPrefix("_$") ? symbol.dropFirst() : Substring(symbol)
        return body.hasPrefix("$s") || body.hasPrefix("$S") || body.hasPrefix("$e") || body.hasPrefix("_T0")
    }
}
