import Foundation
import MemprofAnalysis
import MemprofTrace
import Testing

@testable import MemprofReport

@Suite("JSONReportRenderer")
struct JSONReportRendererTests {
    private func object(_ report: Report = Fixture.report(), top: Int = 10) throws -> [String: Any] {
        let data = try JSONReportRenderer(top: top).data(report)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    private func member(_ object: [String: Any], _ key: String) throws -> [String: Any] {
        try #require(object[key] as? [String: Any], "missing object \(key)")
    }

    private func number(_ object: [String: Any], _ key: String) throws -> Double {
        try #require((object[key] as? NSNumber)?.doubleValue, "missing number \(key)")
    }

    @Test("the top level has the contract's members")
    func topLevel() throws {
        let json = try object()
        #expect(Set(json.keys) == ["snapshot", "allocations", "leaks", "trend", "process", "trace", "module_problems"])
    }

    @Test("snapshot")
    func snapshot() throws {
        let snapshot = try member(try object(), "snapshot")
        let expected: [String: Double] = [
            "total_allocated": 9216, "total_deallocated": 9000, "current_usage": 216, "peak_usage": 1364,
            "allocation_count": 116, "deallocation_count": 114, "unknown_deallocations": 1,
            "peak_rss": 8_388_608, "peak_time_seconds": 1.5, "duration_seconds": 2.5, "temporary_allocations": 52,
            "leaked_bytes": 216, "leaked_blocks": 3, "thread_count": 2,
        ]
        for (key, value) in expected {
            #expect(try number(snapshot, key) == value, "snapshot.\(key)")
        }
        #expect(Set(snapshot.keys) == Set(expected.keys))
    }

    @Test("allocations and top allocators")
    func allocations() throws {
        let allocations = try member(try object(), "allocations")
        #expect(try number(allocations, "total_allocations") == 116)
        #expect(try number(allocations, "average_allocation_size") == 79.448)
        #expect(try number(allocations, "median_allocation_size") == 32)
        #expect(try number(allocations, "allocation_rate_per_second") == 46.4)
        #expect(try number(allocations, "temporary_allocations") == 52)
        #expect(try number(allocations, "site_count") == 3)

        let top = try #require(allocations["top_allocators"] as? [[String: Any]])
        #expect(
            top.map { $0["location"] as? String } == [
                "make_buffer (leak.c:12)", "Parser::parse() (parser.cpp:88)", "<stack 4 not recorded>",
            ])
        let first = top[0]
        for key in [
            "location", "allocation_count", "total_bytes", "average_size", "percentage_of_total", "peak_bytes",
            "leaked_bytes", "stack",
        ] {
            #expect(first[key] != nil, "top_allocators[0].\(key)")
        }
        #expect(try number(first, "allocation_count") == 15)
        #expect(try number(first, "total_bytes") == 6000)
        #expect(try number(first, "average_size") == 400)
        #expect(try number(first, "percentage_of_total") == 65.104)
        #expect(try number(first, "peak_bytes") == 1300)
        #expect(try number(first, "leaked_bytes") == 200)
        #expect(try number(first, "stack_count") == 2)

        let stack = try #require(first["stack"] as? [[String: Any]])
        #expect(stack.count == 4)
        #expect(stack[0]["function"] as? String == "make_buffer")
        #expect(stack[0]["file"] as? String == "/work/examples/leak.c")
        #expect(stack[0]["line"] as? Int == 12)
        #expect(stack[0]["module"] as? String == "/work/examples/leaky")
        #expect(stack[0]["address"] as? String == "0x100")
        #expect(stack[0]["inlined"] as? Bool == false)
        // Unknown debug info is null, not missing.
        #expect(stack[3]["file"] is NSNull)
        #expect(stack[3]["line"] is NSNull)
        #expect(Set(stack[3].keys) == ["function", "file", "line", "module", "address", "inlined"])
    }

    @Test("leaks")
    func leaks() throws {
        let leaks = try member(try object(), "leaks")
        #expect(try number(leaks, "leak_count") == 2)
        #expect(try number(leaks, "total_leaked_bytes") == 216)
        #expect(try number(leaks, "leaked_blocks") == 3)
        #expect(leaks["recorded"] as? Bool == true)
        let list = try #require(leaks["leaks"] as? [[String: Any]])
        #expect(list.count == 2)
        #expect(list[0]["location"] as? String == "make_buffer (leak.c:12)")
        #expect(try number(list[0], "size") == 200)
        #expect(try number(list[0], "count") == 2)
        #expect(list[0]["kind"] as? String == "unfreed")
        #expect(list[0]["age_seconds"] is NSNull)
        #expect((list[0]["stack"] as? [[String: Any]])?.first?["function"] as? String == "make_buffer")
        #expect((list[1]["stack"] as? [Any])?.isEmpty == true)
        // An unclassified trace: every block is unfreed, and unfreed always counts.
        #expect(list.allSatisfy { $0["counted"] as? Bool == true })
        #expect(leaks["counted_kinds"] as? [String] == ["unfreed", "definite", "indirect", "possible"])
        let byKind = try member(leaks, "by_kind")
        #expect(Set(byKind.keys) == Set(LeakKind.allCases.map(\.description)))
        #expect(try number(try member(byKind, "unfreed"), "bytes") == 216)
        #expect(try number(try member(byKind, "unfreed"), "blocks") == 3)
        #expect(try number(try member(byKind, "definite"), "bytes") == 0)
        #expect((leaks["suppressed"] as? [Any])?.isEmpty == true)
    }

    @Test("leaks of a classified trace: the counted kinds, every kind's figures, suppressions")
    func classifiedLeaks() throws {
        let policy = LeakPolicy(suppressions: [
            LeakSuppression(pattern: "^Parser::"), LeakSuppression(pattern: "nothing"),
        ])
        let json = try object(Fixture.classifiedReport(policy))
        let leaks = try member(json, "leaks")
        // definite 216 + indirect 50; possible (64) is suppressed, reachable (300) not counted.
        #expect(try number(leaks, "total_leaked_bytes") == 266)
        #expect(try number(leaks, "leaked_blocks") == 4)
        #expect(try number(leaks, "leak_count") == 3)
        #expect(leaks["counted_kinds"] as? [String] == ["unfreed", "definite", "indirect", "possible"])

        // Every block not freed, suppressed ones too.
        let byKind = try member(leaks, "by_kind")
        let expected: [String: (blocks: Double, bytes: Double)] = [
            "unfreed": (0, 0), "definite": (3, 216), "indirect": (1, 50), "possible": (1, 64), "reachable": (3, 300),
        ]
        #expect(Set(byKind.keys) == Set(expected.keys))
        for (kind, figures) in expected {
            let entry = try member(byKind, kind)
            #expect(try number(entry, "blocks") == figures.blocks, "\(kind)")
            #expect(try number(entry, "bytes") == figures.bytes, "\(kind)")
            #expect(Set(entry.keys) == ["blocks", "bytes"])
        }

        let suppressed = try #require(leaks["suppressed"] as? [[String: Any]])
        #expect(suppressed.map { $0["pattern"] as? String } == ["^Parser::", "nothing"])
        #expect(try suppressed.map { try number($0, "count") } == [1, 0])
        #expect(try suppressed.map { try number($0, "size") } == [64, 0])
        #expect(suppressed.allSatisfy { Set($0.keys) == ["pattern", "count", "size"] })

        // Counted groups first, then the still reachable one; no suppressed one.
        let list = try #require(leaks["leaks"] as? [[String: Any]])
        #expect(list.map { $0["kind"] as? String } == ["definite", "indirect", "definite", "reachable"])
        #expect(list.map { $0["counted"] as? Bool } == [true, true, true, false])
        #expect(try list.map { try number($0, "size") } == [200, 50, 16, 300])

        let snapshot = try member(json, "snapshot")
        #expect(try number(snapshot, "leaked_bytes") == 266)
        #expect(try number(snapshot, "leaked_blocks") == 4)
        let top = try #require(try member(json, "allocations")["top_allocators"] as? [[String: Any]])
        let buffer = try #require(top.first { $0["location"] as? String == "make_buffer (leak.c:12)" })
        #expect(try number(buffer, "leaked_bytes") == 250)
        #expect(try number(buffer, "leaked_blocks") == 3)
    }

    @Test("--leak-kinds all counts still reachable blocks in every leaked figure")
    func allKindsCounted() throws {
        let json = try object(Fixture.classifiedReport(LeakPolicy(countedKinds: Set(LeakKind.allCases))))
        let leaks = try member(json, "leaks")
        #expect(try number(leaks, "total_leaked_bytes") == 630)
        #expect(try number(leaks, "leaked_blocks") == 8)
        #expect(try number(leaks, "leak_count") == 5)
        #expect(leaks["counted_kinds"] as? [String] == ["unfreed", "definite", "indirect", "possible", "reachable"])
        #expect(try number(try member(json, "snapshot"), "leaked_bytes") == 630)
    }

    @Test("trend")
    func trend() throws {
        let trend = try member(try object(), "trend")
        let points = try #require(trend["data_points"] as? [[String: Any]])
        #expect(points.count == 3)
        #expect(try number(points[1], "time_seconds") == 1.5)
        #expect(try number(points[1], "heap_bytes") == 1364)
        #expect(try number(points[1], "rss_bytes") == 8_388_608)
        let analysis = try member(trend, "trend_analysis")
        #expect(try number(analysis, "average_usage") == 560)
        #expect(try number(analysis, "peak_usage") == 1364)
        #expect(try number(analysis, "min_usage") == 100)
        #expect(try number(analysis, "growth_rate") == 58)  // (216 - 100) / 2 s
        #expect(try number(analysis, "volatility") == 570.483)
        #expect(try number(analysis, "sample_count") == 3)
    }

    @Test("process and trace")
    func processAndTrace() throws {
        let json = try object(Fixture.report(truncation: .init(offset: 8192, reason: "bad checksum")))
        let process = try member(json, "process")
        #expect(process["command"] as? String == "./leaky 3 'hello world'")
        #expect(process["arguments"] as? [String] == ["./leaky", "3", "hello world"])
        #expect(try number(process, "pid") == 4242)
        #expect(try number(process, "parent_pid") == 4200)
        #expect(process["mode"] as? String == "full")
        let trace = try member(json, "trace")
        #expect(trace["path"] as? String == "leaky.mprof")
        #expect(trace["truncated"] as? Bool == true)
        #expect(try number(trace, "truncation_offset") == 8192)
        #expect(trace["truncation_reason"] as? String == "bad checksum")
        #expect(trace["complete"] as? Bool == true)
        #expect(trace["ended_by"] as? String == "exit")
        #expect(try number(trace, "duration_seconds") == 2.5)
    }

    @Test("top limits the lists, not the counts")
    func topLimit() throws {
        let json = try object(top: 1)
        let allocations = try member(json, "allocations")
        #expect((allocations["top_allocators"] as? [Any])?.count == 1)
        #expect(try number(allocations, "site_count") == 3)
        let leaks = try member(json, "leaks")
        #expect((leaks["leaks"] as? [Any])?.count == 1)
        #expect(try number(leaks, "leak_count") == 2)
    }

    @Test("an empty analysis still has every member, with zeros and nulls")
    func emptyAnalysis() throws {
        let json = try object(Report(analysis: Analysis(), resolve: { _ in [] }))
        #expect(json["process"] is NSNull)
        let snapshot = try member(json, "snapshot")
        #expect(try number(snapshot, "allocation_count") == 0)
        #expect(snapshot["peak_time_seconds"] is NSNull)
        let leaks = try member(json, "leaks")
        #expect(leaks["recorded"] as? Bool == false)
        #expect(try member(json, "trace")["ended_by"] is NSNull)
        #expect(try number(try member(json, "allocations"), "average_allocation_size") == 0)
    }

    @Test("output is deterministic and one object")
    func deterministic() throws {
        let a = try JSONReportRenderer().render(Fixture.report())
        let b = try JSONReportRenderer().render(Fixture.report())
        #expect(a == b)
        #expect(a.hasPrefix("{"))
        #expect(a.hasSuffix("}"))
        let compact = try JSONReportRenderer(prettyPrinted: false).render(Fixture.report())
        #expect(!compact.contains("\n"))
        #expect(compact.contains(#""location":"make_buffer (leak.c:12)""#))
    }
}
