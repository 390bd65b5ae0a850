import Foundation
import Testing

/// `Recording.writeSnapshot()`: an aggregate-mode recording gets a snapshot marked as
/// asked for by the API, holding the blocks live at that moment; in-process checks work
/// in aggregate mode as in full mode; without a trace file the call says so.
@Suite struct RecordingSnapshotTests {
    static func dump(_ trace: String) throws -> [String] {
        let memprof = Probe.executable.deletingLastPathComponent().appendingPathComponent("memprof")
        let result = try Probe.run(memprof, ["dump", trace], environment: ProcessInfo.processInfo.environment)
        #expect(result.status == 0, "\(String(decoding: result.stderr, as: UTF8.self))")
        return String(decoding: result.stdout, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    @Test("under memprof run --mode aggregate, writeSnapshot() writes a snapshot with the live blocks")
    func apiSnapshot() throws {
        let trace = FileManager.default.temporaryDirectory.appendingPathComponent("api-snap-\(getpid()).mprof").path
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let out = try CheckProbe.run("write-snapshot", .memprofRunAggregate(trace: trace))
        #expect(out.error == nil, "\(out.error ?? "")")
        #expect(out.interposer == "preloaded")
        let lines = try Self.dump(trace)
        let api = lines.indices.filter { lines[$0].hasPrefix("snapshot ") && lines[$0].contains("reason=api") }
        #expect(api.count == 1, "\(lines.filter { $0.hasPrefix("snapshot") })")
        // Its SITE records follow it: one stack has the 64 blocks of 1000 B, none freed yet.
        let first = try #require(api.first)
        let sites = lines[(first + 1)...].prefix { $0.hasPrefix("site ") || !$0.hasPrefix("snapshot ") }
            .filter { $0.hasPrefix("site ") }
        #expect(
            sites.contains {
                $0.contains(" allocations=64 ") && $0.contains(" bytes=64000 ") && $0.contains(" freed=0 ")
            },
            "\(sites)")
        #expect(lines.contains { $0.hasPrefix("snapshot ") && $0.contains("reason=end") })
    }

    @Test("in full mode writeSnapshot() brings the file up to date and succeeds")
    func fullModeFlush() throws {
        let trace = FileManager.default.temporaryDirectory.appendingPathComponent("full-snap-\(getpid()).mprof").path
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let out = try CheckProbe.run("write-snapshot", .memprofRun(trace: trace))
        #expect(out.error == nil, "\(out.error ?? "")")
        let lines = try Self.dump(trace)
        #expect(!lines.contains { $0.hasPrefix("snapshot ") })
        #expect(lines.filter { $0.hasPrefix("alloc ") }.count >= 64)
    }

    @Test("leak checks work in aggregate mode (the live table is exact)")
    func leakCheckInAggregateMode() throws {
        let trace = FileManager.default.temporaryDirectory.appendingPathComponent("agg-check-\(getpid()).mprof").path
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let out = try CheckProbe.run("swift-cycle", .memprofRunAggregate(trace: trace))
        #expect(out.interposer == "preloaded")
        #expect(out.total("definite") == (32, 1))
        #expect(out.total("indirect") == (176, 3))
    }

    @Test("linked without MEMPROF_OUTPUT there is no trace: writeSnapshot() throws noTraceFile")
    func noTraceFile() throws {
        let out = try CheckProbe.run("write-snapshot")
        #expect(out.interposer == "linked")
        #expect(out.error?.contains("writes no trace") == true, "\(out.error ?? "no error")")
    }
}
