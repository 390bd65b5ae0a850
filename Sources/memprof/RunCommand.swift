import ArgumentParser
import FoundationEssentials

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
                directory. With %p in FILE, every process CMD forks records into its own file \
                (FILE with its pid), starting from the heap it inherited; without, only CMD is \
                traced. Programs they execute are traced only with --follow-exec. CMD must be \
                dynamically linked; setuid and statically linked programs cannot load the preload.
                """)

        @Option(
            name: .shortAndLong,
            help: ArgumentHelp(
                "Where to write the trace. With %p (the process id) in it, every process CMD forks records into a file of its own; without, forked children are not traced.",
                valueName: "file"))
        var output: String?

        @Flag(
            help: """
                Trace the programs CMD (and its children) execute too, each into its own file: -o must \
                hold %p (default memprof.<name>.%p.mprof); an exec that keeps the pid writes NAME.1, NAME.2 ….
                """)
        var followExec = false

        /// What the preload records.
        enum Mode: String, CaseIterable, ExpressibleByArgument {
            /// Every allocation and free with its stack.
            case full
            /// Poisson sampling by bytes (low overhead; exact totals, sampled sites).
            case sample
            /// Per-stack counters with periodic snapshots (not available yet).
            case aggregate
        }

        @Option(help: "full: every allocation; sample: Poisson sampling by bytes (low overhead).")
        var mode: Mode = .full

        @Option(
            help: ArgumentHelp(
                "Mean bytes between samples in sample mode (e.g. 512k, 1m).", valueName: "bytes"))
        var sampleInterval: String?

        @Flag(
            inversion: .prefixedNo,
            help: """
                Classify the blocks not freed at exit (definitely / indirectly / possibly lost, \
                still reachable) with a conservative scan of the heap, like valgrind's leak check. \
                Full mode only.
                """)
        var leakCheck = true

        @Flag(
            help: """
                Run CMD with jemalloc (libjemalloc.so.2) as its allocator, behind memprof, and record \
                jemalloc's own statistics (allocated, active, metadata, resident, mapped, retained) every \
                second. Blocks left at exit are then not classified (the scan reads glibc's heap only).
                """)
        var jemalloc = false

        @Argument(
            parsing: .captureForPassthrough,
            help: ArgumentHelp("The command to run and its arguments.", valueName: "cmd"))
        var command: [String] = []

        /// A positive byte count with an optional k, m or g suffix (powers of 1024), as
        /// the preload reads MEMPROF_SAMPLE_INTERVAL.
        static func byteCount(_ text: String) -> UInt64? {
            var digits = Substring(text)
            var scale: UInt64 = 1
            switch digits.last?.lowercased() {
            case "k": scale = 1 << 10
            case "m": scale = 1 << 20
            case "g": scale = 1 << 30
            default: break
            }
            if scale != 1 { digits = digits.dropLast() }
            guard let value = UInt64(digits), value > 0 else { return nil }
            let (product, overflow) = value.multipliedReportingOverflow(by: scale)
            return overflow ? nil : product
        }

        /// The parsed arguments as a plain value (the fast start of ``Memprof/main()``
        /// makes one without the parser).
        var request: Request {
            Request(
                output: output, followExec: followExec, mode: mode, sampleInterval: sampleInterval,
                leakCheck: leakCheck, jemalloc: jemalloc, command: command)
        }

        mutating func validate() throws {
            // Passthrough capture would run "--help" as the command.
            if let first = command.first, first == "--help" || first == "-h" {
                throw CleanExit.helpRequest(self)
            }
            var request = self.request
            try request.validate()
            command = request.command
        }

        func run() throws {
            try request.run()
        }
    }
}

extension Memprof.Run {
    /// What `memprof run` was asked to do: the options' values, without the parser's
    /// property wrappers (whose set-up alone costs a few tenths of a millisecond).
    struct Request {
        var output: String?
        var followExec = false
        var mode: Mode = .full
        var sampleInterval: String?
        var leakCheck = true
        var jemalloc = false
        var command: [String] = []

        /// The checks the parser's `validate()` makes, but the help request; drops a
        /// leading `--` from `command`.
        mutating func validate() throws {
            if followExec, let output, !output.contains("%p") {
                throw ValidationError(
                    "--follow-exec writes one file per program: put %p (the process id) in -o, e.g. -o trace.%p.mprof")
            }
            if mode == .aggregate {
                throw ValidationError("--mode aggregate is not available yet; use full or sample")
            }
            if let interval = sampleInterval {
                guard mode == .sample else { throw ValidationError("--sample-interval needs --mode sample") }
                guard Memprof.Run.byteCount(interval) != nil else {
                    throw ValidationError(
                        "--sample-interval must be a byte count such as 4096, 512k or 1m (got '\(interval)')")
                }
            }
            if command.first == "--" { command.removeFirst() }
            guard let first = command.first, !first.isEmpty else {
                throw ValidationError("missing the command to run: memprof run [-o FILE] -- CMD [ARGS...]")
            }
        }

        /// Runs the command (`validate()` first); throws the ExitCode to exit with, or
        /// dies of the signal that ended the command.
        func run() throws {
            let status = try CLIError.reporting { () throws -> Launcher.Outcome in
                var settings = ["MEMPROF_MODE": mode.rawValue]
                if let interval = sampleInterval { settings["MEMPROF_SAMPLE_INTERVAL"] = interval }
                if !leakCheck { settings["MEMPROF_LEAK_CHECK"] = "0" }
                var allocator: String?
                if jemalloc {
                    allocator = try Launcher.findJemalloc()
                    settings["MEMPROF_JEMALLOC"] = "1"
                }
                let launcher = try Launcher(
                    command: command, output: output, environment: settings, allocator: allocator,
                    followExec: followExec)
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
