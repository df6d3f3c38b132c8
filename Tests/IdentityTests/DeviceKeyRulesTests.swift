import Contract
import Foundation
import Platform
import Testing

@testable import IdentityCore

/// Issue 18's identity rules: device keys, Android's mandatory scan, the stage risk as a new
/// device's step-up, the manual review of a high check, and the shared stage boundaries.
@Suite struct DeviceKeyRulesTests {
    let policy = Policy()

    @Test func aKeyIsAcceptedOnlyFromABoundDeviceOfABiometricPlatform() throws {
        let key = Sodium.ed25519KeyPair().publicKey
        let encoded = Data(key).base64EncodedString()
        func accept(
            _ algorithm: String = "ed25519", _ publicKey: String = encoded, platform: String, bound: Bool = true
        )
            -> DeviceKeyRefusal?
        {
            switch DeviceKeyRules.acceptKey(
                algorithm: algorithm, publicKey: publicKey, platform: platform, onBoundDevice: bound,
                policy: policy.devices)
            {
            case .success(let (algorithm, bytes)):
                #expect(algorithm == .ed25519 && bytes == key)
                return nil
            case .failure(let refusal): return refusal
            }
        }
        for platform in ["ios", "android", "harmonyos"] { #expect(accept(platform: platform) == nil) }
        for platform in ["windows", "macos", "web"] { #expect(accept(platform: platform) == .biometricNotSupported) }
        #expect(accept(platform: "ios", bound: false) == .biometricNotSupported)
        #expect(accept("p256", platform: "ios") == .algorithmUnsupported)
        #expect(accept("ed25519", encoded + "!", platform: "ios") == .malformedKey)
        #expect(accept("ed25519", Data(key.prefix(31)).base64EncodedString(), platform: "ios") == .malformedKey)
        #expect(
            accept("ed25519", Data(repeating: 0, count: 32).base64EncodedString(), platform: "ios") == .malformedKey)
    }

    @Test func theSignatureCoversTheAccountDeviceAndChallenge() {
        let (publicKey, secretKey) = Sodium.ed25519KeyPair()
        let nonce = Sodium.randomBytes(32)
        let message = DeviceKeyRules.signedMessage(accountID: "A", deviceID: "D", challengeID: "C", nonce: nonce)
        let signature = Data(Sodium.ed25519Sign(message, secretKey: secretKey)).base64EncodedString()
        #expect(
            DeviceKeyRules.verify(signature: signature, message: message, publicKey: publicKey, algorithm: .ed25519))
        for other in [
            DeviceKeyRules.signedMessage(accountID: "B", deviceID: "D", challengeID: "C", nonce: nonce),
            DeviceKeyRules.signedMessage(accountID: "A", deviceID: "E", challengeID: "C", nonce: nonce),
            DeviceKeyRules.signedMessage(accountID: "A", deviceID: "D", challengeID: "X", nonce: nonce),
            DeviceKeyRules.signedMessage(
                accountID: "A", deviceID: "D", challengeID: "C", nonce: Sodium.randomBytes(32)),
        ] {
            #expect(
                !DeviceKeyRules.verify(signature: signature, message: other, publicKey: publicKey, algorithm: .ed25519))
        }
        let stranger = Sodium.ed25519KeyPair().publicKey
        #expect(
            !DeviceKeyRules.verify(signature: signature, message: message, publicKey: stranger, algorithm: .ed25519))
        #expect(
            !DeviceKeyRules.verify(signature: "not base64", message: message, publicKey: publicKey, algorithm: .ed25519)
        )
        #expect(!DeviceKeyRules.verify(signature: "", message: message, publicKey: publicKey, algorithm: .ed25519))
        // Ids are compared in lowercase, as the services write UUIDs.
        #expect(
            DeviceKeyRules.signedMessage(accountID: "ABC", deviceID: "D", challengeID: "C", nonce: nonce)
                == DeviceKeyRules.signedMessage(accountID: "abc", deviceID: "d", challengeID: "c", nonce: nonce))
        let expiry = DeviceKeyRules.challengeExpiry(now: Date(timeIntervalSince1970: 0), policy: policy.devices)
        #expect(expiry == Date(timeIntervalSince1970: 120))
    }

    @Test func androidsNewDevicesAreOfferedOnlyTheOriginalDevicesScan() {
        let bound = [(id: "d1", fingerprint: ["a": "1", "b": "2"])]
        let presented = ["a": "x", "b": "y"]
        #expect(LoginRules.scanIsMandatory(platform: "android", policy: policy.devices))
        for platform in ["ios", "harmonyos", "windows", "macos", "web"] {
            #expect(!LoginRules.scanIsMandatory(platform: platform, policy: policy.devices))
        }
        #expect(!LoginRules.scanIsMandatory(platform: nil, policy: policy.devices))
        #expect(
            LoginRules.deviceStep(
                presented: presented, bound: bound, hasSecurityQuestions: true, platform: "android",
                policy: policy.devices) == .verify(methods: ["original_device_scan"], mismatch: nil))
        #expect(
            LoginRules.deviceStep(
                presented: presented, bound: bound, hasSecurityQuestions: true, platform: "ios", policy: policy.devices)
                == .verify(methods: ["original_device_scan", "security_questions"], mismatch: nil))
    }

    @Test func theStageRiskIsTheStepUpOfANewDevicesSecurityAnswers() {
        #expect(LoginRules.newDeviceStepUp(riskLevel: .high, policy: policy.risk) == .high)
        #expect(LoginRules.newDeviceStepUp(riskLevel: .medium, policy: policy.risk) == .medium)
        #expect(LoginRules.newDeviceStepUp(riskLevel: .low, policy: policy.risk) == .basic)
        var broken = policy.risk
        broken.newDeviceStepUp = ["low": "nonsense"]
        #expect(LoginRules.newDeviceStepUp(riskLevel: .low, policy: broken) == .high)
        #expect(LoginRules.newDeviceStepUp(riskLevel: .medium, policy: broken) == .high)
    }

    @Test func onlyAHighCheckMayBeCompletedByAReviewer() {
        #expect(RegistrationRules.manualReviewAllowed(level: .high))
        #expect(!RegistrationRules.manualReviewAllowed(level: .medium))
        #expect(!RegistrationRules.manualReviewAllowed(level: .basic))
    }

    @Test func theStageBoundariesOfTheArticlesTable() {
        let start = Date(timeIntervalSince1970: 1_000_000)
        let day = 86_400.0
        func risk(_ days: Double) -> AccountStage.RiskLevel {
            AccountStage.riskLevel(
                stage: AccountStage.stage(
                    registeredAt: start, now: start.addingTimeInterval(days * day), dayLength: day,
                    stageOneLastDay: policy.permissions.stageOneLastDay,
                    stageTwoLastDay: policy.permissions.stageTwoLastDay))
        }
        #expect(risk(0) == .high && risk(7.99) == .high)
        #expect(risk(8) == .medium && risk(30.99) == .medium)
        #expect(risk(31) == .low && risk(400) == .low)
        // Before registration (a clock skew) is day 0's.
        #expect(risk(-0.5) == .high)
        #expect(AccountStage.day(registeredAt: start, now: start.addingTimeInterval(3 * day), dayLength: 0) == 0)
    }
}
