import Foundation
import MemprofTrace
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Aggregate mode (`memprof run --mode aggregate`): per-stack counters in the process,
/// written in snapshots. These tests read the trace's records directly (``Replay``), so
/// that what the preload wrote is checked apart from the report: the counts equal full
/// mode's stack by stack, the file does not grow with the event count, memprof's own
/// memory stays flat on a steady workload, and snapshots come on the signal.
@Suite struct AggregateModeTests {
    /// Per-stack sums of a trace's SITE records, its snapshots, ticks and leaks; and, for
    /// a full-mode trace, the same per-stack figures from its events.
    struct Replay: TraceVisitor {
        struct Counts: Hashable {
            var allocations: UInt64 = 0, deallocations: UInt64 = 0, bytes: UInt64 = 0, freed: UInt64 = 0
            var temporaries: UInt64 = 0
        }
        var sites: [UInt32: Counts] = [:]
        var peaks: [UInt32: UInt64] = [:]
        var events: [UInt32: Counts] = [:]
        var eventRecords = 0
        var snapshots: [SnapshotRecord] = []
        var sitesAfterSnapshot: [Int] = []
        var ticks: [TickRecord] = []
        var leaks: [LeakKind: (blocks: Int, bytes: UInt64)] = [:]
        var intervalNanoseconds: UInt64?
        var ended = false

        mutating func aggregation(intervalNanoseconds: UInt64) { self.intervalNanoseconds = intervalNanoseconds }
        mutating func snapshot(_ record: SnapshotRecord) {
            snapshots.append(record)
            sitesAfterSnapshot.append(0)
        }
        mutating func site(_ record: SiteRecord) {
            sitesAfterSnapshot[sitesAfterSnapshot.count - 1] += 1
            var counts = sites[record.stackID] ?? Counts()
            counts.allocations += record.allocations
            counts.deallocations += record.deallocations
            counts.bytes += record.allocatedBytes
            counts.freed += record.deallocatedBytes
            counts.temporaries += record.temporaries
            sites[record.stackID] = counts
            peaks[record.stackID] = max(peaks[record.stackID] ?? 0, record.peakLiveBytes)
        }
        mutating func allocation(thread: UInt32, size: UInt64, stackID: UInt32) {
            eventRecords += 1
            events[stackID, default: Counts()].allocations += 1
            events[stackID, default: Counts()].bytes += size
        }
        mutating func deallocation(thread: UInt32, size: UInt64, stackID: UInt32, temporary: Bool) {
            eventRecords += 1
            events[stackID, default: Counts()].deallocations += 1
            events[stackID, default: Counts()].freed += size
            if temporary { events[stackID, default: Counts()].temporaries += 1 }
        }
        mutating func tick(_ record: TickRecord) { ticks.append(record) }
        mutating func leak(_ record: LeakRecord) {
            let old = leaks[record.kind] ?? (0, 0)
            leaks[record.kind] = (old.blocks + 1, old.bytes + record.size)
        }
        mutating func end(_ record: EndRecord) { ended = true }

        static func read(_ path: String) throws -> Replay {
            var replay = Replay()
            _ = try TraceReader(path: path).read(into: &replay)
            return replay
        }

        /// Live bytes summed over every stack.
        var liveBytes: Int64 { sites.values.reduce(0) { $0 + Int64($1.bytes) - Int64($1.freed) } }
    }

    static let steady = Harness.examples.appendingPathComponent("steady").path

    static func record(_ options: [String], _ command: [String], in directory: URL, name: String = "t.mprof") throws
        -> (run: Harness.Result, trace: String)
    {
        let trace = directory.appendingPathComponent(name).path
        let run = try Harness.run([Harness.memprof.path, "run"] + options + ["-o", trace, "--"] + command)
        return (run, trace)
    }

    @Test func countsEqualFullModeStackByStack() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let program = Harness.examples.appendingPathComponent("known_counts").path
        let full = try Self.record([], [program], in: directory, name: "full.mprof")
        let aggregate = try Self.record(["--mode", "aggregate"], [program], in: directory, name: "agg.mprof")
        #expect(full.run.status == 0 && aggregate.run.status == 0, "\(aggregate.run.stderr)")
        let fromEvents = try Replay.read(full.trace)
        let fromSnapshots = try Replay.read(aggregate.trace)
        #expect(fromSnapshots.eventRecords == 0)
        #expect(fromSnapshots.intervalNanoseconds == 1_000_000_000)
        #expect(fromSnapshots.ended)
        // known_counts: 123 allocations and 120 frees (DESIGN's counting rules).
        #expect(fromSnapshots.sites.values.reduce(0) { $0 + $1.allocations } == 123)
        #expect(fromSnapshots.sites.values.reduce(0) { $0 + $1.deallocations } == 120)
        // The same figures per stack (ids may differ between runs: compare as multisets).
        let a = fromSnapshots.sites.values.map { "\($0)" }.sorted()
        let b = fromEvents.events.values.map { "\($0)" }.sorted()
        #expect(a == b)
        // The exit scan runs in aggregate mode too: the same leaks as full mode.
        #expect(fromSnapshots.leaks[.definite]?.blocks == 3)
        #expect(fromSnapshots.leaks[.definite]?.bytes == fromEvents.leaks[.definite]?.bytes)
        #expect(fromSnapshots.snapshots.last?.reason == .end)
    }

    @Test func theFileDoesNotGrowWithTheEventCount() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // One snapshot (at the end) for 20 times the events: the same stacks, the same size.
        // Both runs last over a second, so that both files hold the threads' tail blocks
        // (written after half a second, once, since the threads' buffers then hold only
        // their stacks).
        let options = ["--mode", "aggregate", "--snapshot-interval", "24h"]
        let small = try Self.record(
            options, [Self.steady, "100000", "2", "idle", "1"], in: directory, name: "small.mprof")
        let large = try Self.record(
            options, [Self.steady, "2000000", "2", "idle", "1"], in: directory, name: "large.mprof")
        #expect(small.run.status == 0 && large.run.status == 0, "\(large.run.stderr)")
        let smallSize = try FileManager.default.attributesOfItem(atPath: small.trace)[.size] as? Int ?? 0
        let largeSize = try FileManager.default.attributesOfItem(atPath: large.trace)[.size] as? Int ?? 0
        #expect(smallSize > 0)
        #expect(Double(largeSize) < Double(smallSize) * 1.25, "\(smallSize) B for 0.2M steps, \(largeSize) B for 4M")
        // The counts are exact: each of the four ring sites got a quarter of the steps of
        // both threads, and the temporary site an eighth, every one a temporary.
        let replay = try Replay.read(large.trace)
        let ring = replay.sites.values.filter { $0.allocations == 1_000_000 }
        #expect(ring.count == 4, "\(replay.sites.values.map(\.allocations).sorted())")
        #expect(ring.allocSum == 4_000_000)
        let temporary = replay.sites.values.filter { $0.temporaries == 500_000 }
        #expect(temporary.count == 1 && temporary.first?.allocations == 500_000)
    }

    @Test func memprofsOwnMemoryStaysFlatOnASteadyWorkload() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let options = ["--mode", "aggregate", "--snapshot-interval", "10ms"]
        let (run, trace) = try Self.record(options, [Self.steady, "8000000", "2"], in: directory)
        #expect(run.status == 0, "\(run.stderr)")
        let replay = try Replay.read(trace)
        let periodic = replay.snapshots.filter { $0.reason == .periodic }
        #expect(periodic.count >= 30, "only \(periodic.count) snapshots")
        // After the first fifth (the ring filled, every stack known) and before the
        // threads exit (a thread's last buffer is staged then), nothing of memprof's
        // grows: not its mappings, not the process's resident set.
        let settled = periodic.dropFirst(periodic.count / 5).dropLast(periodic.count / 10 + 1)
        let own = settled.map(\.memprofBytes)
        #expect(
            own.max()! - own.min()! <= 256 * 1024,
            "memprof's memory: \(periodic.map { "\($0.nanoseconds / 1_000_000) ms \($0.memprofBytes)" })")
        let start = settled.first!.nanoseconds
        let rss = replay.ticks.filter { $0.nanoseconds >= start && $0.nanoseconds < periodic.last!.nanoseconds }
            .map(\.rssBytes)
        #expect(rss.max()! - rss.min()! <= 2 * 1024 * 1024, "RSS: \(rss.min()!) .. \(rss.max()!) B")
        // Each snapshot lists only the stacks that changed: at most the program's few.
        #expect(replay.sitesAfterSnapshot.max()! <= 12)
        #expect(zip(replay.snapshots, replay.sitesAfterSnapshot).allSatisfy { Int($0.siteCount) == $1 })
    }

    /// A `memprof run` started with no signal blocked. (The test runner's threads block
    /// most signals, and a child inherits its parent's mask: started with Foundation's
    /// Process, CMD would never see the snapshot signal.)
    struct Started {
        var pid: pid_t
        var stdout: FileHandle

        init(_ arguments: [String]) throws {
            var fds: [Int32] = [0, 0]
            guard pipe(&fds) == 0 else { throw POSIXError(.EMFILE) }
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
            posix_spawn_file_actions_addclose(&actions, fds[0])
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            var none = sigset_t()
            sigemptyset(&none)
            posix_spawnattr_setsigmask(&attributes, &none)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
            defer {
                posix_spawn_file_actions_destroy(&actions)
                posix_spawnattr_destroy(&attributes)
            }
            let argv = ([Harness.memprof.path, "run"] + arguments).map { strdup($0) } + [nil]
            var environment = ProcessInfo.processInfo.environment
            environment["MEMPROF_PRELOAD"] = Harness.preload.path
            let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer {
                argv.forEach { free($0) }
                envp.forEach { free($0) }
            }
            var pid: pid_t = 0
            let rc = posix_spawn(&pid, Harness.memprof.path, &actions, &attributes, argv, envp)
            close(fds[1])
            guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EINVAL) }
            self.pid = pid
            stdout = FileHandle(fileDescriptor: fds[0], closeOnDealloc: true)
        }

        /// Waits for it; its exit status (128 + signal when killed).
        func wait() -> Int32 {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        }
    }

    /// Waits until the preload has written the trace's first block (its signal handler
    /// is installed before the writer starts), up to 10 s.
    static func waitForTrace(_ path: String) {
        for _ in 0..<1000 {
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            if size > 32 { break }
            usleep(10_000)
        }
        usleep(200_000)
    }

    @Test func theSignalWritesASnapshotAndMemprofRunPassesItOn() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let trace = directory.appendingPathComponent("t.mprof").path
        let run = try Started([
            "--mode", "aggregate", "--snapshot-interval", "24h", "-o", trace, "--", Self.steady, "200000", "1", "idle",
            "2",
        ])
        Self.waitForTrace(trace)
        kill(run.pid, SIGUSR2)  // to memprof run, which passes it on
        usleep(300_000)
        kill(run.pid, SIGUSR2)
        #expect(run.wait() == 0)
        let replay = try Replay.read(trace)
        #expect(replay.snapshots.map(\.reason) == [.signal, .signal, .end])
        #expect(replay.sites.values.filter { $0.allocations == 50_000 }.count == 4)
    }

    @Test func aProgramThatHandlesTheSignalKeepsItsHandler() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let trace = directory.appendingPathComponent("t.mprof").path
        let run = try Started(["--mode", "aggregate", "-o", trace, "--", Self.steady, "1000", "1", "handle-usr2"])
        Self.waitForTrace(trace)
        kill(run.pid, SIGUSR2)
        let output = String(decoding: run.stdout.readDataToEndOfFile(), as: UTF8.self)
        #expect(run.wait() == 0)
        #expect(output == "usr2 1\n")
        let replay = try Replay.read(trace)
        #expect(!replay.snapshots.contains { $0.reason == .signal })
    }

    @Test func aForkedChildStartsFromTheCountersItInherited() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let program = Harness.examples.appendingPathComponent("fork_tree").path
        let (run, _) = try Self.record(["--mode", "aggregate"], [program], in: directory, name: "t.%p.mprof")
        #expect(run.status == 0, "\(run.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(files.count == 2)
        let replays = try files.map { try Replay.read(directory.appendingPathComponent($0).path) }
        // The child (the file with the lost block): in use at its end, as in full mode
        // (ProcessTreeTests), 5 inherited blocks, its 20 and the lost one: 4,800 B.
        let child = try #require(replays.first { $0.leaks[.definite] != nil })
        #expect(child.liveBytes == 4800)
        #expect(child.leaks[.definite]?.blocks == 1 && child.leaks[.definite]?.bytes == 300)
        #expect(child.leaks[.reachable]?.blocks == 25 && child.leaks[.reachable]?.bytes == 4500)
    }

    /// The report, trends, `--at` and `memprof check` on an aggregate trace of
    /// examples/growth (a leak of exactly 400 KiB/s beside a bounded cache).
    @Test func trendsAndLeakSuspectsFromSnapshots() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let program = Harness.examples.appendingPathComponent("growth").path
        let (run, trace) = try Self.record(
            ["--mode", "aggregate", "--snapshot-interval", "100ms"], [program], in: directory)
        #expect(run.status == 0, "\(run.stderr)")
        func json(_ arguments: [String]) throws -> [String: Any] {
            let result = try Harness.run([Harness.memprof.path, "report", "--format", "json", trace] + arguments)
            try #require(result.status == 0, "\(result.stderr)")
            return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        }
        let trueRate = 400.0 * 1024
        let whole = try json([])
        let aggregate = try #require(whole.object("snapshot")?.object("aggregate"))
        #expect((aggregate["snapshots"] as? Int ?? 0) >= 15)
        #expect(aggregate["snapshot_interval_seconds"] as? Double == 0.1)
        #expect(whole.object("allocations")?["median_allocation_size"] is NSNull)
        // The heap's growth once the cache is full, and the leak's own, within 5%.
        let late = try json(["--duration", "1.5s"])
        let growth = try #require(late.object("trend")?.object("trend_analysis")?["growth_rate"] as? Double)
        #expect(abs(growth - trueRate) / trueRate < 0.05, "heap growth \(growth) B/s")
        let sites = whole.object("trend")?.array("site_growth") ?? []
        let leak = try #require(sites.first { ($0["location"] as? String)?.hasPrefix("leak_block ") == true })
        let leakRate = try #require(leak["growth_rate"] as? Double)
        #expect(abs(leakRate - trueRate) / trueRate < 0.05, "leak_block grows \(leakRate) B/s")
        #expect(leak["leak_suspect"] as? Bool == true)
        let cache = try #require(sites.first { ($0["location"] as? String)?.hasPrefix("cache_insert ") == true })
        #expect(cache["leak_suspect"] as? Bool == false)
        #expect(cache["shape"] as? String == "plateaued")
        // --at half-way: the state of a snapshot then, with fewer allocations than at the end.
        let half = try json(["--at", "50%"])
        let halfCount = try #require(half.object("snapshot")?["allocation_count"] as? Int)
        let endCount = try #require(whole.object("snapshot")?["allocation_count"] as? Int)
        #expect(halfCount > 0 && halfCount < endCount, "\(halfCount) at 50%, \(endCount) at the end")
        // The text report says what kind of recording it is; check gates on its leak.
        let text = try Harness.run([Harness.memprof.path, "report", trace])
        #expect(text.stdout.contains("note: aggregate recording"))
        #expect(text.stdout.contains("sizes are not recorded in aggregate mode"))
        let check = try Harness.run(
            [Harness.memprof.path, "check", trace], environment: ["MEMPROF_ALLOWED_LEAK_BYTES": "0"])
        #expect(check.status == 2, "\(check.stdout)\(check.stderr)")
    }

    /// A report on a trace its process is still writing: live, not "truncated (killed
    /// or crashed?)", and the heap peak of growth (whose heap only grows) at the last
    /// snapshot written — not at the first event's time, as the thread blocks that
    /// follow the snapshots in the file used to time it.
    @Test func aReportWhileTheProcessRunsSaysItIsLive() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let trace = directory.appendingPathComponent("live.mprof").path
        let program = Harness.examples.appendingPathComponent("growth").path
        let run = try Started(["--mode", "aggregate", "--snapshot-interval", "1s", "-o", trace, "--", program, "5"])
        Self.waitForTrace(trace)
        usleep(2_300_000)  // two periodic snapshots
        let text = try Harness.run([Harness.memprof.path, "report", trace])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("is still running and writing this trace"), "\(text.stdout)")
        #expect(!text.stdout.contains("WARNING"), "\(text.stdout)")
        #expect(!text.stderr.contains("truncated") && text.stderr.contains("still being written"), "\(text.stderr)")
        #expect(text.stdout.contains("Leaks: not yet known"))
        let live = try Harness.reportJSON(trace)
        #expect(live.object("trace")?["live"] as? Bool == true)
        let lastSnapshot = try #require(
            live.object("snapshot")?.object("aggregate")?["last_snapshot_seconds"] as? Double)
        let peakTime = try #require(live.object("snapshot")?["peak_time_seconds"] as? Double)
        #expect(
            lastSnapshot >= 1.9 && peakTime == lastSnapshot, "peak at \(peakTime) s, last snapshot \(lastSnapshot) s")
        #expect(run.wait() == 0)
        let ended = try Harness.reportJSON(trace)
        #expect(ended.object("trace")?["live"] as? Bool == false)
        #expect(ended.object("trace")?["complete"] as? Bool == true)
        #expect((ended.object("snapshot")?["peak_time_seconds"] as? Double ?? 0) >= 4.9)
    }

    @Test func badSnapshotOptionsAreOneLineErrors() throws {
        let program = Harness.examples.appendingPathComponent("known_counts").path
        for (options, text) in [
            (["--mode", "aggregate", "--snapshot-interval", "5ms"], "--snapshot-interval must be a duration"),
            (["--mode", "aggregate", "--snapshot-interval", "soon"], "--snapshot-interval must be a duration"),
            (["--snapshot-interval", "1s"], "--snapshot-interval needs --mode aggregate"),
            (["--mode", "aggregate", "--snapshot-signal", "KILL"], "--snapshot-signal must be"),
            (["--mode", "sample", "--snapshot-signal", "USR1"], "--snapshot-signal needs --mode aggregate"),
        ] {
            let result = try Harness.run([Harness.memprof.path, "run"] + options + ["--", program])
            #expect(result.status == 64, "\(options): \(result.stderr)")
            #expect(result.stderr.contains(text), "\(options): \(result.stderr)")
        }
    }

    @Test func aBadIntervalInTheEnvironmentKeepsTheDefaultAndSaysSo() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let trace = directory.appendingPathComponent("t.mprof").path
        FileManager.default.createFile(atPath: trace, contents: nil)
        let program = Harness.examples.appendingPathComponent("known_counts").path
        let result = try Harness.run(
            [program],
            environment: [
                "LD_PRELOAD": Harness.preload.path, "MEMPROF_OUTPUT": trace, "MEMPROF_MODE": "aggregate",
                "MEMPROF_SNAPSHOT_INTERVAL": "often",
            ])
        #expect(result.status == 0)
        #expect(result.stderr.contains("memprof: bad MEMPROF_SNAPSHOT_INTERVAL=often"), "\(result.stderr)")
        let replay = try Replay.read(trace)
        #expect(replay.intervalNanoseconds == 1_000_000_000)
        #expect(replay.sites.values.reduce(0) { $0 + $1.allocations } == 123)
    }
}

extension Array where Element == AggregateModeTests.Replay.Counts {
    var allocSum: UInt64 { reduce(0) { $0 + $1.allocations } }
}
