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

/// An account's latest deregistration request, as `deregistration.status` reads it.
public struct RequestSummary: Sendable, Equatable {
    /// Its state.
    public var state: RequestState
    /// When it was made.
    public var requestedAt: Date
    /// When its cool-down ends (or ended).
    public var cooldownEndsAt: Date
    /// When it was revoked or finalized; `nil` while cooling.
    public var closedAt: Date?

    /// Creates a value.
    public init(state: RequestState, requestedAt: Date, cooldownEndsAt: Date, closedAt: Date?) {
        self.state = state
        self.requestedAt = requestedAt
        self.cooldownEndsAt = cooldownEndsAt
        self.closedAt = closedAt
    }
}

/// An account's deregistration as `deregistration.status` tells it, from its latest request.
public enum DeregistrationStatus: Sendable, Equatable {
    /// No request was ever made (or none is known).
    case none
    /// Frozen until `cooldownEndsAt`; `revocable` while `CooldownRules.revokeWindow` is open (from the
    /// end until the finalizer closes it, the request is still cooling but no longer revocable).
    case coolingDown(requestedAt: Date, cooldownEndsAt: Date, revocable: Bool)
    /// Revoked during its cool-down; the account is live again.
    case revoked(requestedAt: Date, revokedAt: Date)
    /// The cool-down ended and the account was deregistered.
    case done(requestedAt: Date, deregisteredAt: Date)
}

extension CooldownRules {
    /// The status of an account whose latest request is `latest` (`nil`: none) at `now`. A closed
    /// request without its closing time (never written so) counts as closed at its cool-down's end.
    public static func status(of latest: RequestSummary?, now: Date) -> DeregistrationStatus {
        guard let latest else { return .none }
        let closed = latest.closedAt ?? latest.cooldownEndsAt
        switch latest.state {
        case .cooling:
            return .coolingDown(
                requestedAt: latest.requestedAt, cooldownEndsAt: latest.cooldownEndsAt,
                revocable: revokeWindow(state: .cooling, cooldownEndsAt: latest.cooldownEndsAt, now: now) == .open)
        case .revoked:
            return .revoked(requestedAt: latest.requestedAt, revokedAt: closed)
        case .finalized:
            return .done(requestedAt: latest.requestedAt, deregisteredAt: closed)
        }
    }
}

extension CooldownRules {
    /// When the user of a request whose cool-down ends at `cooldownEndsAt` is reminded
    /// (`deregistration.reminderBeforeEnd` before the end; issue 18).
    public static func reminderAt(cooldownEndsAt: Date, policy: Policy) -> Date {
        cooldownEndsAt.addingTimeInterval(-policy.deregistration.reminderBeforeEnd.timeInterval)
    }

    /// The latest cool-down end whose reminder is due at `now` (the reminder task's horizon).
    public static func reminderHorizon(now: Date, policy: Policy) -> Date {
        now.addingTimeInterval(policy.deregistration.reminderBeforeEnd.timeInterval)
    }

    /// Whether the reminder of a request is due at `now`: still cooling, not reminded yet, inside
    /// the reminder window and before the end (once the end passed, the completion notice says it
    /// all: a reminder late past the end is never sent).
    public static func reminderDue(
        state: RequestState, cooldownEndsAt: Date, remindedAt: Date?, now: Date, policy: Policy
    ) -> Bool {
        state == .cooling && remindedAt == nil && now >= reminderAt(cooldownEndsAt: cooldownEndsAt, policy: policy)
            && now < cooldownEndsAt
    }
}
