import Foundation
import MemprofAnalysis
import MemprofSymbolize
import MemprofTrace
import Testing

@testable import MemprofReport

@Suite("TextReportRenderer")
struct TextReportRendererTests {
    private let text = TextReportRenderer().render(Fixture.report())

    /// The lines of the section whose title starts with `title`, up to the next blank line.
    private func section(_ title: String, in text: String) -> [Substring] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0.hasPrefix(title) }) else { return [] }
        return Array(lines[start...].prefix { !$0.isEmpty })
    }

    @Test("the header names the run")
    func header() {
        #expect(text.hasPrefix("memprof report for leaky.mprof\n"))
        #expect(text.contains("command   ./leaky 3 'hello world'"))
        #expect(text.contains("pid 4242 (parent 4200), 2 threads, mode full, memprof 0.1.0"))
        #expect(text.contains("duration  2.50 s, ended by exit()"))
        #expect(!text.contains("WARNING"))
    }

    @Test("the summary has the figures in human units")
    func summary() {
        let summary = section("Summary", in: text).joined(separator: "\n")
        #expect(summary.contains("allocations                 116  (46.4 per second)"))
        #expect(
            summary.contains("deallocations               114  (1 of them freed a pointer memprof never saw allocated)")
        )
        #expect(summary.contains("bytes allocated        9.00 KiB  (mean 79.4 B, median 32 B, largest 1000 B)"))
        #expect(summary.contains("peak heap usage        1.33 KiB  at 1.50 s"))
        #expect(summary.contains("peak RSS               8.00 MiB"))
        #expect(summary.contains("in use at end             216 B"))
        #expect(summary.contains("temporary allocations        52  (44.8% of allocations)"))
        #expect(summary.contains("not freed at exit         216 B  in 3 blocks\n"))
        #expect(
            summary.contains(
                "leaked                    216 B  in 3 blocks from 2 sites (no reachability scan: every block not freed counts)"
            ))
        #expect(!summary.contains("definitely lost"))  // no scan, no breakdown
        #expect(summary.contains("heap trend              +58 B/s"))
    }

    @Test("tables rank sites and show their callers")
    func tables() {
        let byCount = section("Most allocations", in: text)
        #expect(byCount.first == "Most allocations (3 sites)")
        #expect(byCount[1].contains("allocations  allocated      peak  leaked  temporary  location"))
        #expect(
            byCount[2] == "  1          100   3.12 KiB      64 B     0 B         50  Parser::parse() (parser.cpp:88)")
        #expect(byCount[3] == "     from main (leak.c:30)")
        #expect(byCount.contains("     (heaviest of 2 stacks reaching this location)"))
        // By count, make_buffer's representative is stack 1 (10 allocations, called from
        // main); by bytes it is stack 2 (5000 bytes, through helper).
        #expect(byCount[5] == "     from main (leak.c:30)")
        // The allocator's frames are never shown.
        #expect(!text.contains("malloc"))
        #expect(!text.contains("operator new"))

        let byBytes = section("Most bytes allocated", in: text)
        #expect(byBytes[2].hasSuffix("make_buffer (leak.c:12)"))
        #expect(byBytes[3] == "     from helper (leak.c:40)")
        #expect(section("Largest share of the heap peak of 1.33 KiB at 1.50 s (2 sites)", in: text).count > 2)
        #expect(section("Most bytes leaked (2 sites)", in: text).count > 2)
        #expect(section("Most temporary allocations (2 sites)", in: text)[2].contains("Parser::parse()"))
    }

    @Test("leaks are grouped by site")
    func leaks() {
        let leaks = section("Leaks:", in: text)
        #expect(leaks.first == "Leaks: 216 B in 3 blocks (2 sites)")
        #expect(leaks[2] == "  1  unfreed       2  200 B  make_buffer (leak.c:12)")
        #expect(leaks[3] == "     from main (leak.c:30)")
        #expect(leaks.last == "  2  unfreed       1   16 B  <stack 4 not recorded>")
    }

    @Test("--top limits every table")
    func top() {
        let text = TextReportRenderer(top: 1).render(Fixture.report())
        for title in ["Most allocations", "Most bytes allocated", "Largest share", "Most bytes leaked", "Leaks:"] {
            let rows = section(title, in: text).filter { $0.hasPrefix("  ") && !$0.hasPrefix("     ") }
            #expect(rows.count == 2, "\(title): header and one row")  // the column header and rank 1
            #expect(!rows.contains { $0.hasPrefix("  2 ") })
        }
        #expect(text.contains("Most allocations (top 1 of 3 sites)"))
        // A renderer built without the CLI's validation never traps.
        #expect(TextReportRenderer(top: 0).render(Fixture.report()).contains("Leaks: 216 B in 3 blocks"))
    }

    @Test("stack depth is limited and the rest counted")
    func stackDepth() {
        let text = TextReportRenderer(stackDepth: 1).render(Fixture.report())
        let byBytes = section("Most bytes allocated", in: text)
        #expect(byBytes[3] == "     from helper (leak.c:40)")
        #expect(byBytes[4] == "     ... 1 more frame")  // main; the start-up frame is not counted
    }

    @Test("a truncated trace says so in the header; unknown leaks are not called zero")
    func truncated() {
        var analysis = Fixture.analysis(truncation: .init(offset: 8192, reason: "the file ends inside a block"))
        analysis.end = nil
        analysis.leakGroups = []
        analysis.leaksRecorded = false
        let text = TextReportRenderer().render(
            Report(analysis: analysis, tracePath: "cut.mprof", resolve: Fixture.resolve))
        #expect(
            text.contains(
                "WARNING: the trace is truncated at byte 8192: the file ends inside a block; the report covers what was recorded"
            ))
        #expect(text.contains("duration  2.50 s, trace cut short before the process ended"))
        #expect(text.contains("not freed at exit       unknown  (the trace ends before the process exited)"))
        #expect(text.contains("Leaks: unknown (the trace ends before the process exited)"))
    }

    @Test("a trace its process is still writing is live, not cut short")
    func live() throws {
        var analysis = Fixture.analysis(truncation: .init(offset: 8192, reason: TraceTruncation.liveReason))
        analysis.end = nil
        analysis.leakGroups = []
        analysis.leaksRecorded = false
        analysis.isLive = true
        let report = Report(analysis: analysis, tracePath: "live.mprof", resolve: Fixture.resolve)
        let text = TextReportRenderer().render(report)
        #expect(
            text.contains(
                "note: live recording: the process (pid 4242) is still running and writing this trace; "
                    + "the report covers what it has written so far"))
        #expect(!text.contains("WARNING"))
        #expect(!text.contains("cut short"))
        #expect(text.contains("duration  2.50 s, so far (the process is still running)"))
        #expect(text.contains("in use at 2.50 s"))
        #expect(text.contains("not freed at exit      not yet known  (the process is still running)"))
        #expect(text.contains("Leaks: not yet known (the process is still running"))
        let json = try JSONReportRenderer().render(report)
        #expect(json.contains(#""live" : true"#))
    }

    @Test("each module that gives no names gets one warning line, and a JSON entry")
    func moduleProblems() throws {
        var report = Fixture.report()
        report.moduleProblems = [
            ModuleProblem(
                error: .buildIDMismatch(path: "/work/examples/leaky", recordedBuildID: "10fe77"),
                recordedBuildID: "10fe77", debugFilesSearched: ["/usr/lib/debug/.build-id/10/fe77.debug"]),
            ModuleProblem(
                error: .cannotOpen(path: "/opt/lib/libgone.so", reason: "No such file or directory"),
                recordedBuildID: "", debugFilesSearched: []),
        ]
        let text = TextReportRenderer().render(report)
        let warnings = text.split(separator: "\n").filter { $0.hasPrefix("  WARNING: ") }
        let rebuilt: String =
            "  WARNING: no names from /work/examples/leaky: rebuilt or replaced since the recording (its build-id "
            + "is no longer the recorded 10fe77); no debug file with that build-id at "
            + "/usr/lib/debug/.build-id/10/fe77.debug"
        let missing: String =
            "  WARNING: no names from /opt/lib/libgone.so: cannot open it (No such file or directory); "
            + "no build-id was recorded to find a debug file by"
        #expect(warnings == [Substring(rebuilt), Substring(missing)])
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(JSONReportRenderer().render(report).utf8)) as? [String: Any])
        let problems = try #require(json["module_problems"] as? [[String: Any]])
        #expect(problems.map { $0["problem"] as? String } == ["build_id_mismatch", "cannot_open"])
        #expect(problems.map { $0["module"] as? String } == ["/work/examples/leaky", "/opt/lib/libgone.so"])
        #expect(problems[0]["recorded_build_id"] as? String == "10fe77")
        #expect(problems[1]["recorded_build_id"] is NSNull)
        #expect(problems[0]["debug_files_searched"] as? [String] == ["/usr/lib/debug/.build-id/10/fe77.debug"])
    }

    /// known_counts sampled at R = 512 KiB with one 1 KiB block sampled (and freed): it
    /// weighs 512 KiB, and the 3 blocks left at exit were not sampled.
    private static func sampledReport() -> Report {
        var analyzer = TraceAnalyzer()
        analyzer.sampling(intervalBytes: 512 * 1024)
        analyzer.allocation(thread: 0, size: 1024, stackID: 1)
        analyzer.deallocation(thread: 0, size: 1024, stackID: 1, temporary: true)
        analyzer.counts(CountsRecord(allocations: 123, deallocations: 120, allocatedBytes: 25062))
        analyzer.end(EndRecord(nanoseconds: 1_000_000, heapPeakBytes: 524_800, threadCount: 1, flags: .viaExit))
        return Report(analysis: analyzer.analysis(), tracePath: "sampled.mprof", resolve: { _ in [] })
    }

    @Test("sample mode never states what the samples cannot know")
    func sampledNeverFalse() throws {
        let text = TextReportRenderer().render(Self.sampledReport())
        let summary = section("Summary", in: text).joined(separator: "\n")
        // No leak sampled is not no leak: the exact counts say 3 blocks stayed.
        #expect(!text.contains("every block was freed"))
        #expect(
            text.contains(
                "Leaks: none sampled — 3 blocks were not freed at exit (allocations − frees); up to about 23.47 KiB "
                    + "could be unsampled at this interval"))
        #expect(summary.contains("not freed at exit         unknown  (no sample fell in a block not freed"))
        // A peak from one sample overshoots what was ever allocated: bounded, and said so.
        #expect(
            summary.contains(
                "peak heap usage        ≤24.47 KiB  at 0 us (estimated ± 512.00 KiB from 1 sample; certainly between "
                    + "1.00 KiB and 24.47 KiB)"), "\(summary)")
        #expect(!text.contains("512.50 KiB"), "\(text)")  // nowhere, the peak's table title included
        #expect(!text.contains("the exact peak was"))
        // Temporaries: an estimate, never above 100% of the allocations.
        #expect(summary.contains("temporary allocations        ≤120  (~97.6% of allocations)"), "\(summary)")
        #expect(summary.contains("in use at end             unknown  (no sample; at most 23.47 KiB)"))
        #expect(summary.contains("(mean 203.8 B; of the samples: median 1.00 KiB, largest 1.00 KiB)"))
        // Each site says how many samples its estimates rest on.
        let byCount = section("Most allocations", in: text)
        #expect(byCount[1].contains("#  samples  allocations"), "\(byCount)")
        // One sample of 1 KiB weighs 512 KiB: the site is bounded by the whole run's totals.
        #expect(byCount[2].hasPrefix("  1        1         ~123  ~24.47 KiB  ~24.47 KiB"), "\(byCount)")
    }

    @Test("sample mode's JSON marks every estimate, with its error and bounds")
    func sampledJSON() throws {
        let data = Data(try JSONReportRenderer().render(Self.sampledReport()).utf8)
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let snapshot = try #require(json["snapshot"] as? [String: Any])
        #expect(snapshot["peak_usage"] as? Int == 25062)
        let estimates = try #require(snapshot["estimates"] as? [String: [String: Any]])
        #expect(
            Set(estimates.keys) == [
                "current_usage", "peak_usage", "total_deallocated", "temporary_allocations", "leaked_bytes",
                "leaked_blocks",
            ])
        let peak = try #require(estimates["peak_usage"])
        #expect(peak["value"] as? Int == 25062 && peak["bounded"] as? Bool == true && peak["samples"] as? Int == 1)
        #expect(peak["lower_bound"] as? Int == 1024 && peak["upper_bound"] as? Int == 25062)
        #expect((peak["standard_error"] as? Double ?? 0) > 500_000)
        #expect(estimates["current_usage"]?["known"] as? Bool == false)
        let leaks = try #require(json["leaks"] as? [String: Any])
        #expect(leaks["unfreed_blocks"] as? Int == 3 && leaks["sampled_blocks"] as? Int == 0)
        #expect(leaks["unsampled_bytes_upper_bound"] as? Int == 25062 - 1024)
        let allocations = try #require(json["allocations"] as? [String: Any])
        #expect(allocations["temporary_allocations"] as? Int == 120)
        #expect(allocations["sizes_from_samples"] as? Bool == true)
        let top = try #require((allocations["top_allocators"] as? [[String: Any]])?.first)
        #expect(top["samples"] as? Int == 1 && top["estimated"] as? Bool == true)
        #expect(abs((allocations["average_allocation_size"] as? Double ?? 0) - 203.756) < 0.001)
    }

    @Test("classified leaks are broken down by kind like valgrind's leak summary; leaked counts the counted kinds")
    func leakKinds() {
        let text = TextReportRenderer().render(Fixture.classifiedReport())
        let summary = section("Summary", in: text).joined(separator: "\n")
        #expect(summary.contains("\n  not freed at exit         630 B  in 8 blocks\n"))
        #expect(summary.contains("\n    definitely lost         216 B  in 3 blocks\n"))
        #expect(summary.contains("\n    indirectly lost          50 B  in 1 block\n"))
        #expect(summary.contains("\n    possibly lost            64 B  in 1 block\n"))
        #expect(summary.contains("\n    still reachable         300 B  in 3 blocks (not counted as leaks)\n"))
        #expect(summary.contains("\n  leaked                    330 B  in 5 blocks from 4 sites"))
        #expect(!summary.contains("unfreed"))
        #expect(!summary.contains("suppressed"))

        // The leak table lists the leaks; the still reachable blocks get one line.
        let leaks = section("Leaks:", in: text)
        #expect(leaks.first == "Leaks: 330 B in 5 blocks (4 sites)")
        #expect(leaks[2] == "  1  definitely lost       2  200 B  make_buffer (leak.c:12)")
        #expect(!leaks.contains { $0.contains("  still reachable") })
        #expect(
            leaks.last
                == "  not counted as leaks: 300 B still reachable in 3 blocks from 1 site (choose with --leak-kinds)")
        #expect(section("Most bytes leaked (3 sites)", in: text)[2].contains("  250 B  "))
        #expect(!text.contains("Suppressed"))
    }

    @Test("with every kind counted, still reachable blocks are in the leak table and nothing is left out")
    func allKinds() {
        let text = TextReportRenderer().render(
            Fixture.classifiedReport(LeakPolicy(countedKinds: Set(LeakKind.allCases))))
        #expect(text.contains("\n    still reachable         300 B  in 3 blocks\n"))
        #expect(text.contains("\n  leaked                    630 B  in 8 blocks from 5 sites"))
        let leaks = section("Leaks:", in: text)
        #expect(leaks[2] == "  1  still reachable       3  300 B  make_buffer (leak.c:12)")
        #expect(!text.contains("not counted"))
    }

    @Test("suppressions: a summary line, a table per pattern, and the leaks without the suppressed ones")
    func suppressions() {
        let policy = LeakPolicy(suppressions: [
            LeakSuppression(pattern: "^Parser::", file: "app.supp", line: 3), LeakSuppression(pattern: "nothing"),
        ])
        let text = TextReportRenderer().render(Fixture.classifiedReport(policy))
        #expect(text.contains("\n  suppressed                 64 B  in 1 block by 1 of 2 patterns\n"))
        #expect(text.contains("\n  leaked                    266 B  in 4 blocks from 3 sites"))
        #expect(!section("Leaks:", in: text).contains { $0.contains("Parser::parse()") })
        let suppressed = section("Suppressed:", in: text)
        #expect(suppressed.first == "Suppressed: 64 B in 1 block (leaks whose stack a suppression pattern matches)")
        #expect(suppressed[1] == "  blocks  bytes  pattern")
        #expect(suppressed[2] == "       1   64 B  leak:^Parser::  (app.supp:3)")
        #expect(suppressed[3] == "       0    0 B  leak:nothing")
    }

    @Test("when nothing counts, the leak section says why")
    func noLeaksLeft() {
        let policy = LeakPolicy(countedKinds: [.possible], suppressions: [LeakSuppression(pattern: "parse")])
        let text = TextReportRenderer().render(Fixture.classifiedReport(policy))
        #expect(text.contains("\n  leaked                      0 B  in 0 blocks from 0 sites\n"))
        #expect(text.contains("\nLeaks: none (every block not freed at exit is of a kind not counted or suppressed)\n"))
        #expect(
            text.contains(
                "  not counted as leaks: 216 B definitely lost in 3 blocks from 2 sites; 50 B indirectly lost in 1 block "
                    + "from 1 site; 300 B still reachable in 3 blocks from 1 site (choose with --leak-kinds)"))
    }

    @Test("when threads make the replayed peak differ from the exact one, the peak table says so")
    func replayedPeakNote() {
        var analysis = Fixture.analysis()
        analysis.replayPeakBytes = 1400
        let text = TextReportRenderer().render(Report(analysis: analysis, resolve: Fixture.resolve))
        let peak = section("Largest share of the heap peak", in: text)
        #expect(
            peak[1]
                == "  (shares of the 1.37 KiB peak found replaying the events in file order; the exact peak was 1.33 KiB)"
        )
        #expect(!self.text.contains("replaying"))
    }

    @Test("no color unless asked; color never disturbs the figures")
    func color() {
        #expect(!text.contains("\u{1B}["))
        let colored = TextReportRenderer(color: true).render(Fixture.report())
        #expect(colored.contains("\u{1B}[1mSummary\u{1B}[0m"))
        #expect(
            colored.contains(
                "  1          100   3.12 KiB      64 B     0 B         50  Parser::parse() (parser.cpp:88)"))
    }

    @Test("an empty run renders without tables of garbage")
    func empty() {
        let text = TextReportRenderer().render(Report(analysis: Analysis(), resolve: { _ in [] }))
        #expect(text.contains("process   unknown (the trace has no process record)"))
        #expect(text.contains("Most allocations (no sites)\n  (none)"))
        #expect(text.contains("Leaks: unknown"))
    }

    @Test("golden: the whole report for the fixture")
    func golden() {
        let text = TextReportRenderer(top: 2, stackDepth: 2).render(Fixture.report())
        #expect(text == Self.goldenText)
    }

    // Reviewed by hand: the figures are those of `Fixture`. Regenerate only on purpose.
    static let goldenText = """
        memprof report for leaky.mprof
          command   ./leaky 3 'hello world'
          process   pid 4242 (parent 4200), 2 threads, mode full, memprof 0.1.0
          duration  2.50 s, ended by exit()

        Summary
          allocations                 116  (46.4 per second)
          deallocations               114  (1 of them freed a pointer memprof never saw allocated)
          bytes allocated        9.00 KiB  (mean 79.4 B, median 32 B, largest 1000 B)
          peak heap usage        1.33 KiB  at 1.50 s
          peak RSS               8.00 MiB
          in use at end             216 B
          temporary allocations        52  (44.8% of allocations)
          not freed at exit         216 B  in 3 blocks
          leaked                    216 B  in 3 blocks from 2 sites (no reachability scan: every block not freed counts)
          heap trend              +58 B/s  (average 560 B, min 100 B, max 1.33 KiB, std dev 570.5 B; 3 samples)

        Memory over time (each column the highest sample of 41.7 ms)
             heap 1.33 KiB ┤                                    ███████████████████████
                           ┤                                    ███████████████████████
                           ┤                                    ███████████████████████
                         0 ┤▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂███████████████████████▅
              RSS 8.00 MiB ┤                                    ███████████████████████
                           ┤                                    ████████████████████████
                           ┤████████████████████████████████████████████████████████████
                         0 ┤████████████████████████████████████████████████████████████
                           └────────────────────────────────────────────────────────────
                            0 s                                                   2.50 s

        Most allocations (top 2 of 3 sites)
          #  allocations  allocated      peak  leaked  temporary  location
          1          100   3.12 KiB      64 B     0 B         50  Parser::parse() (parser.cpp:88)
             from main (leak.c:30)
          2           15   5.86 KiB  1.27 KiB   200 B          2  make_buffer (leak.c:12)
             from main (leak.c:30)
             (heaviest of 2 stacks reaching this location)

        Most bytes allocated (top 2 of 3 sites)
          #  allocations  allocated      peak  leaked  temporary  location
          1           15   5.86 KiB  1.27 KiB   200 B          2  make_buffer (leak.c:12)
             from helper (leak.c:40)
             from main (leak.c:30)
             (heaviest of 2 stacks reaching this location)
          2          100   3.12 KiB      64 B     0 B         50  Parser::parse() (parser.cpp:88)
             from main (leak.c:30)

        Largest share of the heap peak of 1.33 KiB at 1.50 s (2 sites)
          #  allocations  allocated      peak  leaked  temporary  location
          1           15   5.86 KiB  1.27 KiB   200 B          2  make_buffer (leak.c:12)
             from helper (leak.c:40)
             from main (leak.c:30)
             (heaviest of 2 stacks reaching this location)
          2          100   3.12 KiB      64 B     0 B         50  Parser::parse() (parser.cpp:88)
             from main (leak.c:30)

        Most bytes leaked (2 sites)
          #  allocations  allocated      peak  leaked  temporary  location
          1           15   5.86 KiB  1.27 KiB   200 B          2  make_buffer (leak.c:12)
             from main (leak.c:30)
             (heaviest of 2 stacks reaching this location)
          2            1       16 B       0 B    16 B          0  <stack 4 not recorded>

        Most temporary allocations (2 sites)
          #  allocations  allocated      peak  leaked  temporary  location
          1          100   3.12 KiB      64 B     0 B         50  Parser::parse() (parser.cpp:88)
             from main (leak.c:30)
          2           15   5.86 KiB  1.27 KiB   200 B          2  make_buffer (leak.c:12)
             from main (leak.c:30)
             (heaviest of 2 stacks reaching this location)

        Leaks: 216 B in 3 blocks (2 sites)
          #  kind     blocks  bytes  location
          1  unfreed       2  200 B  make_buffer (leak.c:12)
             from main (leak.c:30)
          2  unfreed       1   16 B  <stack 4 not recorded>

        """
}
