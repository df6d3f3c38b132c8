import Foundation
import Platform

/// What `registration.start` has loaded about a phone, device and IP, for its admission rule.
public struct StartFacts: Sendable, Equatable {
    /// Live (not deregistered) accounts registered on the recognised device; 0 for a new device.
    public var accountsOnDevice: Int
    /// Whether a live or frozen account holds the phone.
    public var phoneHeld: Bool
    /// When the phone's reuse block ends, if it was ever blocked.
    public var phoneBlockedUntil: Date?
    /// Registrations started within the rate window (`RegistrationRules.rateWindowStart`) by phone.
    public var startsByPhone: Int
    /// Likewise by the recognised device (0 for a new device).
    public var startsByDevice: Int
    /// Likewise by IP address.
    public var startsByIP: Int

    /// Creates the facts.
    public init(
        accountsOnDevice: Int, phoneHeld: Bool, phoneBlockedUntil: Date?, startsByPhone: Int, startsByDevice: Int,
        startsByIP: Int
    ) {
        self.accountsOnDevice = accountsOnDevice
        self.phoneHeld = phoneHeld
        self.phoneBlockedUntil = phoneBlockedUntil
        self.startsByPhone = startsByPhone
        self.startsByDevice = startsByDevice
        self.startsByIP = startsByIP
    }
}

/// The admission of a `registration.start` whose device passed the entry rules and whose phone parsed.
public enum StartAdmission: Sendable, Equatable {
    /// The start may go on (to the global SMS budget).
    case admitted
    /// `DEVICE_ACCOUNT_LIMIT`.
    case deviceAccountLimit
    /// `PHONE_IN_USE`.
    case phoneInUse
    /// `PHONE_IN_COOLDOWN`, with when the phone is free again.
    case phoneInCooldown(availableAt: Date)
    /// `RATE_LIMITED`.
    case rateLimited
}

/// Behaviour scores of `registration.security_check`.
public struct BehaviourScores: Sendable, Equatable {
    /// `typingRhythmScore`.
    public var typingRhythm: Double
    /// `swipeScore`.
    public var swipe: Double

    /// Creates the scores.
    public init(typingRhythm: Double, swipe: Double) {
        self.typingRhythm = typingRhythm
        self.swipe = swipe
    }
}

/// The step-up verdict of `registration.security_check` for the level the risk engine drew.
public enum StepUpVerdict: Sendable, Equatable {
    /// The account may be created.
    case passed
    /// `STEP_UP_REQUIRED`: `medium` without both behaviour scores at the minimum.
    case stepUpRequired
    /// `LIVENESS_FAILED`: `high` without a passed liveness check (may retry).
    case livenessFailed
}

/// The registration rules of §4 that need what is stored: admission of a start, and step-up.
public enum RegistrationRules {
    /// The first admission rule a start breaks, in the contract's order: device account limit,
    /// phone in use, phone in its reuse block, then the start rate limits per phone, device and IP.
    ///
    /// A block ends at `phoneBlockedUntil` (the phone is free at that instant); a count at a limit
    /// is refused (the limit is how many starts the window holds, the new one included would pass it).
    public static func admitStart(_ facts: StartFacts, now: Date, policy: Policy.Registration) -> StartAdmission {
        if deviceIsFull(accountsOnDevice: facts.accountsOnDevice, policy: policy) { return .deviceAccountLimit }
        if facts.phoneHeld { return .phoneInUse }
        if let until = facts.phoneBlockedUntil, now < until { return .phoneInCooldown(availableAt: until) }
        if facts.startsByPhone >= policy.startsPerPhonePerWindow
            || facts.startsByDevice >= policy.startsPerDevicePerWindow
            || facts.startsByIP >= policy.startsPerIPPerWindow
        {
            return .rateLimited
        }
        return .admitted
    }

    /// Whether a device holding `accountsOnDevice` live accounts may take no more
    /// (`DEVICE_ACCOUNT_LIMIT`, checked at start and again when the account is created).
    public static func deviceIsFull(accountsOnDevice: Int, policy: Policy.Registration) -> Bool {
        accountsOnDevice >= policy.maxAccountsPerDevice
    }

    /// The start of the rate window ending at `now`: starts created strictly after it count.
    public static func rateWindowStart(now: Date, policy: Policy.Registration) -> Date {
        now.addingTimeInterval(-policy.rateWindow.timeInterval)
    }

    /// The step-up decision after the risk draw: `basic` passes; `medium` needs both behaviour
    /// scores at or above `risk.behaviorMinScore`; `high` needs a passed liveness check.
    public static func stepUp(
        level: StepUpLevel, behaviour: BehaviourScores?, livenessPassed: Bool?, policy: Policy.Risk
    ) -> StepUpVerdict {
        switch level {
        case .basic:
            return .passed
        case .medium:
            guard let behaviour, behaviour.typingRhythm >= policy.behaviorMinScore,
                behaviour.swipe >= policy.behaviorMinScore
            else { return .stepUpRequired }
            return .passed
        case .high:
            return livenessPassed == true ? .passed : .livenessFailed
        }
    }
}
