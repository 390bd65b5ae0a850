// memprof-check-probe — test support for MemprofKitTests, not a tool.
//
// Links memprof's interposer (MemprofInterposer) and runs one in-process scenario
// named on the command line: leak checks of leaking and clean code (Swift objects,
// C allocations), warm-up against the Swift runtime's caches, allocation counts,
// live sites, and the errors of bad use. It prints one JSON object with what
// MemprofKit returned and asserts nothing, so a failing test shows every figure.
// MemprofKitTests runs it as it is (interposer linked) and under `memprof run`.

import Foundation
import MemprofKit

#if canImport(Glibc)
    import Glibc
#endif

struct Site: Codable {
    var kind: String
    var blocks: Int
    var bytes: Int
    var location: String
    var frames: [String]
}

struct Output: Codable {
    var interposer: String
    var sites: [Site]?
    var leakedBytes: Int?
    var leakedBlocks: Int?
    var unfreedBlocks: Int?
    var report: String?
    var counts: [String: Int]?
    var error: String?
    var innerError: String?
}

func describe(_ interposer: Interposer) -> String {
    switch interposer {
    case .linked: return "linked"
    case .preloaded: return "preloaded"
    case .absent: return "absent"
    }
}

func output(_ report: LeakCheckReport) -> Output {
    Output(
        interposer: describe(Interposer.current),
        sites: report.sites.map {
            Site(
                kind: $0.kind.rawValue, blocks: $0.blocks, bytes: $0.bytes, location: $0.location,
                frames: $0.programFrames.map(\.description))
        },
        leakedBytes: report.leakedBytes, leakedBlocks: report.leakedBlocks, unfreedBlocks: report.unfreedBlocks,
        report: report.render())
}

// MARK: - Code under check

final class Node {
    var next: Node?
    var payload = [UInt8](repeating: 7, count: 40)
}

/// Two objects that keep each other alive: the classic Swift leak.
@inline(never) func makeCycle() {
    let a = Node()
    let b = Node()
    a.next = b
    b.next = a
}

/// Objects that are freed when the function returns.
@inline(never) func useAndRelease() {
    var list: Node? = nil
    for _ in 0..<100 {
        let node = Node()
        node.next = list
        list = node
    }
    var words: [String] = []
    for i in 0..<50 { words.append("word number \(i) that is long enough for the heap") }
    precondition(words.count == 50 && list != nil)
}

/// A C library call whose result is dropped: strdup's block is lost.
@inline(never) func leakFromC() {
    let copy = strdup("a string duplicated by the C library and never freed")
    precondition(copy != nil)
}

/// A block kept in a global: allocated, not freed, still reachable.
nonisolated(unsafe) var keptNodes: [Node] = []
@inline(never) func keepInGlobal() {
    keptNodes.append(Node())
}

protocol Describable { func text() -> String }
struct Box<T>: Describable {
    var value: T
    func text() -> String { "\(value)" }
}

/// First use of generic metadata and a protocol conformance lookup: the Swift runtime
/// allocates caches for them once, and keeps them.
@inline(never) func touchRuntimeCaches() {
    let values: [Any] = [Box(value: 1), Box(value: "two"), Box(value: [3.0]), Box(value: (4, 5))]
    var total = 0
    for value in values {
        if let d = value as? Describable { total += d.text().count }
    }
    precondition(total > 0)
}

actor Counter {
    var nodes: [Node] = []
    func add() { nodes.append(Node()) }
    func clear() { nodes.removeAll() }
}

// MARK: - Scenarios

/// The sync scenarios run on the main thread before anything starts the concurrency
/// runtime's threads, so no other thread allocates during their checks. Nil for an
/// async scenario.
func runSync(_ scenario: String) -> Output? {
    do {
        switch scenario {
        case "swift-cycle":
            return output(try LeakCheck.run { makeCycle() })
        case "clean":
            return output(try LeakCheck.run { useAndRelease() })
        case "c-leak":
            return output(try LeakCheck.run { leakFromC() })
        case "reachable":
            return output(try LeakCheck.run { keepInGlobal() })
        case "reachable-all-kinds":
            return output(try LeakCheck.run(kinds: LeakKind.all) { keepInGlobal() })
        case "runtime-caches-cold":
            return output(try LeakCheck.run(warmUp: 0, kinds: LeakKind.all) { touchRuntimeCaches() })
        case "runtime-caches-warm":
            return output(try LeakCheck.run(warmUp: 1, kinds: LeakKind.all) { touchRuntimeCaches() })
        case "nested":
            var inner: String?
            let report = try LeakCheck.run {
                do { _ = try LeakCheck.run {} } catch { inner = "\(error)" }
            }
            var out = output(report)
            out.innerError = inner
            return out
        case "concurrent":
            return output(try LeakCheck.run { allocateOnAnotherThread() })
        case "weak-to-kept":
            return output(
                try LeakCheck.run {
                    let node = Node()
                    keptNodes.append(node)
                    weak var observer = node
                    precondition(observer != nil)
                    observer = nil
                })
        case "thread-started":
            // A thread the body starts and leaves running: its TLS table (DTV), which
            // glibc points into, is the thread's, not a leak.
            return output(try LeakCheck.run(warmUp: 0, threads: .all) { startParkedThread() })
        case "concurrent-reachable":
            return output(try LeakCheck.run { keepOnAnotherThread() })
        case "concurrent-all-threads":
            return output(try LeakCheck.run(threads: .all) { allocateOnAnotherThread() })
        case "counts":
            let counts = try Allocations.count {
                for size in 1...10 {
                    let p = malloc(size * 100)
                    free(p)
                }
            }
            let nothing = try Allocations.count {}
            return Output(
                interposer: describe(Interposer.current),
                counts: [
                    "allocations": counts.allocations, "frees": counts.frees, "bytesAllocated": counts.bytesAllocated,
                    "bytesFreed": counts.bytesFreed, "emptyAllocations": nothing.allocations,
                ])
        case "write-snapshot":
            // 64 blocks of 1000 B from one site, then a snapshot: in aggregate mode the
            // trace has an API snapshot in which they are live.
            let blocks = allocateForSites()
            defer { blocks.forEach { free($0) } }
            try Recording.writeSnapshot()
            return Output(interposer: describe(Interposer.current), counts: ["kept": blocks.count])
        case "sites":
            let blocks = allocateForSites()
            defer { blocks.forEach { free($0) } }
            let snapshot = try MemorySnapshot.capture(includingSites: true)
            let sites = snapshot.sites ?? []
            return Output(
                interposer: describe(Interposer.current),
                sites: sites.prefix(20).map {
                    Site(kind: "live", blocks: $0.blocks, bytes: $0.bytes, location: $0.location, frames: [])
                })
        default:
            return nil
        }
    } catch {
        return Output(interposer: describe(Interposer.current), error: "\(error)")
    }
}

func runAsync(_ scenario: String) async -> Output {
    do {
        switch scenario {
        case "async-cycle":
            return output(
                try await LeakCheck.run {
                    let counter = Counter()
                    await counter.add()
                    try await Task.sleep(nanoseconds: 1_000_000)
                    makeCycle()
                    await counter.clear()
                })
        case "async-clean":
            return output(
                try await LeakCheck.run {
                    let counter = Counter()
                    for _ in 0..<10 { await counter.add() }
                    try await Task.sleep(nanoseconds: 1_000_000)
                    await counter.clear()
                    useAndRelease()
                })
        default:
            return Output(interposer: describe(Interposer.current), error: "unknown scenario \(scenario)")
        }
    } catch {
        return Output(interposer: describe(Interposer.current), error: "\(error)")
    }
}

/// A thread that leaks 3 cycles of two nodes, and keeps 5 nodes in a global, while
/// the check runs.
@inline(never) func allocateOnAnotherThread() {
    var thread = pthread_t()
    pthread_create(
        &thread, nil,
        { _ in
            for _ in 0..<3 { makeCycle() }
            for _ in 0..<5 { keptNodes.append(Node()) }
            return nil
        }, nil)
    pthread_join(thread, nil)
}

/// The same thread, but it only keeps blocks (reachable): no leak of any thread.
@inline(never) func keepOnAnotherThread() {
    var thread = pthread_t()
    pthread_create(
        &thread, nil,
        { _ in
            for _ in 0..<5 { keptNodes.append(Node()) }
            return nil
        }, nil)
    pthread_join(thread, nil)
}

/// Starts a thread that waits forever (detached; the process exits around it).
@inline(never) func startParkedThread() {
    var thread = pthread_t()
    pthread_create(
        &thread, nil,
        { _ in
            while true { pause() }
        }, nil)
    pthread_detach(thread)
    usleep(20_000)
}

/// 64 blocks of 1000 bytes from one site.
@inline(never) func allocateForSites() -> [UnsafeMutableRawPointer?] {
    (0..<64).map { _ in malloc(1000) }
}

/// Hands a value from the task to the main thread.
final class Outcome: @unchecked Sendable {
    var output: Output?
}

let scenario = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : ""
var result: Output
if let output = runSync(scenario) {
    result = output
} else {
    let outcome = Outcome()
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        outcome.output = await runAsync(scenario)
        done.signal()
    }
    done.wait()
    result = outcome.output!
}
let encoder = JSONEncoder()
encoder.outputFormatting = [.sortedKeys]
print(String(decoding: try encoder.encode(result), as: UTF8.self))
