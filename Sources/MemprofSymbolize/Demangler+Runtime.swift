#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The demanglers the process already carries: the Swift runtime's and libstdc++'s.
///
/// Swift: `swift_demangle` is exported by `libswiftCore.so`, which every Swift program
/// links, so it is declared directly. C++: `__cxa_demangle` lives in libstdc++, which
/// `libswiftCore.so` depends on on Linux; it is looked up at run time (the link line
/// does not name libstdc++, and an undefined reference could fail to link), loading
/// `libstdc++.so.6` only if the process has not.
enum RuntimeDemangler {
    private typealias CXADemangle =
        @convention(c) (
            UnsafePointer<CChar>?, UnsafeMutablePointer<CChar>?, UnsafeMutablePointer<Int>?,
            UnsafeMutablePointer<Int32>?
        ) -> UnsafeMutablePointer<CChar>?

    /// A resolved C function pointer; immutable and safe to call from any thread.
    private struct CXAFunction: @unchecked Sendable {
        let call: CXADemangle
    }

    private static let cxaDemangle: CXAFunction? = {
        var symbol = dlsym(nil, "__cxa_demangle")
        if symbol == nil, let library = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL) {
            // Kept open for the life of the process: the function pointer refers to it.
            symbol = dlsym(library, "__cxa_demangle")
        }
        guard let symbol else { return nil }
        return CXAFunction(call: unsafeBitCast(symbol, to: CXADemangle.self))
    }()

    /// The demangled C++ name, or nil when `symbol` is not a valid Itanium name.
    static func demangleCXX(_ symbol: String) -> String? {
        guard let cxaDemangle else { return nil }
        var status: Int32 = 0
        guard let result = symbol.withCString({ cxaDemangle.call($0, nil, nil, &status) }) else {
            return nil
        }
        defer { free(result) }
        return status == 0 ? String(cString: result) : nil
    }

    /// The demangled Swift name, or nil when `symbol` is not a valid Swift name.
    static func demangleSwift(_ symbol: String) -> String? {
        var symbol = symbol
        return symbol.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars in
                guard let result = _swift_demangle(chars.baseAddress, chars.count, nil, nil, 0) else {
                    return nil
                }
                defer { free(result) }
                return String(cString: result)
            }
        }
    }
}

/// `char *swift_demangle(const char *mangledName, size_t mangledNameLength,
///                       char *outputBuffer, size_t *outputBufferSize, uint32_t flags)`
/// from the Swift runtime (`include/swift/Demangling/Demangle.h`); with a null output
/// buffer the result is `malloc`ed and the caller frees it.
@_silgen_name("swift_demangle")
private func _swift_demangle(
    _ mangledName: UnsafePointer<CChar>?, _ mangledNameLength: Int,
    _ outputBuffer: UnsafeMutablePointer<CChar>?, _ outputBufferSize: UnsafeMutablePointer<Int>?,
    _ flags: UInt32
) -> UnsafeMutablePointer<CChar>?
