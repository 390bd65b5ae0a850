import FoundationEssentials
import MemprofAnalysis
import MemprofSymbolize
import MemprofTrace

/// Renders a ``Report`` as the one JSON object of the CLI contract
/// (`memprof report FILE --format json`), with the HTTP endpoints' snake_case names:
///
/// - `snapshot`: `total_allocated`, `total_deallocated`, `current_usage`, `peak_usage`,
///   `allocation_count`, `deallocation_count`, plus `unknown_deallocations`, `peak_rss`,
///   `peak_time_seconds`, `duration_seconds`, `temporary_allocations`, `leaked_bytes`,
///   `leaked_blocks` (the leaks, as in `leaks`), `thread_count`;
/// - `allocations`: `total_allocations`, `average_allocation_size`,
///   `median_allocation_size`, `allocation_rate_per_second`, `temporary_allocations`,
///   `min_allocation_size`, `max_allocation_size`, `site_count` and `top_allocators`
///   (by `total_bytes`; each with `location`, `allocation_count`, `total_bytes`,
///   `average_size`, `percentage_of_total`, `peak_bytes`, `leaked_bytes`, plus
///   `deallocation_count`, `leaked_blocks`, `temporary_allocations`, `stack_count`,
///   `stack`: the site's stack with the most allocated bytes);
/// - `leaks`: the blocks not freed at exit. *Leaks* are the blocks of the counted kinds
///   (``Report/leakPolicy``; by default every kind but `reachable`, and `unfreed` — a
///   trace without a reachability scan — always) that no suppression matched. Members:
///   `leak_count` (leak sites), `total_leaked_bytes`, `leaked_blocks` (the leaks);
///   `counted_kinds` (the kinds that count, in the order unfreed, definite, indirect,
///   possible, reachable); `by_kind` (for each of the five kinds, `bytes` and `blocks`
///   of every block not freed at exit, suppressed ones too: valgrind's leak summary);
///   `suppressed` (per suppression pattern, in the order given: `pattern`, `count`
///   (blocks) and `size` (bytes) of the leaks it matched, zero when none; empty without
///   suppressions); `recorded` (false when the trace ends before the process's exit, so
///   nothing could be reported); and `leaks`, every group that no suppression matched,
///   of every kind — the counted ones first, then the others (such as still reachable
///   blocks), each part by size — each with `location`, `size` (bytes), `count`
///   (blocks), `kind` (`unfreed`, `definite`, `indirect`, `possible` or `reachable`),
///   `counted` (whether it is a leak), `age_seconds`, `stack_count`, `stack`.
///   Suppressed leaks are not in `leaks`. `age_seconds` is always null: this trace
///   format does not record when a leaked block was allocated;
/// - `trend`: `data_points` (`time_seconds`, `heap_bytes`, `rss_bytes`) and
///   `trend_analysis` (`average_usage`, `peak_usage` and `min_usage` over the sampled
///   heap, `growth_rate` in bytes per second by least squares, `volatility` = standard
///   deviation of the sampled heap, `sample_count`). With a ``Report/trend`` attached
///   (as `memprof report` does) the figures cover its window, one data point per
///   interval with ticks (`time_seconds` = the interval's end, `heap_bytes` = its mean,
///   plus `min_heap_bytes`, `peak_heap_bytes`, `sample_count`; `rss_bytes` = its
///   highest), and `trend` adds `window` (`start_seconds`, `end_seconds`,
///   `duration_seconds`, `interval_seconds`, `interval_count`, `site_interval_seconds`),
///   `allocation_count` and `allocation_rate_per_second` in the window,
///   `age_threshold_seconds`, `leak_suspects` (locations) and `site_growth` (at most
///   ``top`` sites, suspects first: `location`, `live_bytes` at each site interval's
///   boundary, `live_bytes_start`, `live_bytes_end`, `growth_rate`,
///   `recent_growth_rate` (last quarter), `rising_at_end`, `shape` (`growing`,
///   `plateaued`, `steady`, `shrinking`, `undetermined`), `live_blocks`, `old_blocks`, `old_bytes`,
///   `leak_suspect`, `stack_count`). Sample mode adds `"estimated": true`: the heap, the
///   window's counts and the sites' bytes and blocks are scaled from the samples;
/// - `health`, only when thresholds were given: `status` (`healthy`, `warning`,
///   `critical`), `checks` (`name`, `limit`, `value`, `status`), `warnings`,
///   `recommendations`, `thresholds` (`memory_limit`, `warning_level` in bytes,
///   `allowed_leak_bytes`, `max_allocation_rate`; null when unset);
/// - `module_problems`: the modules whose frames have no names, in the order they were
///   needed: `module` (the recorded path, null for a mapping with no file), `problem`
///   (`build_id_mismatch`: rebuilt or replaced since the recording; `cannot_open`;
///   `not_elf`; `no_file`), `reason` (one line), `recorded_build_id` (hex, null when none
///   was recorded) and `debug_files_searched` (the separate debug files looked for by
///   that build-id); empty when every module gave names;
/// - `process`: `command`, `executable`, `arguments`, `pid`, `parent_pid`, `mode`,
///   `memprof_version`, `start_unix_seconds`, `allocator_symbols` (the allocator
///   functions the executable defines itself, such as `malloc` or `mi_malloc`, whose
///   allocations the preload cannot see: an empty list when none, null when the
///   executable could not be read); null when the trace has no process record;
/// - `trace`: `path`, `duration_seconds`, `at_seconds` (only for the state at a
///   moment, ``Report/moment``), `complete` (an END record was read),
///   `ended_by` (`"exit"`, `"_exit"`, `"exec"`, `"signal"`, `"stopped_early"`,
///   `"unknown"`, or null without an END record), `end_signal` (the signal's name, such
///   as `"SIGSEGV"`, when a signal ended the process; else null), `live` (the recorded process was still running and writing the
///   trace when it was read: the trace is `truncated` because the recording goes on,
///   not because it was cut short), `truncated`, `truncation_offset`,
///   `truncation_reason`.
///
/// Sampled recordings (`--mode sample`): `snapshot` adds `sampled_allocations` and
/// `sampling_interval_bytes`; its counts and `total_allocated` are exact, the other
/// byte figures estimates, never outside what the exact totals allow (a peak above the
/// bytes allocated is impossible), and `snapshot.estimates` gives each of them
/// (`current_usage`, `peak_usage`, `total_deallocated`, `temporary_allocations`,
/// `leaked_bytes`, `leaked_blocks`) as `value` (the figure shown), `standard_error`
/// (from the samples' variance, `(w² − w)·s²` per sampled block), `samples` (how many
/// sampled blocks it rests on), `lower_bound` and `upper_bound` (certain; null when no
/// exact total bounds it), `known` (false when no sample went into it: then the value
/// is not zero but unknown) and `bounded` (the samples alone overshot a bound).
/// `allocations`, every `top_allocators` entry and `leaks` add `"estimated": true`:
/// their per-site counts and bytes are unbiased estimates scaled from the samples (each
/// sampled block of `s` bytes stands for `1/(1 − exp(−s/R))` blocks like it), and a
/// `top_allocators` entry adds `samples`, the sampled allocations they rest on;
/// `allocations.average_allocation_size` is exact and `sizes_from_samples: true` says
/// the median, min and max describe the samples. `leaks` adds `sampled_blocks` (LEAK
/// records: sampled blocks not freed), `unfreed_blocks` (allocations − frees, sampled
/// or not; null when the counts cannot tell) and `unsampled_bytes_upper_bound` (how
/// many bytes blocks not freed could hold without a sample falling in them: about
/// `R·ln 20`, at most what the totals leave; 0 when every such block was sampled).
///
/// Aggregate recordings (`--mode aggregate`): `snapshot` adds `aggregate`
/// (`snapshots` read, `on_demand_snapshots` = `signal_snapshots` + `api_snapshots`,
/// `snapshot_interval_seconds`, `last_snapshot_seconds` — the moment the counts
/// describe — and `memprof_bytes` {`first`, `last`, `max`}, the preload's own memory);
/// `allocations` has null `median_allocation_size`, `min_allocation_size` and
/// `max_allocation_size` (sizes are not recorded; the average is exact); a
/// `top_allocators` entry's `peak_bytes` is the site's own highest at a snapshot, not
/// its share of the heap peak; `trend` adds `"ages_estimated": true` (`old_blocks` and
/// `old_bytes` are estimated at snapshot resolution, docs/trends.md).
///
/// A `stack` is an array of frames, innermost first, starting at the frame `location`
/// names: `{function, file, line, module, address, inlined}`, with null for what debug
/// info does not say and `address` as a `0x…` string. Keys are sorted, so output is
/// deterministic. `top_allocators` and `leaks` hold at most ``top`` entries; the counts
/// beside them cover everything.
///
/// The text is byte for byte what `JSONEncoder` writes with `.sortedKeys`,
/// `.withoutEscapingSlashes` and `.prettyPrinted` (a golden test holds it), written
/// directly by a `JSONWriter`: the encoder's boxed tree, dynamic casts and key sorting
/// cost more than the rest of a small report.
public struct JSONReportRenderer: Sendable {
    /// Most entries in `top_allocators` and in `leaks.leaks`.
    public var top: Int
    /// Indent the output for people (true) or print it on one line.
    public var prettyPrinted: Bool

    /// Creates a renderer.
    public init(top: Int = 10, prettyPrinted: Bool = true) {
        self.top = top
        self.prettyPrinted = prettyPrinted
    }

    /// The report as UTF-8 JSON.
    public func data(_ report: Report) throws -> Data {
        Data(try utf8(report))
    }

    /// The report as a JSON string.
    public func render(_ report: Report) throws -> String {
        String(decoding: try utf8(report), as: UTF8.self)
    }

    /// The report as UTF-8 bytes: the text `JSONEncoder` would give with
    /// `[.sortedKeys, .withoutEscapingSlashes]` (and `.prettyPrinted`), written directly.
    ///
    /// - Throws: `JSONWriter.NonFiniteNumberError` if a figure is NaN or infinite, which
    ///   the analysis never produces (rates and averages are made finite first).
    func utf8(_ report: Report) throws -> [UInt8] {
        var json = JSONWriter(pretty: prettyPrinted)
        let analysis = report.analysis
        json.beginObject()
        json.key("allocations")
        try writeAllocations(report, to: &json)
        if let health = report.health {
            json.key("health")
            try writeHealth(health, to: &json)
        }
        json.key("leaks")
        writeLeaks(report, to: &json)
        json.key("module_problems")
        writeModuleProblems(report.moduleProblems, to: &json)
        json.key("process")
        if let process = analysis.process {
            try writeProcess(process, allocator: report.ownAllocator, to: &json)
        } else {
            json.null()
        }
        json.key("snapshot")
        try writeSnapshot(report, to: &json)
        json.key("trace")
        try writeTrace(report, to: &json)
        json.key("trend")
        if let trend = report.trend {
            try writeTrend(trend, report, to: &json)
        } else {
            try writeTrend(analysis, to: &json)
        }
        json.endObject()
        return json.bytes
    }

    // MARK: - Members, each with its keys in sorted order

    private func writeSnapshot(_ report: Report, to json: inout JSONWriter) throws {
        let analysis = report.analysis
        json.beginObject()
        if let aggregation = analysis.aggregation {
            // Aggregate mode: the figures come from the snapshots of per-stack counters.
            json.key("aggregate")
            json.beginObject()
            json.key("api_snapshots")
            json.value(aggregation.apiSnapshots)
            json.key("last_snapshot_seconds")
            try json.value(seconds(aggregation.lastSnapshotNanoseconds))
            json.key("memprof_bytes")
            json.object([
                ("first", aggregation.memprofBytesFirst), ("last", aggregation.memprofBytesLast),
                ("max", aggregation.memprofBytesMaximum),
            ])
            json.key("on_demand_snapshots")
            json.value(aggregation.onDemandSnapshots)
            json.key("signal_snapshots")
            json.value(aggregation.signalSnapshots)
            json.key("snapshot_interval_seconds")
            try json.value(seconds(aggregation.intervalNanoseconds))
            json.key("snapshots")
            json.value(aggregation.snapshots)
            json.endObject()
        }
        json.key("allocation_count")
        json.value(analysis.allocationCount)
        json.key("current_usage")
        json.value(analysis.currentBytes)
        json.key("deallocation_count")
        json.value(analysis.deallocationCount)
        json.key("duration_seconds")
        try json.value(seconds(analysis.durationNanoseconds))
        if let sampling = analysis.sampling {
            // Sample mode: each estimated figure of this member, with its error and bounds.
            json.key("estimates")
            json.beginObject()
            let estimates: [(StaticString, SampleEstimate)] = [
                ("current_usage", sampling.inUse), ("leaked_blocks", sampling.leakedBlocks),
                ("leaked_bytes", sampling.leakedBytes), ("peak_usage", sampling.peak),
                ("temporary_allocations", sampling.temporaries), ("total_deallocated", sampling.freed),
            ]
            for (key, estimate) in estimates {
                json.key(key)
                try writeEstimate(estimate, to: &json)
            }
            json.endObject()
        }
        if let jemalloc = analysis.jemalloc {
            // `memprof run --jemalloc`: jemalloc's own figures, last reading and peaks.
            json.key("jemalloc")
            let latest = jemalloc.latest
            json.object([
                ("active", latest.active), ("allocated", latest.allocated), ("mapped", latest.mapped),
                ("metadata", latest.metadata), ("peak_allocated", jemalloc.peakAllocated),
                ("peak_resident", jemalloc.peakResident), ("resident", latest.resident),
                ("retained", latest.retained), ("samples", UInt64(jemalloc.samples)),
            ])
        }
        json.key("leaked_blocks")
        json.value(leaked(report).blocks)
        json.key("leaked_bytes")
        json.value(leaked(report).bytes)
        json.key("peak_rss")
        json.value(analysis.peakRSSBytes)
        json.key("peak_time_seconds")
        try json.value(analysis.peakNanoseconds.map(seconds))
        json.key("peak_usage")
        json.value(analysis.peakHeapBytes)
        if let sampling = analysis.sampling {
            // Sample mode: the counts above are exact; sites and sizes describe the samples.
            json.key("sampled_allocations")
            json.value(sampling.sampledAllocations)
            json.key("sampling_interval_bytes")
            json.value(sampling.intervalBytes)
        }
        json.key("temporary_allocations")
        json.value(analysis.temporaryAllocationCount)
        json.key("thread_count")
        json.value(analysis.threadCount)
        json.key("total_allocated")
        json.value(analysis.totalAllocatedBytes)
        json.key("total_deallocated")
        json.value(analysis.totalDeallocatedBytes)
        json.key("unknown_deallocations")
        json.value(analysis.unknownDeallocationCount)
        json.endObject()
    }

    private func writeAllocations(_ report: Report, to json: inout JSONWriter) throws {
        let analysis = report.analysis
        json.beginObject()
        json.key("allocation_rate_per_second")
        try json.value(finite(analysis.allocationRatePerSecond))
        // Aggregate mode records no sizes: the mean is exact, the rest unknown (null).
        let sizesRecorded = analysis.aggregation == nil
        json.key("average_allocation_size")
        // Sample mode: the samples favour large blocks; the exact totals give the mean.
        if sizesRecorded && analysis.sampling == nil {
            try json.value(finite(analysis.sizes.mean))
        } else {
            try json.value(
                analysis.allocationCount == 0
                    ? 0 : Double(analysis.totalAllocatedBytes) / Double(analysis.allocationCount))
        }
        if analysis.sampling != nil {
            // Sample mode: the per-site figures below are estimates scaled from the samples.
            json.key("estimated")
            json.value(true)
        }
        json.key("max_allocation_size")
        json.value(sizesRecorded ? analysis.sizes.maximum : nil)
        json.key("median_allocation_size")
        try json.value(sizesRecorded ? finite(analysis.sizes.median) : nil)
        json.key("min_allocation_size")
        json.value(sizesRecorded ? analysis.sizes.minimum : nil)
        json.key("site_count")
        json.value(report.siteCount(by: .allocations))
        if analysis.sampling != nil {
            // Median, min and max describe the sampled blocks, which favour large ones.
            json.key("sizes_from_samples")
            json.value(true)
        }
        json.key("temporary_allocations")
        json.value(analysis.temporaryAllocationCount)
        json.key("top_allocators")
        json.beginArray()
        for site in report.topSites(by: .allocatedBytes, limit: top) {
            json.element()
            try writeAllocator(
                site, totalBytes: analysis.totalAllocatedBytes, estimated: analysis.sampling != nil, to: &json)
        }
        json.endArray()
        json.key("total_allocations")
        json.value(analysis.allocationCount)
        json.endObject()
    }

    private func writeAllocator(_ site: Report.Site, totalBytes: UInt64, estimated: Bool, to json: inout JSONWriter)
        throws
    {
        let totals = site.totals
        json.beginObject()
        json.key("allocation_count")
        json.value(totals.allocations)
        json.key("average_size")
        try json.value(finite(totals.averageAllocationSize))
        json.key("deallocation_count")
        json.value(totals.deallocations)
        if estimated {
            json.key("estimated")
            json.value(true)
        }
        json.key("leaked_blocks")
        json.value(totals.leakedBlocks)
        json.key("leaked_bytes")
        json.value(totals.leakedBytes)
        json.key("location")
        json.value(site.location)
        json.key("peak_bytes")
        json.value(totals.peakBytes)
        json.key("percentage_of_total")
        try json.value(totalBytes == 0 ? 0 : finite(Double(totals.allocatedBytes) / Double(totalBytes) * 100))
        if estimated {
            // The sampled allocations the estimates rest on.
            json.key("samples")
            json.value(totals.samples)
        }
        json.key("stack")
        writeStack(site.frames(by: .allocatedBytes), to: &json)
        json.key("stack_count")
        json.value(site.stackCount)
        json.key("temporary_allocations")
        json.value(totals.temporaryAllocations)
        json.key("total_bytes")
        json.value(totals.allocatedBytes)
        json.endObject()
    }

    private func writeLeaks(_ report: Report, to json: inout JSONWriter) {
        let summary = report.leakSummary
        json.beginObject()
        json.key("by_kind")
        json.beginObject()
        // Keys in sorted order, which is also the kinds' order but for unfreed.
        for kind in LeakKind.allCases.sorted(by: { $0.description < $1.description }) {
            json.key(Self.kindKey(kind))
            let totals = summary.totals(of: kind)
            json.beginObject()
            json.key("blocks")
            json.value(totals.blocks)
            json.key("bytes")
            json.value(totals.bytes)
            json.endObject()
        }
        json.endObject()
        json.key("counted_kinds")
        json.beginArray()
        for kind in report.leakPolicy.orderedCountedKinds {
            json.element()
            json.value(kind.description)
        }
        json.endArray()
        if report.analysis.sampling != nil {
            // Sample mode: blocks and bytes are estimates scaled from the sampled blocks.
            json.key("estimated")
            json.value(true)
        }
        json.key("leak_count")
        json.value(summary.leakSiteCount)
        json.key("leaked_blocks")
        json.value(leaked(report).blocks)
        json.key("leaks")
        json.beginArray()
        for leak in report.leaks.prefix(max(top, 0)) {
            json.element()
            json.beginObject()
            // The format does not record when a leaked block was allocated.
            json.key("age_seconds")
            json.null()
            json.key("count")
            json.value(leak.blocks)
            json.key("counted")
            json.value(leak.isCounted)
            json.key("kind")
            json.value(leak.kind.description)
            json.key("location")
            json.value(leak.location)
            json.key("size")
            json.value(leak.bytes)
            json.key("stack")
            writeStack(leak.frames, to: &json)
            json.key("stack_count")
            json.value(leak.stackCount)
            json.endObject()
        }
        json.endArray()
        json.key("recorded")
        json.value(report.analysis.leaksRecorded)
        if let sampling = report.analysis.sampling {
            // Sample mode: LEAK records list sampled blocks only.
            json.key("sampled_blocks")
            json.value(sampling.leakedBlocks.samples)
        }
        json.key("suppressed")
        json.beginArray()
        for use in summary.suppressed {
            json.element()
            json.beginObject()
            json.key("count")
            json.value(use.totals.blocks)
            json.key("pattern")
            json.value(use.suppression.pattern)
            json.key("size")
            json.value(use.totals.bytes)
            json.endObject()
        }
        json.endArray()
        json.key("total_leaked_bytes")
        json.value(leaked(report).bytes)
        if let sampling = report.analysis.sampling {
            json.key("unfreed_blocks")
            json.value(sampling.unfreedBlocks)
            json.key("unsampled_bytes_upper_bound")
            json.value(sampling.unsampledLeakBytesBound)
        }
        json.endObject()
    }

    /// The leaks' totals; in sample mode never more than the exact counts allow.
    private func leaked(_ report: Report) -> LeakTotals {
        var totals = report.leakSummary.leaked
        if let sampling = report.analysis.sampling {
            totals.bytes = min(totals.bytes, sampling.leakedBytes.upperBound ?? .max)
            totals.blocks = min(totals.blocks, sampling.leakedBlocks.upperBound ?? .max)
        }
        return totals
    }

    /// One of sample mode's `estimates`.
    private func writeEstimate(_ estimate: SampleEstimate, to json: inout JSONWriter) throws {
        json.beginObject()
        json.key("bounded")
        json.value(estimate.wasBounded)
        json.key("known")
        json.value(estimate.isKnown)
        json.key("lower_bound")
        json.value(estimate.lowerBound)
        json.key("samples")
        json.value(estimate.samples)
        json.key("standard_error")
        try json.value(finite(estimate.standardError))
        json.key("upper_bound")
        json.value(estimate.upperBound)
        json.key("value")
        json.value(estimate.value)
        json.endObject()
    }

    /// `module_problems`: each module whose frames have no names, and why.
    private func writeModuleProblems(_ problems: [ModuleProblem], to json: inout JSONWriter) {
        json.beginArray()
        for problem in problems {
            json.element()
            json.beginObject()
            json.key("debug_files_searched")
            writeStrings(problem.debugFilesSearched, to: &json)
            json.key("module")
            json.value(problem.path.isEmpty ? nil : problem.path)
            let kind: String =
                switch problem.error {
                case .noFile: "no_file"
                case .cannotOpen: "cannot_open"
                case .notELF: "not_elf"
                case .buildIDMismatch: "build_id_mismatch"
                }
            json.key("problem")
            json.value(kind)
            json.key("reason")
            json.value(problem.error.description)
            json.key("recorded_build_id")
            json.value(problem.recordedBuildID.isEmpty ? nil : problem.recordedBuildID)
            json.endObject()
        }
        json.endArray()
    }

    /// A kind's key in `by_kind`: its JSON spelling, as a static string for the writer.
    private static func kindKey(_ kind: LeakKind) -> StaticString {
        switch kind {
        case .unfreed: "unfreed"
        case .definite: "definite"
        case .indirect: "indirect"
        case .possible: "possible"
        case .reachable: "reachable"
        }
    }

    private func writeStack(_ frames: [SymbolizedFrame], to json: inout JSONWriter) {
        json.beginArray()
        for frame in frames {
            json.element()
            json.beginObject()
            json.key("address")
            json.value(SiteLocator.hexAddress(frame.address))
            json.key("file")
            json.value(frame.location?.file)
            json.key("function")
            json.value(frame.function)
            json.key("inlined")
            json.value(frame.isInlined)
            json.key("line")
            json.value(frame.location?.line)
            json.key("module")
            json.value(frame.module)
            json.endObject()
        }
        json.endArray()
    }

    private func writeTrend(_ analysis: Analysis, to json: inout JSONWriter) throws {
        json.beginObject()
        json.key("data_points")
        json.beginArray()
        for tick in analysis.timeline {
            json.element()
            json.beginObject()
            json.key("heap_bytes")
            json.value(tick.heapBytes)
            json.key("rss_bytes")
            json.value(tick.rssBytes)
            json.key("time_seconds")
            try json.value(seconds(tick.nanoseconds))
            json.endObject()
        }
        json.endArray()
        if analysis.sampling != nil {
            json.key("estimated")
            json.value(true)
        }
        json.key("trend_analysis")
        try writeTrendAnalysis(analysis.trend, to: &json)
        json.endObject()
    }

    /// `trend_analysis`: the contract's figures, and how many samples they come from.
    private func writeTrendAnalysis(_ statistics: TrendStatistics, to json: inout JSONWriter) throws {
        json.beginObject()
        json.key("average_usage")
        try json.value(finite(statistics.averageBytes))
        json.key("growth_rate")
        try json.value(finite(statistics.growthBytesPerSecond))
        json.key("min_usage")
        json.value(statistics.minimumBytes)
        json.key("peak_usage")
        json.value(statistics.peakBytes)
        json.key("sample_count")
        json.value(statistics.sampleCount)
        json.key("volatility")
        try json.value(finite(statistics.volatilityBytes))
        json.endObject()
    }

    /// `trend` of a report with a ``TrendReport``: data points per interval, the
    /// window's trend analysis, and per-site growth.
    private func writeTrend(_ trend: TrendReport, _ report: Report, to json: inout JSONWriter) throws {
        json.beginObject()
        json.key("age_threshold_seconds")
        try json.value(seconds(trend.ageThreshold))
        if report.analysis.aggregation != nil {
            // Aggregate mode: old blocks and bytes are estimated from the snapshots.
            json.key("ages_estimated")
            json.value(true)
        }
        json.key("allocation_count")
        json.value(trend.allocations)
        json.key("allocation_rate_per_second")
        try json.value(finite(trend.allocationRatePerSecond))
        json.key("data_points")
        json.beginArray()
        for point in trend.dataPoints {
            json.element()
            json.beginObject()
            json.key("heap_bytes")
            json.value(UInt64(max(point.averageHeapBytes, 0).rounded()))
            json.key("min_heap_bytes")
            json.value(point.minimumHeapBytes)
            json.key("peak_heap_bytes")
            json.value(point.peakHeapBytes)
            json.key("rss_bytes")
            json.value(point.rssBytes)
            json.key("sample_count")
            json.value(point.sampleCount)
            json.key("time_seconds")
            try json.value(seconds(point.nanoseconds))
            json.endObject()
        }
        json.endArray()
        if report.analysis.sampling != nil {
            // Sample mode: the heap, the window's counts and the sites' bytes are estimates.
            json.key("estimated")
            json.value(true)
        }
        json.key("leak_suspects")
        writeStrings(report.leakSuspects.map(\.location), to: &json)
        json.key("site_growth")
        json.beginArray()
        for site in report.siteGrowth.prefix(max(top, 0)) {
            try writeSiteGrowth(site, to: &json)
        }
        json.endArray()
        json.key("trend_analysis")
        try writeTrendAnalysis(trend.statistics, to: &json)
        json.key("window")
        json.beginObject()
        json.key("duration_seconds")
        try json.value(seconds(trend.window.span))
        json.key("end_seconds")
        try json.value(seconds(trend.window.end))
        json.key("interval_count")
        json.value(trend.window.intervalCount)
        json.key("interval_seconds")
        try json.value(seconds(trend.window.interval))
        json.key("site_interval_seconds")
        try json.value(seconds(trend.siteWindow.interval))
        json.key("start_seconds")
        try json.value(seconds(trend.window.start))
        json.endObject()
        json.endObject()
    }

    private func writeSiteGrowth(_ site: Report.GrowingSite, to json: inout JSONWriter) throws {
        let growth = site.growth
        json.element()
        json.beginObject()
        json.key("growth_rate")
        try json.value(finite(growth.growthBytesPerSecond))
        json.key("leak_suspect")
        json.value(growth.isLeakSuspect)
        json.key("live_blocks")
        json.value(growth.liveBlocks)
        json.key("live_bytes")
        json.beginArray()
        for bytes in growth.liveBytes {
            json.element()
            json.value(bytes)
        }
        json.endArray()
        json.key("live_bytes_end")
        json.value(growth.liveBytes.last ?? 0)
        json.key("live_bytes_start")
        json.value(growth.liveBytes.first ?? 0)
        json.key("location")
        json.value(site.location)
        json.key("old_blocks")
        json.value(growth.oldBlocks)
        json.key("old_bytes")
        json.value(growth.oldBytes)
        json.key("recent_growth_rate")
        try json.value(finite(growth.recentGrowthBytesPerSecond))
        json.key("rising_at_end")
        json.value(growth.shape == .growing)
        json.key("shape")
        json.value(growth.shape.rawValue)
        json.key("stack_count")
        json.value(site.stackCount)
        json.endObject()
    }

    private func writeHealth(_ health: Health, to json: inout JSONWriter) throws {
        json.beginObject()
        json.key("checks")
        json.beginArray()
        for check in health.checks {
            json.element()
            json.beginObject()
            json.key("limit")
            try json.value(finite(check.limit))
            json.key("name")
            json.value(check.name)
            json.key("status")
            json.value(check.status.description)
            json.key("value")
            try json.value(finite(check.value))
            json.endObject()
        }
        json.endArray()
        json.key("recommendations")
        writeStrings(health.recommendations, to: &json)
        json.key("status")
        json.value(health.status.description)
        json.key("thresholds")
        json.beginObject()
        json.key("allowed_leak_bytes")
        json.value(health.thresholds.allowedLeakBytes)
        json.key("max_allocation_rate")
        try json.value(health.thresholds.maxAllocationRate)
        json.key("memory_limit")
        json.value(health.thresholds.memoryLimitBytes)
        json.key("warning_level")
        json.value(health.thresholds.warningBytes)
        json.endObject()
        json.key("warnings")
        writeStrings(health.warnings, to: &json)
        json.endObject()
    }

    private func writeStrings(_ strings: [String], to json: inout JSONWriter) {
        json.beginArray()
        for string in strings {
            json.element()
            json.value(string)
        }
        json.endArray()
    }

    private func writeProcess(_ record: ProcessRecord, allocator: AllocatorSymbols?, to json: inout JSONWriter)
        throws
    {
        json.beginObject()
        json.key("allocator_symbols")
        if let allocator {
            json.beginArray()
            for name in allocator.names {
                json.element()
                json.value(name)
            }
            json.endArray()
        } else {
            json.null()
        }
        json.key("arguments")
        json.beginArray()
        for argument in record.arguments {
            json.element()
            json.value(argument)
        }
        json.endArray()
        json.key("command")
        json.value(TextReportRenderer.commandLine(record))
        json.key("executable")
        json.value(record.executablePath)
        json.key("memprof_version")
        json.value(record.memprofVersion)
        json.key("mode")
        json.value(record.mode.description)
        json.key("parent_pid")
        json.value(record.parentPID)
        json.key("pid")
        json.value(record.pid)
        json.key("start_unix_seconds")
        try json.value(seconds(record.startUnixNanoseconds))
        json.endObject()
    }

    private func writeTrace(_ report: Report, to json: inout JSONWriter) throws {
        let analysis = report.analysis
        json.beginObject()
        if let moment = report.moment {
            // A report of the state at one moment: `duration_seconds` is the whole recording's.
            json.key("at_seconds")
            try json.value(seconds(moment.nanoseconds))
        }
        json.key("complete")
        json.value(analysis.end != nil)
        json.key("duration_seconds")
        try json.value(seconds(report.moment?.recordingNanoseconds ?? analysis.durationNanoseconds))
        json.key("end_signal")
        json.value(analysis.end?.signal.map(TextReportRenderer.signalName))
        json.key("ended_by")
        json.value(
            analysis.end.map { end in
                if end.flags.contains(.stoppedEarly) { return "stopped_early" }
                if end.signal != nil { return "signal" }
                if end.flags.contains(.viaUnderscoreExit) { return "_exit" }
                if end.flags.contains(.viaExec) { return "exec" }
                if end.flags.contains(.viaExit) { return "exit" }
                return "unknown"
            })
        json.key("live")
        json.value(analysis.isLive)
        json.key("path")
        json.value(report.tracePath)
        json.key("truncated")
        json.value(analysis.isTruncated)
        json.key("truncation_offset")
        json.value(analysis.truncation?.offset)
        json.key("truncation_reason")
        json.value(analysis.truncation?.reason)
        json.endObject()
    }
}

// MARK: - Numbers

/// Seconds from nanoseconds, to the microsecond.
private func seconds(_ nanoseconds: UInt64) -> Double {
    (Double(nanoseconds) / 1e3).rounded() / 1e6
}

/// A finite number rounded to `places` decimals (JSON has no NaN or infinity).
private func finite(_ value: Double, places: Int = 3) -> Double {
    guard value.isFinite else { return 0 }
    var scale = 1.0
    for _ in 0..<places { scale *= 10 }
    return (value * scale).rounded() / scale
}
