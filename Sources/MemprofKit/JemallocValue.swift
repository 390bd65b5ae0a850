/// A Swift type with the layout of a C type that jemalloc ctls are read and written as.
///
/// Read a ctl as the type its documentation (`man 3 jemalloc`, "MALLCTL NAMESPACE")
/// gives it; jemalloc refuses any other size with `EINVAL`:
///
/// | ctl type   | Swift type |
/// |------------|------------|
/// | `size_t`   | `UInt`     |
/// | `ssize_t`  | `Int`      |
/// | `uint64_t` | `UInt64`   |
/// | `unsigned` | `UInt32`   |
/// | `bool`     | `Bool`     |
///
/// Conform only types whose memory layout is exactly the C type named by ``cTypeName``.
public protocol JemallocValue: BitwiseCopyable, Sendable {
    /// The C type of ctls read as this type, as errors name it (`"size_t"`).
    static var cTypeName: String { get }
}

extension UInt: JemallocValue {
    /// `size_t`.
    public static var cTypeName: String { "size_t" }
}

extension Int: JemallocValue {
    /// `ssize_t`.
    public static var cTypeName: String { "ssize_t" }
}

extension UInt64: JemallocValue {
    /// `uint64_t`.
    public static var cTypeName: String { "uint64_t" }
}

extension UInt32: JemallocValue {
    /// `unsigned`.
    public static var cTypeName: String { "unsigned" }
}

extension Bool: JemallocValue {
    /// `bool`.
    public static var cTypeName: String { "bool" }
}
