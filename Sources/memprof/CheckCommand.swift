import ArgumentParser
import FoundationEssentials
import MemprofAnalysis
import MemprofReport
import MemprofTrace

extension Memprof {
    /// `memprof check FILE... [--thresholds FILE]`: judges each trace against health
    /// thresholds, prints one line per file, and exits with the worst status — for CI.
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check recordings against health thresholds (for CI): one line per file.",
            discussion: """
                Thresholds come from --thresholds FILE (TOML: memory_limit, warning_level, \
                allowed_leak_bytes, max_allocation_rate, optionally under [thresholds]) and from \
                MEMPROF_MEMORY_LIMIT, MEMPROF_WARNING_LEVEL, MEMPROF_ALLOWED_LEAK_BYTES and \
                MEMPROF_MAX_ALLOCATION_RATE, which override the file. Peak memory (the larger of \
                peak heap and peak RSS) at the memory limit, or leaked bytes above the allowance, \
                are critical; peak memory at the warning level, or more allocations per second \
                than allowed, are warnings.

                Exit status: 0 every file healthy; 1 a warning (and nothing critical); 2 a critical \
                threshold crossed; 3 bad input (a trace that cannot be read, a bad thresholds file \
                or variable, no threshold set at all), which wins over the others; 64 usage.
                """)

        @Argument(help: ArgumentHelp("Trace files written by `memprof run`.", valueName: "file"))
        var files: [String]

        @Option(help: ArgumentHelp("A TOML file of health thresholds.", valueName: "file"))
        var thresholds: String?

        @Option(
            help: ArgumentHelp(
                "Which blocks not freed at exit count as leaks (as for report).", valueName: "kinds"))
        var leakKinds: String = "definite,indirect,possible"

        /// The exit status for bad input: distinct from every status a judgement gives.
        static let badInputStatus: Int32 = 3

        func run() throws {
            let limits: HealthThresholds
            let policy: LeakPolicy
            do {
                limits = try ThresholdsFile.load(path: thresholds, environment: ProcessInfo.processInfo.environment)
                guard !limits.isEmpty else {
                    throw CLIError.invalidOption(
                        option: "--thresholds",
                        reason: "no threshold is set (give --thresholds FILE or set MEMPROF_MEMORY_LIMIT, "
                            + "MEMPROF_WARNING_LEVEL, MEMPROF_ALLOWED_LEAK_BYTES or MEMPROF_MAX_ALLOCATION_RATE)")
                }
                policy = LeakPolicy(countedKinds: try LeakPolicy.countedKinds(parsing: leakKinds))
            } catch {
                let message =
                    (error as? LeakKindListError).map { "--leak-kinds: \($0)" }
                    ?? "\(CLIError.from(error) ?? .internalFailure(what: "checking", reason: "\(error)"))"
                writeToStandardError("memprof: \(message)\n")
                throw ExitCode(Self.badInputStatus)
            }
            var worst: Int32 = 0
            var badInput = false
            for file in files {
                do {
                    let analysis = try Report.analyze(file)
                    var report = Report.symbolize(analysis, tracePath: file, leakPolicy: policy)
                    report.judge(against: limits)
                    guard let health = report.health else { continue }
                    worst = max(worst, Int32(health.status.rawValue))
                    var line = "\(file): \(health.status)"
                    if !health.warnings.isEmpty { line += ": " + health.warnings.joined(separator: "; ") }
                    print(line)
                } catch {
                    badInput = true
                    let failure = CLIError.from(error) ?? .internalFailure(what: "checking \(file)", reason: "\(error)")
                    print("\(file): error: \(failure)")
                }
            }
            if badInput { throw ExitCode(Self.badInputStatus) }
            if worst != 0 { throw ExitCode(worst) }
        }
    }
}
