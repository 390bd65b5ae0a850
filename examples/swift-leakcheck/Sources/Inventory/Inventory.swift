/// A small inventory model with one classic Swift leak to find: a `Shelf` holds its
/// items strongly and, in the buggy version, each `Item` holds its shelf strongly
/// too, so a shelf and its items keep each other alive after the last outside
/// reference goes away.
public final class Shelf {
    public let name: String
    public private(set) var items: [Item] = []

    public init(name: String) { self.name = name }

    /// Adds an item that refers back to the shelf weakly: no cycle.
    public func stock(_ sku: String, count: Int) {
        items.append(Item(sku: sku, count: count, shelf: self))
    }

    /// The buggy version: the item keeps a strong reference to its shelf.
    public func stockRetainingShelf(_ sku: String, count: Int) {
        let item = Item(sku: sku, count: count, shelf: self)
        item.owner = self
        items.append(item)
    }

    public var total: Int { items.reduce(0) { $0 + $1.count } }
}

public final class Item {
    public let sku: String
    public var count: Int
    public weak var shelf: Shelf?
    /// Set only by the buggy path.
    var owner: Shelf?

    init(sku: String, count: Int, shelf: Shelf) {
        self.sku = sku
        self.count = count
        self.shelf = shelf
    }
}

/// Sums stock counts without allocating: the hot path the tests hold to zero
/// allocations.
public func totalStock(_ counts: UnsafeBufferPointer<Int>) -> Int {
    var sum = 0
    for c in counts { sum += c }
    return sum
}

/// Builds a report line: allocates (the string), and frees it when the caller is done.
public func describe(_ shelf: Shelf) -> String {
    "\(shelf.name): \(shelf.items.count) items, \(shelf.total) in stock"
}
