import CMemprofFormat
import Testing

@testable import MemprofTrace

/// The contract's enums carry literal raw values; these tests hold them to the C header.
@Suite("Format")
struct TraceFormatTests {
    @Test("LeakKind raw values are the header's memprof_leak_kind values")
    func leakKinds() {
        let pairs: [(LeakKind, memprof_leak_kind)] = [
            (.unfreed, MEMPROF_LEAK_UNFREED), (.definite, MEMPROF_LEAK_DEFINITE), (.indirect, MEMPROF_LEAK_INDIRECT),
            (.possible, MEMPROF_LEAK_POSSIBLE), (.reachable, MEMPROF_LEAK_REACHABLE),
        ]
        #expect(pairs.count == LeakKind.allCases.count)
        for (kind, value) in pairs {
            #expect(UInt32(kind.rawValue) == value.rawValue)
            #expect(Format.leakKind(UInt8(value.rawValue)) == kind)
        }
        #expect(Format.leakKind(5) == nil)
    }

    @Test("TraceMode raw values are the header's memprof_mode values")
    func modes() {
        let pairs: [(TraceMode, memprof_mode)] = [
            (.full, MEMPROF_MODE_FULL), (.sample, MEMPROF_MODE_SAMPLE), (.aggregate, MEMPROF_MODE_AGGREGATE),
        ]
        for (mode, value) in pairs {
            #expect(UInt32(mode.rawValue) == value.rawValue)
            #expect(Format.mode(UInt8(value.rawValue)) == mode)
        }
        #expect(Format.mode(3) == nil)
    }

    @Test("EndRecord flags are the header's MEMPROF_END_* bits")
    func endFlags() {
        #expect(EndRecord.Flags.viaExit.rawValue == UInt64(MEMPROF_END_VIA_EXIT))
        #expect(EndRecord.Flags.viaUnderscoreExit.rawValue == UInt64(MEMPROF_END_VIA__EXIT))
        #expect(EndRecord.Flags.stoppedEarly.rawValue == UInt64(MEMPROF_END_STOPPED))
    }

    @Test("the magic is the eight bytes MEMPROF\\x1a")
    func magic() {
        #expect(Format.fileMagic == [0x4d, 0x45, 0x4d, 0x50, 0x52, 0x4f, 0x46, 0x1a])
        #expect(Format.fileMagic.count == Int(MEMPROF_FILE_MAGIC_SIZE))
    }

    @Test("every tag has a name and belongs to one block kind")
    func tags() {
        let thread: [memprof_tag] = [
            MEMPROF_TAG_ALLOC, MEMPROF_TAG_FREE, MEMPROF_TAG_FREE_TEMP, MEMPROF_TAG_FREE_UNKNOWN, MEMPROF_TAG_STACK,
            MEMPROF_TAG_MODULE, MEMPROF_TAG_TIME,
        ]
        let process: [memprof_tag] = [
            MEMPROF_TAG_PROCESS, MEMPROF_TAG_TICK, MEMPROF_TAG_THREAD, MEMPROF_TAG_LEAK, MEMPROF_TAG_END,
        ]
        for tag in thread {
            #expect(Format.tagIsThreadRecord(UInt8(tag.rawValue)) == true)
            #expect(Format.tagName(UInt8(tag.rawValue)) != nil)
        }
        for tag in process {
            #expect(Format.tagIsThreadRecord(UInt8(tag.rawValue)) == false)
            #expect(Format.tagName(UInt8(tag.rawValue)) != nil)
        }
        #expect(Format.tagIsThreadRecord(0) == nil)
        #expect(Format.tagName(0x7f) == nil)
    }
}
