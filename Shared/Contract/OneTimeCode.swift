import Foundation

/// The verdict on a one-time code (registration SMS codes, revoke codes, and every later code
/// flow): the contract's rule "valid 5 min, 5 tries, single use", decided in one place for every
/// service that sends codes.
public enum OneTimeCodeVerdict: Sendable, Equatable {
    /// The code matches: the caller consumes it (single use).
    case accepted
    /// Every try is used up, or no code is outstanding (`SMS_CODE_LOCKED`).
    case locked
    /// The code's validity ended (`SMS_CODE_EXPIRED`).
    case expired
    /// The code is wrong; the caller counts the try (`SMS_CODE_INVALID` with `attemptsLeft`).
    case wrong(attemptsLeft: Int)
}

/// The one-time-code rule.
public enum OneTimeCode {
    /// Decides a presented code: a spent budget of tries locks first (whatever the guess, so a
    /// locked code cannot be probed further), then an expired code, then the comparison. `matches` is the caller's
    /// constant-time comparison of keyed hashes; `attempts` the wrong tries so far.
    public static func verdict(
        matches: Bool, attempts: Int, maxAttempts: Int, expiresAt: Date?, now: Date
    ) -> OneTimeCodeVerdict {
        if attempts >= maxAttempts { return .locked }
        if let expiresAt, now >= expiresAt { return .expired }
        if matches { return .accepted }
        return .wrong(attemptsLeft: max(0, maxAttempts - attempts - 1))
    }
}
