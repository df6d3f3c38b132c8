import Foundation
import Platform

/// What `password.reset.start` has counted in the rate window (every start counts, known phone or not).
public struct ResetStartFacts: Sendable, Equatable {
    public var startsByPhone: Int
    /// Starts by the recognised device (0 for a device not seen before).
    public var startsByDevice: Int
    public var startsByIP: Int

    /// Creates the facts.
    public init(startsByPhone: Int, startsByDevice: Int, startsByIP: Int) {
        self.startsByPhone = startsByPhone
        self.startsByDevice = startsByDevice
        self.startsByIP = startsByIP
    }
}

/// Where a phone change may go: the new number's standing.
public enum NewPhoneStanding: Sendable, Equatable {
    case free
    /// `PHONE_IN_USE`: a live or frozen account holds it.
    case inUse
    /// `PHONE_IN_COOLDOWN`: released recently, free at `availableAt`.
    case inCooldown(availableAt: Date)
}

/// The account self-service rules of issue 16: password reset and phone change.
public enum RecoveryRules {
    /// The start of the rate window ending at `now`: starts created strictly after it count.
    public static func rateWindowStart(now: Date, policy: Policy.Recovery) -> Date {
        now.addingTimeInterval(-policy.rateWindow.timeInterval)
    }

    /// Whether a reset start stays within the per-phone, per-device and per-IP limits (a count at
    /// a limit is refused: the window holds `limit` starts).
    public static func admitResetStart(_ facts: ResetStartFacts, policy: Policy.Recovery) -> Bool {
        facts.startsByPhone < policy.resetStartsPerPhonePerWindow
            && facts.startsByDevice < policy.resetStartsPerDevicePerWindow
            && facts.startsByIP < policy.resetStartsPerIPPerWindow
    }

    /// Whether a reset code is sent: only to an active account that support has not locked. An
    /// unknown, frozen or locked phone gets the same answer and no SMS (its code is never sent, so it
    /// can never be completed). A temporary lock does not stop a reset: ending it is one of its uses.
    public static func sendsResetCode(status: String?, locked: Bool) -> Bool {
        status == "active" && !locked
    }

    /// The counters after a reset: the failure window and the temporary lock are cleared; the count
    /// of past locks (which doubles the next) stays.
    public static func countersAfterReset(_ counters: LoginCounters) -> LoginCounters {
        LoginCounters(failures: 0, windowStart: nil, lockouts: counters.lockouts, lockedUntil: nil)
    }

    /// Whether an account may start another phone change (each sends two SMS).
    public static func admitPhoneChangeStart(startsInWindow: Int, policy: Policy.Recovery) -> Bool {
        startsInWindow < policy.phoneChangeStartsPerAccountPerWindow
    }

    /// The new number's standing, in the order registration checks it: held, then blocked.
    public static func newPhoneStanding(held: Bool, blockedUntil: Date?, now: Date) -> NewPhoneStanding {
        if held { return .inUse }
        if let blockedUntil, now < blockedUntil { return .inCooldown(availableAt: blockedUntil) }
        return .free
    }

    /// Until when the old number of a completed change is blocked for registration, or `nil` when
    /// the policy leaves it free (`recovery.blockOldPhone`). Decided in docs/decisions.md: blocked
    /// as a deregistered number is, so contacts who still have it do not reach a stranger at once.
    public static func oldPhoneBlockedUntil(now: Date, recovery: Policy.Recovery, registration: Policy.Registration)
        -> Date?
    {
        recovery.blockOldPhone ? now.addingTimeInterval(registration.phoneReuseCooldown.timeInterval) : nil
    }
}
