extension TrendAnalyzer {
    /// (stack, size) → ``BlockAges``, touched twice for most events of a trace: an open
    /// addressing table with a multiplicative hash instead of `Dictionary` and SipHash.
    /// Linear probing, deletion by shifting back (no tombstones); an entry whose blocks
    /// are all freed is removed, so the table grows with the live blocks' distinct stacks
    /// and sizes, never with the number of events.
    struct AgeTable: Sendable {
        /// Packed keys plus one (0 = empty slot); sizes are below 2^40, stack ids 2^22.
        private var keys: [UInt64] = Array(repeating: 0, count: 1024)
        private var values: [BlockAges] = Array(repeating: BlockAges(), count: 1024)
        private var count = 0

        static func key(_ stackID: UInt32, _ size: UInt64) -> UInt64 {
            (UInt64(stackID) << 40 | (size & (1 << 40 - 1))) &+ 1
        }

        private func home(_ key: UInt64) -> Int {
            Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & (keys.count - 1)
        }

        /// The slot holding `key`, or the empty slot where it would go.
        private func find(_ key: UInt64) -> (index: Int, found: Bool) {
            var index = home(key)
            while keys[index] != 0 {
                if keys[index] == key { return (index, true) }
                index = (index + 1) & (keys.count - 1)
            }
            return (index, false)
        }

        /// Runs `body` on the entry of `key`, created empty if absent; removes it when
        /// `body` leaves it empty.
        mutating func update(_ stackID: UInt32, _ size: UInt64, _ body: (inout BlockAges) -> Void) {
            let key = Self.key(stackID, size)
            var (index, found) = find(key)
            if !found {
                if (count + 1) * 4 > keys.count * 3 {
                    grow()
                    index = find(key).index
                }
                keys[index] = key
                values[index] = BlockAges()
                count += 1
            }
            body(&values[index])
            if values[index].isEmpty { remove(at: index) }
        }

        private mutating func remove(at hole: Int) {
            var hole = hole
            let mask = keys.count - 1
            var next = (hole + 1) & mask
            while keys[next] != 0 {
                let wanted = home(keys[next])
                // Move the entry back if the hole lies between its home and where it is.
                if (next - wanted) & mask >= (next - hole) & mask {
                    keys[hole] = keys[next]
                    values[hole] = values[next]
                    hole = next
                }
                next = (next + 1) & mask
            }
            keys[hole] = 0
            values[hole] = BlockAges()
            count -= 1
        }

        private mutating func grow() {
            let oldKeys = keys, oldValues = values
            keys = Array(repeating: 0, count: oldKeys.count * 2)
            values = Array(repeating: BlockAges(), count: oldKeys.count * 2)
            for (index, key) in oldKeys.enumerated() where key != 0 {
                let slot = find(key).index
                keys[slot] = key
                values[slot] = oldValues[index]
            }
        }

        /// Every entry: stack id, block size, ages.
        func forEach(_ body: (UInt32, UInt64, BlockAges) -> Void) {
            for (index, key) in keys.enumerated() where key != 0 {
                let packed = key - 1
                body(UInt32(packed >> 40), packed & (1 << 40 - 1), values[index])
            }
        }
    }
}
