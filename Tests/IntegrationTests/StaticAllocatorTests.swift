import Foundation
import Testing

/// A program with an allocator linked in statically bypasses the preload: `memprof run`
/// must say so (naming the symbols it found) instead of writing an empty trace without
/// a word, and still run the program unchanged.
@Suite(.serialized)
struct StaticAllocatorTests {
    let directory: URL

    init() throws { directory = try Harness.temporaryDirectory() }

    private func run(_ program: String) throws -> (Harness.Result, String) {
        let trace = directory.appendingPathComponent("\(program).mprof").path
        let result = try Harness.run([
            Harness.memprof.path, "run", "-o", trace, "--", Harness.examples.appendingPathComponent(program).path,
        ])
        return (result, trace)
    }

    @Test func aProgramThatDefinesMallocIsNamedBeforeItRuns() throws {
        let (result, trace) = try run("static_jemalloc")
        #expect(result.status == 0)
        #expect(result.stdout == "done\n")
        let warning = try #require(result.stderr.split(separator: "\n").first { $0.contains("warning:") })
        #expect(warning.contains("static_jemalloc: it defines its own malloc (malloc, calloc, realloc, free"))
        #expect(warning.contains("not recorded"))
        #expect(warning.contains("--jemalloc"))
        // What the trace shows, it shows because of that: nothing of the program's.
        let report = try Harness.run([Harness.memprof.path, "report", trace, "--format", "json"])
        let json = try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any]
        let snapshot = try #require(json?["snapshot"] as? [String: Any])
        let allocations = try #require(snapshot["allocation_count"] as? Int)
        #expect(allocations < 100)
        // The report says why, in text and JSON.
        let process = try #require(json?["process"] as? [String: Any])
        #expect(process["allocator_symbols"] as? [String] == ["malloc", "calloc", "realloc", "free", "mallocx"])
        let text = try Harness.run([Harness.memprof.path, "report", trace])
        #expect(text.stdout.contains("WARNING: "), "report: \(text.stdout)")
        #expect(text.stdout.contains("static_jemalloc: it defines its own malloc"))
    }

    @Test func aPrefixedAllocatorIsNamed() throws {
        let (result, _) = try run("prefixed_allocator")
        #expect(result.status == 0)
        #expect(result.stdout == "done\n")
        #expect(
            result.stderr.contains(
                "prefixed_allocator: it defines mi_malloc (an allocator linked in statically): allocations made through it are not recorded"
            ), "stderr: \(result.stderr)")
    }

    @Test func anOrdinaryProgramGetsNoWarning() throws {
        let (result, trace) = try run("known_counts")
        #expect(result.status == 0)
        #expect(!result.stderr.contains("warning"), "stderr: \(result.stderr)")
        let report = try Harness.run([Harness.memprof.path, "report", trace, "--format", "json"])
        let json = try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any]
        let process = try #require(json?["process"] as? [String: Any])
        #expect(process["allocator_symbols"] as? [String] == [])
    }
}
