import MemprofTrace
import Testing

@testable import MemprofAnalysis

@Suite("Site")
struct SiteTests {
    private let analysis = Analysis(
        stackStatistics: [
            StackStatistics(
                stackID: 1,
                totals: AllocationTotals(
                    allocations: 10, deallocations: 10, allocatedBytes: 100, deallocatedBytes: 100, peakBytes: 40,
                    temporaryAllocations: 3)),
            StackStatistics(
                stackID: 2,
                totals: AllocationTotals(
                    allocations: 1, allocatedBytes: 500, liveBytes: 500, peakBytes: 500, leakedBytes: 500,
                    leakedBlocks: 1)),
            StackStatistics(stackID: 3, totals: AllocationTotals(allocations: 5, allocatedBytes: 50, peakBytes: 10)),
            StackStatistics(stackID: 4, totals: AllocationTotals(allocations: 2, allocatedBytes: 1000)),
        ],
        leakGroups: [
            LeakGroup(stackID: 2, kind: .definite, blocks: 1, bytes: 500),
            LeakGroup(stackID: 3, kind: .definite, blocks: 2, bytes: 30),
            LeakGroup(stackID: 1, kind: .reachable, blocks: 1, bytes: 8),
            LeakGroup(stackID: 1, kind: .definite, blocks: 4, bytes: 20),
        ])

    /// Stacks 1, 2 and 3 allocate in `f`, stack 4 in `g`.
    private func location(_ stack: UInt32) -> String { stack == 4 ? "g" : "f" }

    @Test("sums every counter and keeps the heaviest stack as representative")
    func grouping() {
        let sites = analysis.sites(keyedBy: location)
        #expect(sites.map(\.key) == ["g", "f"])  // by allocated bytes: 1000 vs 650
        let f = sites[1]
        #expect(
            f.totals
                == AllocationTotals(
                    allocations: 16, deallocations: 10, allocatedBytes: 650, deallocatedBytes: 100, liveBytes: 500,
                    peakBytes: 550, temporaryAllocations: 3, leakedBytes: 500, leakedBlocks: 1))
        #expect(f.stackIDs == [2, 1, 3])
        #expect(f.representativeStackID == 2)
        #expect(sites[0].stackIDs == [4])
    }

    @Test("one site per stack when every stack has its own key")
    func identity() {
        let sites = analysis.sites(keyedBy: { $0 })
        #expect(sites.count == 4)
        #expect(sites.map(\.key) == [4, 2, 1, 3])
        #expect(sites.reduce(into: AllocationTotals()) { $0 += $1.totals } == analysis.totals)
    }

    @Test("leak sites are grouped by key and kind, largest first")
    func leakSites() {
        let sites = analysis.leakSites(keyedBy: location)
        #expect(sites.count == 2)
        #expect(sites[0].key == "f")
        #expect(sites[0].kind == .definite)
        #expect(sites[0].bytes == 550)
        #expect(sites[0].blocks == 7)
        #expect(sites[0].stackIDs == [2, 3, 1])
        #expect(sites[1].kind == .reachable)
        #expect(sites[1].bytes == 8)
        #expect(sites[1].representativeStackID == 1)
    }
}
