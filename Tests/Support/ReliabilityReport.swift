import Foundation
import Synchronization

/// One row of the reliability and security table that `scripts/test` prints (issue 8): what a
/// test drove, which faults it injected, and what the oracle counted.
public struct ReliabilityRow: Codable, Sendable {
    /// The test (short, stable).
    public var test: String
    /// The workload, e.g. "1,200 mixed commands at 120/s".
    public var workload: String
    /// The faults injected, e.g. "kill -9 × 40"; "none" when the test injects none.
    public var faults: String
    /// Accepted commands (or expected effects) missing from the database or the topics.
    public var lost: Int
    /// Effects found more than once, or replies to one command with different content.
    public var duplicated: Int
    /// Commands never answered, or partitions that stopped flowing past the bound.
    public var stalls: Int
    /// Further figures worth reading beside the counts (timings, dedup hits).
    public var notes: String
    /// Whether every assertion of the test held.
    public var passed: Bool

    /// A row; `passed` is computed by the caller from its own assertions.
    public init(
        test: String, workload: String, faults: String = "none", lost: Int = 0, duplicated: Int = 0, stalls: Int = 0,
        notes: String = "", passed: Bool
    ) {
        self.test = test
        self.workload = workload
        self.faults = faults
        self.lost = lost
        self.duplicated = duplicated
        self.stalls = stalls
        self.notes = notes
        self.passed = passed
    }
}

/// Appends rows to the JSON-lines file named by `REGISTRAR_RELIABILITY_REPORT` (set by
/// `scripts/test`); without it rows go nowhere, and the tests' own assertions still decide.
public enum ReliabilityReport {
    private static let lock = Mutex(())

    /// Records `row`.
    public static func record(_ row: ReliabilityRow) {
        guard let path = ProcessInfo.processInfo.environment["REGISTRAR_RELIABILITY_REPORT"],
            var line = try? JSONEncoder().encode(row)
        else { return }
        line.append(UInt8(ascii: "\n"))
        lock.withLock { _ in
            if !FileManager.default.fileExists(atPath: path) {
                _ = FileManager.default.createFile(atPath: path, contents: nil)
            }
            guard let handle = FileHandle(forWritingAtPath: path) else { return }
            handle.seekToEndOfFile()
            handle.write(line)
            try? handle.close()
        }
    }
}
