/// Why an in-process check (``LeakCheck``, ``Allocations``, live sites in a
/// ``MemorySnapshot``) could not give an answer. Each case says what to do instead:
/// none of them is a result to read as "no leaks".
public enum MemprofError: Error, Sendable, Hashable, CustomStringConvertible {
    /// memprof's interposer is not in this process: the target does not link
    /// `MemprofInterposer` (or `MemprofTesting`), and the process was not started by
    /// `memprof run`.
    case interposerMissing
    /// An interposer is present but speaks another version of the in-process API.
    case incompatibleInterposer(version: UInt32)
    /// The interposer is present but not recording: it stopped after an internal
    /// failure, the process is a fork child, or it is exiting.
    case notRecording
    /// `memprof run --mode sample`: only sampled blocks are known, so a check or a
    /// count would be wrong.
    case sampleMode
    /// A leak check was started while another one was running (in this or another
    /// thread): checks do not nest.
    case nestedCheck
    /// Other threads allocated during the check and left blocks that would count as
    /// leaks had the checked code allocated them, so the check cannot tell whose they
    /// are. `blocks` and `bytes` are those blocks; `allocations` every allocation other
    /// threads made meanwhile.
    case concurrentAllocation(blocks: Int, bytes: Int, allocations: Int)
    /// The leak scan could not run: the allocator behind memprof is not glibc's, or
    /// memory for the scan could not be mapped.
    case scanFailed
    /// Memory for the result could not be mapped.
    case outOfMemory
    /// A check was ended on another thread than the one it started on.
    case wrongThread
    /// ``Recording/writeSnapshot()``: the interposer records in memory only (linked into
    /// the program with no `MEMPROF_OUTPUT`), so there is no trace to write to.
    case noTraceFile

    public var description: String {
        switch self {
        case .interposerMissing:
            return "memprof's interposer is not in this process: add the MemprofInterposer (or MemprofTesting) "
                + "product to the target's dependencies, or run the program with `memprof run`"
        case .incompatibleInterposer(let version):
            return "memprof's interposer in this process speaks API version \(version), this MemprofKit needs 1: "
                + "use the same memprof version for both"
        case .notRecording:
            return "memprof's interposer is not recording in this process (it stopped after an error printed on "
                + "stderr, or the process is a fork child or exiting)"
        case .sampleMode:
            return "memprof records a sample of allocations (--mode sample): in-process checks need every "
                + "allocation (--mode full)"
        case .nestedCheck:
            return "a leak check is already running in this process: checks do not nest (run them one after "
                + "another; in Swift Testing mark the suite .serialized)"
        case .concurrentAllocation(let blocks, let bytes, let allocations):
            return "other threads allocated \(allocations) times during the leak check and left \(blocks) blocks "
                + "(\(bytes) bytes) that would count as leaks, so the check cannot tell whose they are: run the "
                + "check while no other thread allocates (in Swift Testing: a .serialized suite, no tests running "
                + "beside it), or pass threads: .all if the checked code runs its own threads"
        case .scanFailed:
            return "memprof could not scan the heap: the allocator behind it is not glibc's malloc, or memory "
                + "for the scan ran out"
        case .outOfMemory:
            return "memprof could not map memory for the check's result"
        case .wrongThread:
            return "the leak check was ended on another thread than the one it started on"
        case .noTraceFile:
            return "memprof writes no trace in this process (linked without MEMPROF_OUTPUT): run it with "
                + "`memprof run`, or set MEMPROF_OUTPUT"
        }
    }

    init?(status: Int32) {
        switch status {
        case 0...: return nil
        case -1: self = .notRecording
        case -2: self = .sampleMode
        case -3: self = .nestedCheck
        case -5: self = .wrongThread
        case -6: self = .scanFailed
        case -7: self = .outOfMemory
        case -8: self = .noTraceFile
        default: self = .notRecording
        }
    }
}
