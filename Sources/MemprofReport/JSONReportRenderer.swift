import Foundation
import MemprofAnalysis
import MemprofSymbolize
import MemprofTrace

/// Renders a ``Report`` as the one JSON object of the CLI contract
/// (`memprof report FILE --format json`), with the HTTP endpoints' snake_case names:
///
/// - `snapshot`: `total_allocated`, `total_deallocated`, `current_usage`, `peak_usage`,
///   `allocation_count`, `deallocation_count`, plus `unknown_deallocations`, `peak_rss`,
///   `peak_time_seconds`, `duration_seconds`, `temporary_allocations`, `leaked_bytes`,
///   `leaked_blocks`, `thread_count`;
/// - `allocations`: `total_allocations`, `average_allocation_size`,
///   `median_allocation_size`, `allocation_rate_per_second`, `temporary_allocations`,
///   `min_allocation_size`, `max_allocation_size`, `site_count` and `top_allocators`
///   (by `total_bytes`; each with `location`, `allocation_count`, `total_bytes`,
///   `average_size`, `percentage_of_total`, `peak_bytes`, `leaked_bytes`, plus
///   `deallocation_count`, `leaked_blocks`, `temporary_allocations`, `stack_count`,
///   `stack`: the site's stack with the most allocated bytes);
/// - `leaks`: `leak_count` (leak sites), `total_leaked_bytes`, `leaked_blocks`,
///   `recorded` (false when the trace ends before the process's exit, so nothing could
///   be reported) and `leaks` (each `location`, `size` (bytes), `count` (blocks),
///   `kind`, `age_seconds`, `stack_count`, `stack`). `age_seconds` is always null:
///   this trace format does not record when a leaked block was allocated;
/// - `trend`: `data_points` (`time_seconds`, `heap_bytes`, `rss_bytes`) and
///   `trend_analysis` (`average_usage`, `peak_usage` and `min_usage` over the sampled
///   heap, `growth_rate` in bytes per second by least squares, `volatility` = standard
///   deviation of the sampled heap, `sample_count`);
/// - `process`: `command`, `executable`, `arguments`, `pid`, `parent_pid`, `mode`,
///   `memprof_version`, `start_unix_seconds`; null when the trace has no process record;
/// - `trace`: `path`, `duration_seconds`, `complete` (an END record was read),
///   `ended_by` (`"exit"`, `"_exit"`, `"stopped_early"`, `"unknown"`, or null without
///   an END record), `truncated`,
///   `truncation_offset`, `truncation_reason`.
///
/// A `stack` is an array of frames, innermost first, starting at the frame `location`
/// names: `{function, file, line, module, address, inlined}`, with null for what debug
/// info does not say and `address` as a `0x…` string. Keys are sorted, so output is
/// deterministic. `top_allocators` and `leaks` hold at most ``top`` entries; the counts
/// beside them cover everything.
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
        let encoder = JSONEncoder()
        encoder.outputFormatting =
            prettyPrinted
            ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(JSONReport(report, top: top))
    }

    /// The report as a JSON string.
    public func render(_ report: Report) throws -> String {
        String(decoding: try data(report), as: UTF8.self)
    }
}

// MARK: - The document

/// Seconds from nanoseconds, to the microsecond.
private func seconds(_ nanoseconds: UInt64) -> Double {
    (Double(nanoseconds) / 1e3).rounded() / 1e6
}

/// A finite number rounded to `places` decimals (JSON has no NaN or infinity).
private func finite(_ value: Double, places: Int = 3) -> Double {
    guard value.isFinite else { return 0 }
    let scale = pow(10, Double(places))
    return (value * scale).rounded() / scale
}

private struct JSONReport: Encodable {
    var snapshot: Snapshot
    var allocations: Allocations
    var leaks: Leaks
    var trend: Trend
    var process: Process?
    var trace: Trace

    init(_ report: Report, top: Int) {
        let analysis = report.analysis
        snapshot = Snapshot(analysis)
        allocations = Allocations(report, top: top)
        leaks = Leaks(report, top: top)
        trend = Trend(analysis)
        process = analysis.process.map(Process.init)
        trace = Trace(report)
    }

    enum CodingKeys: String, CodingKey {
        case snapshot, allocations, leaks, trend, process, trace
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(snapshot, forKey: .snapshot)
        try container.encode(allocations, forKey: .allocations)
        try container.encode(leaks, forKey: .leaks)
        try container.encode(trend, forKey: .trend)
        try container.encode(process, forKey: .process)  // null when unknown
        try container.encode(trace, forKey: .trace)
    }
}

private struct Snapshot: Encodable {
    var totalAllocated: UInt64
    var totalDeallocated: UInt64
    var currentUsage: UInt64
    var peakUsage: UInt64
    var allocationCount: UInt64
    var deallocationCount: UInt64
    var unknownDeallocations: UInt64
    var peakRSS: UInt64
    var peakTimeSeconds: Double?
    var durationSeconds: Double
    var temporaryAllocations: UInt64
    var leakedBytes: UInt64
    var leakedBlocks: UInt64
    var threadCount: Int

    init(_ analysis: Analysis) {
        totalAllocated = analysis.totalAllocatedBytes
        totalDeallocated = analysis.totalDeallocatedBytes
        currentUsage = analysis.currentBytes
        peakUsage = analysis.peakHeapBytes
        allocationCount = analysis.allocationCount
        deallocationCount = analysis.deallocationCount
        unknownDeallocations = analysis.unknownDeallocationCount
        peakRSS = analysis.peakRSSBytes
        peakTimeSeconds = analysis.peakNanoseconds.map(seconds)
        durationSeconds = seconds(analysis.durationNanoseconds)
        temporaryAllocations = analysis.temporaryAllocationCount
        leakedBytes = analysis.leakedBytes
        leakedBlocks = analysis.leakedBlocks
        threadCount = analysis.threadCount
    }

    enum CodingKeys: String, CodingKey {
        case totalAllocated = "total_allocated"
        case totalDeallocated = "total_deallocated"
        case currentUsage = "current_usage"
        case peakUsage = "peak_usage"
        case allocationCount = "allocation_count"
        case deallocationCount = "deallocation_count"
        case unknownDeallocations = "unknown_deallocations"
        case peakRSS = "peak_rss"
        case peakTimeSeconds = "peak_time_seconds"
        case durationSeconds = "duration_seconds"
        case temporaryAllocations = "temporary_allocations"
        case leakedBytes = "leaked_bytes"
        case leakedBlocks = "leaked_blocks"
        case threadCount = "thread_count"
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(totalAllocated, forKey: .totalAllocated)
        try container.encode(totalDeallocated, forKey: .totalDeallocated)
        try container.encode(currentUsage, forKey: .currentUsage)
        try container.encode(peakUsage, forKey: .peakUsage)
        try container.encode(allocationCount, forKey: .allocationCount)
        try container.encode(deallocationCount, forKey: .deallocationCount)
        try container.encode(unknownDeallocations, forKey: .unknownDeallocations)
        try container.encode(peakRSS, forKey: .peakRSS)
        try container.encode(peakTimeSeconds, forKey: .peakTimeSeconds)
        try container.encode(durationSeconds, forKey: .durationSeconds)
        try container.encode(temporaryAllocations, forKey: .temporaryAllocations)
        try container.encode(leakedBytes, forKey: .leakedBytes)
        try container.encode(leakedBlocks, forKey: .leakedBlocks)
        try container.encode(threadCount, forKey: .threadCount)
    }
}

private struct Allocations: Encodable {
    var totalAllocations: UInt64
    var averageAllocationSize: Double
    var medianAllocationSize: Double
    var allocationRatePerSecond: Double
    var temporaryAllocations: UInt64
    var minAllocationSize: UInt64
    var maxAllocationSize: UInt64
    var siteCount: Int
    var topAllocators: [Allocator]

    init(_ report: Report, top: Int) {
        let analysis = report.analysis
        totalAllocations = analysis.allocationCount
        averageAllocationSize = finite(analysis.sizes.mean)
        medianAllocationSize = finite(analysis.sizes.median)
        allocationRatePerSecond = finite(analysis.allocationRatePerSecond)
        temporaryAllocations = analysis.temporaryAllocationCount
        minAllocationSize = analysis.sizes.minimum
        maxAllocationSize = analysis.sizes.maximum
        siteCount = report.siteCount(by: .allocations)
        topAllocators = report.topSites(by: .allocatedBytes, limit: top).map {
            Allocator($0, totalBytes: analysis.totalAllocatedBytes)
        }
    }

    enum CodingKeys: String, CodingKey {
        case totalAllocations = "total_allocations"
        case averageAllocationSize = "average_allocation_size"
        case medianAllocationSize = "median_allocation_size"
        case allocationRatePerSecond = "allocation_rate_per_second"
        case temporaryAllocations = "temporary_allocations"
        case minAllocationSize = "min_allocation_size"
        case maxAllocationSize = "max_allocation_size"
        case siteCount = "site_count"
        case topAllocators = "top_allocators"
    }
}

private struct Allocator: Encodable {
    var location: String
    var allocationCount: UInt64
    var deallocationCount: UInt64
    var totalBytes: UInt64
    var averageSize: Double
    var percentageOfTotal: Double
    var peakBytes: UInt64
    var leakedBytes: UInt64
    var leakedBlocks: UInt64
    var temporaryAllocations: UInt64
    var stackCount: Int
    var stack: [Frame]

    init(_ site: Report.Site, totalBytes total: UInt64) {
        location = site.location
        allocationCount = site.totals.allocations
        deallocationCount = site.totals.deallocations
        totalBytes = site.totals.allocatedBytes
        averageSize = finite(site.totals.averageAllocationSize)
        percentageOfTotal = total == 0 ? 0 : finite(Double(site.totals.allocatedBytes) / Double(total) * 100)
        peakBytes = site.totals.peakBytes
        leakedBytes = site.totals.leakedBytes
        leakedBlocks = site.totals.leakedBlocks
        temporaryAllocations = site.totals.temporaryAllocations
        stackCount = site.stackCount
        stack = site.frames(by: .allocatedBytes).map(Frame.init)
    }

    enum CodingKeys: String, CodingKey {
        case location
        case allocationCount = "allocation_count"
        case deallocationCount = "deallocation_count"
        case totalBytes = "total_bytes"
        case averageSize = "average_size"
        case percentageOfTotal = "percentage_of_total"
        case peakBytes = "peak_bytes"
        case leakedBytes = "leaked_bytes"
        case leakedBlocks = "leaked_blocks"
        case temporaryAllocations = "temporary_allocations"
        case stackCount = "stack_count"
        case stack
    }
}

private struct Leaks: Encodable {
    var leakCount: Int
    var totalLeakedBytes: UInt64
    var leakedBlocks: UInt64
    var recorded: Bool
    var leaks: [Leak]

    init(_ report: Report, top: Int) {
        leakCount = report.leaks.count
        totalLeakedBytes = report.analysis.leakedBytes
        leakedBlocks = report.analysis.leakedBlocks
        recorded = report.analysis.leaksRecorded
        leaks = report.leaks.prefix(max(top, 0)).map(Leak.init)
    }

    enum CodingKeys: String, CodingKey {
        case leakCount = "leak_count"
        case totalLeakedBytes = "total_leaked_bytes"
        case leakedBlocks = "leaked_blocks"
        case recorded
        case leaks
    }
}

private struct Leak: Encodable {
    var location: String
    var size: UInt64
    var count: UInt64
    var kind: String
    var stackCount: Int
    var stack: [Frame]

    init(_ leak: Report.Leak) {
        location = leak.location
        size = leak.bytes
        count = leak.blocks
        kind = leak.kind.description
        stackCount = leak.stackCount
        stack = leak.frames.map(Frame.init)
    }

    enum CodingKeys: String, CodingKey {
        case location, size, count, kind
        case ageSeconds = "age_seconds"
        case stackCount = "stack_count"
        case stack
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(location, forKey: .location)
        try container.encode(size, forKey: .size)
        try container.encode(count, forKey: .count)
        try container.encode(kind, forKey: .kind)
        // The format does not record when a leaked block was allocated.
        try container.encodeNil(forKey: .ageSeconds)
        try container.encode(stackCount, forKey: .stackCount)
        try container.encode(stack, forKey: .stack)
    }
}

private struct Frame: Encodable {
    var function: String?
    var file: String?
    var line: Int?
    var module: String?
    var address: String
    var inlined: Bool

    init(_ frame: SymbolizedFrame) {
        function = frame.function
        file = frame.location?.file
        line = frame.location?.line
        module = frame.module
        address = SiteLocator.hexAddress(frame.address)
        inlined = frame.isInlined
    }

    enum CodingKeys: String, CodingKey {
        case function, file, line, module, address, inlined
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(function, forKey: .function)
        try container.encode(file, forKey: .file)
        try container.encode(line, forKey: .line)
        try container.encode(module, forKey: .module)
        try container.encode(address, forKey: .address)
        try container.encode(inlined, forKey: .inlined)
    }
}

private struct Trend: Encodable {
    var dataPoints: [DataPoint]
    var trendAnalysis: TrendAnalysis

    init(_ analysis: Analysis) {
        dataPoints = analysis.timeline.map {
            DataPoint(timeSeconds: seconds($0.nanoseconds), heapBytes: $0.heapBytes, rssBytes: $0.rssBytes)
        }
        let trend = analysis.trend
        trendAnalysis = TrendAnalysis(
            averageUsage: finite(trend.averageBytes), peakUsage: trend.peakBytes, minUsage: trend.minimumBytes,
            growthRate: finite(trend.growthBytesPerSecond), volatility: finite(trend.volatilityBytes),
            sampleCount: trend.sampleCount)
    }

    enum CodingKeys: String, CodingKey {
        case dataPoints = "data_points"
        case trendAnalysis = "trend_analysis"
    }
}

private struct DataPoint: Encodable {
    var timeSeconds: Double
    var heapBytes: UInt64
    var rssBytes: UInt64

    enum CodingKeys: String, CodingKey {
        case timeSeconds = "time_seconds"
        case heapBytes = "heap_bytes"
        case rssBytes = "rss_bytes"
    }
}

private struct TrendAnalysis: Encodable {
    var averageUsage: Double
    var peakUsage: UInt64
    var minUsage: UInt64
    var growthRate: Double
    var volatility: Double
    var sampleCount: Int

    enum CodingKeys: String, CodingKey {
        case averageUsage = "average_usage"
        case peakUsage = "peak_usage"
        case minUsage = "min_usage"
        case growthRate = "growth_rate"
        case volatility
        case sampleCount = "sample_count"
    }
}

private struct Process: Encodable {
    var command: String
    var executable: String
    var arguments: [String]
    var pid: UInt64
    var parentPID: UInt64
    var mode: String
    var memprofVersion: String
    var startUnixSeconds: Double

    init(_ record: ProcessRecord) {
        command = TextReportRenderer.commandLine(record)
        executable = record.executablePath
        arguments = record.arguments
        pid = record.pid
        parentPID = record.parentPID
        mode = record.mode.description
        memprofVersion = record.memprofVersion
        startUnixSeconds = seconds(record.startUnixNanoseconds)
    }

    enum CodingKeys: String, CodingKey {
        case command, executable, arguments, pid
        case parentPID = "parent_pid"
        case mode
        case memprofVersion = "memprof_version"
        case startUnixSeconds = "start_unix_seconds"
    }
}

private struct Trace: Encodable {
    var path: String?
    var durationSeconds: Double
    var complete: Bool
    var endedBy: String?
    var truncated: Bool
    var truncationOffset: UInt64?
    var truncationReason: String?

    init(_ report: Report) {
        let analysis = report.analysis
        path = report.tracePath
        durationSeconds = seconds(analysis.durationNanoseconds)
        complete = analysis.end != nil
        endedBy = analysis.end.map { end in
            if end.flags.contains(.stoppedEarly) { return "stopped_early" }
            if end.flags.contains(.viaUnderscoreExit) { return "_exit" }
            if end.flags.contains(.viaExec) { return "exec" }
            if end.flags.contains(.viaExit) { return "exit" }
            return "unknown"
        }
        truncated = analysis.isTruncated
        truncationOffset = analysis.truncation?.offset
        truncationReason = analysis.truncation?.reason
    }

    enum CodingKeys: String, CodingKey {
        case path
        case durationSeconds = "duration_seconds"
        case complete
        case endedBy = "ended_by"
        case truncated
        case truncationOffset = "truncation_offset"
        case truncationReason = "truncation_reason"
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(path, forKey: .path)
        try container.encode(durationSeconds, forKey: .durationSeconds)
        try container.encode(complete, forKey: .complete)
        try container.encode(endedBy, forKey: .endedBy)
        try container.encode(truncated, forKey: .truncated)
        try container.encode(truncationOffset, forKey: .truncationOffset)
        try container.encode(truncationReason, forKey: .truncationReason)
    }
}
