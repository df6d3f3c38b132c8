import Contract
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

/// A correct password's account, as the sign-in rule sees it.
public enum LoginStanding: Sendable, Equatable {
    /// Locked by three wrong security answers: `ACCOUNT_LOCKED` (support unlocks).
    case locked
    /// Frozen for deregistration: `ACCOUNT_FROZEN`.
    case frozen
    /// May sign in.
    case active
}

/// What a login with the right password does with the presenting device (§4 `login`).
public enum LoginDeviceStep: Sendable, Equatable {
    /// A bound device recognised at the threshold: a session on it (`login.succeeded`).
    case signIn(deviceID: String)
    /// A new device (or a bound one whose hardware changed): `DEVICE_VERIFICATION_REQUIRED` with
    /// these methods, after `device.fingerprint_mismatch` for `mismatch` when set.
    case verify(methods: [String], mismatch: String?)
    /// A new device while the account has `devices.maxDevicesPerAccount` bound: `DEVICE_LIMIT`
    /// (after `device.fingerprint_mismatch` for `mismatch` when set).
    case deviceLimit(mismatch: String?)
}

extension LoginRules {
    /// The account's standing for a correct password: a lock first, then a freeze.
    public static func standing(locked: Bool, status: String) -> LoginStanding {
        if locked { return .locked }
        return status == "frozen" ? .frozen : .active
    }

    /// The device step of a login with the right password: the bound device recognised at
    /// `devices.similarityThreshold` signs in; otherwise a bound device sharing the presented
    /// fingerprint's hardware identity (`imeiHash`, `serialHash`) is a hardware change
    /// (`mismatch`); a full account refuses the new device, else it is challenged with the original
    /// device's scan, plus the security questions when the account has them and the presented
    /// `platform`'s scan is not mandatory (`scanIsMandatory`, issue 18).
    public static func deviceStep(
        presented: [String: String], bound: [(id: String, fingerprint: [String: String])],
        hasSecurityQuestions: Bool, platform: String? = nil, policy: Policy.Devices
    ) -> LoginDeviceStep {
        let candidates = bound.map {
            DeviceRecognition.Candidate(id: $0.id, presented: presented, stored: $0.fingerprint)
        }
        if let known = DeviceRecognition.bestMatch(candidates, threshold: policy.similarityThreshold) {
            return .signIn(deviceID: known.id)
        }
        let identity = DeviceRules.hardwareIdentity(presented)
        let mismatch =
            identity.isEmpty
            ? nil : bound.first(where: { device in identity.contains { device.fingerprint[$0.key] == $0.value } })?.id
        if bound.count >= policy.maxDevicesPerAccount { return .deviceLimit(mismatch: mismatch) }
        return .verify(
            methods: ["original_device_scan"]
                + (hasSecurityQuestions && !scanIsMandatory(platform: platform, policy: policy)
                    ? ["security_questions"] : []),
            mismatch: mismatch)
    }
}
