import Contract
import Foundation
import Messaging
import TestSupport
import Testing

/// Issue 18's identity rows through identity.commands: biometric sign-in with a device key (per
/// platform), Android's mandatory scan, and the account's stage risk as a step-up for a new device.
@Suite(.enabled(if: TestStack.enabled))
struct IdentityBiometricTests {
    let identity = IdentityClient()

    @Test func aDeviceKeySignsInOncePerChallengeAndAWrongSignatureCountsLikeAWrongPassword() async throws {
        let phone = IdentityClient.phone()
        let device = IdentityClient.device()
        let a = try await identity.register(phone: phone, device: device)
        let key = IdentityClient.DeviceKey()

        // Registering needs the bound device's session, a supported algorithm and a key of its size.
        #expect(try await identity.registerKey(key, session: nil).code == "UNAUTHENTICATED")
        let p256 = try await identity.registerKey(key, session: a.sessionToken, algorithm: "p256")
        #expect(p256.code == "KEY_ALGORITHM_UNSUPPORTED" && p256.result["supported"] == .array([.string("ed25519")]))
        let short = try await identity.send(
            "device.key.register", ["publicKey": .string("AAEC"), "algorithm": .string("ed25519")],
            session: a.sessionToken)
        #expect(short.code == "MALFORMED" && short.string("field") == "data.publicKey")
        let registered = try await identity.registerKey(key, session: a.sessionToken)
        #expect(registered.code == "OK", "\(registered.event.data)")
        #expect(registered.string("deviceId") == a.deviceId && registered.string("algorithm") == "ed25519")
        let keyId = try #require(registered.string("keyId"))
        let announced = try await identity.client.event(on: "identity.events") {
            $0.type == "device.key_registered" && $0.subject == a.accountId
        }
        #expect(announced.data["keyId"]?.stringValue == keyId && announced.data["deviceId"]?.stringValue == a.deviceId)
        #expect(!String(describing: announced.data).contains(key.publicKeyBase64))
        // The owner sees which devices have a key (`registrar account devices`), never the key.
        let devices = try await identity.send("devices.list", [:], session: a.sessionToken)
        guard case .array(let list) = devices.result["devices"] ?? .null else {
            Issue.record("no devices in \(devices.event.data)")
            return
        }
        #expect(list.first?["deviceKey"]?["keyId"] == .string(keyId))
        #expect(list.first?["deviceKey"]?["algorithm"] == .string("ed25519"))
        #expect(!String(describing: devices.event.data).contains(key.publicKeyBase64))

        // A challenge, signed: a session like a password sign-in's, with the guidance.
        let challenge = try await identity.loginChallenge(accountId: a.accountId, deviceId: a.deviceId)
        #expect(challenge.code == "OK" && challenge.string("expiresAt") != nil)
        let signedIn = try await identity.signIn(
            accountId: a.accountId, deviceId: a.deviceId, challenge: challenge, key: key)
        #expect(signedIn.code == "OK", "\(signedIn.event.data)")
        #expect(signedIn.string("deviceId") == a.deviceId && signedIn.string("refreshToken") != nil)
        #expect(signedIn.result["verification"]?["tier"] == .string("none"))
        let token = try #require(signedIn.string("sessionToken"))
        #expect(try await identity.send("account.get", [:], session: token).code == "OK")
        _ = try await identity.client.event(on: "identity.events") {
            $0.type == "login.succeeded" && $0.subject == a.accountId
                && $0.data["method"]?.stringValue == "device_key"
        }
        // Single use.
        let replayed = try await identity.signIn(
            accountId: a.accountId, deviceId: a.deviceId, challenge: challenge, key: key)
        #expect(replayed.code == "CHALLENGE_NOT_FOUND")
        // A challenge is bound to its account and device.
        let other = try await identity.register()
        #expect(
            try await identity.loginChallenge(accountId: other.accountId, deviceId: a.deviceId).code
                == "DEVICE_KEY_NOT_FOUND")
        #expect(
            try await identity.loginChallenge(accountId: other.accountId, deviceId: other.deviceId).code
                == "DEVICE_KEY_NOT_FOUND")

        // A wrong signature is a wrong password: INVALID_CREDENTIALS, login.failed, and the fifth in
        // the window locks (the password's lock: the right key waits too, and so does the password).
        let impostor = IdentityClient.DeviceKey()
        let first = try await identity.signInWithKey(accountId: a.accountId, deviceId: a.deviceId, key: impostor)
        #expect(first.code == "INVALID_CREDENTIALS")
        _ = try await identity.client.event(on: "identity.events") {
            $0.type == "login.failed" && $0.subject == a.accountId && $0.data["reason"]?.stringValue == "device_key"
        }
        var last = first
        for _ in 0..<4 {
            last = try await identity.signInWithKey(accountId: a.accountId, deviceId: a.deviceId, key: impostor)
        }
        #expect(last.code == "ACCOUNT_TEMPORARILY_LOCKED" && last.result["retryAfterSeconds"] != nil)
        #expect(
            try await identity.signInWithKey(accountId: a.accountId, deviceId: a.deviceId, key: key).code
                == "ACCOUNT_TEMPORARILY_LOCKED")
        #expect(try await identity.login(phone: phone, device: device).code == "ACCOUNT_TEMPORARILY_LOCKED")
    }

    @Test func windowsAndMacOSHaveNoBiometricSignIn() async throws {
        let phone = IdentityClient.phone()
        let a = try await identity.register(phone: phone)
        for platform in ["windows", "macos"] {
            let desktop = IdentityClient.device(platform: platform, osVersion: "11", chip: "x86")
            let challenge = try #require(try await identity.login(phone: phone, device: desktop).string("challengeId"))
            let approved = try await identity.send(
                "device.approve", ["challengeId": .string(challenge)], session: a.sessionToken)
            #expect(approved.code == "OK", "\(approved.event.data)")
            let desktopId = try #require(approved.string("deviceId"))
            let session = try await identity.login(phone: phone, device: desktop)
            let token = try #require(session.string("sessionToken"), "\(session.event.data)")
            let refused = try await identity.registerKey(IdentityClient.DeviceKey(), session: token)
            #expect(refused.code == "BIOMETRIC_NOT_SUPPORTED", "\(platform): \(refused.event.data)")
            #expect(
                try await identity.loginChallenge(accountId: a.accountId, deviceId: desktopId).code
                    == "BIOMETRIC_NOT_SUPPORTED")
        }
    }

    @Test func keysGoWithTheDeviceThePasswordAndTheAccount() async throws {
        let phone = IdentityClient.phone()
        let a = try await identity.register(phone: phone)
        let key = IdentityClient.DeviceKey()
        #expect(try await identity.registerKey(key, session: a.sessionToken).code == "OK")
        // A second device (an iPhone, approved by the first) with its own key.
        let iPhone = IdentityClient.iPhone()
        let challenge = try #require(try await identity.login(phone: phone, device: iPhone).string("challengeId"))
        let approved = try await identity.send(
            "device.approve", ["challengeId": .string(challenge)], session: a.sessionToken)
        let iPhoneId = try #require(approved.string("deviceId"))
        let iPhoneToken = try #require(try await identity.login(phone: phone, device: iPhone).string("sessionToken"))
        let iPhoneKey = IdentityClient.DeviceKey()
        #expect(try await identity.registerKey(iPhoneKey, session: iPhoneToken).code == "OK")
        // Registering again replaces the key: the old one no longer signs in.
        let newer = IdentityClient.DeviceKey()
        #expect(try await identity.registerKey(newer, session: iPhoneToken).code == "OK")
        #expect(
            try await identity.signInWithKey(accountId: a.accountId, deviceId: iPhoneId, key: iPhoneKey).code
                == "INVALID_CREDENTIALS")
        #expect(
            try await identity.signInWithKey(accountId: a.accountId, deviceId: iPhoneId, key: newer).code == "OK")

        // A password change keeps the caller's device key and removes the others'.
        let changed = try await identity.send(
            "password.change",
            [
                "accountId": .string(a.accountId), "currentPassword": .string("Sunflower-42"),
                "newPassword": .string("Moonflower-77"),
            ], session: a.sessionToken)
        #expect(changed.code == "OK", "\(changed.event.data)")
        #expect(
            try await identity.loginChallenge(accountId: a.accountId, deviceId: iPhoneId).code
                == "DEVICE_KEY_NOT_FOUND")
        _ = try await identity.client.event(on: "identity.events") {
            $0.type == "device.key_removed" && $0.subject == a.accountId
                && $0.data["deviceId"]?.stringValue == iPhoneId
                && $0.data["reason"]?.stringValue == "password_changed"
        }
        #expect(
            try await identity.signInWithKey(accountId: a.accountId, deviceId: a.deviceId, key: key).code == "OK")

        // Unbinding the device removes its key.
        #expect(
            try await identity.send("device.unbind", ["deviceId": .string(a.deviceId)], session: a.sessionToken).code
                == "OK")
        #expect(
            try await identity.loginChallenge(accountId: a.accountId, deviceId: a.deviceId).code
                == "DEVICE_KEY_NOT_FOUND")
        _ = try await identity.client.event(on: "identity.events") {
            $0.type == "device.key_removed" && $0.subject == a.accountId
                && $0.data["reason"]?.stringValue == "device_unbound"
        }
    }

    @Test func aPasswordResetAndTheDeregistrationPurgeRemoveEveryKey() async throws {
        let phone = IdentityClient.phone()
        let device = IdentityClient.device()
        let a = try await identity.register(phone: phone, device: device)
        #expect(try await identity.registerKey(IdentityClient.DeviceKey(), session: a.sessionToken).code == "OK")
        #expect(
            try await identity.send(
                "password.reset.start", ["phone": .string(phone), "device": device, "ip": IdentityClient.ip()]
            ).code == "OK")
        let code = try await identity.smsCode(for: phone, purpose: "password_reset")
        let reset = try await identity.send(
            "password.reset.complete",
            [
                "phone": .string(phone), "code": .string(code), "newPassword": .string("Moonflower-77"),
                "device": device, "ip": IdentityClient.ip(),
            ])
        #expect(reset.code == "OK", "\(reset.event.data)")
        #expect(
            try await identity.loginChallenge(accountId: a.accountId, deviceId: a.deviceId).code
                == "DEVICE_KEY_NOT_FOUND")
        _ = try await identity.client.event(on: "identity.events") {
            $0.type == "device.key_removed" && $0.subject == a.accountId
                && $0.data["reason"]?.stringValue == "password_reset"
        }

        let b = try await identity.register()
        let key = IdentityClient.DeviceKey()
        #expect(try await identity.registerKey(key, session: b.sessionToken).code == "OK")
        try await identity.publishLifecycle("account.deregistered", accountId: b.accountId)
        try await TestStack.eventually("purged") {
            try await identity.loginChallenge(accountId: b.accountId, deviceId: b.deviceId).code
                == "DEVICE_KEY_NOT_FOUND"
        }
    }

    @Test func androidDeviceChangesTakeOnlyTheOriginalDevicesScan() async throws {
        let phone = IdentityClient.phone()
        let a = try await identity.register(
            phone: phone, questions: [("pet", "Rex"), ("city", "Chengdu"), ("food", "noodles")])
        let answers: JSONValue = .array([.string("Rex"), .string("Chengdu"), .string("noodles")])

        // Android: the scan only, never the security questions.
        let android = try await identity.login(phone: phone, device: IdentityClient.device())
        #expect(android.code == "DEVICE_VERIFICATION_REQUIRED")
        #expect(android.result["methods"] == .array([.string("original_device_scan")]))
        #expect(android.result["requiredLevel"] == nil)
        let androidChallenge = try #require(android.string("challengeId"))
        let answered = try await identity.send(
            "device.answer_security_questions",
            [
                "challengeId": .string(androidChallenge), "answers": answers,
                "liveness": .object(["passed": .bool(true)]),
            ])
        #expect(answered.code == "SCAN_REQUIRED")
        #expect(
            try await identity.send(
                "device.approve", ["challengeId": .string(androidChallenge)], session: a.sessionToken
            ).code == "OK")

        // iOS: the scan is optional; answers stand in for it, with the first week's step-up
        // (stage risk high → a passed liveness check).
        let iOS = try await identity.login(phone: phone, device: IdentityClient.iPhone())
        #expect(iOS.result["methods"] == .array([.string("original_device_scan"), .string("security_questions")]))
        #expect(iOS.string("riskLevel") == "high" && iOS.string("requiredLevel") == "high")
        let iOSChallenge = try #require(iOS.string("challengeId"))
        let bare = try await identity.send(
            "device.answer_security_questions", ["challengeId": .string(iOSChallenge), "answers": answers])
        #expect(bare.code == "LIVENESS_FAILED" && bare.string("requiredLevel") == "high")
        let stepped = try await identity.send(
            "device.answer_security_questions",
            ["challengeId": .string(iOSChallenge), "answers": answers, "liveness": .object(["passed": .bool(true)])])
        #expect(stepped.code == "OK" && stepped.string("sessionToken") != nil, "\(stepped.event.data)")
    }
}
