import Foundation
import Testing

/// `LeakCheck` on leaking and clean code, in a process with the interposer linked in
/// (see CheckProbe). The figures are exact: a `Node` is a 32-byte object whose
/// 40-byte array payload is a 72-byte buffer, so a cycle of two nodes is 4 blocks,
/// 208 bytes — one definitely lost, the three it reaches indirectly lost (memcheck's
/// rule for a cycle).
@Suite("LeakCheck")
struct LeakCheckTests {
    @Test("a Swift retain cycle: 1 block definitely and 3 indirectly lost, 208 bytes, at makeCycle")
    func swiftCycle() throws {
        let out = try CheckProbe.run("swift-cycle")
        #expect(out.error == nil)
        #expect(out.interposer == "linked")
        #expect(out.total("definite") == (32, 1))
        #expect(out.total("indirect") == (176, 3))
        #expect(out.leakedBlocks == 4 && out.leakedBytes == 208)
        let sites = try #require(out.sites)
        #expect(sites.allSatisfy { $0.frames.contains { $0.contains("makeCycle() -> () (main.swift:") } })
        let report = try #require(out.report)
        #expect(report.hasPrefix("memprof leak check: 4 blocks (208 bytes) leaked"))
        #expect(report.contains("32 bytes in 1 block definitely lost, allocated at"))
    }

    @Test("code that frees what it allocates: nothing left, nothing reported")
    func clean() throws {
        let out = try CheckProbe.run("clean")
        #expect(out.error == nil)
        #expect(out.unfreedBlocks == 0)
        #expect(out.report == "memprof leak check: no leaks")
    }

    @Test("a C library's allocation dropped by Swift code: 53 bytes definitely lost at leakFromC")
    func cLibrary() throws {
        let out = try CheckProbe.run("c-leak")
        #expect(out.total("definite") == (53, 1))
        #expect(out.unfreedBlocks == 1)
        #expect(out.sites?.first?.location.contains("leakFromC") == true)
    }

    @Test("a block kept in a global is still reachable: not a leak by default, counted with kinds .all")
    func reachable() throws {
        let out = try CheckProbe.run("reachable")
        #expect(out.leakedBlocks == 0)
        #expect((out.unfreedBlocks ?? 0) >= 2)
        #expect(out.sites?.allSatisfy { $0.kind == "reachable" } == true)
        let all = try CheckProbe.run("reachable-all-kinds")
        #expect((all.leakedBlocks ?? 0) >= 2)
        #expect(all.leakedBlocks == all.unfreedBlocks)
    }

    @Test("the Swift runtime's one-time caches show without warm-up and vanish after one, even counting every kind")
    func runtimeCaches() throws {
        let cold = try CheckProbe.run("runtime-caches-cold")
        #expect(cold.error == nil)
        #expect((cold.leakedBlocks ?? 0) > 0, "first use of generic metadata and conformances allocates caches")
        let warm = try CheckProbe.run("runtime-caches-warm")
        #expect(warm.error == nil)
        #expect(warm.unfreedBlocks == 0, "\(warm.report ?? "")")
    }

    @Test("a weakly referenced object kept in a global: its side table, known only from an encoded word, is reachable")
    func weakReferenceSideTable() throws {
        let out = try CheckProbe.run("weak-to-kept")
        #expect(out.error == nil)
        #expect(out.leakedBlocks == 0, "\(out.report ?? "")")
        #expect((out.unfreedBlocks ?? 0) >= 3)
    }

    @Test("a thread the body starts and leaves running: its TLS table (which glibc points into) is reachable")
    func startedThread() throws {
        let out = try CheckProbe.run("thread-started")
        #expect(out.error == nil)
        #expect(out.leakedBlocks == 0, "\(out.report ?? "")")
        #expect(
            out.sites?.contains { $0.kind == "reachable" && $0.frames.contains { $0.contains("allocate_dtv") } } == true
        )
    }

    @Test("async bodies run on memprof's executor: a cycle across awaits and actor calls is found, clean code is clean")
    func async() throws {
        let cycle = try CheckProbe.run("async-cycle")
        #expect(cycle.error == nil)
        #expect(cycle.total("definite") == (32, 1))
        #expect(cycle.total("indirect") == (176, 3))
        let clean = try CheckProbe.run("async-clean")
        #expect(clean.error == nil)
        #expect(clean.leakedBlocks == 0)
    }

    @Test("works under memprof run: the preload takes over from the linked copy, with the same answer")
    func underMemprofRun() throws {
        let trace = FileManager.default.temporaryDirectory.appendingPathComponent("check-\(getpid()).mprof").path
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let out = try CheckProbe.run("swift-cycle", .memprofRun(trace: trace))
        #expect(out.interposer == "preloaded")
        #expect(out.total("definite") == (32, 1))
        #expect(out.total("indirect") == (176, 3))
        // At exit the same Swift program's scan (Swift's reference encodings, threads'
        // TLS tables) finds exactly the two cycles it leaked (warm-up and checked run),
        // and no runtime block as "possibly lost".
        let memprof = Probe.executable.deletingLastPathComponent().appendingPathComponent("memprof")
        let report = try Probe.run(
            memprof, ["report", trace, "--format", "json"], environment: ProcessInfo.processInfo.environment)
        #expect(report.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: report.stdout) as? [String: Any])
        let byKind = try #require((object["leaks"] as? [String: Any])?["by_kind"] as? [String: [String: Int]])
        #expect(byKind["definite"] == ["blocks": 2, "bytes": 64])
        #expect(byKind["indirect"] == ["blocks": 6, "bytes": 352])
        #expect(byKind["possible"] == ["blocks": 0, "bytes": 0])
    }

    @Test("linked, it writes no trace unless MEMPROF_OUTPUT names one; then the trace reports the same leak at exit")
    func linkedTrace() throws {
        let trace = FileManager.default.temporaryDirectory.appendingPathComponent("linked-\(getpid()).mprof").path
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let out = try CheckProbe.run("swift-cycle", .linkedWithTrace(trace))
        #expect(out.interposer == "linked")
        #expect(out.total("definite") == (32, 1))
        let memprof = Probe.executable.deletingLastPathComponent().appendingPathComponent("memprof")
        let report = try Probe.run(
            memprof, ["report", trace, "--format", "json"], environment: ProcessInfo.processInfo.environment)
        #expect(report.status == 0)
        let json = report.stdout
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        let leaks = try #require(object["leaks"] as? [String: Any])
        let byKind = try #require(leaks["by_kind"] as? [String: Any])
        // The cycle leaked at exit too: at least its definitely lost block.
        let definite = try #require(byKind["definite"] as? [String: Any])
        #expect((definite["blocks"] as? Int ?? 0) >= 1)
    }
}

/// Bad use gives a clear error, not a wrong answer.
@Suite("LeakCheck errors")
struct LeakCheckErrorTests {
    @Test("a check inside a check is refused")
    func nested() throws {
        let out = try CheckProbe.run("nested")
        #expect(out.innerError?.contains("checks do not nest") == true)
    }

    @Test("another thread leaking during the check: an error, or with threads: .all its 3 cycles as the body's")
    func concurrent() throws {
        let out = try CheckProbe.run("concurrent")
        let error = try #require(out.error)
        #expect(error.hasPrefix("other threads allocated"))
        #expect(error.contains("left 12 blocks (624 bytes) that would count as leaks"))
        let all = try CheckProbe.run("concurrent-all-threads")
        #expect(all.error == nil)
        #expect(all.total("definite") == (96, 3))
        #expect(all.total("indirect") == (528, 9))
    }

    @Test("another thread only keeping blocks reachable does not disturb the default check")
    func concurrentReachable() throws {
        let out = try CheckProbe.run("concurrent-reachable")
        #expect(out.error == nil)
        #expect(out.leakedBlocks == 0)
    }

    @Test("without the interposer, checks and counts say so")
    func noInterposer() throws {
        let report = try Probe.glibc.get()
        #expect(report.leakCheckError?.hasPrefix("memprof's interposer is not in this process") == true)
        #expect(report.countError == report.leakCheckError)
    }

    @Test("behind jemalloc the scan refuses (its chunk rules are glibc's); counting still works")
    func jemalloc() throws {
        let out = try CheckProbe.run("c-leak", .jemalloc)
        #expect(out.error?.hasPrefix("memprof could not scan the heap") == true)
        let counts = try CheckProbe.run("counts", .jemalloc)
        #expect(counts.counts?["allocations"] == 10)
    }
}

@Suite("Allocations and live sites")
struct AllocationCountTests {
    @Test("ten malloc/free pairs count exactly, an empty body counts nothing")
    func counts() throws {
        let out = try CheckProbe.run("counts")
        let counts = try #require(out.counts)
        #expect(counts["allocations"] == 10)
        #expect(counts["frees"] == 10)
        #expect(counts["bytesAllocated"] == 5500)
        #expect(counts["bytesFreed"] == 5500)
        #expect(counts["emptyAllocations"] == 0)
    }

    @Test("a snapshot lists live blocks by site: 64 blocks of 1000 bytes at allocateForSites")
    func sites() throws {
        let out = try CheckProbe.run("sites")
        let sites = try #require(out.sites)
        let site = try #require(sites.first { $0.location.contains("allocateForSites") })
        #expect(site.blocks == 64)
        #expect(site.bytes == 64_000)
    }
}
