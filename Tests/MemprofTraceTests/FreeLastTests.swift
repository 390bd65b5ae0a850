import Foundation
import MemprofTrace
import Testing

/// FREE_LAST: the one-byte temporary free of the block made by the block's last ALLOC.
@Suite("FREE_LAST records")
struct FreeLastTests {
    @Test(
        "FREE_LAST frees the last allocation of its block, with that size and stack", arguments: TraceReaderTests.codecs
    )
    func freesTheLastAllocation(codec: TraceBuilder.Codec) throws {
        var builder = TraceBuilder(codec: codec)
        builder.allocation(thread: 3, size: 64, stackID: 7)
        builder.deallocationOfLastAllocation(thread: 3)
        builder.allocation(thread: 3, size: 100, stackID: 8)
        builder.allocation(thread: 3, size: 200, stackID: 9)
        builder.deallocationOfLastAllocation(thread: 3)
        builder.end(EndRecord(nanoseconds: 1, heapPeakBytes: 300, threadCount: 1, flags: .viaExit))
        let outcome = try readTrace(builder.finish())
        #expect(outcome.error == nil)
        let frees = outcome.events.compactMap { event -> Event? in
            if case .deallocation = event { return event }
            return nil
        }
        #expect(
            frees == [
                .deallocation(thread: 3, size: 64, stackID: 7, temporary: true),
                .deallocation(thread: 3, size: 200, stackID: 9, temporary: true),
            ])
    }

    @Test("FREE_LAST with no ALLOC before it in the block is corrupt")
    func withoutAllocationIsCorrupt() throws {
        var builder = TraceBuilder(codec: .none)
        builder.deallocationOfLastAllocation(thread: 0)
        let outcome = try readTrace(builder.finish())
        guard case .corrupt(_, _, let reason) = outcome.error else {
            Issue.record("expected a corrupt-block error, got \(String(describing: outcome.error))")
            return
        }
        #expect(reason.contains("FREE_LAST with no ALLOC before it in the block"))
    }
}
