import MemprofAnalysis
import MemprofSymbolize
import MemprofTrace

/// Renders a ``Report`` for a terminal, in the spirit of `heaptrack_print` but meant to
/// be read: a header naming the run, a summary, then the top sites by allocation count,
/// bytes allocated, share of the heap peak, bytes leaked and temporary allocations,
/// each row followed by its call stack (callers of the site, without the C library's
/// start-up frames), the leaks grouped by site, and what each suppression matched.
/// Long C++ template and parameter lists are shortened to `<...>` / `(...)` (the JSON
/// keeps full names).
///
/// The summary breaks the blocks not freed at exit down like valgrind's LEAK SUMMARY
/// (definitely, indirectly, possibly lost, still reachable) when the trace has a
/// reachability scan, then says how much of it is leaked: the kinds the report's
/// ``LeakPolicy`` counts, less what suppressions matched. The leak table lists the
/// leaks only; blocks of uncounted kinds get one line below it.
///
/// ```swift
/// let text = TextReportRenderer(top: 5, color: isatty(1) == 1).render(report)
/// ```
public struct TextReportRenderer: Sendable {
    /// Rows per table.
    public var top: Int
    /// Caller frames shown under each row (besides the frame the location names).
    public var stackDepth: Int
    /// Use ANSI bold/dim/yellow; only for a terminal.
    public var color: Bool

    /// Creates a renderer.
    public init(top: Int = 10, stackDepth: Int = 5, color: Bool = false) {
        self.top = top
        self.stackDepth = stackDepth
        self.color = color
    }

    /// The report as text, ending in a newline.
    public func render(_ report: Report) -> String {
        var lines: [String] = []
        header(report, into: &lines)
        lines.append("")
        summary(report, into: &lines)
        if report.analysis.timeline.count >= 2 {
            lines.append("")
            chart(report, into: &lines)
        }
        if let trend = report.trend {
            lines.append("")
            self.trend(trend, report, into: &lines)
        }
        if let health = report.health {
            lines.append("")
            self.health(health, into: &lines)
        }
        var orders: [Report.SiteOrder] = [
            .allocations, .allocatedBytes, .peakBytes, .leakedBytes, .temporaryAllocations,
        ]
        if report.moment != nil {
            // Nothing has leaked yet at a moment: what is in use instead.
            orders.removeAll { $0 == .leakedBytes }
            orders.insert(.liveBytes, at: 0)
        }
        for order in orders {
            lines.append("")
            table(report, by: order, into: &lines)
        }
        lines.append("")
        leaks(report, into: &lines)
        if !report.leakPolicy.suppressions.isEmpty && report.analysis.leaksRecorded {
            lines.append("")
            suppressions(report, into: &lines)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The process's command line, arguments quoted for a POSIX shell where needed;
    /// the executable's path when no arguments were recorded.
    public static func commandLine(_ record: ProcessRecord) -> String {
        guard !record.arguments.isEmpty else { return record.executablePath }
        return record.arguments.map(shellQuoted).joined(separator: " ")
    }

    // MARK: Sections

    private func header(_ report: Report, into lines: inout [String]) {
        let analysis = report.analysis
        lines.append(bold("memprof report" + (report.tracePath.map { " for \($0)" } ?? "")))
        var rows: [(String, String)] = []
        if let process = analysis.process {
            rows.append(("command", Self.commandLine(process)))
            var facts = ["pid \(process.pid)"]
            if process.parentPID != 0 { facts[0] += " (parent \(process.parentPID))" }
            if analysis.threadCount > 0 {
                facts.append(
                    analysis.threadCount == 1 ? "1 thread" : "\(HumanUnits.count(analysis.threadCount)) threads")
            }
            facts.append("mode \(process.mode)")
            if !process.memprofVersion.isEmpty { facts.append("memprof \(process.memprofVersion)") }
            rows.append(("process", facts.joined(separator: ", ")))
        } else {
            rows.append(("process", "unknown (the trace has no process record)"))
        }
        if let moment = report.moment {
            rows.append(
                (
                    "duration", HumanUnits.duration(nanoseconds: moment.recordingNanoseconds) + ", " + ending(analysis)
                ))
            rows.append(
                (
                    "state at",
                    HumanUnits.duration(nanoseconds: moment.nanoseconds) + (moment.name.map { " (\($0))" } ?? "")
                        + ": everything below covers the recording up to that moment"
                ))
        } else {
            rows.append(
                ("duration", HumanUnits.duration(nanoseconds: analysis.durationNanoseconds) + ", " + ending(analysis)))
        }
        let width = rows.map(\.0.count).max() ?? 0
        for (label, value) in rows {
            lines.append("  " + label.padding(to: width) + "  " + value)
        }
        if let sampling = analysis.sampling {
            lines.append(
                "  note: sampled every \(HumanUnits.bytes(sampling.intervalBytes)) on average "
                    + "(\(HumanUnits.count(sampling.sampledAllocations)) samples): allocation and free counts and "
                    + "bytes allocated are exact; per-site and leak figures, peak, in use, freed bytes and temporaries "
                    + "are estimates scaled from the samples (marked ~, with ± their standard error and certain bounds "
                    + "where the samples are few; ≤ where the samples overshoot a bound); a figure no sample went "
                    + "into is unknown, not zero")
        } else if analysis.process?.mode == .sample {
            lines.append("  note: sampled recording; counts and bytes cover the sampled allocations only")
        }
        if let aggregation = analysis.aggregation {
            var onDemand: [String] = []
            if aggregation.signalSnapshots > 0 { onDemand.append("\(aggregation.signalSnapshots) on the signal") }
            if aggregation.apiSnapshots > 0 { onDemand.append("\(aggregation.apiSnapshots) from the API") }
            lines.append(
                "  note: aggregate recording, \(HumanUnits.count(UInt64(aggregation.snapshots))) snapshot\(aggregation.snapshots == 1 ? "" : "s") "
                    + "(every \(HumanUnits.duration(nanoseconds: aggregation.intervalNanoseconds))"
                    + (onDemand.isEmpty ? "" : "; " + onDemand.joined(separator: ", ")) + "): "
                    + (aggregation.snapshots == 0
                        ? "no snapshot yet, so nothing is counted"
                        : "counts are exact as of the last snapshot (at "
                            + "\(Self.moment(aggregation.lastSnapshotNanoseconds)))")
                    + "; a site's peak is its own highest at a snapshot; the heap peak is sampled every 10 ms")
            if aggregation.snapshots > 0 {
                lines.append(
                    "  memprof's own memory \(HumanUnits.bytes(aggregation.memprofBytesFirst)) at the first snapshot, "
                        + "\(HumanUnits.bytes(aggregation.memprofBytesLast)) at the last, at most "
                        + "\(HumanUnits.bytes(aggregation.memprofBytesMaximum))")
            }
        }
        if let jemalloc = analysis.jemalloc {
            let latest = jemalloc.latest
            // Its own figures at the last of its readings (`memprof run --jemalloc`).
            let indent = String(repeating: " ", count: width + 4)
            lines.append(
                "  " + "jemalloc".padding(to: width) + "  allocated \(HumanUnits.bytes(latest.allocated)) (peak "
                    + "\(HumanUnits.bytes(jemalloc.peakAllocated))), active \(HumanUnits.bytes(latest.active)), "
                    + "metadata \(HumanUnits.bytes(latest.metadata))")
            lines.append(
                indent + "resident \(HumanUnits.bytes(latest.resident)) (peak "
                    + "\(HumanUnits.bytes(jemalloc.peakResident))), mapped \(HumanUnits.bytes(latest.mapped)), "
                    + "retained \(HumanUnits.bytes(latest.retained)); \(jemalloc.samples) readings")
        }
        if analysis.isLive {
            // Not damage: the recording goes on, and a later report will cover more.
            lines.append(
                "  note: live recording: the process"
                    + (analysis.process.map { " (pid \($0.pid))" } ?? "")
                    + " is still running and writing this trace; the report covers what it has written so far")
        } else if let truncation = analysis.truncation {
            lines.append(
                warning(
                    "  WARNING: the trace is \(truncation); the report covers what was recorded"))
        }
        for problem in report.moduleProblems {
            lines.append(warning("  WARNING: " + Self.describe(problem)))
        }
        if let allocator = report.ownAllocator, allocator.bypassesThePreload, let process = analysis.process {
            lines.append(
                warning(
                    "  WARNING: \(process.executablePath): \(allocator.explanation); "
                        + AllocatorSymbols.advice))
        }
        if let end = analysis.end, end.flags.contains(.stoppedEarly) {
            lines.append(
                warning(
                    "  WARNING: tracing stopped early after an internal failure; later events are missing"))
        }
    }

    /// One line: which module gives no names, why, and where its debug info was sought.
    static func describe(_ problem: ModuleProblem) -> String {
        let searched =
            problem.debugFilesSearched.isEmpty
            ? (problem.recordedBuildID.isEmpty ? "; no build-id was recorded to find a debug file by" : "")
            : "; no debug file with that build-id at " + problem.debugFilesSearched.joined(separator: ", ")
        switch problem.error {
        case .noFile(let loadBias):
            return "no names for the module at load bias 0x\(String(loadBias, radix: 16)): the trace names no file"
        case .cannotOpen(let path, let reason):
            return "no names from \(path): cannot open it (\(reason))"
                + (problem.recordedBuildID.isEmpty ? "" : ", recorded build-id \(problem.recordedBuildID)") + searched
        case .notELF(let path, let reason):
            return "no names from \(path): not a readable ELF file (\(reason))"
        case .buildIDMismatch(let path, let buildID):
            return "no names from \(path): rebuilt or replaced since the recording (its build-id is no longer "
                + "the recorded \(buildID))" + searched
        }
    }

    private func ending(_ analysis: Analysis) -> String {
        guard let end = analysis.end else {
            if analysis.isLive { return "so far (the process is still running)" }
            return analysis.isTruncated ? "trace cut short before the process ended" : "no end record"
        }
        if end.flags.contains(.stoppedEarly) { return "tracing stopped early" }
        if let signal = end.signal { return "ended by signal \(Self.signalName(signal))" }
        if end.flags.contains(.viaUnderscoreExit) { return "ended by _exit()" }
        if end.flags.contains(.viaExec) { return "ended by exec (the new program was not traced)" }
        if end.flags.contains(.viaExit) { return "ended by exit()" }
        return "ended"
    }

    /// A signal's name as the shell spells it (SIGSEGV), or its number for another.
    static func signalName(_ signal: Int32) -> String {
        let names: [Int32: String] = [
            1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE",
            9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM",
            24: "SIGXCPU", 25: "SIGXFSZ", 26: "SIGVTALRM", 27: "SIGPROF", 31: "SIGSYS",
        ]
        return names[signal] ?? "\(signal)"
    }

    private func summary(_ report: Report, into lines: inout [String]) {
        let analysis = report.analysis
        lines.append(bold("Summary"))
        var rows: [(label: String, value: String, note: String)] = []
        rows.append(
            (
                "allocations", HumanUnits.count(analysis.allocationCount),
                analysis.durationNanoseconds == 0
                    ? "" : "(\(HumanUnits.decimal(analysis.allocationRatePerSecond, places: 1)) per second)"
            ))
        rows.append(
            (
                "deallocations", HumanUnits.count(analysis.deallocationCount),
                analysis.unknownDeallocationCount == 0
                    ? ""
                    : "(\(HumanUnits.count(analysis.unknownDeallocationCount)) of them freed "
                        + "\(analysis.unknownDeallocationCount == 1 ? "a pointer" : "pointers") memprof never saw allocated)"
            ))
        rows.append(
            (
                "bytes allocated", HumanUnits.bytes(analysis.totalAllocatedBytes),
                analysis.allocationCount == 0
                    ? ""
                    : analysis.sampling != nil
                        ? "(mean \(HumanUnits.bytes(Double(analysis.totalAllocatedBytes) / Double(analysis.allocationCount)))"
                            + (analysis.sizes.count == 0
                                ? "; no allocation was sampled)"
                                : "; of the samples: median \(HumanUnits.bytes(analysis.sizes.median)), "
                                    + "largest \(HumanUnits.bytes(analysis.sizes.maximum)))")
                        : analysis.aggregation != nil
                            ? "(mean \(HumanUnits.bytes(Double(analysis.totalAllocatedBytes) / Double(analysis.allocationCount)))"
                                + "; sizes are not recorded in aggregate mode)"
                            : "(mean \(HumanUnits.bytes(analysis.sizes.mean)), median \(HumanUnits.bytes(analysis.sizes.median)), "
                                + "largest \(HumanUnits.bytes(analysis.sizes.maximum)))"
            ))
        if let sampling = analysis.sampling {
            let peak = Self.estimate(sampling.peak, format: HumanUnits.bytes)
            rows.append(
                (
                    "peak heap usage", peak.value,
                    (sampling.peak.isKnown
                        ? analysis.peakNanoseconds.map { "at \(HumanUnits.duration(nanoseconds: $0)) " }
                            ?? "" : "") + peak.note
                ))
        } else {
            rows.append(
                (
                    "peak heap usage", HumanUnits.bytes(analysis.peakHeapBytes),
                    analysis.peakNanoseconds.map { "at \(HumanUnits.duration(nanoseconds: $0))" } ?? ""
                ))
        }
        if analysis.peakRSSBytes > 0 {
            rows.append(("peak RSS", HumanUnits.bytes(analysis.peakRSSBytes), ""))
        }
        let inUse = analysis.sampling.map { Self.estimate($0.inUse, format: HumanUnits.bytes) }
        rows.append(
            (
                report.moment.map { "in use at \(HumanUnits.duration(nanoseconds: $0.nanoseconds))" }
                    ?? (analysis.isLive
                        ? "in use at \(HumanUnits.duration(nanoseconds: analysis.durationNanoseconds))"
                        : "in use at end"),
                inUse?.value ?? HumanUnits.bytes(analysis.currentBytes),
                report.moment == nil
                    ? inUse?.note ?? ""
                    : "in \(blocks(liveBlocks(report))) (live heap at that moment)"
                        + (inUse.map { " " + $0.note } ?? "")
            ))
        if let sampling = analysis.sampling {
            let temporaries = Self.estimate(sampling.temporaries, format: HumanUnits.count)
            rows.append(
                (
                    "temporary allocations", temporaries.value,
                    (sampling.temporaries.isKnown
                        ? "(~\(HumanUnits.percent(analysis.temporaryAllocationCount, of: analysis.allocationCount)) of "
                            + "allocations) " : "") + temporaries.note
                ))
        } else {
            rows.append(
                (
                    "temporary allocations", HumanUnits.count(analysis.temporaryAllocationCount),
                    "(\(HumanUnits.percent(analysis.temporaryAllocationCount, of: analysis.allocationCount)) of allocations)"
                ))
        }
        if analysis.leaksRecorded, let sampling = analysis.sampling {
            sampledLeakRows(report, sampling, into: &rows)
        } else if analysis.leaksRecorded {
            leakRows(report, into: &rows)
        } else if analysis.cutoffNanoseconds != nil {
            rows.append(("not freed at exit", "not yet known", "(blocks are classified when the process exits)"))
        } else if analysis.isLive {
            rows.append(("not freed at exit", "not yet known", "(the process is still running)"))
        } else {
            rows.append(("not freed at exit", "unknown", "(the trace ends before the process exited)"))
        }
        let trend = analysis.trend
        if trend.sampleCount >= 3 && report.trend == nil {  // two samples make a line, not a trend
            rows.append(
                (
                    "heap trend",
                    (analysis.sampling != nil ? "~" : "") + HumanUnits.byteRate(trend.growthBytesPerSecond),
                    "(average \(HumanUnits.bytes(trend.averageBytes)), min \(HumanUnits.bytes(trend.minimumBytes)), "
                        + "max \(HumanUnits.bytes(trend.peakBytes)), std dev \(HumanUnits.bytes(trend.volatilityBytes)); "
                        + "\(HumanUnits.count(trend.sampleCount)) samples)"
                ))
        }
        let labelWidth = rows.map(\.label.count).max() ?? 0
        let valueWidth = rows.map(\.value.count).max() ?? 0
        for row in rows {
            var line = "  " + row.label.padding(to: labelWidth) + "  " + row.value.padding(to: valueWidth, right: true)
            if !row.note.isEmpty { line += "  " + row.note }
            lines.append(line)
        }
    }

    /// "not freed at exit", its kinds when the trace was classified, what suppressions
    /// matched, and the leaks.
    private func leakRows(_ report: Report, into rows: inout [(label: String, value: String, note: String)]) {
        let summary = report.leakSummary
        let policy = report.leakPolicy
        rows.append(
            ("not freed at exit", HumanUnits.bytes(summary.notFreed.bytes), "in \(blocks(summary.notFreed.blocks))"))
        if summary.isClassified {
            // valgrind's LEAK SUMMARY: every kind of the scan, zeros included.
            var kinds: [LeakKind] = [.definite, .indirect, .possible, .reachable]
            if summary.totals(of: .unfreed).blocks > 0 { kinds.insert(.unfreed, at: 0) }
            for kind in kinds {
                let totals = summary.totals(of: kind)
                rows.append(
                    (
                        "  " + Self.kindLabel(kind), HumanUnits.bytes(totals.bytes),
                        "in \(blocks(totals.blocks))" + (policy.counts(kind) ? "" : " (not counted as leaks)")
                    ))
            }
        }
        if !policy.suppressions.isEmpty {
            let suppressed = summary.suppressedTotals
            let used = summary.suppressed.count { $0.totals.blocks > 0 }
            rows.append(
                (
                    "suppressed", HumanUnits.bytes(suppressed.bytes),
                    "in \(blocks(suppressed.blocks)) by \(used) of \(summary.suppressed.count) "
                        + plural(summary.suppressed.count, "pattern")
                ))
        }
        var note =
            "in \(blocks(summary.leaked.blocks)) from \(HumanUnits.count(summary.leakSiteCount)) "
            + plural(summary.leakSiteCount, "site")
        if report.analysis.end?.flags.contains(.viaExec) == true && summary.notFreed.blocks > 0 {
            note += " (ended by exec: the heap was replaced, not leaked)"
        } else if !summary.isClassified && summary.notFreed.blocks > 0 {
            note +=
                policy.suppressions.isEmpty
                ? " (no reachability scan: every block not freed counts)"
                : " (no reachability scan: every block not freed counts unless suppressed)"
        }
        rows.append(("leaked", HumanUnits.bytes(summary.leaked.bytes), note))
    }

    /// Sample mode's "not freed at exit" and "leaked": estimates, never a bare zero for
    /// blocks the samples missed (the exact counts say how many blocks stayed).
    private func sampledLeakRows(
        _ report: Report, _ sampling: Analysis.Sampling, into rows: inout [(label: String, value: String, note: String)]
    ) {
        let summary = report.leakSummary
        let estimate = sampling.leakedBytes
        let counted = sampling.unfreedBlocks.map { "; \(blocks($0)) by the exact counts (allocations − frees)" } ?? ""
        if estimate.samples == 0 {
            if sampling.unfreedBlocks == 0 {
                rows.append(("not freed at exit", "0 B", "(allocations equal frees: every block was freed)"))
            } else {
                rows.append(
                    (
                        "not freed at exit", "unknown",
                        "(no sample fell in a block not freed" + counted + "; up to about "
                            + "\(HumanUnits.bytes(sampling.unsampledLeakBytesBound)) could be unsampled)"
                    ))
            }
            return
        }
        let bytes = Self.estimate(estimate, format: HumanUnits.bytes)
        var note = "in ~\(blocks(sampling.leakedBlocks.value)) " + bytes.note.dropLast() + counted
        if sampling.unsampledLeakBytesBound > 0 && sampling.unfreedBlocks.map({ $0 > estimate.samples }) ?? true {
            note += "; unsampled ones could hold up to about \(HumanUnits.bytes(sampling.unsampledLeakBytesBound)) more"
        }
        rows.append(("not freed at exit", bytes.value, note + ")"))
        // The leaks (every block not freed counts in sample mode, unless suppressed).
        let leaked = min(summary.leaked.bytes, estimate.upperBound ?? .max)
        rows.append(
            (
                "leaked", "~" + HumanUnits.bytes(leaked),
                "in ~\(blocks(min(summary.leaked.blocks, sampling.leakedBlocks.upperBound ?? .max))) from "
                    + "\(HumanUnits.count(summary.leakSiteCount)) " + plural(summary.leakSiteCount, "site")
            ))
    }

    /// An estimate of sample mode, as a value ("~12.0 KiB", "unknown") and a note with its
    /// error, its samples, and its certain bounds where the error is large or the
    /// samples overshot them.
    static func estimate(_ estimate: SampleEstimate, format: (UInt64) -> String) -> (value: String, note: String) {
        guard estimate.samples > 0 else {
            if estimate.isKnown { return (format(0), "(by the exact counts)") }
            return ("unknown", "(no sample" + (estimate.upperBound.map { "; at most \(format($0))" } ?? "") + ")")
        }
        var note = "(estimated"
        if estimate.standardError >= 0.5 { note += " ± \(format(UInt64(estimate.standardError.rounded())))" }
        note += " from \(HumanUnits.count(estimate.samples)) \(estimate.samples == 1 ? "sample" : "samples")"
        if estimate.wasBounded || estimate.samples < 10 || estimate.relativeError > 0.25 {
            if let upper = estimate.upperBound {
                note += "; certainly between \(format(estimate.lowerBound)) and \(format(upper))"
            } else {
                note += "; at least \(format(estimate.lowerBound))"
            }
        }
        // Samples that overshoot a certain bound say only that the figure is near it.
        let bounded = estimate.wasBounded && estimate.value == estimate.upperBound
        return ((bounded ? "≤" : "~") + format(estimate.value), note + ")")
    }

    private func table(_ report: Report, by order: Report.SiteOrder, into lines: inout [String]) {
        let available = report.siteCount(by: order)
        let sites = report.topSites(by: order, limit: top)
        var title: String
        switch order {
        case .allocations: title = "Most allocations"
        case .allocatedBytes: title = "Most bytes allocated"
        case .peakBytes where report.analysis.aggregation != nil:
            // Aggregate mode: each site's own highest at a snapshot, not a share of one peak.
            title = "Highest own peak at a snapshot"
        case .peakBytes:
            title = "Largest share of the heap peak"
            if report.analysis.replayPeakBytes > 0 {
                title +=
                    " of " + (report.analysis.sampling != nil ? "~" : "")
                    + HumanUnits.bytes(report.analysis.replayPeakBytes)
                if let time = report.analysis.peakNanoseconds {
                    title += " at \(HumanUnits.duration(nanoseconds: time))"
                }
            }
        case .leakedBytes: title = "Most bytes leaked"
        case .temporaryAllocations: title = "Most temporary allocations"
        case .liveBytes:
            title = "Most bytes in use"
            if let moment = report.moment { title += " at \(HumanUnits.duration(nanoseconds: moment.nanoseconds))" }
        }
        lines.append(bold(title + " " + showing(sites.count, of: available)))
        let analysis = report.analysis
        // (Sample mode: both are estimates of one peak; the summary says how good.)
        if order == .peakBytes, analysis.aggregation == nil, analysis.sampling == nil,
            analysis.replayPeakBytes != analysis.peakHeapBytes, analysis.replayPeakBytes > 0
        {
            // Threads' blocks interleave in the file, so the replay's peak is approximate.
            lines.append(
                "  (shares of the \(HumanUnits.bytes(analysis.replayPeakBytes)) peak found replaying the events in "
                    + "file order; the exact peak was \(HumanUnits.bytes(analysis.peakHeapBytes)))")
        }
        guard !sites.isEmpty else {
            lines.append("  (none)")
            return
        }
        // At a moment nothing has leaked yet: the column shows what is in use instead.
        let showsLive = report.moment != nil
        // Sample mode: every figure of a site is an estimate, made of this many samples.
        let sampled = analysis.sampling != nil
        var columns: [(String, TextTable.Alignment)] = [
            ("#", .right), ("allocations", .right), ("allocated", .right), ("peak", .right),
            (showsLive ? "in use" : "leaked", .right), ("temporary", .right), ("location", .left),
        ]
        if sampled { columns.insert(("samples", .right), at: 1) }
        var table = TextTable(columns: columns)
        let mark = sampled ? "~" : ""
        for (rank, site) in sites.enumerated() {
            let totals = site.totals
            var row = [
                "\(rank + 1)", mark + HumanUnits.count(totals.allocations),
                mark + HumanUnits.bytes(totals.allocatedBytes), mark + HumanUnits.bytes(totals.peakBytes),
                mark + HumanUnits.bytes(showsLive ? totals.liveBytes : totals.leakedBytes),
                mark + HumanUnits.count(totals.temporaryAllocations), SymbolAbbreviation.abbreviate(site.location),
            ]
            if sampled { row.insert(HumanUnits.count(totals.samples), at: 1) }
            table.append(row, details: callers(site.frames(by: order), stackCount: site.stackCount))
        }
        lines += table.lines(headerStyle: dim, detailStyle: dim)
    }

    private func leaks(_ report: Report, into lines: inout [String]) {
        let analysis = report.analysis
        let summary = report.leakSummary
        guard analysis.leaksRecorded else {
            if analysis.cutoffNanoseconds != nil {
                lines.append(
                    bold("Leaks: unknown")
                        + " (the state at a moment before the process exited; see the report of the whole recording)")
            } else if analysis.isLive {
                lines.append(
                    bold("Leaks: not yet known")
                        + " (the process is still running; blocks not freed are found when it exits)")
            } else {
                lines.append(bold("Leaks: unknown") + " (the trace ends before the process exited)")
            }
            return
        }
        let leaks = report.leaks.filter(\.isCounted)
        if let sampling = analysis.sampling, leaks.isEmpty, summary.suppressedTotals.blocks == 0,
            sampling.unfreedBlocks != 0
        {
            // No sampled block was left, which does not mean none was.
            lines.append(
                bold("Leaks: none sampled")
                    + (sampling.unfreedBlocks.map { " — \(blocks($0)) were not freed at exit (allocations − frees)" }
                        ?? "")
                    + "; up to about \(HumanUnits.bytes(sampling.unsampledLeakBytesBound)) could be unsampled at "
                    + "this interval (record with --mode full, or a smaller --sample-interval, to see them)")
            return
        }
        if leaks.isEmpty {
            var reasons: [String] = []
            if summary.uncounted.blocks > 0 { reasons.append("of a kind not counted") }
            if summary.suppressedTotals.blocks > 0 { reasons.append("suppressed") }
            lines.append(
                bold("Leaks: none")
                    + (reasons.isEmpty
                        ? (analysis.sampling != nil
                            ? " (allocations equal frees: every block was freed before exit)"
                            : " (every block was freed before exit)")
                        : " (every block not freed at exit is " + reasons.joined(separator: " or ") + ")"))
        } else if let sampling = analysis.sampling {
            let bytes = min(summary.leaked.bytes, sampling.leakedBytes.upperBound ?? .max)
            let count = min(summary.leaked.blocks, sampling.leakedBlocks.upperBound ?? .max)
            lines.append(
                bold(
                    "Leaks: ~\(HumanUnits.bytes(bytes)) in ~\(blocks(count)) "
                        + showing(min(leaks.count, max(top, 0)), of: leaks.count))
                    + " " + Self.estimate(sampling.leakedBytes, format: HumanUnits.bytes).note)
            leakTable(leaks, estimated: true, into: &lines)
        } else {
            lines.append(
                bold(
                    "Leaks: \(HumanUnits.bytes(summary.leaked.bytes)) in \(blocks(summary.leaked.blocks)) "
                        + showing(min(leaks.count, max(top, 0)), of: leaks.count)))
            leakTable(leaks, estimated: analysis.sampling != nil, into: &lines)
        }
        // Blocks of the kinds not counted: one line, not a table (valgrind lists them
        // only when asked to, with --show-leak-kinds).
        let uncounted = LeakKind.allCases.filter { !report.leakPolicy.counts($0) }.compactMap { kind -> String? in
            let totals = summary.totals(of: kind)
            let sites = report.leaks.count { $0.kind == kind }
            guard totals.blocks > 0 else { return nil }
            return "\(HumanUnits.bytes(totals.bytes)) \(Self.kindLabel(kind)) in \(blocks(totals.blocks)) "
                + "from \(HumanUnits.count(sites)) \(plural(sites, "site"))"
        }
        if !uncounted.isEmpty {
            lines.append(
                dim("  not counted as leaks: " + uncounted.joined(separator: "; ") + " (choose with --leak-kinds)"))
        }
    }

    private func leakTable(_ leaks: [Report.Leak], estimated: Bool, into lines: inout [String]) {
        let mark = estimated ? "~" : ""
        var table = TextTable(columns: [
            ("#", .right), ("kind", .left), ("blocks", .right), ("bytes", .right), ("location", .left),
        ])
        for (rank, leak) in leaks.prefix(max(top, 0)).enumerated() {
            table.append(
                [
                    "\(rank + 1)", Self.kindLabel(leak.kind), mark + HumanUnits.count(leak.blocks),
                    mark + HumanUnits.bytes(leak.bytes),
                    SymbolAbbreviation.abbreviate(leak.location),
                ],
                details: callers(leak.frames, stackCount: leak.stackCount))
        }
        lines += table.lines(headerStyle: dim, detailStyle: dim)
    }

    /// What each suppression matched, in the order given (LeakSanitizer's
    /// "Suppressions used"), patterns that matched nothing included.
    private func suppressions(_ report: Report, into lines: inout [String]) {
        let summary = report.leakSummary
        let total = summary.suppressedTotals
        lines.append(
            bold("Suppressed: \(HumanUnits.bytes(total.bytes)) in \(blocks(total.blocks))")
                + " (leaks whose stack a suppression pattern matches)")
        var table = TextTable(columns: [("blocks", .right), ("bytes", .right), ("pattern", .left)])
        for use in summary.suppressed {
            var source = ""
            if let file = use.suppression.file, let line = use.suppression.line { source = "  (\(file):\(line))" }
            table.append(
                [
                    HumanUnits.count(use.totals.blocks), HumanUnits.bytes(use.totals.bytes),
                    "leak:" + use.suppression.pattern + source,
                ])
        }
        lines += table.lines(headerStyle: dim, detailStyle: dim)
    }

    /// Heap and RSS over the recording (the analysis's timeline), as two bar charts.
    private func chart(_ report: Report, into lines: inout [String]) {
        let timeline = report.analysis.timeline
        let start: UInt64 = 0
        let end = max(timeline.last?.nanoseconds ?? 0, start + 1)
        let width = Self.chartWidth
        lines.append(
            bold("Memory over time")
                + " (each column the highest sample of \(HumanUnits.duration(nanoseconds: (end - start) / UInt64(width)))"
                + (report.analysis.sampling != nil ? "; the heap is estimated from the samples)" : ")"))
        let series: [(String, [(time: UInt64, value: UInt64)])] = [
            ("heap", timeline.map { ($0.nanoseconds, $0.heapBytes) }),
            ("RSS", timeline.map { ($0.nanoseconds, $0.rssBytes) }),
        ]
        let labelWidth = 16
        for (name, points) in series where points.contains(where: { $0.value > 0 }) {
            let columns = TerminalChart.columns(points, start: start, end: end, width: width)
            let maximum = columns.max() ?? 0
            let rows = TerminalChart.bars(columns, maximum: maximum, rows: Self.chartRows)
            for (index, row) in rows.enumerated() {
                let label: String
                switch index {
                case 0: label = name + " " + HumanUnits.bytes(maximum)
                case rows.count - 1: label = "0"
                default: label = ""
                }
                var line = "  " + label.padding(to: labelWidth, right: true) + " ┤" + row
                while line.last == " " { line.removeLast() }
                lines.append(line)
            }
        }
        let axisStart = "0 s"
        let axisEnd = HumanUnits.duration(nanoseconds: end)
        lines.append("  " + String(repeating: " ", count: labelWidth) + " └" + String(repeating: "─", count: width))
        lines.append(
            "  " + String(repeating: " ", count: labelWidth + 2) + axisStart
                + String(repeating: " ", count: max(width - axisStart.count - axisEnd.count, 1)) + axisEnd)
    }

    /// Columns of the memory chart: 16 for the label and 2 for the axis leave 80.
    static let chartWidth = 60
    /// Lines per chart.
    static let chartRows = 4
    /// Share of the window's heap peak a site must have held to be listed under growth.
    static let siteGrowthFloor = 0.005

    /// A time since the start; `0 s` rather than `0 us`.
    private static func moment(_ nanoseconds: UInt64) -> String {
        nanoseconds == 0 ? "0 s" : HumanUnits.duration(nanoseconds: nanoseconds)
    }

    /// The trend over the window and the sites' growth.
    private func trend(_ trend: TrendReport, _ report: Report, into lines: inout [String]) {
        let window = trend.window
        let statistics = trend.statistics
        lines.append(
            bold("Trend")
                + " from \(Self.moment(window.start)) to \(Self.moment(window.end))"
                + " (\(HumanUnits.count(window.intervalCount)) \(plural(window.intervalCount, "interval")) of "
                + "\(HumanUnits.duration(nanoseconds: window.interval)), \(HumanUnits.count(statistics.sampleCount)) heap "
                + plural(statistics.sampleCount, "sample") + ")"
                + (report.analysis.sampling != nil ? ": every figure estimated from the sampled blocks (~)" : ""))
        guard statistics.sampleCount >= 3 else {  // two samples make a line, not a trend
            lines.append(
                report.analysis.aggregation.map {
                    "  (too short for a trend: the heap is sampled at each snapshot, every "
                        + "\(HumanUnits.duration(nanoseconds: $0.intervalNanoseconds)))"
                } ?? "  (too short for a trend: the heap is sampled every 10 ms)")
            return
        }
        var rows: [(String, String)] = [
            ("growth", HumanUnits.byteRate(statistics.growthBytesPerSecond) + " (least squares over the heap samples)"),
            (
                "heap",
                "average \(HumanUnits.bytes(statistics.averageBytes)), min \(HumanUnits.bytes(statistics.minimumBytes)), "
                    + "peak \(HumanUnits.bytes(statistics.peakBytes))"
            ),
            ("volatility", HumanUnits.bytes(statistics.volatilityBytes) + " (standard deviation of the heap)"),
        ]
        if window.span > 0 {
            rows.append(
                (
                    "allocations",
                    (report.analysis.sampling != nil ? "~" : "")
                        + "\(HumanUnits.count(trend.allocations)) in the window "
                        + "(\(HumanUnits.decimal(trend.allocationRatePerSecond, places: 1)) per second)"
                ))
        }
        for (label, value) in rows { lines.append("  " + label.padding(to: 11) + "  " + value) }

        // Sites that never held a noticeable share of the heap (temporaries) are noise here.
        let floor = UInt64(Double(statistics.peakBytes) * Self.siteGrowthFloor)
        let growing = report.siteGrowth.filter { site in
            site.growth.isLeakSuspect || (site.growth.liveBytes.max() ?? 0) > max(floor, 0)
        }
        guard !growing.isEmpty else { return }
        let suspects = report.leakSuspects
        lines.append("")
        // Aggregate mode: block ages are estimated from the snapshots (docs/trends.md);
        // sample mode: every figure is scaled from the sampled blocks.
        let agesEstimated = report.analysis.aggregation != nil || report.analysis.sampling != nil
        let bytesMark = report.analysis.sampling != nil ? "~" : ""
        lines.append(
            bold("Live bytes by site " + showing(min(growing.count, max(top, 0)), of: growing.count))
                + dim(
                    " holding 0.5% of the heap or more; old = allocated \(HumanUnits.duration(nanoseconds: trend.ageThreshold)) or more before the end"
                        + (report.analysis.sampling != nil
                            ? " (~ estimated from the samples)"
                            : agesEstimated ? " (~ estimated from the snapshots)" : "")
                ))
        var table = TextTable(columns: [
            ("#", .right), ("at end", .right), ("growth", .right), ("last quarter", .right), ("old/live", .right),
            ("verdict", .left), ("location", .left),
        ])
        for (rank, site) in growing.prefix(max(top, 0)).enumerated() {
            let growth = site.growth
            table.append(
                [
                    "\(rank + 1)", bytesMark + HumanUnits.bytes(growth.liveBytes.last ?? 0),
                    bytesMark + HumanUnits.byteRate(growth.growthBytesPerSecond),
                    bytesMark + HumanUnits.byteRate(growth.recentGrowthBytesPerSecond),
                    (agesEstimated ? "~" : "")
                        + "\(HumanUnits.count(growth.oldBlocks))/\(HumanUnits.count(growth.liveBlocks))",
                    growth.isLeakSuspect ? "LEAK SUSPECT" : growth.shape.rawValue,
                    SymbolAbbreviation.abbreviate(site.location),
                ],
                details: [TerminalChart.sparkline(growth.liveBytes, width: 40) + "  live bytes over the window"])
        }
        lines += table.lines(headerStyle: dim, detailStyle: dim)
        if suspects.isEmpty {
            lines.append("  leak suspects: none (no site is still rising at the end with old blocks live)")
        } else {
            lines.append(
                warning(
                    "  leak suspects: "
                        + suspects.map { SymbolAbbreviation.abbreviate($0.location) }.joined(separator: ", ")
                        + " (still rising at the end, with old blocks live)"))
        }
    }

    /// The status, each threshold against its figure, warnings and recommendations.
    private func health(_ health: Health, into lines: inout [String]) {
        let status = health.status.description.uppercased()
        lines.append(bold("Health: ") + (health.status == .healthy ? bold(status) : warning(status)))
        var table = TextTable(columns: [("threshold", .left), ("limit", .right), ("value", .right), ("status", .left)])
        for check in health.checks {
            let isRate = check.name == "max_allocation_rate"
            let format = { (value: Double) in
                isRate ? HumanUnits.decimal(value, places: 1) + "/s" : HumanUnits.bytes(UInt64(max(value, 0)))
            }
            table.append([check.name, format(check.limit), format(check.value), check.status.description])
        }
        lines += table.lines(headerStyle: dim)
        for text in health.warnings { lines.append(warning("  warning: " + text)) }
        for text in health.recommendations { lines.append("  recommendation: " + text) }
    }

    /// Blocks live at the end of the analysed part.
    private func liveBlocks(_ report: Report) -> UInt64 {
        report.sites.reduce(0) { sum, site in
            sum
                &+ (site.totals.allocations > site.totals.deallocations
                    ? site.totals.allocations - site.totals.deallocations : 0)
        }
    }

    // MARK: Pieces

    /// "1 block", "2 blocks".
    private func blocks(_ count: UInt64) -> String { "\(HumanUnits.count(count)) \(plural(count, "block"))" }

    /// The callers of the site frame (`frames[0]`) up to ``stackDepth``, without the C
    /// library's start-up frames, then how many were left out.
    private func callers(_ frames: [SymbolizedFrame], stackCount: Int) -> [String] {
        let shown = SiteLocator.trimmingStartupFrames(frames)
        var details = shown.dropFirst().prefix(stackDepth).map { frame in
            "from " + SymbolAbbreviation.abbreviate(SiteLocator.describe(frame)) + (frame.isInlined ? " [inlined]" : "")
        }
        let hidden = max(shown.count - 1 - stackDepth, 0)
        if hidden > 0 { details.append("... \(hidden) more \(plural(hidden, "frame"))") }
        if stackCount > 1 { details.append("(heaviest of \(stackCount) stacks reaching this location)") }
        return details
    }

    private func showing(_ shown: Int, of available: Int) -> String {
        switch available {
        case 0: "(no sites)"
        case 1: "(1 site)"
        case shown: "(\(HumanUnits.count(available)) sites)"
        default: "(top \(shown) of \(HumanUnits.count(available)) sites)"
        }
    }

    static func kindLabel(_ kind: LeakKind) -> String {
        switch kind {
        case .unfreed: "unfreed"
        case .definite: "definitely lost"
        case .indirect: "indirectly lost"
        case .possible: "possibly lost"
        case .reachable: "still reachable"
        }
    }

    private func plural<N: BinaryInteger>(_ count: N, _ noun: String) -> String {
        count == 1 ? noun : noun + "s"
    }

    private func bold(_ text: String) -> String { color ? "\u{1B}[1m\(text)\u{1B}[0m" : text }
    private func dim(_ text: String) -> String { color ? "\u{1B}[2m\(text)\u{1B}[0m" : text }
    private func warning(_ text: String) -> String { color ? "\u{1B}[1;33m\(text)\u{1B}[0m" : text }

    private static func shellQuoted(_ argument: String) -> String {
        let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%")
        if !argument.isEmpty, argument.allSatisfy({ safe.contains($0) }) { return argument }
        var quoted = "'"
        for character in argument {
            if character == "'" { quoted += "'\\''" } else { quoted.append(character) }
        }
        return quoted + "'"
    }
}

extension String {
    /// Pads with spaces to `width` characters, on the left when `right` is true.
    fileprivate func padding(to width: Int, right: Bool = false) -> String {
        let padding = String(repeating: " ", count: max(width - count, 0))
        return right ? padding + self : self + padding
    }
}
