import CMemprofFormat
import Foundation
import MemprofTrace

/// A trace record as the visitor sees it, for comparing whole sequences.
enum Event: Equatable {
    case process(ProcessRecord)
    case module(ModuleRecord)
    case stack(StackRecord)
    case threadBlock(UInt32)
    case time(thread: UInt32, nanoseconds: UInt64)
    case allocation(thread: UInt32, size: UInt64, stackID: UInt32)
    case deallocation(thread: UInt32, size: UInt64, stackID: UInt32, temporary: Bool)
    case unknownDeallocation(thread: UInt32)
    case tick(TickRecord)
    case threadStarted(index: UInt32, tid: UInt64)
    case leak(LeakRecord)
    case end(EndRecord)

    /// Whether this is the reader's "a thread block begins" call rather than a record.
    var isThreadBlockMarker: Bool {
        if case .threadBlock = self { return true }
        return false
    }
}

/// Records every callback.
struct RecordingVisitor: TraceVisitor {
    var events: [Event] = []

    /// The events without `threadBlock` markers, to compare with what was written.
    var records: [Event] { events.filter { !$0.isThreadBlockMarker } }

    mutating func process(_ record: ProcessRecord) { events.append(.process(record)) }
    mutating func module(_ record: ModuleRecord) { events.append(.module(record)) }
    mutating func stack(_ record: StackRecord) { events.append(.stack(record)) }
    mutating func threadBlock(thread: UInt32) { events.append(.threadBlock(thread)) }
    mutating func time(thread: UInt32, nanoseconds: UInt64) {
        events.append(.time(thread: thread, nanoseconds: nanoseconds))
    }
    mutating func allocation(thread: UInt32, size: UInt64, stackID: UInt32) {
        events.append(.allocation(thread: thread, size: size, stackID: stackID))
    }
    mutating func deallocation(thread: UInt32, size: UInt64, stackID: UInt32, temporary: Bool) {
        events.append(.deallocation(thread: thread, size: size, stackID: stackID, temporary: temporary))
    }
    mutating func unknownDeallocation(thread: UInt32) { events.append(.unknownDeallocation(thread: thread)) }
    mutating func tick(_ record: TickRecord) { events.append(.tick(record)) }
    mutating func threadStarted(index: UInt32, tid: UInt64) { events.append(.threadStarted(index: index, tid: tid)) }
    mutating func leak(_ record: LeakRecord) { events.append(.leak(record)) }
    mutating func end(_ record: EndRecord) { events.append(.end(record)) }
}

extension TraceBuilder {
    /// Writes `event` with the matching record method; stacks and modules go into a
    /// block of `thread`.
    mutating func write(_ event: Event, stackThread thread: UInt32 = 0) {
        switch event {
        case .process(let record): process(record)
        case .module(let record): module(record, thread: thread)
        case .stack(let record): stack(record, thread: thread)
        case .threadBlock(let thread): beginBlock(kind: .thread, thread: thread)
        case .time(let thread, let nanoseconds): time(thread: thread, nanoseconds: nanoseconds)
        case .allocation(let thread, let size, let stackID): allocation(thread: thread, size: size, stackID: stackID)
        case .deallocation(let thread, let size, let stackID, let temporary):
            deallocation(thread: thread, size: size, stackID: stackID, temporary: temporary)
        case .unknownDeallocation(let thread): unknownDeallocation(thread: thread)
        case .tick(let record): tick(record)
        case .threadStarted(let index, let tid): threadStarted(index: index, tid: tid)
        case .leak(let record): leak(record)
        case .end(let record): end(record)
        }
    }
}

/// A trace file in the temporary directory, deleted when the test is done with it.
final class TemporaryTrace {
    let path: String

    init(_ bytes: [UInt8]) throws {
        path =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("memprof-test-\(UUID().uuidString).mprof").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// The outcome of reading `bytes` as a trace file.
struct ReadOutcome {
    var events: [Event] = []
    var summary: TraceReadSummary?
    var error: TraceError?
    /// The temporary file's path, which error values name.
    var path: String

    var records: [Event] { events.filter { !$0.isThreadBlockMarker } }
}

/// Writes `bytes` to a temporary file and reads it, keeping whatever was delivered
/// before an error.
func readTrace(_ bytes: [UInt8]) throws -> ReadOutcome {
    let file = try TemporaryTrace(bytes)
    var outcome = ReadOutcome(path: file.path)
    var visitor = RecordingVisitor()
    do {
        let reader = try TraceReader(path: file.path)
        outcome.summary = try reader.read(into: &visitor)
    } catch {
        outcome.error = error
    }
    outcome.events = visitor.events
    return outcome
}

/// Sample records with awkward values: multi-byte varints, 64-bit extremes, non-ASCII.
enum Samples {
    static let process = ProcessRecord(
        pid: 4242, parentPID: 1, startUnixNanoseconds: 1_763_900_000_123_456_789, pageSize: 4096,
        executablePath: "/usr/local/bin/démo", arguments: ["démo", "--count=3", ""], memprofVersion: "0.1.0",
        mode: .sample)

    static let module = ModuleRecord(
        generation: 2, loadBias: 0x7f12_3456_0000, path: "/usr/lib/x86_64-linux-gnu/libc.so.6",
        buildID: [0xde, 0xad, 0xbe, 0xef, 0x00, 0x01],
        segments: [
            .init(virtualAddress: 0, memorySize: 0x28000, flags: 1),
            .init(virtualAddress: 0x28000, memorySize: 0x195000, flags: 5),
            .init(virtualAddress: 0x1bd000, memorySize: 0x4000, flags: 3),
        ])

    /// Frames that go down and up, including a wrap-around delta.
    static let stack = StackRecord(
        id: 70_000, moduleGeneration: 2,
        frames: [0x5555_5555_4a2b, 0x5555_5555_4000, 0x7f12_3457_0000, 0x10, .max])

    static let tick = TickRecord(nanoseconds: 10_000_000, heapBytes: 123_456, heapPeakBytes: 200_000, rssBytes: 9 << 20)
    static let leak = LeakRecord(stackID: 70_000, size: 1 << 40, address: 0x5555_5556_0010, kind: .possible)
    static let end = EndRecord(nanoseconds: 5_000_000_000, heapPeakBytes: 200_000, threadCount: 3, flags: .viaExit)

    /// One of every record type, across two threads, ending with END.
    static var everyRecord: [Event] {
        [
            .process(process),
            .threadStarted(index: 0, tid: 4242),
            .tick(tick),
            .module(module),
            .stack(stack),
            .stack(StackRecord(id: 1, moduleGeneration: 0, frames: [])),
            .stack(StackRecord(id: 2, moduleGeneration: 0, frames: [0x401000])),
            .time(thread: 0, nanoseconds: 1_000),
            .allocation(thread: 0, size: 64, stackID: 70_000),
            .allocation(thread: 0, size: 1 << 33, stackID: .max),
            .deallocation(thread: 0, size: 64, stackID: 70_000, temporary: true),
            .deallocation(thread: 0, size: 1 << 33, stackID: .max, temporary: false),
            .unknownDeallocation(thread: 0),
            .threadStarted(index: 1, tid: 4243),
            .time(thread: 1, nanoseconds: .max),
            .allocation(thread: 1, size: 0, stackID: 0),
            .leak(leak),
            .leak(LeakRecord(stackID: 1, size: 16, address: 0x10, kind: .unfreed)),
            .end(end),
        ]
    }
}

/// A trace with a file header and no blocks.
func emptyTrace(
    versionMajor: UInt16 = UInt16(MEMPROF_FORMAT_VERSION_MAJOR),
    versionMinor: UInt16 = UInt16(MEMPROF_FORMAT_VERSION_MINOR)
) -> [UInt8] {
    var builder = TraceBuilder(versionMajor: versionMajor, versionMinor: versionMinor)
    return builder.finish()
}
