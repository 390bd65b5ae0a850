import MemprofTrace

/// The modules of one module-map generation, searchable by runtime address.
struct ModuleMap: Sendable {
    /// One mapped segment: `[start, end)` in runtime addresses, owned by `modules[module]`.
    private struct Range: Sendable {
        var start: UInt64
        var end: UInt64
        var module: Int
    }

    let modules: [ModuleRecord]
    /// For each module, the index of its ELF file in the symbolizer's file table, so
    /// a lookup reaches the open file without hashing the path and build-id.
    let fileIndices: [Int]
    /// Sorted by `start`, so a lookup is a binary search rather than a scan over every
    /// segment of every library (a Swift or C++ program maps dozens).
    private let ranges: [Range]

    init(modules: [ModuleRecord], fileIndices: [Int]) {
        precondition(modules.count == fileIndices.count, "one file index per module")
        self.modules = modules
        self.fileIndices = fileIndices
        var ranges = [Range]()
        for (index, module) in modules.enumerated() {
            for segment in module.segments where segment.memorySize > 0 {
                let start = module.loadBias &+ segment.virtualAddress
                let (end, overflow) = start.addingReportingOverflow(segment.memorySize)
                ranges.append(Range(start: start, end: overflow ? .max : end, module: index))
            }
        }
        self.ranges = ranges.sorted { $0.start < $1.start }
    }

    /// The index in `modules` of the module with a segment containing `address`.
    func module(containing address: UInt64) -> Int? {
        // Last range starting at or below the address.
        var low = 0
        var high = ranges.count
        while low < high {
            let middle = (low + high) / 2
            if ranges[middle].start <= address {
                low = middle + 1
            } else {
                high = middle
            }
        }
        guard low > 0 else { return nil }
        let range = ranges[low - 1]
        if address < range.end { return range.module }
        // Segments never overlap in a real process; a malformed map could nest them,
        // so fall back to the exact test rather than answer wrongly.
        return modules.firstIndex { $0.contains(address) }
    }
}
