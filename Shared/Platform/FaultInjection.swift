import Foundation
import Synchronization

/// Crash points for the reliability suite (issue 8, RELIABILITY-NOTES R3/R4). With
/// `REGISTRAR_CRASH_AT=<point>:<n>` the process kills itself with SIGKILL the n-th time it reaches
/// `<point>`, exactly as `kill -9` would at that moment. Unset, as in production, reaching a point
/// costs one comparison.
public final class FaultInjection: Sendable {
    /// The places a crash is injected.
    public enum Point: String, Sendable {
        /// A batch's PostgreSQL transaction committed; its offsets are not stored yet (reached once
        /// per message of the batch).
        case afterDatabaseCommit = "after_db_commit"
        /// The relay's batch reached the broker; its outbox rows are not marked sent yet.
        case afterPublish = "after_publish"
    }

    /// The process's crash point, from the environment.
    public static let process = FaultInjection(ProcessInfo.processInfo.environment["REGISTRAR_CRASH_AT"])

    private let point: Point?
    private let crashAt: Int
    private let reached = Atomic<Int>(0)

    /// Parses `<point>:<n>` (n ≥ 1, default 1); anything else injects nothing.
    public init(_ specification: String?) {
        let parts = (specification ?? "").split(separator: ":", maxSplits: 1).map(String.init)
        point = parts.first.flatMap(Point.init(rawValue:))
        crashAt = parts.count > 1 ? max(1, Int(parts[1]) ?? 1) : 1
    }

    /// Whether reaching `point` now would crash (for tests of the parsing).
    public func isArmed(at point: Point) -> Bool { self.point == point }

    /// Counts a pass through `point` and kills the process on the n-th.
    public func reached(_ point: Point) {
        guard point == self.point else { return }
        guard reached.add(1, ordering: .relaxed).newValue >= crashAt else { return }
        FileHandle.standardError.write(Data("fault injection: SIGKILL at \(point.rawValue) #\(crashAt)\n".utf8))
        kill(getpid(), SIGKILL)
    }
}
