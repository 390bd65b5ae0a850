import MemprofAnalysis
import MemprofSymbolize
import MemprofTrace
import Testing

@testable import MemprofReport

@Suite("LeakPolicy")
struct LeakPolicyTests {
    // MARK: --leak-kinds

    @Test("the default counts definite, indirect and possible; unfreed always counts")
    func defaults() {
        #expect(LeakPolicy.default.countedKinds == [.unfreed, .definite, .indirect, .possible])
        #expect(!LeakPolicy.default.counts(.reachable))
        #expect(LeakPolicy(countedKinds: [.definite]).countedKinds == [.unfreed, .definite])
        #expect(LeakPolicy(countedKinds: []).counts(.unfreed))
        #expect(LeakPolicy.default.orderedCountedKinds == [.unfreed, .definite, .indirect, .possible])
    }

    @Test(
        "a kind list names kinds, separated by commas",
        arguments: [
            ("definite,indirect,possible", [LeakKind.unfreed, .definite, .indirect, .possible]),
            ("definite", [.unfreed, .definite]),
            ("reachable", [.unfreed, .reachable]),
            ("all", LeakKind.allCases),
            ("definite,all", LeakKind.allCases),
            (" Definite , POSSIBLE ", [.unfreed, .definite, .possible]),
            ("possible,possible", [.unfreed, .possible]),
        ])
    func kindLists(list: String, kinds: [LeakKind]) throws {
        #expect(try LeakPolicy.countedKinds(parsing: list) == Set(kinds))
    }

    @Test(
        "a bad kind list is an error naming the bad value",
        arguments: [
            ("definite,bogus", "unknown leak kind 'bogus' in 'definite,bogus'"),
            ("unfreed", "unknown leak kind 'unfreed' in 'unfreed'"),
            ("definite,,possible", "empty leak kind in 'definite,,possible'"),
            ("", "empty leak kind in ''"),
            ("definite;indirect", "unknown leak kind 'definite;indirect'"),
        ])
    func badKindLists(list: String, message: String) {
        #expect {
            try LeakPolicy.countedKinds(parsing: list)
        } throws: { error in
            let description = "\(error)"
            return description.hasPrefix(message)
                && description.contains("definite, indirect, possible, reachable or all")
                && !description.contains("\n")
        }
    }

    @Test("a pattern given twice is kept once, the first time")
    func duplicates() {
        let policy = LeakPolicy(suppressions: [
            LeakSuppression(pattern: "a", file: "one.supp", line: 1), LeakSuppression(pattern: "b"),
            LeakSuppression(pattern: "a", file: "two.supp", line: 9),
        ])
        #expect(policy.suppressions.map(\.pattern) == ["a", "b"])
        #expect(policy.suppressions[0].file == "one.supp")
    }

    // MARK: Applied to a report

    @Test("by default still reachable blocks are listed but not counted")
    func defaultPolicy() {
        let report = Fixture.classifiedReport()
        let summary = report.leakSummary
        #expect(summary.notFreed == LeakTotals(blocks: 8, bytes: 630))
        #expect(summary.isClassified)
        #expect(summary.leaked == LeakTotals(blocks: 5, bytes: 330))
        #expect(summary.uncounted == LeakTotals(blocks: 3, bytes: 300))
        #expect(summary.suppressed.isEmpty)
        #expect(summary.leakSiteCount == 4)
        #expect(summary.totals(of: .definite) == LeakTotals(blocks: 3, bytes: 216))
        #expect(summary.totals(of: .reachable) == LeakTotals(blocks: 3, bytes: 300))
        #expect(summary.totals(of: .unfreed) == LeakTotals())
        // Counted first, by bytes; then the others.
        #expect(report.leaks.map(\.kind) == [.definite, .possible, .indirect, .definite, .reachable])
        #expect(report.leaks.map(\.bytes) == [200, 64, 50, 16, 300])
        #expect(report.leaks.map(\.isCounted) == [true, true, true, true, false])
        // The sites' leaked figures count the leaks only: stack 2's reachable blocks are out.
        let buffer = report.sites.first { $0.location == "make_buffer (leak.c:12)" }
        #expect(buffer?.totals.leakedBytes == 250)
        #expect(buffer?.totals.leakedBlocks == 3)
        #expect(buffer?.representativeStackID(by: .leakedBytes) == 1)
        #expect(report.topSites(by: .leakedBytes, limit: 10).map(\.totals.leakedBytes) == [250, 64, 16])
        // The analysis itself is untouched.
        #expect(report.analysis.stackStatistics.first { $0.stackID == 2 }?.totals.leakedBytes == 300)
    }

    @Test("counting every kind counts still reachable blocks too")
    func allKinds() throws {
        let report = Fixture.classifiedReport(LeakPolicy(countedKinds: try LeakPolicy.countedKinds(parsing: "all")))
        #expect(report.leakSummary.leaked == LeakTotals(blocks: 8, bytes: 630))
        #expect(report.leakSummary.uncounted == LeakTotals())
        #expect(report.leaks.allSatisfy { $0.isCounted })
        #expect(report.leaks.map(\.bytes) == [300, 200, 64, 50, 16])
        #expect(report.sites.first { $0.location == "make_buffer (leak.c:12)" }?.totals.leakedBytes == 550)
    }

    @Test("counting definite only leaves the rest out of every leaked figure")
    func definiteOnly() {
        let report = Fixture.classifiedReport(LeakPolicy(countedKinds: [.definite]))
        #expect(report.leakSummary.leaked == LeakTotals(blocks: 3, bytes: 216))
        #expect(report.leakSummary.uncounted == LeakTotals(blocks: 5, bytes: 414))
        #expect(report.leakSummary.leakSiteCount == 2)
        #expect(report.leaks.filter(\.isCounted).map(\.bytes) == [200, 16])
        #expect(report.topSites(by: .leakedBytes, limit: 10).map(\.totals.leakedBytes) == [200, 16])
        // Parser::parse() only leaked possibly lost blocks: no leaked bytes there now.
        #expect(report.sites.first { $0.location.hasPrefix("Parser::parse()") }?.totals.leakedBytes == 0)
    }

    @Test("an unclassified trace counts every block whatever the kinds asked for")
    func unclassified() {
        let report = Report(
            analysis: Fixture.analysis(), leakPolicy: LeakPolicy(countedKinds: [.reachable]), resolve: Fixture.resolve)
        #expect(!report.leakSummary.isClassified)
        #expect(report.leakSummary.leaked == LeakTotals(blocks: 3, bytes: 216))
        #expect(report.sites == Fixture.report().sites)
    }

    // MARK: Suppressions

    @Test("a suppressed leak is out of the leaks and summed under its pattern")
    func suppression() {
        let report = Fixture.classifiedReport(
            LeakPolicy(suppressions: [LeakSuppression(pattern: "^Parser::"), LeakSuppression(pattern: "nothing")]))
        let summary = report.leakSummary
        #expect(summary.leaked == LeakTotals(blocks: 4, bytes: 266))
        #expect(summary.suppressed.map(\.suppression.pattern) == ["^Parser::", "nothing"])
        #expect(summary.suppressed.map(\.totals) == [LeakTotals(blocks: 1, bytes: 64), LeakTotals()])
        #expect(summary.suppressedTotals == LeakTotals(blocks: 1, bytes: 64))
        #expect(!report.leaks.contains { $0.location.hasPrefix("Parser::parse()") })
        #expect(summary.leakSiteCount == 3)
        // Still allocated there, no longer leaked.
        let parser = report.sites.first { $0.location.hasPrefix("Parser::parse()") }
        #expect(parser?.totals.allocations == 100)
        #expect(parser?.totals.leakedBytes == 0)
        // Every block is in exactly one of leaked, suppressed and uncounted.
        var sum = summary.leaked
        sum += summary.suppressedTotals
        sum += summary.uncounted
        #expect(sum == summary.notFreed)
    }

    @Test("every frame is matched, the allocator's too; the first matching pattern takes the leak")
    func allFramesFirstMatch() {
        let report = Fixture.classifiedReport(
            LeakPolicy(suppressions: [
                LeakSuppression(pattern: "parser.cpp"), LeakSuppression(pattern: "^libmemprof.so$"),
            ]))
        let summary = report.leakSummary
        // Stack 3 is parser.cpp's; stack 1 only matches through malloc's module, the
        // preload. Stack 4 was never recorded: no frames, nothing to match.
        #expect(
            summary.suppressed.map(\.totals) == [LeakTotals(blocks: 1, bytes: 64), LeakTotals(blocks: 3, bytes: 250)])
        #expect(summary.leaked == LeakTotals(blocks: 1, bytes: 16))
        #expect(report.leaks.filter(\.isCounted).map(\.location) == ["<stack 4 not recorded>"])
    }

    @Test("suppressions apply to leaks only: blocks of uncounted kinds stay listed")
    func uncountedNotSuppressed() throws {
        let helper = LeakSuppression(pattern: "^helper$")  // only stack 2, still reachable
        let byDefault = Fixture.classifiedReport(LeakPolicy(suppressions: [helper]))
        #expect(byDefault.leakSummary.suppressedTotals == LeakTotals())
        #expect(byDefault.leaks.contains { $0.kind == .reachable })

        let all = Fixture.classifiedReport(
            LeakPolicy(countedKinds: try LeakPolicy.countedKinds(parsing: "all"), suppressions: [helper]))
        #expect(all.leakSummary.suppressedTotals == LeakTotals(blocks: 3, bytes: 300))
        #expect(!all.leaks.contains { $0.kind == .reachable })
        #expect(all.leakSummary.leaked == LeakTotals(blocks: 5, bytes: 330))
    }

    @Test("with suppressions each leaking stack is resolved whole once more; without, never")
    func resolveCalls() {
        nonisolated(unsafe) var calls: [UInt32] = []
        let resolve = { (stack: StackRecord) -> [SymbolizedFrame] in
            calls.append(stack.id)
            return Fixture.resolve(stack)
        }
        _ = Report(analysis: Fixture.classifiedAnalysis(), resolve: resolve)
        let without = calls.sorted()
        calls = []
        _ = Report(
            analysis: Fixture.classifiedAnalysis(),
            leakPolicy: LeakPolicy(suppressions: [LeakSuppression(pattern: "zzz")]), resolve: resolve)
        // Stacks 1 and 3 leaked counted kinds (stack 2 only reachable, stack 4 unrecorded).
        #expect(calls.sorted() == (without + [1, 3]).sorted())
    }
}
