import Contract
import Foundation
import Platform

/// A device-key algorithm Registrar verifies.
public enum DeviceKeyAlgorithm: String, Sendable, CaseIterable {
    /// Ed25519 (RFC 8032), verified with libsodium's `crypto_sign_verify_detached`.
    case ed25519
}

/// Why a key cannot be registered.
public enum DeviceKeyRefusal: Error, Sendable, Equatable {
    /// `BIOMETRIC_NOT_SUPPORTED`: the platform has no biometric sign-in, or the session is not on a
    /// bound device.
    case biometricNotSupported
    /// `KEY_ALGORITHM_UNSUPPORTED`.
    case algorithmUnsupported
    /// `MALFORMED` naming `data.publicKey`: not base64, or not a key of the algorithm's size.
    case malformedKey
}

/// The rules of biometric sign-in (issue 18, the platform table's biometric column): the backend
/// side is a key bound to one device, which the device unlocks with Face ID/Touch ID or a
/// fingerprint and signs a single-use challenge with.
public enum DeviceKeyRules {
    /// Whether a bound device of `platform` may hold a device key (`devices.deviceKeyPlatforms`).
    public static func platformSupportsKeys(_ platform: String, policy: Policy.Devices) -> Bool {
        policy.deviceKeyPlatforms.contains(platform)
    }

    /// The key to store for `device.key.register`, or why not: the session must be on a bound
    /// device of a biometric platform, the algorithm one Registrar verifies, and the key (base64)
    /// of the algorithm's size.
    public static func acceptKey(
        algorithm: String, publicKey: String, platform: String, onBoundDevice: Bool, policy: Policy.Devices
    ) -> Result<(DeviceKeyAlgorithm, [UInt8]), DeviceKeyRefusal> {
        guard onBoundDevice, platformSupportsKeys(platform, policy: policy) else {
            return .failure(.biometricNotSupported)
        }
        guard let algorithm = DeviceKeyAlgorithm(rawValue: algorithm) else { return .failure(.algorithmUnsupported) }
        guard let bytes = Data(base64Encoded: publicKey).map(Array.init) else { return .failure(.malformedKey) }
        switch algorithm {
        case .ed25519:
            guard bytes.count == Sodium.ed25519PublicKeyBytes, bytes.contains(where: { $0 != 0 }) else {
                return .failure(.malformedKey)
            }
        }
        return .success((algorithm, bytes))
    }

    /// The bytes a device signs for `login.with_device_key`: a fixed label, the account, device and
    /// challenge ids and the challenge's random nonce, one per line. Naming the ids binds the
    /// signature to this account, device and challenge; the label keeps it from being valid for
    /// anything else the key might sign. `login.challenge` answers them (base64) as `challenge`.
    public static func signedMessage(accountID: String, deviceID: String, challengeID: String, nonce: [UInt8])
        -> [UInt8]
    {
        Array(
            "registrar-device-login-v1\n\(accountID.lowercased())\n\(deviceID.lowercased())\n\(challengeID.lowercased())\n\(Data(nonce).base64EncodedString())"
                .utf8)
    }

    /// Whether `signature` (base64) is the key's signature of `message`. Anything that does not
    /// decode is a wrong signature, never an error: it counts like a wrong password.
    public static func verify(
        signature: String, message: [UInt8], publicKey: [UInt8], algorithm: DeviceKeyAlgorithm
    ) -> Bool {
        guard let bytes = Data(base64Encoded: signature).map(Array.init) else { return false }
        switch algorithm {
        case .ed25519: return Sodium.ed25519Verify(signature: bytes, message: message, publicKey: publicKey)
        }
    }

    /// When a challenge opened at `now` stops being answerable.
    public static func challengeExpiry(now: Date, policy: Policy.Devices) -> Date {
        now.addingTimeInterval(policy.deviceKeyChallengeValidity.timeInterval)
    }
}

extension LoginRules {
    /// Whether a new device of `platform` must be approved by the original device's scan alone
    /// (`devices.scanMandatoryPlatforms`: Android, the platform table's "scan verification:
    /// mandatory"); iOS's scan is optional, so security answers may stand in for it there.
    public static func scanIsMandatory(platform: String?, policy: Policy.Devices) -> Bool {
        platform.map { policy.scanMandatoryPlatforms.contains($0) } ?? false
    }

    /// The step-up a new device's security answers must pass besides the answers, by the account's
    /// stage risk (`risk.newDeviceStepUp`: stage 1 `high` → a passed liveness check, stage 2
    /// `medium` → behaviour scores, stage 3 `low` → nothing more). A young account's answers were
    /// set days ago by whoever registered it; the older the account, the more they prove. An
    /// unknown mapping is `high` (a misconfigured policy must not weaken the check).
    public static func newDeviceStepUp(riskLevel: AccountStage.RiskLevel, policy: Policy.Risk) -> StepUpLevel {
        policy.newDeviceStepUp[riskLevel.rawValue].flatMap(StepUpLevel.init(rawValue:)) ?? .high
    }
}

extension RegistrationRules {
    /// Whether a security check may be completed by a manual review (`risk_review`) instead: only
    /// at `high` (the article's "face recognition or manual review"); `basic` needs nothing and
    /// behaviour scores are always possible at `medium`.
    public static func manualReviewAllowed(level: StepUpLevel) -> Bool {
        level == .high
    }
}
