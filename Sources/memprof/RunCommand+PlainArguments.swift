extension Memprof.Run.Request {
    /// `memprof run`'s arguments, read without swift-argument-parser, in the form scripts
    /// and the documentation use: known options, each at most once, with values that do
    /// not start with `-`, then `--` and the command. Nil for anything else (help, an
    /// unknown or repeated option, no `--`), which is left to swift-argument-parser.
    ///
    /// The fields are what the parser sets in ``Memprof/Run`` for the same arguments:
    /// after `--` it reads nothing as an option (`memprof run -- ls --help` runs
    /// `ls --help`), and its passthrough capture keeps the `--` in `command`, for
    /// `validate()` to drop.
    /// Without `--` the parser looks for `--help`, `--version` and
    /// `--generate-completion-script` among the command's arguments too, so that form
    /// is left to it.
    init?(plainArguments arguments: ArraySlice<String>) {
        var output: String?, mode: Memprof.Run.Mode?, sampleInterval: String?
        var snapshotInterval: String?, snapshotSignal: String?
        var followExec: Bool?, leakCheck: Bool?, jemalloc: Bool?
        var rest = arguments
        while let argument = rest.popFirst() {
            if argument == "--" {
                self.init(
                    output: output, followExec: followExec ?? false, mode: mode ?? .full,
                    snapshotInterval: snapshotInterval, snapshotSignal: snapshotSignal,
                    sampleInterval: sampleInterval, leakCheck: leakCheck ?? true, jemalloc: jemalloc ?? false,
                    command: ["--"] + rest)
                return
            }
            var name = Substring(argument)
            var attached: String?
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                name = argument[..<equals]
                attached = String(argument[argument.index(after: equals)...])
            }
            /// The option's value, attached (`--mode=sample`) or the next argument.
            func value() -> String? {
                guard let value = attached ?? rest.popFirst(), !value.isEmpty, !value.hasPrefix("-") else {
                    return nil
                }
                return value
            }
            switch name {
            case "-o", "--output":
                guard output == nil, let value = value() else { return nil }
                output = value
            case "--mode":
                guard mode == nil, let value = value(), let chosen = Memprof.Run.Mode(rawValue: value) else {
                    return nil
                }
                mode = chosen
            case "--sample-interval":
                guard sampleInterval == nil, let value = value() else { return nil }
                sampleInterval = value
            case "--snapshot-interval":
                guard snapshotInterval == nil, let value = value() else { return nil }
                snapshotInterval = value
            case "--snapshot-signal":
                guard snapshotSignal == nil, let value = value() else { return nil }
                snapshotSignal = value
            case "--follow-exec":
                guard followExec == nil, attached == nil else { return nil }
                followExec = true
            case "--leak-check", "--no-leak-check":
                guard leakCheck == nil, attached == nil else { return nil }
                leakCheck = name == "--leak-check"
            case "--jemalloc":
                guard jemalloc == nil, attached == nil else { return nil }
                jemalloc = true
            default:
                return nil
            }
        }
        return nil
    }
}
