import FoundationEssentials
import MemprofSymbolize

#if canImport(Glibc)
    import Glibc
#endif

/// Why `memprof run` could not record the command. `description` is one line.
enum RunError: Error, CustomStringConvertible {
    case commandNotFound(String)
    case notExecutable(path: String, reason: String)
    case staticallyLinked(path: String)
    case setuid(path: String)
    case preloadNotFound(searched: [String])
    case cannotWriteOutput(path: String, reason: String)
    case cannotStart(path: String, reason: String)
    case preloadNotLoaded(path: String)
    case jemallocNotFound(searched: [String])

    var description: String {
        switch self {
        case .commandNotFound(let name):
            "command not found: \(name)"
        case .notExecutable(let path, let reason):
            "cannot run \(path): \(reason)"
        case .staticallyLinked(let path):
            "\(path) is statically linked: the preload needs the dynamic loader, so memprof cannot trace it"
        case .setuid(let path):
            "\(path) is setuid/setgid: the dynamic loader ignores LD_PRELOAD for it, so memprof cannot trace it"
        case .preloadNotFound(let searched):
            "cannot find libmemprof.so (looked in \(searched.joined(separator: ", "))); set MEMPROF_PRELOAD or run scripts/build.sh"
        case .cannotWriteOutput(let path, let reason):
            "cannot write the trace to \(path): \(reason)"
        case .cannotStart(let path, let reason):
            "cannot start \(path): \(reason)"
        case .preloadNotLoaded(let path):
            "\(path) ran but never loaded the preload (it may clear LD_PRELOAD or be setuid); no trace was written"
        case .jemallocNotFound(let searched):
            "--jemalloc: cannot find libjemalloc.so.2 (looked in \(searched.joined(separator: ", "))); install libjemalloc2 or set MEMPROF_JEMALLOC_LIBRARY"
        }
    }

    /// 127 for a missing command and 126 for one that cannot run (as shells do), 2 otherwise.
    var exitStatus: Int32 {
        switch self {
        case .commandNotFound: 127
        case .notExecutable, .cannotStart: 126
        default: 2
        }
    }
}

/// Starts a command with the preload and waits for it.
struct Launcher {
    enum Outcome {
        case exited(Int32)
        case signaled(Int32)
    }

    let arguments: [String]
    let executable: String
    let preload: String
    /// The trace path given with -o, or nil for the default name (known after spawn).
    let requestedOutput: String?
    /// Settings for the preload (MEMPROF_MODE, …), added to the command's environment
    /// in this order.
    let settings: [(name: String, value: String)]
    /// A library preloaded right after memprof's, so that it serves malloc behind it
    /// (libjemalloc.so.2 for `--jemalloc`).
    let allocator: String?

    /// Trace the programs CMD executes too, each into its own file.
    let followExec: Bool

    /// Signals that, sent to memprof while CMD runs, are passed on to CMD (besides
    /// SIGTERM and SIGHUP): aggregate mode's snapshot signal.
    var forwardedSignals: [Int32] = []

    init(
        command: [String], output: String?, environment settings: [(name: String, value: String)] = [],
        allocator: String? = nil,
        followExec: Bool = false
    ) throws {
        self.followExec = followExec
        arguments = command
        executable = try Self.resolve(command[0])
        try Self.checkLoadable(executable)
        preload = try Self.findPreload()
        self.allocator = allocator
        requestedOutput = output
        self.settings = settings
    }

    /// Runs the command to completion and returns how it ended.
    func run() throws -> Outcome {
        let name = FilePath.lastComponent(of: executable)
        let cwd = FilePath.currentDirectory()
        if let output = requestedOutput, output.contains("%p") {
            return try runPerProcess(pattern: Self.absolute(output, cwd: cwd), cwd: cwd)
        }
        if followExec {
            return try runPerProcess(pattern: "\(cwd)/memprof.\(name).%p.mprof", cwd: cwd)
        }
        let outputPath =
            requestedOutput.map { Self.absolute($0, cwd: cwd) }
            ?? "\(cwd)/memprof.\(name).tmp-\(getpid()).mprof"
        // Create (or empty) the file now: an unwritable path fails before CMD runs, and
        // the preload claims exactly this empty file (programs CMD executes find it taken).
        let fd = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw RunError.cannotWriteOutput(path: outputPath, reason: String(cString: strerror(errno)))
        }
        close(fd)

        let environment = commandEnvironment(output: outputPath)

        let warned = warnOfOwnAllocator(exportedOnly: true)
        let pid: pid_t
        do {
            pid = try spawn(environment: environment)
        } catch {
            unlink(outputPath)
            throw error
        }
        let outcome = wait(for: pid)
        if !warned { warnOfOwnAllocator(exportedOnly: false) }

        var finalPath = outputPath
        if requestedOutput == nil {
            finalPath = "\(cwd)/memprof.\(name).\(pid).mprof"
            if rename(outputPath, finalPath) != 0 { finalPath = outputPath }
        }
        var info = stat()
        if stat(finalPath, &info) == 0, info.st_size == 0 {
            unlink(finalPath)
            throw RunError.preloadNotLoaded(path: executable)
        }
        writeToStandardError("memprof: trace written to \(Self.display(finalPath, cwd: cwd))\n")
        return outcome
    }

    /// The command's environment: ours in its own order, with the preload (and the
    /// allocator behind it) first in LD_PRELOAD, MEMPROF_OUTPUT, and the preload's
    /// settings. A program that walks `environ` sees what it would see without memprof,
    /// plus our variables.
    private func commandEnvironment(output: String) -> Environment {
        var environment = Environment.current()
        // A shell sets `_` to the path of the command it runs: that is memprof's now,
        // and would be CMD's without memprof.
        if environment["_"] != nil { environment["_"] = executable }
        let existing = environment["LD_PRELOAD"].map { $0.isEmpty ? "" : " " + $0 } ?? ""
        environment["LD_PRELOAD"] = preload + (allocator.map { " " + $0 } ?? "") + existing
        environment["MEMPROF_OUTPUT"] = output
        for (name, value) in settings { environment[name] = value }
        return environment
    }

    /// One file per process: `pattern` with %p replaced by each process's pid, created
    /// by the preload in each (CMD, the children it forks, and with --follow-exec the
    /// programs they execute, as NAME.1, NAME.2 … beside the one of the same pid).
    private func runPerProcess(pattern: String, cwd: String) throws -> Outcome {
        let directory = FilePath.directory(of: pattern)
        guard access(directory, W_OK) == 0 else {
            throw RunError.cannotWriteOutput(path: pattern, reason: String(cString: strerror(errno)))
        }
        var environment = commandEnvironment(output: pattern)
        environment["MEMPROF_FOLLOW_EXEC"] = followExec ? "1" : nil
        let started = time(nil)
        let warned = warnOfOwnAllocator(exportedOnly: true)
        let pid = try spawn(environment: environment)
        let outcome = wait(for: pid)
        if !warned { warnOfOwnAllocator(exportedOnly: false) }

        let own = Self.expand(pattern, pid: pid)
        var info = stat()
        guard stat(own, &info) == 0, info.st_size > 0 else {
            throw RunError.preloadNotLoaded(path: executable)
        }
        writeToStandardError("memprof: trace written to \(Self.display(own, cwd: cwd))\n")
        // The other processes' files: the pattern's name with another pid (and maybe
        // an exec's .N), written during this run.
        let name = FilePath.lastComponent(of: pattern)
        let parts = name.split(separator: "%p", omittingEmptySubsequences: false)
        let prefix = String(parts[0]), suffix = parts.dropFirst().joined(separator: "%p")
        let entries = FilePath.entries(of: directory)
        for entry in entries.sorted() where entry.hasPrefix(prefix) {
            let path = directory + "/" + entry
            guard path != own, stat(path, &info) == 0, info.st_mtim.tv_sec >= started else { continue }
            let rest = entry.dropFirst(prefix.count)
            let digits = rest.prefix(while: \.isNumber)
            guard !digits.isEmpty,
                rest.dropFirst(digits.count).hasSuffix(suffix.split(separator: ".").last.map { "." + $0 } ?? suffix)
            else { continue }
            writeToStandardError("memprof: trace of process \(digits) written to \(Self.display(path, cwd: cwd))\n")
        }
        return outcome
    }

    /// `pattern` with %p replaced by `pid` and %% by %, as the preload does.
    static func expand(_ pattern: String, pid: pid_t) -> String {
        var result = ""
        var chars = pattern.makeIterator()
        while let c = chars.next() {
            guard c == "%" else {
                result.append(c)
                continue
            }
            switch chars.next() {
            case "p": result += String(pid)
            case "%": result.append("%")
            case let other?: result += "%" + String(other)
            case nil: result.append("%")
            }
        }
        return result
    }

    private func spawn(environment: Environment) throws -> pid_t {
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.entries.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, nil, nil, argv, envp)
        guard rc == 0 else {
            throw RunError.cannotStart(path: executable, reason: String(cString: strerror(rc)))
        }
        return pid
    }

    /// Waits for the child. SIGINT and SIGQUIT reach the child from the terminal
    /// directly (same process group); memprof ignores them meanwhile so that it can
    /// still report the trace. SIGTERM, SIGHUP and ``forwardedSignals`` sent to memprof
    /// are passed on.
    private func wait(for pid: pid_t) -> Outcome {
        let oldInt = signal(SIGINT, SIG_IGN)
        let oldQuit = signal(SIGQUIT, SIG_IGN)
        Launcher.forwardTarget = pid
        let forward: @convention(c) (Int32) -> Void = { sig in
            if Launcher.forwardTarget > 0 { kill(Launcher.forwardTarget, sig) }
        }
        let passedOn = [SIGTERM, SIGHUP] + forwardedSignals
        let old = passedOn.map { signal($0, forward) }
        defer {
            signal(SIGINT, oldInt)
            signal(SIGQUIT, oldQuit)
            for (sig, handler) in zip(passedOn, old) { signal(sig, handler) }
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift cannot import.
        let termSignal = status & 0x7f
        if termSignal == 0 { return .exited((status >> 8) & 0xff) }
        return .signaled(termSignal)
    }

    nonisolated(unsafe) static var forwardTarget: pid_t = 0

    // MARK: - Resolving and checking the command

    /// The command's path: as given when it contains a slash, else searched in PATH.
    static func resolve(_ name: String) throws -> String {
        if name.contains("/") {
            guard access(name, F_OK) == 0 else { throw RunError.commandNotFound(name) }
            guard access(name, X_OK) == 0 else {
                throw RunError.notExecutable(path: name, reason: String(cString: strerror(errno)))
            }
            return name
        }
        let path = Environment.value("PATH") ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + name
            var info = stat()
            if stat(candidate, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        throw RunError.commandNotFound(name)
    }

    /// Refuses programs the preload cannot enter: statically linked ELF files and
    /// setuid/setgid ones run in secure mode. Scripts are checked through their interpreter.
    static func checkLoadable(_ path: String, depth: Int = 0) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw RunError.notExecutable(path: path, reason: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw RunError.notExecutable(path: path, reason: "not a regular file")
        }
        if (info.st_mode & S_ISUID != 0 && info.st_uid != geteuid())
            || (info.st_mode & S_ISGID != 0 && info.st_gid != getegid())
        {
            throw RunError.setuid(path: path)
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw RunError.notExecutable(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        let head = ELFFile.read(fd, at: 0, count: 4096)
        if head.starts(with: [0x23, 0x21]), depth == 0 {  // "#!"
            let line = String(decoding: head.dropFirst(2).prefix { $0 != 0x0a }, as: UTF8.self)
            if let interpreter = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).first {
                try checkLoadable(String(interpreter), depth: 1)
            }
            return
        }
        guard head.starts(with: [0x7f, 0x45, 0x4c, 0x46]) else { return }  // not ELF: let exec decide
        if !ELFFile.hasInterpreter(fd: fd) {
            throw RunError.staticallyLinked(path: path)
        }
    }

    /// Warns when the executable defines allocator functions of its own, which the
    /// preload cannot see. Before the run only its exported symbols are read (an
    /// executable that replaces malloc exports it, and then nothing at all is
    /// recorded); after the run the whole symbol table, for prefixed allocators
    /// (reading it can take milliseconds, which the program's start should not wait
    /// for). Returns whether it warned.
    @discardableResult
    func warnOfOwnAllocator(exportedOnly: Bool) -> Bool {
        guard let symbols = AllocatorSymbols(executable: executable, exportedOnly: exportedOnly),
            symbols.bypassesThePreload
        else { return false }
        writeToStandardError("memprof: warning: \(executable): \(symbols.explanation); \(AllocatorSymbols.advice)\n")
        return true
    }

    /// Where libmemprof.so is: $MEMPROF_PRELOAD, next to the memprof binary, in
    /// ../lib/memprof, or in a development tree's .build/preload.
    static func findPreload() throws -> String {
        if let explicit = Environment.value("MEMPROF_PRELOAD"), !explicit.isEmpty {
            guard access(explicit, R_OK) == 0 else { throw RunError.preloadNotFound(searched: [explicit]) }
            return absolute(explicit, cwd: FilePath.currentDirectory())
        }
        // /proc/self/exe is absolute and canonical (no . or .. components), so plain
        // string operations do what URL's would.
        let exe = FilePath.directory(of: absolute(CommandLine.executablePathResolved, cwd: FilePath.currentDirectory()))
        var candidates = [
            FilePath.join(exe, "libmemprof.so"),
            FilePath.join(FilePath.directory(of: exe), "lib/memprof/libmemprof.so"),
        ]
        var directory = exe
        while directory != "/" {
            candidates.append(FilePath.join(directory, ".build/preload/libmemprof.so"))
            directory = FilePath.directory(of: directory)
        }
        if let found = candidates.first(where: { access($0, R_OK) == 0 }) { return found }
        throw RunError.preloadNotFound(searched: Array(candidates.prefix(2)))
    }

    /// libjemalloc.so.2: MEMPROF_JEMALLOC_LIBRARY, else where Debian and others install it.
    static func findJemalloc() throws -> String {
        let candidates =
            Environment.value("MEMPROF_JEMALLOC_LIBRARY").map { [$0] } ?? [
                "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
                "/usr/lib64/libjemalloc.so.2", "/usr/lib/libjemalloc.so.2", "/usr/local/lib/libjemalloc.so.2",
            ]
        guard let found = candidates.first(where: { access($0, R_OK) == 0 }) else {
            throw RunError.jemallocNotFound(searched: candidates)
        }
        return found
    }

    static func absolute(_ path: String, cwd: String) -> String {
        path.hasPrefix("/") ? path : "\(cwd)/\(path)"
    }

    /// A path as the user would like to read it: relative to cwd when inside it.
    static func display(_ path: String, cwd: String) -> String {
        path.hasPrefix(cwd + "/") ? String(path.dropFirst(cwd.count + 1)) : path
    }
}

/// Path operations on plain strings. `memprof run` needs only these few, and Foundation's
/// URL and FileManager would add their start-up cost to every profiled run.
enum FilePath {
    /// The last component: `/a/b` → `b` (trailing slashes ignored, as URL does).
    static func lastComponent(of path: String) -> String {
        let trimmed = trimmingTrailingSlashes(path)
        guard let slash = trimmed.lastIndex(of: "/") else { return String(trimmed) }
        return trimmed == "/" ? "/" : String(trimmed[trimmed.index(after: slash)...])
    }

    /// The directory holding `path`: `/a/b` → `/a`, `/a` → `/`, `b` → `.`.
    static func directory(of path: String) -> String {
        let trimmed = trimmingTrailingSlashes(path)
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
    }

    /// `name` inside `directory`.
    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// The working directory (as FileManager reports it when getcwd fails).
    static func currentDirectory() -> String {
        guard let buffer = getcwd(nil, 0) else { return FileManager.default.currentDirectoryPath }
        defer { free(buffer) }
        return String(cString: buffer)
    }

    /// The names in `directory` but . and ..; none if it cannot be read.
    static func entries(of directory: String) -> [String] {
        guard let stream = opendir(directory) else { return [] }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    private static func trimmingTrailingSlashes(_ path: String) -> Substring {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        return trimmed
    }
}

/// An environment block in `environ`'s order: entries as the process has them
/// (`NAME=value`, or whatever else a parent put there), read from `environ` directly
/// (ProcessInfo's copy costs its initialization at every start, and a dictionary
/// would lose the order).
struct Environment {
    /// The entries, in order.
    private(set) var entries: [String]

    /// This process's environment.
    static func current() -> Environment {
        var entries: [String] = []
        var entry = environ
        while let pointer = entry.pointee {
            entries.append(String(cString: pointer))
            entry += 1
        }
        return Environment(entries: entries)
    }

    /// One variable's value in this process, nil if unset.
    static func value(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// The index of the first entry that sets `name`, as getenv finds it.
    private func index(of name: String) -> Int? {
        let prefix = name + "="
        return entries.firstIndex { $0.hasPrefix(prefix) }
    }

    /// A variable's value (the first entry's, as getenv reads it). Setting it replaces
    /// that entry where it stands, or appends one; setting nil removes every entry of
    /// the name.
    subscript(name: String) -> String? {
        get { index(of: name).map { String(entries[$0].dropFirst(name.utf8.count + 1)) } }
        set {
            guard let newValue else {
                entries.removeAll { $0.hasPrefix(name + "=") }
                return
            }
            if let i = index(of: name) {
                entries[i] = name + "=" + newValue
            } else {
                entries.append(name + "=" + newValue)
            }
        }
    }
}

extension CommandLine {
    /// This executable's path, via /proc/self/exe (argv[0] may be a bare name).
    static var executablePathResolved: String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        return n > 0 ? String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self) : arguments[0]
    }
}

/// Just enough ELF reading to tell whether a program uses the dynamic loader.
enum ELFFile {
    /// Whether the ELF file has a PT_INTERP program header (a dynamic loader).
    /// Up to `count` bytes at `offset` (fewer at the end of the file; none on error).
    static func read(_ fd: Int32, at offset: UInt64, count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let got = pread(fd, &bytes, count, off_t(offset))
        return Array(bytes.prefix(max(got, 0)))
    }

    static func hasInterpreter(fd: Int32) -> Bool {
        let header = read(fd, at: 0, count: 64)
        guard header.count >= 64 else { return true }
        let is64 = header[4] == 2
        let little = header[5] == 1
        func field(_ data: [UInt8], _ offset: Int, _ size: Int) -> UInt64 {
            var value: UInt64 = 0
            for i in 0..<size {
                let byte = UInt64(data[data.startIndex + offset + i])
                value |= little ? byte << (8 * UInt64(i)) : byte << (8 * UInt64(size - 1 - i))
            }
            return value
        }
        let phoff = is64 ? field(header, 32, 8) : field(header, 28, 4)
        let phentsize = Int(is64 ? field(header, 54, 2) : field(header, 42, 2))
        let phnum = Int(is64 ? field(header, 56, 2) : field(header, 44, 2))
        guard phentsize > 0, phnum > 0 else { return false }
        let table = read(fd, at: phoff, count: phentsize * phnum)
        guard table.count == phentsize * phnum else {
            return true  // unreadable: let the loader decide
        }
        let ptInterp: UInt64 = 3
        return (0..<phnum).contains { field(table, $0 * phentsize, 4) == ptInterp }
    }
}
