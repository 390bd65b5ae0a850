import MemprofReport

/// Blocks a checked body allocated and did not free, from one allocation stack and
/// of one kind.
public struct LeakSite: Sendable, Hashable {
    public var kind: LeakKind
    public var blocks: Int
    public var bytes: Int
    /// The allocation stack, innermost first (the allocator's own frames included).
    public var frames: [StackFrame]

    public init(kind: LeakKind, blocks: Int, bytes: Int, frames: [StackFrame]) {
        self.kind = kind
        self.blocks = blocks
        self.bytes = bytes
        self.frames = frames
    }

    /// Index in ``frames`` of the frame that names the site (see ``StackFrame/siteIndex(in:)``).
    public var siteFrameIndex: Int? { StackFrame.siteIndex(in: frames) }

    /// The site: ``siteFrameIndex``'s frame as `function (file:line)`.
    public var location: String { StackFrame.location(of: frames) }

    /// The frames from the site out to the checked body: without the allocator's
    /// frames, the check's own (MemprofKit, MemprofTesting) and what called it.
    public var programFrames: ArraySlice<StackFrame> {
        let symbolized = frames.map(\.symbolized)
        var end = SiteLocator.trimmingStartupFrames(symbolized).endIndex
        if let check = frames.firstIndex(where: \.isMemprofCheck) { end = min(end, check) }
        let start = min(siteFrameIndex ?? 0, end)
        return frames[start..<max(end, start)]
    }
}

/// What a ``LeakCheck`` found: every block the body allocated and did not free, by
/// site and kind, and which of them count as leaks.
public struct LeakCheckReport: Sendable, Hashable, CustomStringConvertible {
    /// Every site with blocks left allocated, largest first.
    public var sites: [LeakSite]
    /// The kinds that count as leaks (``LeakKind/lost`` by default).
    public var countedKinds: Set<LeakKind>

    public init(sites: [LeakSite], countedKinds: Set<LeakKind>) {
        self.sites = sites.sorted {
            ($0.bytes, $1.kind, $1.location) > ($1.bytes, $0.kind, $0.location)
        }
        self.countedKinds = countedKinds
    }

    /// The sites of the counted kinds.
    public var leaks: [LeakSite] { sites.filter { countedKinds.contains($0.kind) } }
    public var hasLeaks: Bool { !leaks.isEmpty }
    public var leakedBytes: Int { leaks.reduce(0) { $0 + $1.bytes } }
    public var leakedBlocks: Int { leaks.reduce(0) { $0 + $1.blocks } }
    /// Every block left allocated, counted or not.
    public var unfreedBytes: Int { sites.reduce(0) { $0 + $1.bytes } }
    public var unfreedBlocks: Int { sites.reduce(0) { $0 + $1.blocks } }

    /// Bytes and blocks of one kind.
    public func total(_ kind: LeakKind) -> (bytes: Int, blocks: Int) {
        sites.filter { $0.kind == kind }.reduce((0, 0)) { ($0.0 + $1.bytes, $0.1 + $1.blocks) }
    }

    /// A report for people: the totals per kind, then each counted site with the
    /// frames from the allocation site out (at most `framesPerSite`).
    public func render(framesPerSite: Int = 12) -> String {
        var lines: [String] = []
        if hasLeaks {
            lines.append("memprof leak check: \(plural(leakedBlocks, "block")) (\(plural(leakedBytes, "byte"))) leaked")
        } else {
            lines.append("memprof leak check: no leaks")
        }
        for kind in LeakKind.allCases {
            let (bytes, blocks) = total(kind)
            guard blocks > 0 else { continue }
            let counted = countedKinds.contains(kind) ? "" : " (not counted)"
            lines.append("  \(kind.phrase): \(plural(bytes, "byte")) in \(plural(blocks, "block"))\(counted)")
        }
        for site in leaks {
            lines.append("")
            lines.append(
                "\(plural(site.bytes, "byte")) in \(plural(site.blocks, "block")) \(site.kind.phrase), "
                    + "allocated at \(site.location)")
            let frames = site.programFrames
            for (n, frame) in frames.prefix(framesPerSite).enumerated() {
                lines.append("    #\(n) \(frame)")
            }
            if frames.count > framesPerSite { lines.append("    … \(frames.count - framesPerSite) more frames") }
        }
        return lines.joined(separator: "\n")
    }

    public var description: String { render() }

    private func plural(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
}
