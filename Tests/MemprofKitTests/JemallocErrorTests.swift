import Glibc
import MemprofKit
import Testing

@Suite("JemallocError")
struct JemallocErrorTests {
    @Test(
        "each mallctl code reads as jemalloc means it, with the code's name",
        arguments: [
            (ENOENT, "no such ctl name, or no such arena (ENOENT)"),
            (EINVAL, "wrong value size for this ctl, or a value it refuses (EINVAL)"),
            (EPERM, "the ctl is read-only or takes no value (EPERM)"),
            (EAGAIN, "jemalloc ran out of memory (EAGAIN)"),
            (EFAULT, "the ctl's operation failed inside jemalloc (EFAULT)"),
            (EBUSY, "Device or resource busy (errno \(EBUSY))"),
        ])
    func reasons(code: Int32, reason: String) {
        let error = JemallocError.ctlFailed(name: "arena.4096.purge", operation: .call, code: code)
        #expect(error.description == "jemalloc ctl \"arena.4096.purge\": call failed: \(reason)")
    }

    @Test("the operation names the C type the value was read or written as")
    func operations() {
        let read = JemallocError.ctlFailed(name: "opt.narenas", operation: .read(cType: UInt32.cTypeName), code: EINVAL)
        #expect(read.description.hasPrefix("jemalloc ctl \"opt.narenas\": read as unsigned failed: "))
        let write = JemallocError.ctlFailed(name: "prof.active", operation: .write(cType: Bool.cTypeName), code: ENOENT)
        #expect(write.description.hasPrefix("jemalloc ctl \"prof.active\": write as bool failed: "))
    }

    @Test("value types name the C types of the ctls they read, with their sizes")
    func valueTypes() {
        #expect(UInt.cTypeName == "size_t" && MemoryLayout<UInt>.size == MemoryLayout<size_t>.size)
        #expect(Int.cTypeName == "ssize_t" && MemoryLayout<Int>.size == MemoryLayout<ssize_t>.size)
        #expect(UInt64.cTypeName == "uint64_t" && MemoryLayout<UInt64>.size == 8)
        #expect(UInt32.cTypeName == "unsigned" && MemoryLayout<UInt32>.size == MemoryLayout<CUnsignedInt>.size)
        #expect(Bool.cTypeName == "bool" && MemoryLayout<Bool>.size == MemoryLayout<CBool>.size)
    }
}
