import Foundation
import Synchronization

/// The one source of "now" for rules and schedulers, injectable so tests can move time.
public protocol RegistrarClock: Sendable {
    /// The current wall-clock time.
    func now() -> Date
}

/// The system clock.
public struct SystemClock: RegistrarClock {
    /// Creates the system clock.
    public init() {}
    /// `Date()`, in whole milliseconds.
    public func now() -> Date { Date().wholeMilliseconds }
}

#if DEBUG
    /// A clock that runs at real speed from an offset that a test moves: the offset (seconds, as
    /// decimal text) is read from a file on every `now()`, so a test can move a private service
    /// instance's time forward by rewriting the file, without sleeping.
    ///
    /// It exists only in debug builds. A release build has no such type, and `RegistrarClocks`
    /// refuses to start a release process whose environment names a test clock; the compose stack and
    /// the release image build in release mode (`scripts/check-deploy.py` checks both).
    public struct MovableClock: RegistrarClock {
        /// The file holding the offset.
        public let path: String

        /// A clock whose offset is kept in `path` (a missing or unreadable file means offset 0).
        public init(path: String) { self.path = path }

        /// System time plus the file's offset.
        public func now() -> Date {
            Date().addingTimeInterval(Self.offset(at: path)).wholeMilliseconds
        }

        /// The offset kept in `path`, 0 when there is none.
        public static func offset(at path: String) -> TimeInterval {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return 0 }
            return TimeInterval(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        }

        /// Moves the clock kept in `path` forward by `seconds` (write to a temporary file, then
        /// rename, so a reader never sees a half-written number).
        public static func advance(at path: String, by seconds: TimeInterval) throws {
            let moved = offset(at: path) + seconds
            let temporary = path + ".tmp"
            try "\(moved)".write(toFile: temporary, atomically: false, encoding: .utf8)
            guard rename(temporary, path) == 0 else { throw CocoaError(.fileWriteUnknown) }
        }
    }
#endif

/// The clock a process runs on, chosen in `main` from the environment.
public enum RegistrarClocks {
    /// The variable naming a test clock's offset file (debug builds only).
    public static let testClockVariable = "REGISTRAR_TEST_CLOCK"

    /// The system clock; in a debug build, a `MovableClock` when `REGISTRAR_TEST_CLOCK` names its
    /// file. A release build whose environment sets the variable refuses to start, so the test
    /// control can never be switched on in a deployed process.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> any RegistrarClock
    {
        guard let path = environment[testClockVariable], !path.isEmpty else { return SystemClock() }
        #if DEBUG
            return MovableClock(path: path)
        #else
            throw TestClockRefused(variable: testClockVariable)
        #endif
    }

    /// A release process was started with a test clock.
    public struct TestClockRefused: Error, CustomStringConvertible {
        /// The variable that was set.
        public var variable: String
        /// Logged form.
        public var description: String { "\(variable) is set, but a release build never runs on a test clock" }
    }
}

extension Date {
    /// Parses an RFC 3339 time, with or without fractional seconds (the form of every `time`,
    /// `expiresAt`, `registeredAt`… on the wire); `nil` for anything else.
    public init?(rfc3339 text: String) {
        guard
            let date = (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text))
                ?? (try? Date.ISO8601FormatStyle().parse(text))
        else { return nil }
        self = date
    }
}

extension Date {
    /// This time cut to whole milliseconds, the precision of the events' timestamps: a time kept in
    /// PostgreSQL (microseconds) and the same time kept in memory then format alike (a time like
    /// …30.6455 formatted once from memory and once from the database could differ by 1 ms).
    public var wholeMilliseconds: Date {
        Date(timeIntervalSince1970: (timeIntervalSince1970 * 1000).rounded(.down) / 1000)
    }
}
