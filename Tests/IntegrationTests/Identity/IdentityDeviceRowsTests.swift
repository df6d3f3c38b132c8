import Contract
import Foundation
import Messaging
import TestSupport
import Testing

/// Issue 18's device rows through identity.commands: Android's IMEI, the recommended configuration,
/// and device rules at every sign-in (emulators, at most three accounts signed in on one device).
@Suite(.enabled(if: TestStack.enabled))
struct IdentityDeviceRowsTests {
    let identity = IdentityClient()

    @Test func androidRegistrationsCarryTheIMEIAndIOSOnesNeedNot() async throws {
        var withoutIMEI = IdentityClient.fingerprint()
        withoutIMEI.removeValue(forKey: "imeiHash")
        let android = try await identity.start(
            phone: IdentityClient.phone(), device: IdentityClient.device(fingerprint: withoutIMEI))
        #expect(android.code == "MALFORMED")
        #expect(android.string("field") == "data.device.fingerprint.imeiHash")
        let ios = try await identity.start(
            phone: IdentityClient.phone(),
            device: IdentityClient.device(platform: "ios", osVersion: "17.2", chip: "A15", fingerprint: withoutIMEI))
        #expect(ios.code == "OK", "\(ios.event.data)")
    }

    @Test func belowTheRecommendedConfigurationRegistersWithAWarning() async throws {
        let old = try await identity.start(
            phone: IdentityClient.phone(), device: IdentityClient.device(chip: "Snapdragon 450"))
        #expect(old.code == "OK")
        #expect(old.warnings == ["BELOW_RECOMMENDED_HARDWARE"])
        let iPhone8 = try await identity.start(
            phone: IdentityClient.phone(), device: IdentityClient.device(platform: "ios", osVersion: "16", chip: "A11"))
        #expect(iPhone8.code == "OK" && iPhone8.warnings == ["BELOW_RECOMMENDED_HARDWARE"])
        let recommended = try await identity.start(phone: IdentityClient.phone(), device: IdentityClient.device())
        #expect(recommended.code == "OK" && recommended.warnings.isEmpty)
    }

    @Test func signInRepliesGuideTowardRealNameVerification() async throws {
        let phone = IdentityClient.phone()
        let device = IdentityClient.device()
        let (registrationId, _) = try await identity.registerToSecurityCheck(phone: phone, device: device)
        let created = try await identity.send(
            "registration.security_check",
            [
                "registrationId": .string(registrationId),
                "behavior": .object(["typingRhythmScore": .double(0.9), "swipeScore": .double(0.9)]),
                "liveness": .object(["passed": .bool(true), "score": .double(0.97)]),
            ])
        #expect(created.code == "OK")
        let guidance = created.result["verification"]
        #expect(guidance?["tier"] == .string("none"))
        #expect(guidance?["next"] == .array([.string("bank_card"), .string("id_card")]))
        #expect(guidance?["tierExpiresAt"]?.stringValue != nil)
        let token = try #require(created.string("sessionToken"))
        #expect(try await identity.verifyCard(IdentityClient.cardNumber(), session: token).code == "OK")
        let afterCard = try await identity.login(phone: phone, device: device)
        #expect(afterCard.result["verification"]?["next"] == .array([.string("id_card")]))
        #expect(try await identity.verifyID(IdentityClient.residentID(), session: token).code == "OK")
        let afterID = try await identity.login(phone: phone, device: device)
        #expect(afterID.code == "OK" && afterID.result["verification"] == nil, "\(afterID.event.data)")
    }

    @Test func anEmulatorCannotSignIn() async throws {
        let phone = IdentityClient.phone()
        let fingerprint = IdentityClient.fingerprint()
        _ = try await identity.register(phone: phone, device: IdentityClient.device(fingerprint: fingerprint))
        let emulated = try await identity.login(
            phone: phone, device: IdentityClient.device(emulator: true, fingerprint: fingerprint))
        #expect(emulated.code == "EMULATOR_FORBIDDEN")
        // Refused before the phone is looked at: the same for a phone nobody has.
        let unknown = try await identity.login(
            phone: IdentityClient.phone(), device: IdentityClient.device(emulator: true))
        #expect(unknown.code == "EMULATOR_FORBIDDEN")
    }

    @Test func aFourthAccountSigningInOnADeviceSignsTheLeastRecentlyUsedOut() async throws {
        let fingerprint = IdentityClient.fingerprint()
        let shared = IdentityClient.device(fingerprint: fingerprint)
        // Three accounts registered on the device: three signed in (the device's registration limit).
        var residents: [(accountId: String, sessionToken: String)] = []
        for _ in 0..<3 {
            let account = try await identity.register(device: shared)
            residents.append((account.accountId, account.sessionToken))
        }
        // A fourth account, registered elsewhere, signs in on the device after approving it.
        let visitorPhone = IdentityClient.phone()
        let visitor = try await identity.register(phone: visitorPhone)
        let challenge = try #require(
            try await identity.login(phone: visitorPhone, device: shared).string("challengeId"))
        #expect(
            try await identity.send(
                "device.approve", ["challengeId": .string(challenge)], session: visitor.sessionToken
            )
            .code == "OK")
        let signedIn = try await identity.login(phone: visitorPhone, device: shared)
        #expect(signedIn.code == "OK", "\(signedIn.event.data)")

        // The first registered signed in longest ago: it is the least recently used.
        #expect(
            try await identity.send("account.get", [:], session: residents[0].sessionToken).code == "UNAUTHENTICATED")
        #expect(try await identity.send("account.get", [:], session: residents[1].sessionToken).code == "OK")
        #expect(try await identity.send("account.get", [:], session: residents[2].sessionToken).code == "OK")
        let first = residents[0].accountId
        let revoked = try await identity.client.event(on: "identity.events") {
            $0.type == "session.revoked" && $0.subject == first
                && $0.data["reason"]?.stringValue == "device_account_limit"
        }
        #expect(revoked.data["deviceId"]?.stringValue != nil)
    }
}
