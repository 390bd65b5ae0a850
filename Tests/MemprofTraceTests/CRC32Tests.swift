import CMemprofFormat
import Testing

@testable import MemprofTrace

@Suite("CRC32")
struct CRC32Tests {
    @Test("the standard check value")
    func checkValue() {
        let bytes = Array("123456789".utf8)
        #expect(bytes.withUnsafeBytes { CRC32.checksum($0) } == 0xCBF4_3926)
    }

    @Test("matches memprof_crc32 at every length and alignment up to 300 bytes")
    func matchesHeader() {
        var generator = SystemRandomNumberGenerator()
        let data = (0..<310).map { _ in UInt8.random(in: 0...255, using: &generator) }
        data.withUnsafeBytes { all in
            for start in 0..<8 {
                for length in 0...300 {
                    let slice = UnsafeRawBufferPointer(rebasing: all[start..<start + length])
                    #expect(CRC32.checksum(slice) == memprof_crc32(0, slice.baseAddress, length))
                }
            }
        }
    }

    @Test("continues a running checksum like memprof_crc32")
    func continuation() {
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        data.withUnsafeBytes { all in
            let first = CRC32.checksum(UnsafeRawBufferPointer(rebasing: all[..<333]))
            let whole = CRC32.checksum(UnsafeRawBufferPointer(rebasing: all[333...]), continuing: first)
            #expect(whole == memprof_crc32(0, all.baseAddress, all.count))
        }
    }
}
