import Foundation
import MemprofKit
import Testing

/// `Jemalloc` in this process (glibc's malloc: jemalloc is not loaded), and in the
/// probe under `LD_PRELOAD=libjemalloc.so.2`, where jemalloc serves every malloc.
@Suite("Jemalloc")
struct JemallocTests {
    @Test("without jemalloc, current() throws notLoaded and says how to load it")
    func notLoaded() throws {
        let error = #expect(throws: JemallocError.self) { try Jemalloc.current() }
        #expect(error == .notLoaded)
        let message = try #require(error).description
        #expect(message.contains("jemalloc is not loaded in this process"))
        #expect(message.contains("LD_PRELOAD=libjemalloc.so.2"))
        #expect(message.contains("-ljemalloc"))
        #expect(!message.contains("\n"))
    }

    @Test("under LD_PRELOAD, jemalloc is found and serves malloc")
    func found() throws {
        let report = try Probe.jemalloc.get()
        #expect(report.currentError == nil)
        #expect(report.servesMalloc == true)
        let values = try #require(report.values)
        #expect(values.configStats)
        #expect(values.pageSize == sysconf(Int32(_SC_PAGESIZE)))
        #expect(values.epoch > 0)
        // -1 means "never purge"; Debian's default is 10 s.
        #expect(values.dirtyDecayMs >= -1)
    }

    @Test("stats.allocated grows by at least what was allocated and drops by it after freeing")
    func allocatedFollowsMalloc() throws {
        let report = try Probe.jemalloc.get()
        let stats = try #require(report.stats)
        let size = report.allocationBytes
        #expect(stats.allocated.allocated - stats.before.allocated >= size)
        #expect(stats.allocated.allocated - stats.freed.allocated >= size)
    }

    @Test("jemalloc's invariants hold at every moment: allocated ≤ active ≤ resident, active ≤ mapped")
    func invariants() throws {
        let report = try Probe.jemalloc.get()
        let stats = try #require(report.stats)
        for (moment, figures) in [("before", stats.before), ("allocated", stats.allocated), ("freed", stats.freed)] {
            #expect(figures.active >= figures.allocated, "\(moment): \(figures)")
            #expect(figures.resident >= figures.active, "\(moment): \(figures)")
            #expect(figures.mapped >= figures.active, "\(moment): \(figures)")
            #expect(figures.metadata > 0, "\(moment): \(figures)")
        }
        // The freed blocks' pages are dirty: resident until decay or a purge returns them.
        #expect(stats.freed.resident - stats.freed.active > report.allocationBytes / 2)
    }

    @Test("purge after freeing 64 MiB returns memory: freed > 0, resident and dirty pages drop")
    func purge() throws {
        let report = try Probe.jemalloc.get()
        let purge = try #require(report.purge)
        #expect(purge.freedBytes > 0)
        #expect(purge.freedBytes == purge.before.resident - purge.after.resident)
        #expect(purge.after.resident <= purge.before.resident)
        #expect(purge.after.mapped <= purge.before.mapped)
        #expect(purge.before.dirtyPages > 0)
        #expect(purge.after.dirtyPages < purge.before.dirtyPages)
        #expect(purge.before.pageSize == sysconf(Int32(_SC_PAGESIZE)))
        // The kernel agrees: the process's RSS drops too.
        let afterPurge = try #require(report.afterPurge)
        #expect(afterPurge.resident < report.snapshots.freed.resident)
    }

    @Test("per-arena figures: every arena summed, and arena 0")
    func arenas() throws {
        let report = try Probe.jemalloc.get()
        let count = try #require(report.arenaCount)
        #expect(count >= 1)
        #expect(count == report.values?.narenas)
        let all = try #require(report.arenasAll)
        let first = try #require(report.arena0)
        for arena in [all, first] {
            #expect(arena.pageSize == sysconf(Int32(_SC_PAGESIZE)))
            #expect(arena.threads >= 1)
            #expect(arena.activePages > 0)
            #expect(arena.allocated > 0)
            #expect(arena.allocated <= arena.activePages * arena.pageSize)
            #expect(arena.mapped >= arena.activePages * arena.pageSize)
            #expect(arena.resident >= arena.activePages * arena.pageSize)
        }
        // Read right after the purge: nothing dirty is left.
        #expect(all.dirtyPages == 0)
    }

    @Test("a failed ctl names the ctl, the operation and the reason in one line")
    func ctlErrors() throws {
        let errors = try #require(try Probe.jemalloc.get().errors)
        #expect(
            errors.unknownCtl
                == "jemalloc ctl \"memprof.no_such_ctl\": read as uint64_t failed: no such ctl name, or no such arena (ENOENT)"
        )
        #expect(
            errors.wrongSize
                == "jemalloc ctl \"stats.allocated\": read as unsigned failed: wrong value size for this ctl, or a value it refuses (EINVAL)"
        )
        #expect(
            errors.readOnly
                == "jemalloc ctl \"stats.allocated\": write as size_t failed: the ctl is read-only or takes no value (EPERM)"
        )
        let missingArena = try #require(errors.missingArena)
        #expect(missingArena.contains("\"stats.arenas.4000."))
        #expect(missingArena.contains("(ENOENT)"))
    }
}
