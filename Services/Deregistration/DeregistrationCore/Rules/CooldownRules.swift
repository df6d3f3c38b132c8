import Foundation
import Platform

/// The state of a deregistration request (`requests.state`).
public enum RequestState: String, Sendable, Equatable {
    /// Frozen, revocable until the cool-down ends.
    case cooling
    /// Revoked during the cool-down; the account is live again.
    case revoked
    /// The cool-down ended; the account is deregistered.
    case finalized
}

/// Whether a request can still be revoked.
public enum RevokeWindow: Sendable, Equatable {
    /// In its cool-down: a revoke code may be sent and a revoke accepted.
    case open
    /// Finalized, or its cool-down has ended (`COOLDOWN_OVER`).
    case over
}

/// What finalization publishes in `account.deregistered`.
public struct Finalization: Sendable, Equatable {
    /// When the account was deregistered (the scheduler's time, not the nominal cool-down end).
    public var deregisteredAt: Date
    /// Until when identity refuses the phone for a new registration (`PHONE_IN_COOLDOWN`).
    public var phoneBlockedUntil: Date
    /// Until when enterprise contacts and memberships are kept.
    public var contactsRetainedUntil: Date

    /// Creates a value.
    public init(deregisteredAt: Date, phoneBlockedUntil: Date, contactsRetainedUntil: Date) {
        self.deregisteredAt = deregisteredAt
        self.phoneBlockedUntil = phoneBlockedUntil
        self.contactsRetainedUntil = contactsRetainedUntil
    }
}

/// The cool-down (contract §4 `deregistration.request`, `deregistration.revoke` and "when the
/// cool-down ends"): its end, the revoke window within it, and what its end publishes.
public enum CooldownRules {
    /// When the cool-down of a request made at `requestedAt` ends (`deregistration.cooldown` later).
    public static func end(requestedAt: Date, policy: Policy) -> Date {
        requestedAt.addingTimeInterval(policy.deregistration.cooldown.timeInterval)
    }

    /// Whether a request in `state` whose cool-down ends at `cooldownEndsAt` can be revoked at `now`:
    /// only while it is cooling and strictly before the end, since at the end the finalizer may
    /// already have claimed it.
    public static func revokeWindow(state: RequestState, cooldownEndsAt: Date, now: Date) -> RevokeWindow {
        state == .cooling && now < cooldownEndsAt ? .open : .over
    }

    /// What a request finalized at `now` publishes: the phone blocked for
    /// `registration.phoneReuseCooldown`, contacts kept for `deregistration.contactRetention`.
    public static func finalization(at now: Date, policy: Policy) -> Finalization {
        Finalization(
            deregisteredAt: now,
            phoneBlockedUntil: now.addingTimeInterval(policy.registration.phoneReuseCooldown.timeInterval),
            contactsRetainedUntil: now.addingTimeInterval(policy.deregistration.contactRetention.timeInterval))
    }
}
