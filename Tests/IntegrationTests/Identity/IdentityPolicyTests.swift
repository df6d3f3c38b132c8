import Contract
import Foundation
import Messaging
import TestSupport
import Testing

/// Rules that need a shortened or forced policy run against a private identity instance.
@Suite(.enabled(if: TestStack.enabled))
struct IdentityPolicyTests {
    static let policy = """
        {
          "sms": {"validity": "60s"},
          "login": {"baseLockout": "60s"},
          "risk": {"stepUp": {
            "new_device": {"medium": 0, "high": 0},
            "proxy_ip": {"medium": 1, "high": 0},
            "late_night": {"medium": 1, "high": 1}
          }}
        }
        """

    @Test func stepUpLevelsSmsExpiryAndGrowingLockouts() async throws {
        try await ServiceProcess.run(.identity, policy: Self.policy) { instance, client in
            try await run(IdentityClient(client: client), instance: instance)
        }
    }

    func run(_ identity: IdentityClient, instance: ServiceProcess) async throws {
        // basic: SMS only.
        let (basicID, basic) = try await identity.registerToSecurityCheck()
        #expect(basic.string("requiredLevel") == "basic")
        #expect(
            try await identity.send("registration.security_check", ["registrationId": .string(basicID)]).code == "OK")

        // medium: behavioural scores of at least 0.6.
        let (mediumID, medium) = try await identity.registerToSecurityCheck(ip: IdentityClient.ip(proxy: true))
        #expect(medium.string("requiredLevel") == "medium")
        let missing = try await identity.send("registration.security_check", ["registrationId": .string(mediumID)])
        #expect(missing.code == "STEP_UP_REQUIRED")
        let low = try await identity.send(
            "registration.security_check",
            [
                "registrationId": .string(mediumID),
                "behavior": .object(["typingRhythmScore": .double(0.9), "swipeScore": .double(0.5)]),
            ])
        #expect(low.code == "STEP_UP_REQUIRED")
        let good = try await identity.send(
            "registration.security_check",
            [
                "registrationId": .string(mediumID),
                "behavior": .object(["typingRhythmScore": .double(0.6), "swipeScore": .double(0.7)]),
            ])
        #expect(good.code == "OK")

        // high: liveness; a failure may be retried.
        let (highID, high) = try await identity.registerToSecurityCheck(
            ip: IdentityClient.ip(timezone: IdentityClient.zone(localHour: 2)))
        #expect(high.string("requiredLevel") == "high")
        let failed = try await identity.send(
            "registration.security_check",
            ["registrationId": .string(highID), "liveness": .object(["passed": .bool(false)])])
        #expect(failed.code == "LIVENESS_FAILED")
        let passed = try await identity.send(
            "registration.security_check",
            ["registrationId": .string(highID), "liveness": .object(["passed": .bool(true)])])
        #expect(passed.code == "OK")
        let assessed = try await identity.client.event(on: "identity.events") {
            $0.type == "risk.assessed" && $0.subject == highID
        }
        #expect(assessed.data["factors"] == .array([.string("late_night"), .string("new_device")]))

        // SMS codes expire.
        let phone = IdentityClient.phone()
        let registrationId = try #require(try await identity.start(phone: phone).string("registrationId"))
        let code = try await identity.smsCode(for: phone)
        try instance.advanceClock(by: .seconds(61))
        let expired = try await identity.send(
            "registration.verify_sms", ["registrationId": .string(registrationId), "code": .string(code)])
        #expect(expired.code == "SMS_CODE_EXPIRED")

        // A deregistered phone is refused during its cool-down and accepted after it.
        let reused = IdentityClient.phone()
        let gone = try await identity.register(phone: reused)
        try await identity.publishLifecycle(
            "account.deregistered", accountId: gone.accountId, phoneBlockedUntil: instance.now.addingTimeInterval(60))
        var cooling = try await identity.start(phone: reused)
        let deadline = ContinuousClock.now + .seconds(10)
        while cooling.code == "PHONE_IN_USE" && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            cooling = try await identity.start(phone: reused)
        }
        #expect(cooling.code == "PHONE_IN_COOLDOWN")
        try instance.advanceClock(by: .seconds(61))
        #expect(try await identity.start(phone: reused).code == "OK")

        // Each further lockout doubles: 60 s, then 120 s (on the moved clock).
        let account = IdentityClient.phone()
        let device = IdentityClient.device()
        _ = try await identity.register(phone: account, device: device)
        for round in 1...2 {
            var last: IdentityClient.Answer?
            for _ in 0..<5 { last = try await identity.login(phone: account, password: "Wrong-one-1", device: device) }
            #expect(last?.code == "ACCOUNT_TEMPORARILY_LOCKED")
            #expect(last?.result["retryAfterSeconds"] == .int(Int64(60 << (round - 1))))
            try instance.advanceClock(by: .seconds(60 << (round - 1)) + .seconds(1))
        }
        #expect(try await identity.login(phone: account, device: device).code == "OK")
    }
}
