@_exported import MemprofKit
import Testing

/// Checks that `body` leaks nothing, as a Swift Testing expectation: a failed check
/// records an issue with the report (sites, bytes, stacks) at the caller's source
/// location, and the test goes on. An error the check could not avoid (no interposer,
/// another thread allocating, a nested check) is recorded as an issue too.
///
/// ```swift
/// @Test func parserDoesNotLeak() {
///     expectNoLeaks { _ = try? Parser().parse(sample) }
/// }
/// ```
///
/// Linking `MemprofTesting` brings memprof's interposer into the test binary; see
/// ``LeakCheck`` for how the check works and what `warmUp`, `threads` and `kinds` do.
/// Run leak-checked tests where no other test runs beside them (a `.serialized`
/// suite, or `swift test --no-parallel`), since the check must tell the body's
/// allocations from the rest of the process.
@discardableResult
public func expectNoLeaks(
    warmUp: Int = 1, threads: LeakCheck.Threads = .current, kinds: Set<LeakKind> = LeakKind.lost,
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) -> LeakCheckReport? {
    do {
        let report = try LeakCheck.run(warmUp: warmUp, threads: threads, kinds: kinds, body)
        record(report, sourceLocation)
        return report
    } catch {
        Issue.record(error, sourceLocation: sourceLocation)
        return nil
    }
}

/// The async form of ``expectNoLeaks(warmUp:threads:kinds:sourceLocation:_:)``.
@discardableResult
public func expectNoLeaks(
    warmUp: Int = 1, threads: LeakCheck.Threads = .current, kinds: Set<LeakKind> = LeakKind.lost,
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void
) async -> LeakCheckReport? {
    do {
        let report = try await LeakCheck.run(warmUp: warmUp, threads: threads, kinds: kinds, body)
        record(report, sourceLocation)
        return report
    } catch {
        Issue.record(error, sourceLocation: sourceLocation)
        return nil
    }
}

private func record(_ report: LeakCheckReport, _ sourceLocation: SourceLocation) {
    guard report.hasLeaks else { return }
    Issue.record(Comment(rawValue: report.render()), sourceLocation: sourceLocation)
}

/// Checks that `body` allocates at most `limit` times (on the calling thread, or
/// the whole process with `scope: .process`) after `warmUp` runs; records an issue
/// with the counts when it allocates more. Returns the counts.
@discardableResult
public func expectAllocations(
    atMost limit: Int, scope: Allocations.Scope = .currentThread, warmUp: Int = 1,
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) -> AllocationCounts? {
    do {
        let counts = try Allocations.count(scope, warmUp: warmUp, body)
        if counts.allocations > limit {
            Issue.record(
                Comment(rawValue: "expected at most \(limit) allocations, got \(counts)"),
                sourceLocation: sourceLocation)
        }
        return counts
    } catch {
        Issue.record(error, sourceLocation: sourceLocation)
        return nil
    }
}
