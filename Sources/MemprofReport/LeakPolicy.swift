import MemprofSymbolize
import MemprofTrace

/// Which blocks not freed at exit a ``Report`` counts as leaks: those of the counted
/// kinds that no suppression matches.
///
/// The analysis keeps every block not freed at exit with its kind; the policy is
/// applied when the report is built. Counted blocks feed every "leaked" figure (the
/// leak totals, the sites' leaked bytes, the leak table); the others are still listed
/// (uncounted kinds) or summed per suppression (suppressed ones).
///
/// - ``LeakKind/unfreed`` blocks (a trace without a reachability scan) always count.
/// - By default *definitely*, *indirectly* and *possibly lost* blocks count and *still
///   reachable* ones do not, as in valgrind's error count and LeakSanitizer's report.
/// - A suppression applies to the counted kinds only: it keeps a leak out of the
///   totals; blocks that are not leaks anyway are listed as they are.
///
/// ```swift
/// let kinds = try LeakPolicy.countedKinds(parsing: "definite,indirect")
/// let policy = LeakPolicy(countedKinds: kinds, suppressions: try LeakSuppression.load(path: "app.supp"))
/// let report = Report(analysis: analysis, leakPolicy: policy, resolve: symbolizer.symbolize(stack:))
/// ```
public struct LeakPolicy: Sendable, Hashable {
    /// The kinds counted when no others are asked for: every kind but still reachable.
    public static let defaultCountedKinds: Set<LeakKind> = [.unfreed, .definite, .indirect, .possible]

    /// The default policy: ``defaultCountedKinds``, no suppressions.
    public static let `default` = LeakPolicy()

    /// The kinds that count as leaks; includes ``LeakKind/unfreed`` but in
    /// ``forReplacedHeap``.
    public let countedKinds: Set<LeakKind>
    /// The suppressions, in the order given; a pattern given twice is kept once.
    public let suppressions: [LeakSuppression]

    /// Creates a policy.
    /// - Parameters:
    ///   - countedKinds: the kinds that count; ``LeakKind/unfreed`` is added.
    ///   - suppressions: first match wins, so a leak is attributed to one suppression.
    public init(countedKinds: Set<LeakKind> = defaultCountedKinds, suppressions: [LeakSuppression] = []) {
        self.countedKinds = countedKinds.union([.unfreed])
        var seen: Set<String> = []
        self.suppressions = suppressions.filter { seen.insert($0.pattern).inserted }
    }

    private init(exactly countedKinds: Set<LeakKind>, suppressions: [LeakSuppression]) {
        self.countedKinds = countedKinds
        self.suppressions = suppressions
    }

    /// This policy for a trace whose program ended by `exec`: its heap was replaced by
    /// the new program's, not leaked, so no block counts, ``LeakKind/unfreed`` ones
    /// (which such a trace holds) included. The blocks are still listed.
    public var forReplacedHeap: LeakPolicy { LeakPolicy(exactly: [], suppressions: suppressions) }

    /// Whether blocks of `kind` count as leaks (before suppressions).
    public func counts(_ kind: LeakKind) -> Bool { countedKinds.contains(kind) }

    /// ``countedKinds`` in a fixed order (that of ``LeakKind/allCases``).
    public var orderedCountedKinds: [LeakKind] { LeakKind.allCases.filter(countedKinds.contains) }

    /// The index in ``suppressions`` of the first suppression that matches a frame of
    /// `frames`, nil when none does.
    public func suppressionIndex(matching frames: [SymbolizedFrame]) -> Int? {
        suppressions.firstIndex { $0.matches(anyOf: frames) }
    }

    /// The names `--leak-kinds` accepts, besides `all`: valgrind's `--show-leak-kinds`
    /// spellings, which are also the JSON `kind` values.
    public static let kindNames: [String: LeakKind] = [
        "definite": .definite, "indirect": .indirect, "possible": .possible, "reachable": .reachable,
    ]

    /// The kinds named by a comma-separated list of `definite`, `indirect`, `possible`,
    /// `reachable` and `all` (any case, spaces around names ignored), plus
    /// ``LeakKind/unfreed``, which always counts.
    /// - Throws: ``LeakKindListError`` naming the first bad name, or the list when it
    ///   names nothing.
    public static func countedKinds(parsing list: String) throws(LeakKindListError) -> Set<LeakKind> {
        var kinds: Set<LeakKind> = [.unfreed]
        for item in list.split(separator: ",", omittingEmptySubsequences: false) {
            let name = item.trimmingBlanks().lowercased()
            if name == "all" {
                kinds.formUnion(LeakKind.allCases)
            } else if let kind = kindNames[name] {
                kinds.insert(kind)
            } else {
                throw LeakKindListError(list: list, item: name)
            }
        }
        return kinds
    }
}

/// A `--leak-kinds` list with a name that is not a leak kind.
public struct LeakKindListError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The whole list as given.
    public var list: String
    /// The offending name, trimmed; empty for an empty item (`definite,,possible` or ``""``).
    public var item: String

    /// One line naming the bad value and the good ones.
    public var description: String {
        let expected = "expected a comma-separated list of definite, indirect, possible, reachable or all"
        if item.isEmpty { return "empty leak kind in '\(list)' (\(expected))" }
        return "unknown leak kind '\(item)' in '\(list)' (\(expected))"
    }
}
