extension Jemalloc {
    /// What a purge returned to the system: jemalloc's figures before and after.
    public struct PurgeResult: Sendable, Hashable {
        /// jemalloc's memory at one moment of a purge.
        public struct Memory: Sendable, Hashable {
            /// Upper bound of resident bytes (`stats.resident`).
            public var resident: Int
            /// Bytes mapped in active extents (`stats.mapped`).
            public var mapped: Int
            /// Unused dirty pages, all arenas (`stats.arenas.<all>.pdirty`).
            public var dirtyPages: Int
            /// Unused muzzy pages, all arenas (`stats.arenas.<all>.pmuzzy`).
            public var muzzyPages: Int
            /// The page size the page counts are in (`arenas.page`).
            public var pageSize: Int

            /// Figures as given.
            public init(resident: Int, mapped: Int, dirtyPages: Int, muzzyPages: Int, pageSize: Int) {
                self.resident = resident
                self.mapped = mapped
                self.dirtyPages = dirtyPages
                self.muzzyPages = muzzyPages
                self.pageSize = pageSize
            }
        }

        /// Before the purge.
        public var before: Memory
        /// After the purge.
        public var after: Memory

        /// Resident bytes the purge returned to the system (0 when other threads
        /// allocated more meanwhile than the purge freed).
        public var freedBytes: Int { max(0, before.resident - after.resident) }

        /// Figures as given.
        public init(before: Memory, after: Memory) {
            self.before = before
            self.after = after
        }
    }

    /// Returns every arena's unused dirty and muzzy pages to the system
    /// (`arena.<MALLCTL_ARENAS_ALL>.purge`), after flushing the calling thread's
    /// cache (`thread.tcache.flush`) so that blocks it freed recently count too.
    ///
    /// Other threads' caches keep their blocks. The next allocations that reuse the
    /// purged pages fault them back in: purge after a burst, not in a loop.
    @discardableResult
    public func purge() throws(JemallocError) -> PurgeResult {
        // Fails harmlessly (EFAULT) when the thread has no cache (opt.tcache:false).
        try? Mallctl.call("thread.tcache.flush")
        let before = try memory()
        try Mallctl.call("arena.\(Self.allArenas).purge")
        return PurgeResult(before: before, after: try memory())
    }

    private func memory() throws(JemallocError) -> PurgeResult.Memory {
        try refreshEpoch()
        let all = "stats.arenas.\(Self.allArenas)."
        return PurgeResult.Memory(
            resident: Int(try Mallctl.read("stats.resident", as: UInt.self)),
            mapped: Int(try Mallctl.read("stats.mapped", as: UInt.self)),
            dirtyPages: Int(try Mallctl.read(all + "pdirty", as: UInt.self)),
            muzzyPages: Int(try Mallctl.read(all + "pmuzzy", as: UInt.self)),
            pageSize: Int(try Mallctl.read("arenas.page", as: UInt.self)))
    }
}
