import Foundation
import Testing

/// Sample mode against a full recording of the same program: the estimates per site.
@Suite(.serialized)
struct SamplingTests {
    let directory: URL

    init() throws { directory = try Harness.temporaryDirectory() }

    /// Top allocators by location: (estimated flag, total bytes, allocation count).
    private func sites(_ json: [String: Any]) -> [String: (estimated: Bool, bytes: Int, count: Int)] {
        var out: [String: (Bool, Int, Int)] = [:]
        for site in json.object("allocations")?.array("top_allocators") ?? [] {
            guard let location = site["location"] as? String else { continue }
            // Locations carry a line: keep the function, which names the site.
            let function = String(location.prefix { $0 != " " })
            out[function] = (
                site["estimated"] as? Bool ?? false, site["total_bytes"] as? Int ?? -1,
                site["allocation_count"] as? Int ?? -1
            )
        }
        return out
    }

    /// sized_sites makes 1,000,000 blocks of 64 B, 16,000 of 4 KiB and 64 of 1 MiB from
    /// three functions. Sampled every R = 16 KiB, a site of n blocks of s bytes gets an
    /// estimate whose relative standard deviation is sqrt((1 − p) / (n p)),
    /// p = 1 − exp(−s/R):
    ///   - 64 B: n p ≈ 3,900 samples, deviation 1.6%: 10% is 6.2 deviations;
    ///   - 4 KiB: p = 0.22, n p ≈ 3,540, deviation 1.5%: 10% is 6.7 deviations;
    ///   - 1 MiB: p = 1 − e^−64, every block is sampled: exact.
    /// The estimate is a sum of thousands of independent terms, close to normal, so a
    /// site misses by 10% with probability below 1e-9 for any seed; the seed is fixed
    /// (MEMPROF_SAMPLE_SEED) so the test sees the same samples every run.
    @Test func estimatedBytesPerSiteMatchFullMode() throws {
        let program = Harness.examples.appendingPathComponent("sized_sites").path
        let full = try Harness.reportJSON(try Harness.record([program], in: directory))
        let trace = directory.appendingPathComponent("sampled.mprof").path
        let result = try Harness.run(
            [Harness.memprof.path, "run", "--mode", "sample", "--sample-interval", "16k", "-o", trace, "--", program],
            environment: ["MEMPROF_SAMPLE_SEED": "20261123"])
        try #require(result.status == 0, "\(result.stderr)")
        let sampled = try Harness.reportJSON(trace)
        #expect(sampled.object("allocations")?["estimated"] as? Bool == true)
        #expect(full.object("allocations")?["estimated"] == nil)

        let exact = sites(full)
        let estimated = sites(sampled)
        let expected: [(function: String, bytes: Int, count: Int)] = [
            ("small_block", 64 * 1_000_000, 1_000_000), ("page_block", 4096 * 16_000, 16_000),
            ("huge_block", (1 << 20) * 64, 64),
        ]
        for site in expected {
            let truth = try #require(exact[site.function], "full mode has no \(site.function): \(exact.keys)")
            #expect(truth.bytes == site.bytes && truth.count == site.count && !truth.estimated)
            let estimate = try #require(estimated[site.function], "sample mode has no \(site.function)")
            #expect(estimate.estimated)
            let bytesError = abs(Double(estimate.bytes) / Double(truth.bytes) - 1)
            #expect(bytesError < 0.10, "\(site.function): \(estimate.bytes) bytes estimated, \(truth.bytes) true")
            let countError = abs(Double(estimate.count) / Double(truth.count) - 1)
            #expect(countError < 0.10, "\(site.function): \(estimate.count) blocks estimated, \(truth.count) true")
        }
        // The blocks of 1 MiB are always sampled: their estimate is exact.
        #expect(estimated["huge_block"]?.bytes == (1 << 20) * 64)
        // Every block is freed: each sampled block's free was found (the free filter
        // never says "not sampled" for a sampled block), so nothing is left in use.
        #expect(sampled.int("snapshot", "current_usage") == 0)
        #expect(sampled.int("leaks", "by_kind", "unfreed", "blocks") == 0)
        // Totals stay exact in sample mode.
        #expect(sampled.int("snapshot", "allocation_count") == full.int("snapshot", "allocation_count"))
        #expect(sampled.int("snapshot", "total_allocated") == full.int("snapshot", "total_allocated"))
    }

    @Test func theSameSeedGivesTheSameSamples() throws {
        let program = Harness.examples.appendingPathComponent("sized_sites").path
        var counts: [Int] = []
        for run in 0..<2 {
            let trace = directory.appendingPathComponent("seeded-\(run).mprof").path
            let result = try Harness.run(
                [Harness.memprof.path, "run", "--mode", "sample", "-o", trace, "--", program, "200000", "2000", "8"],
                environment: ["MEMPROF_SAMPLE_SEED": "7"])
            try #require(result.status == 0, "\(result.stderr)")
            counts.append(try #require(Harness.reportJSON(trace).int("snapshot", "sampled_allocations")))
        }
        #expect(counts[0] == counts[1])
    }

    /// Allocation and free counts of every file `memprof run` writes for fork_tree
    /// (examples/src/fork_tree.c: the child allocates 21 blocks and frees 5 it
    /// inherited) with %p in the output path: one file per process.
    private func forkTreeCounts(_ options: [String], name: String) throws -> Set<[Int]> {
        let program = Harness.examples.appendingPathComponent("fork_tree").path
        let output = directory.appendingPathComponent("\(name).%p.mprof").path
        let result = try Harness.run([Harness.memprof.path, "run"] + options + ["-o", output, "--", program])
        try #require(result.status == 0, "\(result.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter {
            $0.hasPrefix("\(name).")
        }
        #expect(files.count == 2, "\(files)")
        return Set(
            try files.map { file in
                let json = try Harness.reportJSON(directory.appendingPathComponent(file).path)
                return [
                    json.int("snapshot", "allocation_count") ?? -1, json.int("snapshot", "deallocation_count") ?? -1,
                ]
            })
    }

    /// Sample mode keeps the counts exact in the parent's file and the child's (the fork
    /// handlers hold the filter's lock too; the child's fast path waits for its own state).
    @Test func aForkedChildKeepsExactCountsInSampleMode() throws {
        let full = try forkTreeCounts([], name: "full")
        #expect(full.contains { $0 == [21, 5] }, "\(full)")
        #expect(try forkTreeCounts(["--mode", "sample"], name: "sampled") == full)
    }

    /// known_counts (examples/src/known_counts.c: 123 allocations, 25,062 bytes, 3 blocks
    /// left at exit) at the default interval of 512 KiB: a run samples none of its
    /// blocks, or one (seed 2: a 1 KiB block, which weighs 512 KiB). Whatever the
    /// samples, the report must not call the leaks none, nor give a peak above the
    /// bytes allocated or more temporaries than allocations.
    @Test(arguments: ["1", "2", "3"])
    func fewSamplesNeverMakeFalseStatements(seed: String) throws {
        let program = Harness.examples.appendingPathComponent("known_counts").path
        let trace = directory.appendingPathComponent("few-\(seed).mprof").path
        let result = try Harness.run(
            [Harness.memprof.path, "run", "--mode", "sample", "-o", trace, "--", program],
            environment: ["MEMPROF_SAMPLE_SEED": seed])
        try #require(result.status == 0, "\(result.stderr)")
        let text = try Harness.run([Harness.memprof.path, "report", trace]).stdout
        #expect(!text.contains("every block was freed"), "\(text)")
        #expect(!text.contains("Leaks: none ("), "\(text)")
        let json = try Harness.reportJSON(trace)
        let allocated = try #require(json.int("snapshot", "total_allocated"))
        #expect(allocated == 25062)
        #expect(try #require(json.int("snapshot", "peak_usage")) <= allocated)
        #expect(try #require(json.int("snapshot", "current_usage")) <= allocated)
        #expect(try #require(json.int("allocations", "temporary_allocations")) <= 123)
        #expect(json.int("leaks", "unfreed_blocks") == 3)
        let sampledLeaks = try #require(json.int("leaks", "sampled_blocks"))
        if sampledLeaks < 3 {
            #expect(try #require(json.int("leaks", "unsampled_bytes_upper_bound")) > 0)
        }
        if sampledLeaks == 0 {
            #expect(text.contains("Leaks: none sampled — 3 blocks were not freed at exit"), "\(text)")
            #expect(json.object("snapshot")?.object("estimates")?.object("leaked_bytes")?["known"] as? Bool == false)
        }
        // A CI gate on leaks must not pass for want of a sample.
        let check = try Harness.run(
            [Harness.memprof.path, "check", trace], environment: ["MEMPROF_ALLOWED_LEAK_BYTES": "0"])
        #expect(check.status != 0, "\(check.stdout)\(check.stderr)")
        for line in text.split(separator: "\n") where line.contains("% of allocations") {
            #expect(!line.contains("100.") && !line.contains("(1,"), "\(line)")
        }
    }

    @Test func textReportMarksEstimates() throws {
        let program = Harness.examples.appendingPathComponent("sized_sites").path
        let trace = directory.appendingPathComponent("text.mprof").path
        let result = try Harness.run(
            [Harness.memprof.path, "run", "--mode", "sample", "-o", trace, "--", program, "100000", "1000", "4"])
        try #require(result.status == 0, "\(result.stderr)")
        let text = try Harness.run([Harness.memprof.path, "report", trace]).stdout
        #expect(text.contains("estimates scaled from the samples"), "\(text)")
        let row = text.split(separator: "\n").first { $0.contains("huge_block") }
        #expect(row?.contains("~") == true, "\(text)")
    }
}
