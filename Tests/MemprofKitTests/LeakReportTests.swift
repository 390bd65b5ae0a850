import MemprofKit
import Testing

/// How a leak report names and prints a site, on hand-made frames.
@Suite("LeakCheckReport")
struct LeakReportTests {
    static func frame(_ function: String, _ module: String, file: String? = nil, line: Int? = nil) -> StackFrame {
        StackFrame(address: 0x1000, function: function, file: file, line: line, module: module)
    }

    static let arrayInNode = [
        frame("swift_slowAlloc", "/usr/lib/swift/linux/libswiftCore.so"),
        frame("swift_allocObject", "/usr/lib/swift/linux/libswiftCore.so"),
        frame("Swift._ContiguousArrayBuffer.init(_uninitializedCount:)", "/usr/lib/swift/linux/libswiftCore.so"),
        frame("App.Node.init() -> App.Node", "/app/App", file: "/src/App/Node.swift", line: 12),
        frame("App.makeCycle() -> ()", "/app/App", file: "/src/App/Cycle.swift", line: 3),
        frame("static MemprofKit.LeakCheck.run(warmUp:threads:kinds:_:)", "/app/App"),
        frame("main", "/app/App"),
    ]

    @Test("the site skips the allocator and the Swift runtime: the program's frame that asked")
    func siteSkipsRuntime() {
        #expect(StackFrame.siteIndex(in: Self.arrayInNode) == 3)
        #expect(StackFrame.location(of: Self.arrayInNode) == "App.Node.init() -> App.Node (Node.swift:12)")
    }

    @Test("a runtime-only stack is named after its innermost non-allocator frame")
    func runtimeOnly() {
        let frames = Array(Self.arrayInNode.prefix(3))
        #expect(StackFrame.siteIndex(in: frames) == 2)
        #expect(StackFrame.siteIndex(in: []) == nil)
        #expect(StackFrame.location(of: []) == "<no frames>")
    }

    @Test("program frames run from the site to the check, not beyond")
    func programFrames() {
        let site = LeakSite(kind: .definite, blocks: 2, bytes: 64, frames: Self.arrayInNode)
        #expect(site.programFrames.map(\.function) == ["App.Node.init() -> App.Node", "App.makeCycle() -> ()"])
    }

    @Test("the report counts only the chosen kinds and prints each counted site")
    func render() {
        let lost = LeakSite(kind: .definite, blocks: 1, bytes: 32, frames: Self.arrayInNode)
        let kept = LeakSite(kind: .reachable, blocks: 3, bytes: 300, frames: Self.arrayInNode)
        let report = LeakCheckReport(sites: [kept, lost], countedKinds: LeakKind.lost)
        #expect(report.hasLeaks)
        #expect(report.leakedBytes == 32 && report.leakedBlocks == 1)
        #expect(report.unfreedBytes == 332 && report.unfreedBlocks == 4)
        #expect(report.sites.first == kept, "largest first")
        #expect(
            report.render() == """
                memprof leak check: 1 block (32 bytes) leaked
                  definitely lost: 32 bytes in 1 block
                  still reachable: 300 bytes in 3 blocks (not counted)

                32 bytes in 1 block definitely lost, allocated at App.Node.init() -> App.Node (Node.swift:12)
                    #0 App.Node.init() -> App.Node (Node.swift:12)
                    #1 App.makeCycle() -> () (Cycle.swift:3)
                """)
        let clean = LeakCheckReport(sites: [kept], countedKinds: LeakKind.lost)
        #expect(!clean.hasLeaks)
        #expect(clean.render().hasPrefix("memprof leak check: no leaks"))
        #expect(LeakCheckReport(sites: [kept], countedKinds: LeakKind.all).leakedBlocks == 3)
    }
}
