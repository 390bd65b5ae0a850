import ArgumentParser
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

extension Memprof {
    /// `memprof run [-o FILE] -- CMD [ARGS...]`: runs CMD with the preload and writes
    /// its trace. CMD keeps stdin, stdout and stderr; memprof exits with CMD's status
    /// (or dies of the same signal) and prints the trace's path on stderr.
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a command under the memprof preload and record its allocations.",
            discussion: """
                The trace goes to FILE, by default memprof.<name>.<pid>.mprof in the current \
                directory. Only CMD itself is traced: programs it executes are not. A forked \
                child that does not exec is not traced either. CMD must be dynamically \
                linked; setuid and statically linked programs cannot load the preload.
                """)

        @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the trace.", valueName: "file"))
        var output: String?

        @Argument(
            parsing: .captureForPassthrough,
            help: ArgumentHelp("The command to run and its arguments.", valueName: "cmd"))
        var command: [String] = []

        mutating func validate() throws {
            if command.first == "--" { command.removeFirst() }
            guard let first = command.first, !first.isEmpty else {
                throw ValidationError("missing the command to run: memprof run [-o FILE] -- CMD [ARGS...]")
            }
        }

        func run() throws {
            let status = try CLIError.reporting { () throws -> Launcher.Outcome in
                let launcher = try Launcher(command: command, output: output)
                return try launcher.run()
            }
            switch status {
            case .exited(let code):
                throw ExitCode(code)
            case .signaled(let signal):
                // Die of the same signal so that the shell sees what CMD did.
                Glibc.signal(signal, SIG_DFL)
                var set = sigset_t()
                sigemptyset(&set)
                sigaddset(&set, signal)
                sigprocmask(SIG_UNBLOCK, &set, nil)
                raise(signal)
                throw ExitCode(128 + signal)
            }
        }
    }
}
