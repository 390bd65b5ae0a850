import MemprofAnalysis
import MemprofTrace
import Testing

@testable import MemprofReport

@Suite("Report")
struct ReportTests {
    let report = Fixture.report()

    @Test("stacks are grouped by location; the heaviest stack represents the site")
    func sites() {
        #expect(
            report.sites.map(\.location) == [
                "make_buffer (leak.c:12)", "Parser::parse() (parser.cpp:88)", "<stack 4 not recorded>",
            ])
        let buffer = report.sites[0]
        #expect(buffer.stackCount == 2)
        #expect(buffer.stackIDs == [2, 1])
        #expect(
            buffer.totals
                == AllocationTotals(
                    allocations: 15, deallocations: 13, allocatedBytes: 6000, deallocatedBytes: 5800, liveBytes: 200,
                    peakBytes: 1300, temporaryAllocations: 2, leakedBytes: 200, leakedBlocks: 2))
        // Frames start at the location's frame: malloc (in the preload) is left out.
        #expect(buffer.frames().map(\.function) == ["make_buffer", "helper", "main", "__libc_start_call_main"])
        #expect(report.sites[1].frames().first?.function == "Parser::parse()")
        #expect(report.sites[2].frames().isEmpty)
    }

    @Test("each ranking shows the site's stack with the most of its figure")
    func representatives() {
        let buffer = report.sites[0]
        #expect(buffer.representativeStackID(by: .allocatedBytes) == 2)  // 5000 vs 1000 bytes
        #expect(buffer.representativeStackID(by: .peakBytes) == 2)  // 1000 vs 300
        #expect(buffer.representativeStackID(by: .allocations) == 1)  // 10 vs 5
        #expect(buffer.representativeStackID(by: .leakedBytes) == 1)  // only stack 1 leaked
        #expect(buffer.representativeStackID(by: .temporaryAllocations) == 1)
        #expect(buffer.frames(by: .leakedBytes).map(\.function) == ["make_buffer", "main", "__libc_start_call_main"])
        #expect(Set(buffer.framesByStack.keys) == [1, 2])
        // A site with a single stack has it as every representative.
        #expect(Set(report.sites[1].representativeStackIDs.values) == [3])
    }

    @Test("top sites are ranked by the chosen figure, limited, zeros left out")
    func topSites() {
        #expect(
            report.topSites(by: .allocations, limit: 10).map(\.location) == [
                "Parser::parse() (parser.cpp:88)", "make_buffer (leak.c:12)", "<stack 4 not recorded>",
            ])
        #expect(report.topSites(by: .allocations, limit: 1).count == 1)
        #expect(report.topSites(by: .peakBytes, limit: 10).map(\.totals.peakBytes) == [1300, 64])
        #expect(report.topSites(by: .leakedBytes, limit: 10).map(\.totals.leakedBytes) == [200, 16])
        #expect(report.topSites(by: .temporaryAllocations, limit: 10).map(\.totals.temporaryAllocations) == [50, 2])
        #expect(report.siteCount(by: .peakBytes) == 2)
        #expect(report.topSites(by: .allocatedBytes, limit: 0).isEmpty)
    }

    @Test("leaks are grouped by location and kind")
    func leaks() {
        #expect(report.leaks.map(\.location) == ["make_buffer (leak.c:12)", "<stack 4 not recorded>"])
        #expect(report.leaks[0].blocks == 2)
        #expect(report.leaks[0].bytes == 200)
        #expect(report.leaks[0].kind == .unfreed)
        #expect(report.leaks[0].frames.first?.function == "make_buffer")
    }

    @Test("each stack is symbolized once for its location, representatives once more")
    func resolveCalls() {
        nonisolated(unsafe) var calls: [UInt32] = []
        _ = Report(analysis: Fixture.analysis()) { stack in
            calls.append(stack.id)
            return Fixture.resolve(stack)
        }
        #expect(calls.sorted() == [1, 1, 2, 2, 3, 3])
    }

    @Test("resolving address by address gives the same report, and only goes past a site frame to print a stack")
    func resolveByAddress() {
        // Stack 5 reaches make_buffer too, but is never a representative: its callers
        // are never printed, so they need no symbols.
        var analysis = Fixture.analysis()
        analysis.stacks[5] = StackRecord(id: 5, moduleGeneration: 0, frames: [0x10, 0x100, 0x999, 0x998])
        analysis.stackStatistics.append(
            StackStatistics(stackID: 5, totals: AllocationTotals(allocations: 1, allocatedBytes: 1)))
        nonisolated(unsafe) var resolved: [UInt64] = []
        let byAddress = Report(analysis: analysis) { address, generation in
            resolved.append(address)
            return Fixture.resolve(StackRecord(id: 0, moduleGeneration: generation, frames: [address]))
        }
        let byStack = Report(analysis: analysis, resolve: Fixture.resolve)

        #expect(byAddress.sites == byStack.sites)
        #expect(byAddress.leaks == byStack.leaks)
        #expect(byAddress.sites[0].stackIDs == [2, 1, 5])
        #expect(!resolved.contains(0x999) && !resolved.contains(0x998))
        #expect(resolved.contains(0x500))  // representatives are resolved whole
    }

    @Test("a stack of allocator frames only is located at its outermost frame, by address as by stack")
    func allocatorOnlyStack() {
        var analysis = Fixture.analysis()
        analysis.stacks[3] = StackRecord(id: 3, moduleGeneration: 0, frames: [0x10, 0x20])
        let byAddress = Report(analysis: analysis) { address, generation in
            Fixture.resolve(StackRecord(id: 0, moduleGeneration: generation, frames: [address]))
        }
        let byStack = Report(analysis: analysis, resolve: Fixture.resolve)
        #expect(byAddress.sites.map(\.location) == byStack.sites.map(\.location))
        #expect(byAddress.sites.map(\.location).contains("operator new(unsigned long) (libstdc++.so.6)"))
    }
}
