import ArgumentParser

#if canImport(Glibc)
    import Glibc
#endif

/// `memprof`: record a program's allocations with the preload, then report on them.
@main
struct Memprof: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memprof",
        abstract: "A memory profiler for Linux programs: where memory goes, what leaks, what churns.",
        discussion: """
            Record:  memprof run [-o FILE] [--mode full|sample|aggregate] [--no-leak-check] -- CMD [ARGS...]
            Report:  memprof report FILE [--format text|json] [--top N] [--leak-kinds LIST]
                     [--suppressions FILE]... [--at TIME] [--duration D] [--interval D]
                     [--age-threshold D] [--thresholds FILE]
            Check:   memprof check FILE... [--thresholds FILE]   (exit 0 healthy, 1 warning,
                     2 critical, 3 bad input)
            """,
        version: "0.1.0",
        subcommands: [Run.self, Report.self, Check.self, Dump.self]
    )

    /// `memprof run` in its plain form (``Run/init(plainArguments:)``) starts without
    /// swift-argument-parser, whose reflection over the command types costs a few
    /// milliseconds at every start: a visible share of a short profiled run. Everything
    /// else, and arguments `validate()` rejects, go through the parser, with its messages.
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        if arguments.first == "run", var run = Run.Request(plainArguments: arguments.dropFirst()),
            (try? run.validate()) != nil
        {
            do {
                try run.run()
            } catch let code as ExitCode {
                // What the parser's exit(withError:) does for an ExitCode, without
                // building its message (empty for an exit code).
                Glibc.exit(code.rawValue)
            } catch {
                exit(withError: error)
            }
            return
        }
        main(nil)
    }
}
