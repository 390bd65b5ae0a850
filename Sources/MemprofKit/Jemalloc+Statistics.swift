extension Jemalloc {
    /// Process-wide figures, in bytes (the `stats.*` ctls). See `man 3 jemalloc`.
    ///
    /// jemalloc guarantees `allocated ≤ active < resident` and `active ≤ mapped`.
    public struct Statistics: Sendable, Hashable {
        /// Bytes allocated by the application (`stats.allocated`).
        ///
        /// Blocks held in thread caches count as allocated: a cache takes a batch of
        /// blocks at once (tens of KiB) and gives freed ones back in batches. Flush
        /// the calling thread's cache (`call("thread.tcache.flush")`) right before
        /// reading for a figure of live blocks only.
        public var allocated: Int
        /// Bytes in active pages: allocated plus the rest of their pages (`stats.active`).
        public var active: Int
        /// Bytes of jemalloc's own metadata (`stats.metadata`).
        public var metadata: Int
        /// Upper bound of bytes in physically resident data pages: metadata, active and
        /// unused dirty pages (`stats.resident`).
        public var resident: Int
        /// Bytes in active extents mapped by jemalloc (`stats.mapped`).
        public var mapped: Int
        /// Bytes of virtual memory kept mapped but returned to the system, for reuse
        /// (`stats.retained`).
        public var retained: Int

        /// Figures as given.
        public init(allocated: Int, active: Int, metadata: Int, resident: Int, mapped: Int, retained: Int) {
            self.allocated = allocated
            self.active = active
            self.metadata = metadata
            self.resident = resident
            self.mapped = mapped
            self.retained = retained
        }
    }

    /// One arena's figures, or every arena's summed (``Jemalloc/allArenas``): the
    /// `stats.arenas.<i>.*` ctls.
    public struct ArenaStatistics: Sendable, Hashable {
        /// The page size the page counts are in (`arenas.page`).
        public var pageSize: Int
        /// Threads assigned to the arena (`nthreads`).
        public var threadCount: Int
        /// Pages in active extents (`pactive`).
        public var activePages: Int
        /// Pages in unused extents that may be dirty: no `madvise` yet (`pdirty`).
        /// A purge returns them to the system.
        public var dirtyPages: Int
        /// Pages in unused extents that are muzzy: lazily returned (`pmuzzy`).
        public var muzzyPages: Int
        /// Bytes allocated by the application: small plus large objects
        /// (`small.allocated` + `large.allocated`).
        public var allocated: Int
        /// Bytes mapped (`mapped`).
        public var mapped: Int
        /// Bytes retained: mapped but returned to the system (`retained`).
        public var retained: Int
        /// Upper bound of bytes in resident data pages (`resident`).
        public var resident: Int

        /// Bytes in unused dirty pages.
        public var dirtyBytes: Int { dirtyPages * pageSize }
        /// Bytes in active pages.
        public var activeBytes: Int { activePages * pageSize }

        /// Figures as given.
        public init(
            pageSize: Int, threadCount: Int, activePages: Int, dirtyPages: Int, muzzyPages: Int, allocated: Int,
            mapped: Int, retained: Int, resident: Int
        ) {
            self.pageSize = pageSize
            self.threadCount = threadCount
            self.activePages = activePages
            self.dirtyPages = dirtyPages
            self.muzzyPages = muzzyPages
            self.allocated = allocated
            self.mapped = mapped
            self.retained = retained
            self.resident = resident
        }
    }

    /// jemalloc's process-wide figures, read after an epoch refresh.
    public var stats: Statistics {
        get throws(JemallocError) {
            try refreshEpoch()
            return try readStatistics()
        }
    }

    /// The figures of arena `arena` (`0 ..< arenaCount`), or of all arenas summed
    /// for ``Jemalloc/allArenas``, read after an epoch refresh.
    ///
    /// - Throws: `ENOENT` for an arena that does not exist or is not initialized.
    public func arenaStats(_ arena: Int) throws(JemallocError) -> ArenaStatistics {
        try refreshEpoch()
        return try readArenaStatistics(arena)
    }

    /// The `stats.*` figures as of the last epoch refresh.
    func readStatistics() throws(JemallocError) -> Statistics {
        func bytes(_ name: String) throws(JemallocError) -> Int { Int(try Mallctl.read(name, as: UInt.self)) }
        return Statistics(
            allocated: try bytes("stats.allocated"), active: try bytes("stats.active"),
            metadata: try bytes("stats.metadata"), resident: try bytes("stats.resident"),
            mapped: try bytes("stats.mapped"), retained: try bytes("stats.retained"))
    }

    /// The `stats.arenas.<arena>.*` figures as of the last epoch refresh.
    func readArenaStatistics(_ arena: Int) throws(JemallocError) -> ArenaStatistics {
        let prefix = "stats.arenas.\(arena)."
        func size(_ name: String) throws(JemallocError) -> Int { Int(try Mallctl.read(prefix + name, as: UInt.self)) }
        return ArenaStatistics(
            pageSize: Int(try Mallctl.read("arenas.page", as: UInt.self)),
            threadCount: Int(try Mallctl.read(prefix + "nthreads", as: UInt32.self)),
            activePages: try size("pactive"), dirtyPages: try size("pdirty"), muzzyPages: try size("pmuzzy"),
            allocated: try size("small.allocated") + size("large.allocated"),
            mapped: try size("mapped"), retained: try size("retained"), resident: try size("resident"))
    }
}
