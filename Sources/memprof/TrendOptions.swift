import ArgumentParser
import MemprofAnalysis
import MemprofReport
import MemprofTrace

/// The trend options of `memprof report`: which window of the recording, cut into which
/// intervals, and how old a live block must be to count as old.
struct TrendOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Analyse the trend over the last DURATION of the recording (or before --at): 30s, 5m, 1h. "
                + "Default: all of it.",
            valueName: "duration"))
    var duration: String?

    @Option(
        help: ArgumentHelp(
            "The trend's data points are this far apart (at most 10,000 in the window). Default: the window in 40 "
                + "intervals (for an aggregate trace, none shorter than its snapshot interval).",
            valueName: "duration"))
    var interval: String?

    @Option(
        help: ArgumentHelp(
            "A block live at the window's end counts as old when allocated at least this long before it. "
                + "Default: a quarter of the window.",
            valueName: "duration"))
    var ageThreshold: String?

    /// The options, read; an unreadable value is a one-line error naming the option.
    func request() throws -> TrendRequest {
        func parse(_ option: String, _ text: String?) throws -> UInt64? {
            guard let text else { return nil }
            do {
                let value = try Quantity.nanoseconds(text)
                guard value > 0 else {
                    throw CLIError.invalidOption(option: option, reason: "'\(text)' must be longer than zero")
                }
                return value
            } catch let error as Quantity.ParseError {
                throw CLIError.invalidOption(option: option, reason: error.description)
            }
        }
        return TrendRequest(
            duration: try parse("--duration", duration), interval: try parse("--interval", interval),
            intervalText: interval ?? "", ageThreshold: try parse("--age-threshold", ageThreshold))
    }
}

/// ``TrendOptions`` read.
struct TrendRequest {
    var duration: UInt64?
    var interval: UInt64?
    var intervalText: String
    var ageThreshold: UInt64?

    /// Reads `file` once more over the window ending at `end`. An aggregate trace's
    /// figures change only at its snapshots (`snapshotInterval` apart): without
    /// `--interval`, the intervals are no shorter, so that a series has no flat steps.
    func trend(of file: String, endingAt end: UInt64, snapshotInterval: UInt64? = nil) throws -> TrendReport {
        var window = TrendWindow(lastNanoseconds: duration, before: end, intervalNanoseconds: interval)
        if interval == nil, let snapshotInterval, window.interval < snapshotInterval {
            window = TrendWindow(lastNanoseconds: duration, before: end, intervalNanoseconds: snapshotInterval)
        }
        guard window.intervalCount <= TrendWindow.maximumIntervals else {
            throw CLIError.invalidOption(
                option: "--interval",
                reason: "'\(intervalText)' cuts the \(Quantity.describe(nanoseconds: window.span)) window into "
                    + "\(window.intervalCount) intervals; at most \(TrendWindow.maximumIntervals)")
        }
        var analyzer = TrendAnalyzer(window: window, ageThreshold: ageThreshold ?? max(window.span / 4, 1))
        _ = try TraceReader(path: file).read(into: &analyzer)
        return analyzer.report()
    }
}
