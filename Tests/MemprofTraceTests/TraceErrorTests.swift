import MemprofTrace
import Testing

@Suite("TraceError")
struct TraceErrorTests {
    @Test(
        "description is one line naming the path, place and cause",
        arguments: [
            (
                TraceError.cannotOpen(path: "trace.mprof", reason: "No such file or directory"),
                "trace.mprof: cannot open: No such file or directory"
            ),
            (.empty(path: "trace.mprof"), "trace.mprof: empty file"),
            (.notATrace(path: "trace.mprof"), "trace.mprof: not a memprof trace (no MEMPROF header)"),
            (
                .unsupportedVersion(path: "trace.mprof", major: 9, minor: 0),
                "trace.mprof: format version 9.0 is newer than this memprof reads (1.x to 2.x)"
            ),
            (
                .unsupportedVersion(path: "trace.mprof", major: 0, minor: 4),
                "trace.mprof: format version 0.4 is not one this memprof reads (1.x to 2.x)"
            ),
            (
                .corrupt(path: "trace.mprof", offset: 4096, reason: "checksum mismatch"),
                "trace.mprof: corrupt block at byte 4096: checksum mismatch"
            ),
            (
                .corrupt(path: "trace.mprof", offset: 20, reason: "the file ends inside the 32-byte file header"),
                "trace.mprof: corrupt file header at byte 20: the file ends inside the 32-byte file header"
            ),
            (
                .readFailed(path: "trace.mprof", reason: "reading at byte 0: Input/output error"),
                "trace.mprof: read failed: reading at byte 0: Input/output error"
            ),
        ])
    func descriptions(error: TraceError, expected: String) {
        #expect(error.description == expected)
        #expect(!error.description.contains("\n"))
    }

    @Test("truncation describes itself with its offset")
    func truncationDescription() {
        let truncation = TraceTruncation(offset: 96, reason: "the file ends inside a block (12 of 4100 bytes)")
        #expect(truncation.description == "truncated at byte 96: the file ends inside a block (12 of 4100 bytes)")
    }
}
