/// A visitor that renders every record as one line of text, in the order read.
///
/// The lines are meant for people debugging a trace and for golden-file tests: one
/// record per line, `name key=value …`, numbers in decimal except addresses (hex),
/// strings quoted and escaped as Swift literals. Each thread block starts with a
/// `thread_block` line.
///
/// ```swift
/// print(try TraceDumper.dump(path: "app.mprof"))
/// ```
///
/// `dump(path:)` builds one string, so it suits small traces; for large ones, pass a
/// line handler to `init(_:)` and stream.
public struct TraceDumper: TraceVisitor {
    private let emit: (String) -> Void

    /// Creates a dumper that hands each line, without a newline, to `emit`.
    public init(_ emit: @escaping (String) -> Void) {
        self.emit = emit
    }

    /// The whole trace at `path` as text: a `header` line, one line per record and a
    /// closing `summary` line that says whether the trace is complete or where it ends.
    public static func dump(path: String) throws(TraceError) -> String {
        let reader = try TraceReader(path: path)
        var lines = ["header version=\(reader.header.versionMajor).\(reader.header.versionMinor)"]
        // The closure appends to a local box: `lines` cannot be captured inout.
        let sink = LineSink()
        var dumper = TraceDumper { sink.lines.append($0) }
        let summary = try reader.read(into: &dumper)
        lines += sink.lines
        let ending = summary.truncation.map { "\($0)" } ?? "complete"
        lines.append("summary blocks=\(summary.blockCount) bytes=\(summary.byteCount) \(ending)")
        return lines.joined(separator: "\n") + "\n"
    }

    public mutating func process(_ record: ProcessRecord) {
        let arguments = record.arguments.map(\.debugDescription).joined(separator: ", ")
        emit(
            "process pid=\(record.pid) ppid=\(record.parentPID) start_unix_ns=\(record.startUnixNanoseconds)"
                + " page_size=\(record.pageSize) exe=\(record.executablePath.debugDescription)"
                + " args=[\(arguments)] memprof_version=\(record.memprofVersion.debugDescription) mode=\(record.mode)")
    }

    public mutating func module(_ record: ModuleRecord) {
        let buildID = record.buildID.map { hex(UInt32($0), digits: 2).lowercased() }.joined()
        let segments = record.segments.map { segment in
            let permissions =
                (segment.flags & 1 != 0 ? "r" : "-") + (segment.flags & 2 != 0 ? "w" : "-")
                + (segment.flags & 4 != 0 ? "x" : "-")
            return "\(address(segment.virtualAddress))+\(address(segment.memorySize)) \(permissions)"
        }
        emit(
            "module generation=\(record.generation) load_bias=\(address(record.loadBias))"
                + " path=\(record.path.debugDescription) build_id=\(buildID.isEmpty ? "none" : buildID)"
                + " segments=[\(segments.joined(separator: ", "))]")
    }

    public mutating func stack(_ record: StackRecord) {
        let frames = record.frames.map(address).joined(separator: ", ")
        emit("stack id=\(record.id) generation=\(record.moduleGeneration) frames=[\(frames)]")
    }

    public mutating func threadBlock(thread: UInt32) {
        emit("thread_block thread=\(thread)")
    }

    public mutating func time(thread: UInt32, nanoseconds: UInt64) {
        emit("time thread=\(thread) ns=\(nanoseconds)")
    }

    public mutating func allocation(thread: UInt32, size: UInt64, stackID: UInt32) {
        emit("alloc thread=\(thread) size=\(size) stack=\(stackID)")
    }

    public mutating func deallocation(thread: UInt32, size: UInt64, stackID: UInt32, temporary: Bool) {
        emit("\(temporary ? "free_temp" : "free") thread=\(thread) size=\(size) stack=\(stackID)")
    }

    public mutating func unknownDeallocation(thread: UInt32) {
        emit("free_unknown thread=\(thread)")
    }

    public mutating func inherited(thread: UInt32, size: UInt64, stackID: UInt32) {
        emit("inherited thread=\(thread) size=\(size) stack=\(stackID)")
    }

    public mutating func tick(_ record: TickRecord) {
        emit(
            "tick ns=\(record.nanoseconds) heap=\(record.heapBytes) peak=\(record.heapPeakBytes) rss=\(record.rssBytes)"
        )
    }

    public mutating func threadStarted(index: UInt32, tid: UInt64) {
        emit("thread_started index=\(index) tid=\(tid)")
    }

    public mutating func leak(_ record: LeakRecord) {
        emit("leak stack=\(record.stackID) size=\(record.size) address=\(address(record.address)) kind=\(record.kind)")
    }

    public mutating func sampling(intervalBytes: UInt64) {
        emit("sampling interval=\(intervalBytes)")
    }

    public mutating func counts(_ record: CountsRecord) {
        emit(
            "counts allocations=\(record.allocations) deallocations=\(record.deallocations) bytes=\(record.allocatedBytes)"
        )
    }

    public mutating func jemalloc(_ record: JemallocStatsRecord) {
        emit(
            "jemalloc ns=\(record.nanoseconds) allocated=\(record.allocated) active=\(record.active) "
                + "metadata=\(record.metadata) resident=\(record.resident) mapped=\(record.mapped) "
                + "retained=\(record.retained)")
    }

    public mutating func aggregation(intervalNanoseconds: UInt64) {
        emit("aggregate interval_ns=\(intervalNanoseconds)")
    }

    public mutating func snapshot(_ record: SnapshotRecord) {
        emit(
            "snapshot ns=\(record.nanoseconds) reason=\(record.reason.rawValue) memprof_bytes=\(record.memprofBytes) "
                + "sites=\(record.siteCount)")
    }

    public mutating func site(_ record: SiteRecord) {
        emit(
            "site stack=\(record.stackID) allocations=\(record.allocations) deallocations=\(record.deallocations) "
                + "bytes=\(record.allocatedBytes) freed=\(record.deallocatedBytes) "
                + "temporaries=\(record.temporaries) peak=\(record.peakLiveBytes)")
    }

    public mutating func end(_ record: EndRecord) {
        var names: [String] = []
        var rest = record.flags
        for (flag, name) in [
            (EndRecord.Flags.viaExit, "exit"), (.viaUnderscoreExit, "_exit"), (.stoppedEarly, "stopped"),
            (.viaExec, "exec"),
        ] where rest.contains(flag) {
            names.append(name)
            rest.remove(flag)
        }
        if let signal = record.signal {
            names.append("signal \(signal)")
            rest.remove(.viaSignal)
            rest = EndRecord.Flags(rawValue: rest.rawValue & ~0xff00)
        }
        if !rest.isEmpty {
            names.append("0x" + String(rest.rawValue, radix: 16))
        }
        emit(
            "end ns=\(record.nanoseconds) peak=\(record.heapPeakBytes) threads=\(record.threadCount)"
                + " flags=\(names.isEmpty ? "none" : names.joined(separator: ","))")
    }

    private func address(_ value: UInt64) -> String {
        "0x" + String(value, radix: 16)
    }
}

/// Collects lines for `TraceDumper.dump(path:)`.
private final class LineSink {
    var lines: [String] = []
}
