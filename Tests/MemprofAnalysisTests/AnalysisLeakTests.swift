import MemprofTrace
import Testing

@testable import MemprofAnalysis

/// The analysis keeps every block not freed at exit with its kind; these are the sums a
/// report's leak policy picks from.
@Suite("Analysis leaks")
struct AnalysisLeakTests {
    private let analysis = Analysis(
        leakGroups: [
            LeakGroup(stackID: 1, kind: .definite, blocks: 2, bytes: 200),
            LeakGroup(stackID: 2, kind: .reachable, blocks: 1, bytes: 500),
            LeakGroup(stackID: 1, kind: .indirect, blocks: 3, bytes: 30),
            LeakGroup(stackID: 3, kind: .definite, blocks: 1, bytes: 7),
        ],
        leaksRecorded: true)

    @Test("totals by kind cover every kind, zeros included, and add up to the blocks not freed")
    func byKind() {
        let byKind = analysis.leakTotalsByKind
        #expect(Set(byKind.keys) == Set(LeakKind.allCases))
        #expect(byKind[.definite] == LeakTotals(blocks: 3, bytes: 207))
        #expect(byKind[.indirect] == LeakTotals(blocks: 3, bytes: 30))
        #expect(byKind[.possible] == LeakTotals())
        #expect(byKind[.reachable] == LeakTotals(blocks: 1, bytes: 500))
        #expect(byKind[.unfreed] == LeakTotals())
        #expect(byKind.values.reduce(0) { $0 + $1.bytes } == analysis.leakedBytes)
        #expect(byKind.values.reduce(0) { $0 + $1.blocks } == analysis.leakedBlocks)
    }

    @Test("totals of some kinds leave the others out; the old figures keep every kind")
    func someKinds() {
        #expect(analysis.leakTotals(kinds: [.definite, .indirect]) == LeakTotals(blocks: 6, bytes: 237))
        #expect(analysis.leakTotals(kinds: [.reachable]) == LeakTotals(blocks: 1, bytes: 500))
        #expect(analysis.leakTotals(kinds: []) == LeakTotals())
        #expect(analysis.leakedBytes == 737)
        #expect(analysis.leakedBlocks == 7)
    }

    @Test("a trace is classified when some block has a kind other than unfreed")
    func classified() {
        #expect(analysis.leaksAreClassified)
        #expect(!Analysis(leakGroups: [LeakGroup(stackID: 1, kind: .unfreed, blocks: 1, bytes: 1)]).leaksAreClassified)
        #expect(!Analysis().leaksAreClassified)
    }

    @Test("leak sites can leave groups out")
    func leakSitesIncluding() {
        let all = analysis.leakSites(keyedBy: { $0 })
        #expect(all.count == 4)
        let definite = analysis.leakSites(keyedBy: { _ in "everywhere" }, including: { $0.kind == .definite })
        #expect(definite.count == 1)
        #expect(definite[0].bytes == 207)
        #expect(definite[0].blocks == 3)
        #expect(definite[0].stackIDs == [1, 3])
    }

    @Test("classified LEAK records in a trace are kept per kind")
    func fromTrace() {
        var analyzer = TraceAnalyzer()
        analyzer.allocation(thread: 0, size: 64, stackID: 1)
        analyzer.allocation(thread: 0, size: 16, stackID: 1)
        analyzer.allocation(thread: 0, size: 500, stackID: 2)
        analyzer.leak(LeakRecord(stackID: 1, size: 64, address: 0x1000, kind: .definite))
        analyzer.leak(LeakRecord(stackID: 1, size: 16, address: 0x2000, kind: .indirect))
        analyzer.leak(LeakRecord(stackID: 2, size: 500, address: 0x3000, kind: .reachable))
        let analysis = analyzer.analysis()
        #expect(analysis.leaksAreClassified)
        #expect(analysis.leakTotalsByKind[.definite] == LeakTotals(blocks: 1, bytes: 64))
        #expect(analysis.leakTotalsByKind[.indirect] == LeakTotals(blocks: 1, bytes: 16))
        #expect(analysis.leakTotalsByKind[.reachable] == LeakTotals(blocks: 1, bytes: 500))
        // The analysis credits every kind to its stack; a report's policy decides what counts.
        #expect(analysis.stackStatistics.first { $0.stackID == 2 }?.totals.leakedBytes == 500)
    }
}
