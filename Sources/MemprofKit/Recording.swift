import CMemprofClient

/// The trace memprof writes for this process (`memprof run`, or a linked interposer
/// with `MEMPROF_OUTPUT` set).
///
/// ```swift
/// // After warming a cache up, mark the moment in an aggregate-mode recording:
/// try Recording.writeSnapshot()
/// ```
public enum Recording {
    /// Writes into the trace now, and returns once it is in the file.
    ///
    /// In aggregate mode (`memprof run --mode aggregate`) that is a snapshot of every
    /// stack's counters, as the periodic ones, marked as asked for by the API. In full
    /// and sample modes it is every event the threads have recorded so far, so the file
    /// is up to date (for a report read while the program runs).
    ///
    /// - Throws: ``MemprofError/interposerMissing``, ``MemprofError/notRecording``
    ///   (tracing ended), ``MemprofError/noTraceFile`` (in-memory only).
    public static func writeSnapshot() throws(MemprofError) {
        let api = try Interposer.api()
        if let error = MemprofError(status: api.write_snapshot()) { throw error }
    }
}
