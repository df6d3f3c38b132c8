import Foundation
import Platform

/// An account's wrong-password counters, as stored.
public struct LoginCounters: Sendable, Equatable {
    /// Wrong passwords in the current window.
    public var failures: Int
    /// When the current window began; `nil` when no window is open.
    public var windowStart: Date?
    /// Temporary locks so far (each doubles the next); never reset.
    public var lockouts: Int
    /// End of the last temporary lock.
    public var lockedUntil: Date?

    /// Creates counters.
    public init(failures: Int, windowStart: Date?, lockouts: Int, lockedUntil: Date?) {
        self.failures = failures
        self.windowStart = windowStart
        self.lockouts = lockouts
        self.lockedUntil = lockedUntil
    }
}

/// What a wrong password does.
public enum LoginFailureOutcome: Sendable, Equatable {
    /// Counted: `INVALID_CREDENTIALS` (event `login.failed`); store the counters.
    case counted(LoginCounters)
    /// The `maxFailures`-th failure in the window: `ACCOUNT_TEMPORARILY_LOCKED` until `until` (event
    /// `account.locked`); store the counters.
    case locked(LoginCounters, until: Date, retryAfterSeconds: Int)
}

/// The login back-off rule (§4 `login`): `login.maxFailures` wrong passwords within
/// `login.failureWindow` lock the account for `login.baseLockout`, doubling with each further lock
/// up to `login.maxLockout`.
public enum LoginRules {
    /// Seconds until a temporary lock ends (rounded up), or `nil` when none holds at `now` (a lock
    /// ends at `lockedUntil`).
    public static func retryAfterSeconds(lockedUntil: Date?, now: Date) -> Int? {
        guard let until = lockedUntil, until > now else { return nil }
        return Int(until.timeIntervalSince(now).rounded(.up))
    }

    /// Counts a wrong password. A window older than `failureWindow` (strictly) starts afresh at
    /// `now`; the `maxFailures`-th failure locks and closes the window.
    public static func afterFailure(_ counters: LoginCounters, now: Date, policy: Policy.Login) -> LoginFailureOutcome {
        let fresh = counters.windowStart.map { now.timeIntervalSince($0) > policy.failureWindow.timeInterval } ?? true
        let failures = (fresh ? 0 : counters.failures) + 1
        guard failures >= policy.maxFailures else {
            return .counted(
                LoginCounters(
                    failures: failures, windowStart: fresh ? now : counters.windowStart, lockouts: counters.lockouts,
                    lockedUntil: counters.lockedUntil))
        }
        let lockouts = counters.lockouts + 1
        let seconds = lockoutDuration(number: lockouts, policy: policy)
        let until = now.addingTimeInterval(seconds)
        return .locked(
            LoginCounters(failures: 0, windowStart: nil, lockouts: lockouts, lockedUntil: until), until: until,
            retryAfterSeconds: Int(seconds.rounded(.up)))
    }

    /// A correct password closes the failure window; the lock count stays, so back-off keeps growing.
    public static func afterSuccess(_ counters: LoginCounters) -> LoginCounters {
        LoginCounters(failures: 0, windowStart: nil, lockouts: counters.lockouts, lockedUntil: counters.lockedUntil)
    }

    /// The length of the `number`-th temporary lock (1-based): `baseLockout × 2^(number−1)`, at most
    /// `maxLockout`.
    public static func lockoutDuration(number: Int, policy: Policy.Login) -> TimeInterval {
        min(policy.baseLockout.timeInterval * pow(2, Double(max(0, number - 1))), policy.maxLockout.timeInterval)
    }
}
