import Contract
import Foundation
import Messaging
import TestSupport
import Testing

/// Issue 18's time- and policy-bound identity rows on private instances: the stage risk as a
/// step-up for a new device across the stage boundaries (moved clock), the device-key challenge's
/// validity, and the manual review (`risk_review`) that completes a high security check.
@Suite(.enabled(if: TestStack.enabled))
struct IdentityStageStepUpTests {
    @Test func aNewDevicesSecurityAnswersStepUpByTheAccountsStage() async throws {
        try await ServiceProcess.run(.identity, policy: #"{"devices": {"deviceKeyChallengeValidity": "60s"}}"#) {
            instance, client in
            let identity = IdentityClient(client: client)
            let phone = IdentityClient.phone()
            let a = try await identity.register(
                phone: phone, questions: [("pet", "Rex"), ("city", "Chengdu"), ("food", "noodles")])
            let answers: JSONValue = .array([.string("Rex"), .string("Chengdu"), .string("noodles")])
            let key = IdentityClient.DeviceKey()
            #expect(try await identity.registerKey(key, session: a.sessionToken).code == "OK")

            // A device-key challenge lives deviceKeyChallengeValidity.
            let stale = try await identity.loginChallenge(accountId: a.accountId, deviceId: a.deviceId)
            try instance.advanceClock(by: .seconds(61))
            #expect(
                try await identity.signIn(accountId: a.accountId, deviceId: a.deviceId, challenge: stale, key: key)
                    .code == "CHALLENGE_NOT_FOUND")
            // A new challenge replaces the open one.
            let replaced = try await identity.loginChallenge(accountId: a.accountId, deviceId: a.deviceId)
            let current = try await identity.loginChallenge(accountId: a.accountId, deviceId: a.deviceId)
            #expect(
                try await identity.signIn(accountId: a.accountId, deviceId: a.deviceId, challenge: replaced, key: key)
                    .code == "CHALLENGE_NOT_FOUND")
            #expect(
                try await identity.signIn(accountId: a.accountId, deviceId: a.deviceId, challenge: current, key: key)
                    .code == "OK")

            // Days 0–7: stage risk high → liveness (checked in IdentityBiometricTests). Day 8: medium →
            // behaviour scores.
            try instance.advanceClock(by: .seconds(8 * 86_400))
            let medium = try await identity.login(phone: phone, device: IdentityClient.iPhone())
            #expect(medium.string("riskLevel") == "medium" && medium.string("requiredLevel") == "medium")
            let mediumChallenge = try #require(medium.string("challengeId"))
            let bare = try await identity.send(
                "device.answer_security_questions", ["challengeId": .string(mediumChallenge), "answers": answers])
            #expect(bare.code == "STEP_UP_REQUIRED" && bare.string("requiredLevel") == "medium")
            let scored = try await identity.send(
                "device.answer_security_questions",
                [
                    "challengeId": .string(mediumChallenge), "answers": answers,
                    "behavior": .object(["typingRhythmScore": .double(0.8), "swipeScore": .double(0.7)]),
                ])
            #expect(scored.code == "OK", "\(scored.event.data)")

            // Day 31: low → the answers alone.
            try instance.advanceClock(by: .seconds(23 * 86_400))
            let low = try await identity.login(phone: phone, device: IdentityClient.iPhone())
            #expect(low.string("riskLevel") == "low" && low.string("requiredLevel") == "basic")
            let plain = try await identity.send(
                "device.answer_security_questions",
                ["challengeId": .string(try #require(low.string("challengeId"))), "answers": answers])
            #expect(plain.code == "OK", "\(plain.event.data)")
            // The key still signs in a month later (the access token did not).
            #expect(
                try await identity.signInWithKey(accountId: a.accountId, deviceId: a.deviceId, key: key).code == "OK")
        }
    }

    @Test func aHighSecurityCheckMayBeCompletedByAReviewer() async throws {
        // late_night always draws high, proxy_ip always medium.
        let policy = """
            {"risk": {"stepUp": {
              "new_device": {"medium": 0, "high": 0},
              "proxy_ip": {"medium": 1, "high": 0},
              "late_night": {"medium": 1, "high": 1}
            }, "manualReviewSLA": "2h"}}
            """
        try await ServiceProcess.run(.identity, policy: policy) { instance, client in
            let identity = IdentityClient(client: client)
            let reviewer = try RegistrarCLI.bootstrapAdmin(name: "Risk Desk", databaseURL: instance.databaseURL)
            let manual: JSONValue = .object([
                "reason": .string("no_camera"), "evidenceRef": .string("handheld-photo-7"),
            ])

            // Medium: behaviour scores are always possible, so no review.
            let (mediumID, medium) = try await identity.registerToSecurityCheck(ip: IdentityClient.ip(proxy: true))
            #expect(medium.string("requiredLevel") == "medium")
            let refused = try await identity.send(
                "registration.security_check", ["registrationId": .string(mediumID), "manualReview": manual])
            #expect(refused.code == "REVIEW_NOT_AVAILABLE")

            // High: a review instead of liveness; the registration waits.
            let phone = IdentityClient.phone()
            let device = IdentityClient.device()
            let (highID, high) = try await identity.registerToSecurityCheck(
                phone: phone, device: device, ip: IdentityClient.ip(timezone: IdentityClient.zone(localHour: 2)))
            #expect(high.string("requiredLevel") == "high")
            let pending = try await identity.send(
                "registration.security_check", ["registrationId": .string(highID), "manualReview": manual])
            #expect(pending.status == "pending_review" && pending.code == "OK", "\(pending.event.data)")
            let taskId = try #require(pending.string("taskId"))
            let opened = try await identity.client.event(on: "identity.events") {
                $0.type == "review.opened" && $0.data["taskId"]?.stringValue == taskId
            }
            #expect(opened.subject == highID && opened.data["kind"] == .string("risk_review"))
            let again = try await identity.send(
                "registration.security_check",
                ["registrationId": .string(highID), "liveness": .object(["passed": .bool(true)])])
            #expect(again.code == "STEP_OUT_OF_ORDER" && again.string("next") == "pending_review")
            #expect(try await identity.login(phone: phone, device: device).code == "INVALID_CREDENTIALS")

            // The reviewer's approval creates the account, past the registration's own hour.
            try instance.advanceClock(by: .seconds(90 * 60))
            let decided = try await identity.decide(
                taskId, "approve", note: "video call, face matches ID", operatorToken: reviewer.token)
            #expect(decided.code == "OK", "\(decided.event.data)")
            let registered = try await identity.client.event(on: "identity.events") {
                $0.type == "account.registered" && $0.data["registrationId"]?.stringValue == highID
            }
            let accountId = try #require(registered.subject)
            let signedIn = try await identity.login(phone: phone, device: device)
            #expect(signedIn.code == "OK" && signedIn.string("accountId") == accountId, "\(signedIn.event.data)")

            // A rejection closes the registration.
            let (rejectedID, _) = try await identity.registerToSecurityCheck(
                ip: IdentityClient.ip(timezone: IdentityClient.zone(localHour: 2)))
            let rejectedTask = try #require(
                try await identity.send(
                    "registration.security_check", ["registrationId": .string(rejectedID), "manualReview": manual]
                ).string("taskId"))
            #expect(try await identity.decide(rejectedTask, "reject", operatorToken: reviewer.token).code == "OK")
            let closed = try await identity.send(
                "registration.security_check",
                ["registrationId": .string(rejectedID), "liveness": .object(["passed": .bool(true)])])
            #expect(closed.code == "REGISTRATION_NOT_FOUND")
        }
    }
}
