import CMemprofClient

/// The live heap blocks allocated from one call stack.
public struct SiteUsage: Sendable, Hashable {
    public var blocks: Int
    public var bytes: Int
    /// The allocation stack, innermost first.
    public var frames: [StackFrame]

    public init(blocks: Int, bytes: Int, frames: [StackFrame]) {
        self.blocks = blocks
        self.bytes = bytes
        self.frames = frames
    }

    /// The site (see ``StackFrame/siteIndex(in:)``), as `function (file:line)`.
    public var location: String { StackFrame.location(of: frames) }

    /// Every live block now, by stack, largest first (stacks are symbolized, so this
    /// costs a debug-info lookup per distinct stack).
    public static func current() throws(MemprofError) -> [SiteUsage] {
        let api = try Interposer.recording()
        var list = memprof_site_list()
        let status = api.live_sites(&list)
        defer { api.sites_release(&list) }
        if let error = MemprofError(status: status) { throw error }
        let raw = (0..<Int(list.count)).map { list.sites[$0] }
        return raw.sorted { $0.bytes > $1.bytes }.map {
            SiteUsage(
                blocks: Int($0.blocks), bytes: Int($0.bytes),
                frames: InProcessSymbolizer.frames(stack: $0.stack, api: api))
        }
    }
}
