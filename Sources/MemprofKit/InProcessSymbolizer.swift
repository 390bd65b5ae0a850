import CMemprofClient
import MemprofReport
import MemprofSymbolize
import MemprofTrace
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Symbolizes stacks the interposer captured in this process, from the modules
/// loaded now. One `Symbolizer` serves until a module is loaded or unloaded, so each
/// file's debug info is opened once across checks.
enum InProcessSymbolizer {
    private struct Cached: Sendable {
        var modules: [ModuleRecord]
        var symbolizer: Symbolizer
    }

    private static let cache = Mutex<Cached?>(nil)

    /// Frames of `stack` (innermost first, inlined frames expanded).
    static func frames(stack: UInt32, api: memprof_api_v1) -> [StackFrame] {
        var addresses = [UInt64](repeating: 0, count: 256)
        let n = addresses.withUnsafeMutableBufferPointer { api.stack_frames(stack, $0.baseAddress, Int32($0.count)) }
        let record = StackRecord(id: stack, moduleGeneration: 0, frames: Array(addresses.prefix(Int(n))))
        return symbolizer().symbolize(stack: record).map(StackFrame.init)
    }

    private static func symbolizer() -> Symbolizer {
        let modules = loadedModules()
        return cache.withLock { cached in
            if let cached, cached.modules == modules { return cached.symbolizer }
            let symbolizer = Symbolizer(modules: modules)
            cached = Cached(modules: modules, symbolizer: symbolizer)
            return symbolizer
        }
    }

    private static func loadedModules() -> [ModuleRecord] {
        var modules: [ModuleRecord] = []
        withUnsafeMutablePointer(to: &modules) { pointer in
            memprof_client_modules(
                { module, context in
                    guard let module = module?.pointee, let context else { return }
                    let list = context.assumingMemoryBound(to: [ModuleRecord].self)
                    let path = String(cString: module.path)
                    let buildID = Array(UnsafeBufferPointer(start: module.build_id, count: Int(module.build_id_size)))
                    let segments = (0..<Int(module.segment_count)).map { i in
                        ModuleRecord.Segment(
                            virtualAddress: module.segments[3 * i], memorySize: module.segments[3 * i + 1],
                            flags: UInt8(module.segments[3 * i + 2]))
                    }
                    list.pointee.append(
                        ModuleRecord(
                            generation: 0, loadBias: module.load_bias, path: path, buildID: buildID,
                            segments: segments))
                }, pointer)
        }
        // The main program's name is empty in the loader's list.
        let executable = executablePath()
        for i in modules.indices where modules[i].path.isEmpty { modules[i].path = executable }
        return modules
    }

    private static func executablePath() -> String {
        var buffer = [CChar](repeating: 0, count: 4097)
        let n = readlink("/proc/self/exe", &buffer, 4096)
        return n > 0 ? String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
    }
}
