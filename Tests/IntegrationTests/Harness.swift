import Foundation
import Testing

/// Runs real programs: the built `memprof` CLI, the example binaries, valgrind.
/// Everything here needs `scripts/test.sh` (or `scripts/build.sh`) to have built the
/// preload and `make -C examples` the example programs first.
enum Harness {
    /// The repository root, found from this file's path.
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let examples = root.appendingPathComponent("examples/bin")
    static let preload = root.appendingPathComponent(".build/preload/libmemprof.so")

    /// The `memprof` executable of this build: it sits beside the test bundle.
    static let memprof: URL = {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let path =
            n > 0
            ? String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
        let exe = URL(fileURLWithPath: path)
        return exe.deletingLastPathComponent().appendingPathComponent("memprof")
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        /// Standard output as bytes, for output that is not text.
        var stdoutData = Data()
        /// The process's id.
        var pid: Int32 = 0
        /// The run was killed (with its process group) when `timeout` ran out.
        var timedOut = false
    }

    /// Runs `arguments` with `environment` added, `stdin` as input, in `directory`
    /// (ours when nil), and waits. Standard input is /dev/null when `stdin` is nil. With
    /// `timeout`, a run still going after that many seconds is killed, with every
    /// process of its group (Process starts each command in a group of its own), so a
    /// hang fails a test instead of hanging the suite.
    @discardableResult
    static func run(
        _ arguments: [String], environment: [String: String] = [:], stdin: String? = nil, directory: URL? = nil,
        timeout: Double? = nil
    ) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        if let directory { process.currentDirectoryURL = directory }
        var env = ProcessInfo.processInfo.environment
        env["MEMPROF_PRELOAD"] = preload.path
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        if let stdin {
            let input = Pipe()
            process.standardInput = input
            try process.run()
            input.fileHandleForWriting.write(Data(stdin.utf8))
            try input.fileHandleForWriting.close()
        } else {
            process.standardInput = FileHandle.nullDevice
            try process.run()
        }
        let pid = process.processIdentifier
        let expired = NSLock()
        nonisolated(unsafe) var timedOut = false
        nonisolated(unsafe) var finished = false
        if let timeout {
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                expired.withLock {
                    guard !finished else { return }
                    timedOut = true
                    kill(-pid, SIGKILL)
                }
            }
        }
        // Read both pipes to the end before waiting: a full pipe would block the child.
        let group = DispatchGroup()
        nonisolated(unsafe) var errData = Data()
        DispatchQueue.global().async(group: group) { errData = err.fileHandleForReading.readDataToEndOfFile() }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        // Reaped: from now on the id may be another process's.
        let killed = expired.withLock {
            finished = true
            return timedOut
        }
        return Result(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self), stdoutData: outData, pid: pid, timedOut: killed)
    }

    /// A fresh temporary directory.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("memprof-it-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Records `command` with `memprof run -o` and returns the trace's path.
    /// With `fixedLayout`, address-space randomization is off for the run (`setarch -R`,
    /// which CMD inherits): a program whose allocations depend on where its heap starts
    /// (python's pymalloc loses a pool of an arena that is not pool-aligned, and then
    /// needs one more arena now and then) allocates the same each run, as under valgrind,
    /// whose layout is fixed.
    static func record(
        _ command: [String], environment: [String: String] = [:], fixedLayout: Bool = false, in directory: URL
    ) throws -> String {
        let trace = directory.appendingPathComponent("trace-\(UUID().uuidString).mprof").path
        let result = try run(
            (fixedLayout ? ["/usr/bin/setarch", "-R"] : []) + [memprof.path, "run", "-o", trace, "--"] + command,
            environment: environment)
        #expect(result.stderr.contains("trace written to"), "memprof run said: \(result.stderr)")
        return trace
    }

    /// `memprof report --format json` of `trace`, parsed.
    static func reportJSON(_ trace: String) throws -> [String: Any] {
        let result = try run([memprof.path, "report", "--format", "json", trace])
        try #require(result.status == 0, "memprof report failed: \(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
        return try #require(object as? [String: Any])
    }

    /// Runs `command` under valgrind with `options` and returns valgrind's log. The
    /// program gets the same standard streams as under ``record(_:environment:in:)``, so
    /// programs that look at their streams (python) behave the same, and `environment`
    /// plus the MEMPROF_OUTPUT that `memprof run` adds. No freeres: memprof's trace ends
    /// before libc's and libstdc++'s would run. Fair scheduling: with valgrind's default
    /// lock a thread spinning on another (leaks_busy_threads) sometimes waited minutes
    /// for its turn (`valgrind … leaks_busy_threads park`: 0.6 s, then 104 s and 12 s in 5
    /// runs; 0.54–0.65 s in 5 runs with --fair-sched=yes).
    static func valgrindLog(_ options: [String], _ command: [String], environment: [String: String] = [:]) throws
        -> String
    {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("vg-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        var environment = environment
        environment["MEMPROF_OUTPUT"] = "/dev/null"
        try run(
            [
                "/usr/bin/valgrind", "--log-file=\(log.path)", "--run-libc-freeres=no", "--run-cxx-freeres=no",
                "--fair-sched=yes",
            ] + options + command, environment: environment)
        return try String(contentsOf: log, encoding: .utf8)
    }

    /// valgrind's "total heap usage" figures for `command` (allocs, frees, bytes).
    static func valgrindHeapUsage(_ command: [String], environment: [String: String] = [:]) throws -> (
        allocs: Int, frees: Int, bytes: Int
    ) {
        try heapUsage(inValgrindLog: try valgrindLog([], command, environment: environment))
    }

    /// The "total heap usage" figures of a valgrind log (allocs, frees, bytes).
    static func heapUsage(inValgrindLog text: String) throws -> (allocs: Int, frees: Int, bytes: Int) {
        guard let line = text.split(separator: "\n").first(where: { $0.contains("total heap usage:") }) else {
            throw HarnessError.noValgrindSummary(text)
        }
        // "==123==   total heap usage: 1,234 allocs, 1,231 frees, 2,635,442 bytes allocated"
        let joined = line.split(separator: ":").last!.replacingOccurrences(of: ",", with: "")
        let figures = joined.split(separator: " ").compactMap { Int($0) }
        guard figures.count == 3 else { throw HarnessError.noValgrindSummary(String(line)) }
        return (figures[0], figures[1], figures[2])
    }

    /// What valgrind adds to its program's environment (besides LD_PRELOAD). Programs size
    /// tables by the environment (python's os.environ), so an oracle comparison gives the
    /// memprof run the same variables, and the valgrind run memprof's MEMPROF_OUTPUT.
    static let valgrindEnvironment = [
        "GLIBCXX_FORCE_NEW": "1", "GLIBCPP_FORCE_NEW": "1", "LD_LIBRARY_PATH": "/usr/lib/debug",
    ]

    static func isInstalled(_ path: String) -> Bool { FileManager.default.isExecutableFile(atPath: path) }
}

enum HarnessError: Error {
    case noValgrindSummary(String)
}

extension Dictionary where Key == String, Value == Any {
    /// `json["a"]["b"]` as an Int (JSON numbers arrive as NSNumber or Double).
    func int(_ keys: String...) -> Int? {
        var value: Any? = self
        for key in keys { value = (value as? [String: Any])?[key] }
        return (value as? NSNumber)?.intValue
    }

    func object(_ key: String) -> [String: Any]? { self[key] as? [String: Any] }
    func array(_ key: String) -> [[String: Any]] { self[key] as? [[String: Any]] ?? [] }
}
