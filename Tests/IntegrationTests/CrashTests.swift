import Foundation
import Testing

/// A process killed outright (SIGKILL) runs none of memprof's exit code, so its trace
/// ends where the writer was: with tail blocks the writer copies every thread's
/// unfinished buffer twice a second. A crash or abort reaches memprof's handler, which
/// finishes the trace before the signal ends the process. Either way crash_burst's
/// 1,500 allocations, made a second before it dies by two threads that never fill a
/// buffer, must all be there.
@Suite struct CrashTests {
    /// How crash_burst dies, and the signal.
    static let endings: [(String, Int32)] = [("kill", SIGKILL), ("segv", SIGSEGV), ("abort", SIGABRT)]

    @Test(arguments: endings)
    func aKilledProcessLeavesItsLastEvents(how: String, signal: Int32) throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let trace = directory.appendingPathComponent("crash.mprof").path
        let program = Harness.examples.appendingPathComponent("crash_burst").path
        let run = try Harness.run([Harness.memprof.path, "run", "-o", trace, "--", program, how])
        // memprof run dies of the same signal (Process reports the signal number).
        #expect(run.status == signal, "\(run.stderr)")
        let report = try Harness.run([Harness.memprof.path, "report", "--format", "json", trace])
        #expect(report.status == 0, "\(report.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any])
        if signal == SIGKILL {
            #expect(report.stderr.contains("truncated"), "the report says the trace was cut short: \(report.stderr)")
            #expect(json.object("trace")?["truncated"] as? Bool == true)
        } else {
            // Finished from memprof's handler: complete.
            #expect(json.object("trace")?["truncated"] as? Bool == false, "\(report.stderr)")
            #expect(json.object("trace")?["complete"] as? Bool == true)
        }
        let sites = try #require(json.object("allocations")?["top_allocators"] as? [[String: Any]])
        func count(_ function: String) -> Int? {
            sites.first { ($0["location"] as? String)?.hasPrefix(function) == true }?["allocation_count"] as? Int
        }
        #expect(count("burst_main") == 1000)
        #expect(count("burst_worker") == 500)
    }
}
