import ArgumentParser

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
}
