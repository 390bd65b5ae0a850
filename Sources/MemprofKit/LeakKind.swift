/// How a block that was not freed is still referenced: memcheck's and the
/// `memprof report` classification.
public enum LeakKind: String, Sendable, Hashable, CaseIterable, Comparable {
    /// No pointer to the block anywhere.
    case definite
    /// Pointed to only from lost blocks (a lost list's tail, a cycle's other members).
    case indirect
    /// Reached only through pointers into its middle.
    case possible
    /// A pointer to its start is still reachable: a cache, a global, an object kept
    /// alive on purpose, or a collection that grows.
    case reachable

    /// The kinds a leak check counts by default, as valgrind and `memprof report` do.
    public static let lost: Set<LeakKind> = [.definite, .indirect, .possible]
    /// Every kind: any block the code left allocated counts.
    public static let all: Set<LeakKind> = Set(allCases)

    /// "definitely lost", "still reachable" …
    public var phrase: String {
        switch self {
        case .definite: return "definitely lost"
        case .indirect: return "indirectly lost"
        case .possible: return "possibly lost"
        case .reachable: return "still reachable"
        }
    }

    init?(code: UInt8) {
        switch code {
        case 1: self = .definite
        case 2: self = .indirect
        case 3: self = .possible
        case 4: self = .reachable
        default: return nil
        }
    }

    public static func < (a: LeakKind, b: LeakKind) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}
