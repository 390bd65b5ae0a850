import ArgumentParser
import FoundationEssentials
import MemprofReport
import MemprofTrace

#if canImport(Glibc)
    import Glibc
#endif

/// Why a `memprof` command failed, and the one place that turns any failure into what
/// the user sees: one line `memprof: <message>` on stderr and a non-zero exit status.
///
/// Exit statuses: 1 when the input cannot be used (a trace that is missing, unreadable,
/// not a trace, of an unsupported version or corrupt, a bad suppression or thresholds
/// file); 64 for an option value that cannot be read (`--at 5x`); 70 (`EX_SOFTWARE`) for a failure
/// inside memprof. Usage errors keep swift-argument-parser's handling (usage text and
/// status 64). A truncated trace is not an error: the report is printed and
/// ``warn(_:)`` says where the file ends.
///
/// ```swift
/// func run() throws {
///     try CLIError.reporting {
///         let reader = try TraceReader(path: file)
///         …
///     }
/// }
/// ```
enum CLIError: Error, CustomStringConvertible {
    /// The trace could not be read.
    case trace(TraceError)
    /// `memprof run` could not record the command.
    case run(RunError)
    /// A `--suppressions` file that cannot be read or has a bad line.
    case suppressions(LeakSuppressionError)
    /// A `--thresholds` file or `MEMPROF_*` threshold variable that cannot be used.
    case thresholds(ThresholdsError)
    /// An option's value that cannot be used (`--at 5x`); `reason` says what was expected.
    case invalidOption(option: String, reason: String)
    /// Something memprof itself got wrong; `what` names the step.
    case internalFailure(what: String, reason: String)

    /// The one-line message, without the `memprof: ` prefix.
    var description: String {
        switch self {
        case .trace(let error): error.description
        case .run(let error): error.description
        case .suppressions(let error): "--suppressions: \(error)"
        case .thresholds(let error): "thresholds: \(error)"
        case .invalidOption(let option, let reason): "\(option): \(reason)"
        case .internalFailure(let what, let reason): "internal error while \(what): \(reason)"
        }
    }

    /// The process's exit status for this error.
    var exitCode: ExitCode {
        switch self {
        case .trace: ExitCode(1)
        case .run(let error): ExitCode(error.exitStatus)
        case .suppressions: ExitCode(1)
        case .thresholds: ExitCode(1)
        // A usage error, as swift-argument-parser's own, but on one line.
        case .invalidOption: ExitCode(64)
        case .internalFailure: ExitCode(70)
        }
    }

    /// Maps any error to a `CLIError`; nil for swift-argument-parser's own errors
    /// (usage, help, exit codes), which it reports itself.
    static func from(_ error: any Error) -> CLIError? {
        switch error {
        case let error as CLIError: error
        case let error as TraceError: .trace(error)
        case let error as RunError: .run(error)
        case let error as LeakSuppressionError: .suppressions(error)
        case let error as ThresholdsError: .thresholds(error)
        case is ExitCode, is ValidationError, is CleanExit: nil
        case let error as EncodingError: .internalFailure(what: "encoding the report", reason: "\(error)")
        default: .internalFailure(what: "running the command", reason: "\(error)")
        }
    }

    /// Runs `body`; if it throws, prints the error as one line on stderr and throws the
    /// matching ``ExitCode`` (which swift-argument-parser exits with silently).
    static func reporting<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            guard let failure = from(error) else { throw error }
            printLine("memprof: \(failure)")
            throw failure.exitCode
        }
    }

    /// Prints `memprof: warning: <message>` on stderr.
    static func warn(_ message: String) {
        printLine("memprof: warning: \(message)")
    }

    /// Writes one line to stderr, unbuffered.
    private static func printLine(_ line: String) {
        writeToStandardError(line + "\n")
    }
}

/// Writes all of `bytes` to `fd`, unbuffered (retrying short writes and EINTR). Other
/// errors drop the rest, as there is nowhere left to report them; a closed pipe ends
/// the process by SIGPIPE as any write would.
func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) {
    var offset = 0
    while offset < bytes.count {
        let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if written < 0 {
            if errno == EINTR { continue }
            return
        }
        offset += written
    }
}

/// Writes `text` to file descriptor 2, whole.
func writeToStandardError(_ text: String) {
    var text = text
    text.withUTF8 { writeAll(STDERR_FILENO, UnsafeRawBufferPointer($0)) }
}
