// memprof-kit-probe — test support for MemprofKitTests, not a tool.
//
// MemprofKit's jemalloc side needs a process whose allocator is jemalloc, and the
// test process uses glibc's malloc. So MemprofKitTests runs this program, with and
// without LD_PRELOAD=libjemalloc.so.2, and checks what it prints: one JSON object
// with MemprofKit's figures before and after allocating 64 MiB in 64 KiB blocks,
// after freeing them, and after a purge; plus the messages of errors it provokes
// (among them the in-process checks', since this program has no interposer).
// It asserts nothing itself, so a test failure shows every figure.

import MemprofKit

#if canImport(Glibc)
    import Glibc
#endif

/// A JSON value, written by hand: no Foundation in a program that measures its heap.
indirect enum JSON {
    case number(Int)
    case bool(Bool)
    case string(String)
    case null
    case object([(String, JSON)])

    var text: String {
        switch self {
        case .number(let value): return String(value)
        case .bool(let value): return value ? "true" : "false"
        case .null: return "null"
        case .string(let value):
            var escaped = "\""
            for scalar in value.unicodeScalars {
                switch scalar {
                case "\"": escaped += "\\\""
                case "\\": escaped += "\\\\"
                case "\n": escaped += "\\n"
                case _ where scalar.value < 0x20:
                    escaped += "\\u00" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
                default: escaped.unicodeScalars.append(scalar)
                }
            }
            return escaped + "\""
        case .object(let members):
            return "{" + members.map { JSON.string($0.0).text + ":" + $0.1.text }.joined(separator: ",") + "}"
        }
    }
}

extension MemorySnapshot {
    var json: JSON {
        .object([
            ("resident", .number(process.residentBytes)), ("virtual", .number(process.virtualBytes)),
            ("heap_in_use", heap.map { .number($0.bytesInUse) } ?? .null),
            ("heap_source", heap.map { .string($0.source.rawValue) } ?? .null),
        ])
    }
}

extension Jemalloc.Statistics {
    var json: JSON {
        .object([
            ("allocated", .number(allocated)), ("active", .number(active)), ("metadata", .number(metadata)),
            ("resident", .number(resident)), ("mapped", .number(mapped)), ("retained", .number(retained)),
        ])
    }
}

extension Jemalloc.ArenaStatistics {
    var json: JSON {
        .object([
            ("page_size", .number(pageSize)), ("threads", .number(threadCount)),
            ("active_pages", .number(activePages)), ("dirty_pages", .number(dirtyPages)),
            ("muzzy_pages", .number(muzzyPages)), ("allocated", .number(allocated)), ("mapped", .number(mapped)),
            ("retained", .number(retained)), ("resident", .number(resident)),
        ])
    }
}

extension Jemalloc.PurgeResult.Memory {
    var json: JSON {
        .object([
            ("resident", .number(resident)), ("mapped", .number(mapped)), ("dirty_pages", .number(dirtyPages)),
            ("muzzy_pages", .number(muzzyPages)), ("page_size", .number(pageSize)),
        ])
    }
}

/// The error `body` throws, as its description; `null` when it throws nothing.
func errorText(_ body: () throws -> Void) -> JSON {
    do {
        try body()
        return .null
    } catch {
        return .string(String(describing: error))
    }
}

let blockSize = 64 << 10
let blockCount = 1024
let allocationBytes = blockSize * blockCount

func run() throws -> JSON {
    var members: [(String, JSON)] = [("allocation_bytes", .number(allocationBytes))]
    let jemalloc: Jemalloc?
    do throws(JemallocError) {
        jemalloc = try Jemalloc.current()
        members.append(("current_error", .null))
    } catch {
        jemalloc = nil
        members.append(("current_error", .string(error.description)))
    }
    members.append(("serves_malloc", jemalloc.map { .bool($0.servesMalloc) } ?? .null))
    // This program does not link memprof's interposer: the in-process checks must say so.
    members.append(("leak_check_error", errorText { _ = try LeakCheck.run {} }))
    members.append(("count_error", errorText { _ = try Allocations.count {} }))

    var snapshots: [(String, JSON)] = []
    var stats: [(String, JSON)] = []
    func record(_ moment: String) throws {
        // jemalloc counts blocks in thread caches as allocated, and a cache fills a
        // whole batch of blocks at once (tens of KiB): flush, then read the stats
        // before anything allocates, so stats.allocated counts live blocks only.
        // (Reading the stats allocates nothing: the ctl names are small strings.)
        if let jemalloc {
            try jemalloc.call("thread.tcache.flush")
            stats.append((moment, try jemalloc.stats.json))
        }
        snapshots.append((moment, try MemorySnapshot.capture().json))
    }

    try record("before")
    let blocks = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: blockCount)
    for index in 0..<blockCount {
        guard let block = malloc(blockSize) else { fatalError("malloc(\(blockSize)) failed") }
        memset(block, 0xA5, blockSize)  // touch every page: resident, not only mapped
        blocks[index] = block
    }
    try record("allocated")
    for index in 0..<blockCount { free(blocks[index]) }
    blocks.deallocate()
    try record("freed")
    members.append(("snapshots", .object(snapshots)))

    guard let jemalloc else { return .object(members) }
    members.append(("stats", .object(stats)))
    let purge = try jemalloc.purge()
    members.append(
        (
            "purge",
            .object([
                ("before", purge.before.json), ("after", purge.after.json),
                ("freed_bytes", .number(purge.freedBytes)),
            ])
        ))
    members.append(("after_purge", try MemorySnapshot.capture().json))
    members.append(("arena_count", .number(try jemalloc.arenaCount)))
    members.append(("arenas_all", try jemalloc.arenaStats(Jemalloc.allArenas).json))
    members.append(("arena_0", try jemalloc.arenaStats(0).json))
    members.append(
        (
            "values",
            .object([
                ("page_size", .number(Int(try jemalloc.value("arenas.page", as: UInt.self)))),
                ("config_stats", .bool(try jemalloc.value("config.stats", as: Bool.self))),
                ("narenas", .number(Int(try jemalloc.value("arenas.narenas", as: UInt32.self)))),
                ("dirty_decay_ms", .number(try jemalloc.value("opt.dirty_decay_ms", as: Int.self))),
                ("epoch", .number(Int(try jemalloc.refreshEpoch()))),
            ])
        ))
    members.append(
        (
            "errors",
            .object([
                ("unknown_ctl", errorText { _ = try jemalloc.value("memprof.no_such_ctl", as: UInt64.self) }),
                ("wrong_size", errorText { _ = try jemalloc.value("stats.allocated", as: UInt32.self) }),
                ("read_only", errorText { try jemalloc.setValue(UInt(1), for: "stats.allocated") }),
                ("missing_arena", errorText { _ = try jemalloc.arenaStats(4000) }),
            ])
        ))
    return .object(members)
}

do {
    print(try run().text)
} catch {
    let message = "memprof-kit-probe: \(error)\n"
    _ = message.withCString { write(2, $0, strlen($0)) }
    exit(1)
}
