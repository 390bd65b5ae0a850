import ArgumentParser
import FoundationEssentials
import MemprofReport

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
            /// Per-stack counters in the process, written in periodic snapshots: the
            /// file grows with stacks × snapshots, not with events (for long runs).
            case aggregate
        }

        @Option(
            help: """
                full: every allocation; sample: Poisson sampling by bytes (low overhead); aggregate: \
                per-stack counters written in snapshots (file size independent of the event count).
                """)
        var mode: Mode = .full

        @Option(
            help: ArgumentHelp(
                "Aggregate mode: how often to write a snapshot (10ms to 24h, e.g. 1s, 500ms, 5m). Default 1s.",
                valueName: "duration"))
        var snapshotInterval: String?

        @Option(
            help: ArgumentHelp(
                """
                Aggregate mode: the signal that makes CMD write a snapshot now (USR1, USR2, RTMIN+N, or none). \
                Default USR2. Sent to memprof run, it is passed on to CMD. A program that handles the signal \
                itself keeps its handler.
                """,
                valueName: "signal"))
        var snapshotSignal: String?

        @Option(
            help: ArgumentHelp(
                "Mean bytes between samples in sample mode (e.g. 512k, 1m).", valueName: "bytes"))
        var sampleInterval: String?

        @Flag(
            inversion: .prefixedNo,
            help: """
                Classify the blocks not freed at exit (definitely / indirectly / possibly lost, \
                still reachable) with a conservative scan of the heap, like valgrind's leak check. \
                Full and aggregate modes.
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

        /// The snapshot signal's number (0 for none), as the preload reads
        /// MEMPROF_SNAPSHOT_SIGNAL; nil when not one memprof may take.
        static func snapshotSignalNumber(_ text: String) -> Int32? {
            var name = Substring(text.uppercased())
            if name.hasPrefix("SIG") { name = name.dropFirst(3) }
            switch name {
            case "NONE", "0": return 0
            case "USR1": return SIGUSR1
            case "USR2": return SIGUSR2
            default: break
            }
            var base: Int32 = 0
            if name.hasPrefix("RTMIN") {
                base = __libc_current_sigrtmin()
                name = name.dropFirst(5)
                if name.isEmpty { return base }
                guard name.first == "+" else { return nil }
                name = name.dropFirst()
            }
            guard let value = Int32(name), value >= 0, value < 1000 else { return nil }
            let number = base + value
            return number == SIGUSR1 || number == SIGUSR2
                || (number >= __libc_current_sigrtmin() && number <= __libc_current_sigrtmax()) ? number : nil
        }

        /// The parsed arguments as a plain value (the fast start of ``Memprof/main()``
        /// makes one without the parser).
        var request: Request {
            Request(
                output: output, followExec: followExec, mode: mode, snapshotInterval: snapshotInterval,
                snapshotSignal: snapshotSignal, sampleInterval: sampleInterval, leakCheck: leakCheck,
                jemalloc: jemalloc, command: command)
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
        var snapshotInterval: String?
        var snapshotSignal: String?
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
            if let interval = snapshotInterval {
                guard mode == .aggregate else { throw ValidationError("--snapshot-interval needs --mode aggregate") }
                guard let nanoseconds = try? Quantity.nanoseconds(interval),
                    nanoseconds >= 10_000_000, nanoseconds <= 86_400_000_000_000
                else {
                    throw ValidationError(
                        "--snapshot-interval must be a duration from 10ms to 24h such as 1s, 500ms or 5m (got '\(interval)')"
                    )
                }
            }
            if let signal = snapshotSignal {
                guard mode == .aggregate else { throw ValidationError("--snapshot-signal needs --mode aggregate") }
                guard Memprof.Run.snapshotSignalNumber(signal) != nil else {
                    throw ValidationError("--snapshot-signal must be USR1, USR2, RTMIN+N or none (got '\(signal)')")
                }
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
                // In a fixed order: the command's environment is the same from run to run.
                var settings = [(name: "MEMPROF_MODE", value: mode.rawValue)]
                if let interval = sampleInterval { settings.append(("MEMPROF_SAMPLE_INTERVAL", interval)) }
                if let interval = snapshotInterval, let nanoseconds = try? Quantity.nanoseconds(interval) {
                    settings.append(("MEMPROF_SNAPSHOT_INTERVAL", "\(nanoseconds)ns"))
                }
                if let signal = snapshotSignal, let number = Memprof.Run.snapshotSignalNumber(signal) {
                    settings.append(("MEMPROF_SNAPSHOT_SIGNAL", "\(number)"))
                }
                if !leakCheck { settings.append(("MEMPROF_LEAK_CHECK", "0")) }
                var allocator: String?
                if jemalloc {
                    allocator = try Launcher.findJemalloc()
                    settings.append(("MEMPROF_JEMALLOC", "1"))
                }
                var launcher = try Launcher(
                    command: command, output: output, environment: settings, allocator: allocator,
                    followExec: followExec)
                if mode == .aggregate {
                    let snapshotSignal = snapshotSignal.flatMap(Memprof.Run.snapshotSignalNumber) ?? SIGUSR2
                    if snapshotSignal != 0 { launcher.forwardedSignals = [snapshotSignal] }
                }
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
