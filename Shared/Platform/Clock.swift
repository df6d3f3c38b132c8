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

/// A clock that runs at real speed from an adjustable offset (tests that move time).
public final class OffsetClock: RegistrarClock {
    private let offset: Mutex<TimeInterval>

    /// A clock `offset` seconds ahead of the system clock.
    public init(offset: TimeInterval = 0) { self.offset = Mutex(offset) }

    /// System time plus the offset.
    public func now() -> Date { Date().addingTimeInterval(offset.withLock { $0 }).wholeMilliseconds }

    /// Moves the clock forward.
    public func advance(by seconds: TimeInterval) { offset.withLock { $0 += seconds } }
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
