import Foundation
import Testing

/// Runs `memprof-kit-probe` (Tests/MemprofKitProbe) and decodes what it prints.
///
/// The test process uses glibc's malloc, so everything that needs jemalloc as the
/// process's allocator runs in the probe under `LD_PRELOAD=libjemalloc.so.2`. Each
/// mode runs once per test process; the suites share the decoded report.
enum Probe {
    /// What the probe prints: MemprofKit's figures around allocating and freeing
    /// ``Report/allocationBytes`` (see Tests/MemprofKitProbe/main.swift).
    struct Report: Decodable, Sendable {
        var allocationBytes: Int
        var currentError: String?
        var leakCheckError: String?
        var countError: String?
        var servesMalloc: Bool?
        var snapshots: Moments<Snapshot>
        var stats: Moments<Statistics>?
        var purge: Purge?
        var afterPurge: Snapshot?
        var arenaCount: Int?
        var arenasAll: Arena?
        var arena0: Arena?
        var values: Values?
        var errors: Errors?
    }

    /// Before allocating, with the blocks allocated and touched, after freeing them.
    struct Moments<Figures: Decodable & Sendable>: Decodable, Sendable {
        var before: Figures
        var allocated: Figures
        var freed: Figures
    }

    struct Snapshot: Decodable, Sendable {
        var resident: Int
        var virtual: Int
        var heapInUse: Int?
        var heapSource: String?
    }

    struct Statistics: Decodable, Sendable {
        var allocated: Int
        var active: Int
        var metadata: Int
        var resident: Int
        var mapped: Int
        var retained: Int
    }

    struct PurgeMemory: Decodable, Sendable {
        var resident: Int
        var mapped: Int
        var dirtyPages: Int
        var muzzyPages: Int
        var pageSize: Int
    }

    struct Purge: Decodable, Sendable {
        var before: PurgeMemory
        var after: PurgeMemory
        var freedBytes: Int
    }

    struct Arena: Decodable, Sendable {
        var pageSize: Int
        var threads: Int
        var activePages: Int
        var dirtyPages: Int
        var muzzyPages: Int
        var allocated: Int
        var mapped: Int
        var retained: Int
        var resident: Int
    }

    struct Values: Decodable, Sendable {
        var pageSize: Int
        var configStats: Bool
        var narenas: Int
        var dirtyDecayMs: Int
        var epoch: Int
    }

    struct Errors: Decodable, Sendable {
        var unknownCtl: String?
        var wrongSize: String?
        var readOnly: String?
        var missingArena: String?
    }

    enum Failure: Error, CustomStringConvertible {
        case missingJemalloc
        case failed(status: Int32, stderr: String)

        var description: String {
            switch self {
            case .missingJemalloc:
                return "libjemalloc.so.2 not found in \(Probe.jemallocCandidates): "
                    + "install libjemalloc-dev (scripts/install-deps.sh)"
            case .failed(let status, let stderr):
                return "memprof-kit-probe exited with status \(status): \(stderr)"
            }
        }
    }

    /// The probe run with glibc's malloc.
    static let glibc = Result { try run(preloading: nil) }
    /// The probe run under `LD_PRELOAD=libjemalloc.so.2`.
    static let jemalloc = Result { try run(preloading: jemallocLibrary()) }

    static let jemallocCandidates = [
        "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
        "/usr/lib64/libjemalloc.so.2", "/usr/lib/libjemalloc.so.2",
    ]

    static func jemallocLibrary() throws -> String {
        guard let path = jemallocCandidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw Failure.missingJemalloc
        }
        return path
    }

    /// The probe of this build: SwiftPM puts executables beside the test bundle,
    /// whatever the scratch path.
    static let executable: URL = {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let path =
            n > 0
            ? String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
        return URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("memprof-kit-probe")
    }()

    private static func run(preloading library: String?) throws -> Report {
        var environment = ProcessInfo.processInfo.environment
        // Only the allocator under test, with its default settings.
        environment["LD_PRELOAD"] = library
        environment["MALLOC_CONF"] = nil
        let result = try run(executable, [], environment: environment)
        guard result.status == 0 else {
            throw Failure.failed(status: result.status, stderr: String(decoding: result.stderr, as: UTF8.self))
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(Report.self, from: result.stdout)
    }

    /// Runs a program to its end with stdin closed; returns its status and output.
    /// (The probes print a few lines on each stream: reading one to its end before
    /// the other cannot fill a pipe.)
    static func run(
        _ program: URL, _ arguments: [String], environment: [String: String]
    ) throws -> (status: Int32, stdout: Data, stderr: Data) {
        let process = Process()
        process.executableURL = program
        process.arguments = arguments
        process.environment = environment
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, output, errors)
    }
}
