import Contract
import Foundation
import Messaging
import Platform
import Postgres
import TestSupport
import Testing

/// Account self-service through identity.commands (issue 16): sessions with refresh tokens,
/// sign-out, password reset and change, phone change, profile and the owner's reads.
@Suite(.enabled(if: TestStack.enabled))
struct IdentitySelfServiceTests {
    let identity = IdentityClient()

    /// A registered account, then signed in again on its device (the login reply has the refresh token).
    func signedIn(phone: String = IdentityClient.phone(), questions: [(String, String)]? = nil) async throws
        -> (phone: String, device: JSONValue, accountId: String, login: IdentityClient.Answer)
    {
        let device = IdentityClient.device()
        let account = try await identity.register(phone: phone, device: device, questions: questions)
        let login = try await identity.login(phone: phone, device: device)
        try #require(login.code == "OK", "\(login.event.data)")
        return (phone, device, account.accountId, login)
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    func get(_ token: String) async throws -> IdentityClient.Answer {
        try await identity.send("account.get", [:], session: token)
    }

    func refresh(_ token: String) async throws -> IdentityClient.Answer {
        try await identity.send("session.refresh", ["refreshToken": .string(token)])
    }

    @Test func loginIssuesAnAccessAndARefreshTokenAndRefreshRotatesBoth() async throws {
        let a = try await signedIn()
        let access = try #require(a.login.string("sessionToken"))
        let refreshToken = try #require(a.login.string("refreshToken"))
        let sessionID = try #require(a.login.string("sessionId"))
        // Access 1 h, refresh 30 d (the policy's defaults).
        let expires = try #require(a.login.string("expiresAt").flatMap { Date(rfc3339: $0) })
        let refreshExpires = try #require(a.login.string("refreshExpiresAt").flatMap { Date(rfc3339: $0) })
        #expect(abs(refreshExpires.timeIntervalSince(expires) - (30 * 86_400 - 3_600)) < 5)

        let rotated = try await refresh(refreshToken)
        #expect(rotated.code == "OK")
        #expect(rotated.string("sessionId") == sessionID)
        let newAccess = try #require(rotated.string("sessionToken"))
        let newRefresh = try #require(rotated.string("refreshToken"))
        #expect(newAccess != access && newRefresh != refreshToken)
        #expect(try await get(access).code == "UNAUTHENTICATED")
        #expect(try await get(newAccess).code == "OK")

        // The rotated token comes back: the whole session ends, the current tokens too.
        let reused = try await refresh(refreshToken)
        #expect(reused.code == "UNAUTHENTICATED")
        #expect(try await get(newAccess).code == "UNAUTHENTICATED")
        #expect(try await refresh(newRefresh).code == "UNAUTHENTICATED")
        let revoked = try await identity.client.event(on: "identity.events") {
            $0.type == "session.revoked" && $0.subject == a.accountId
                && $0.data["reason"]?.stringValue == "refresh_reuse"
        }
        #expect(revoked.data["sessionId"]?.stringValue == sessionID)
        #expect(try await refresh("not-a-token").code == "UNAUTHENTICATED")
    }

    @Test func anExpiredAccessTokenIsRefusedAndTheRefreshTokenRenewsIt() async throws {
        try await ServiceProcess.run(.identity) { instance, client in
            let identity = IdentityClient(client: client)
            let phone = IdentityClient.phone()
            let device = IdentityClient.device()
            _ = try await identity.register(phone: phone, device: device)
            let login = try await identity.login(phone: phone, device: device)
            let token = try #require(login.string("sessionToken"))
            let refresh = try #require(login.string("refreshToken"))
            #expect(try await identity.send("account.get", [:], session: token).code == "OK")
            try instance.advanceClock(by: .seconds(Int64(Policy().login.accessTokenValidity.timeInterval) + 1))
            #expect(try await identity.send("account.get", [:], session: token).code == "UNAUTHENTICATED")
            let renewed = try await identity.send("session.refresh", ["refreshToken": .string(refresh)])
            #expect(renewed.code == "OK")
            let fresh = try #require(renewed.string("sessionToken"))
            #expect(try await identity.send("account.get", [:], session: fresh).code == "OK")
            // A refresh token unused for its whole validity is refused.
            try instance.advanceClock(by: .seconds(Int64(Policy().login.refreshTokenValidity.timeInterval) + 1))
            let late = try await identity.send(
                "session.refresh", ["refreshToken": .string(try #require(renewed.string("refreshToken")))])
            #expect(late.code == "UNAUTHENTICATED")
        }
    }

    @Test func logoutEndsTheSessionInEveryServiceAndTheDelayIsMeasured() async throws {
        let a = try await signedIn()
        let token = try #require(a.login.string("sessionToken"))
        let unlink: [String: JSONValue] = ["accountId": .string(a.accountId), "provider": .string("wechat")]
        let binding = BindingClient(client: identity.client)
        // The session has reached binding (a command with it is not UNAUTHENTICATED).
        let before = try await TestStack.retrying { try await binding.send("binding.unlink", unlink, session: token) }
        #expect(before.code != "UNAUTHENTICATED")

        #expect(try await identity.send("logout", [:], session: token).code == "OK")
        let loggedOut = ContinuousClock.now
        #expect(try await get(token).code == "UNAUTHENTICATED")
        var refused: Duration?
        while refused == nil, ContinuousClock.now - loggedOut < .seconds(30) {
            if try await binding.send("binding.unlink", unlink, session: token).code == "UNAUTHENTICATED" {
                refused = ContinuousClock.now - loggedOut
            }
        }
        let delay = try #require(refused, "binding still accepted the token 30 s after logout")
        // The other session of the account lives on.
        let other = try await identity.login(phone: a.phone, device: a.device)
        #expect(try await get(try #require(other.string("sessionToken"))).code == "OK")
        ReliabilityReport.record(
            ReliabilityRow(
                test: "sessions: logout reaches binding",
                workload: "logout, then binding.unlink with the same token until refused",
                notes: "refused by binding \(Security.ms(Self.milliseconds(delay))) "
                    + "after the logout reply (goal < 1 s on the local stack; identity refuses at once; measured at the "
                    + "client under the parallel suite, not asserted)",
                passed: true))
    }

    @Test func sessionsAreListedAndRevokedOneOthersOrAll() async throws {
        let a = try await signedIn()
        let first = try #require(a.login.string("sessionToken"))
        let second = try await identity.login(phone: a.phone, device: a.device)
        let secondToken = try #require(second.string("sessionToken"))
        let listed = try await identity.send("sessions.list", [:], session: first)
        #expect(listed.code == "OK")
        guard case .array(let sessions) = listed.result["sessions"] ?? .null else {
            Issue.record("no sessions in \(listed.event.data)")
            return
        }
        // The registration's session and the two logins.
        #expect(sessions.count == 3)
        #expect(sessions.filter { $0["current"] == .bool(true) }.count == 1)
        #expect(sessions.allSatisfy { $0["refreshToken"] == nil && $0["sessionToken"] == nil })
        #expect(
            sessions.first { $0["current"] == .bool(true) }?["sessionId"]?.stringValue == a.login.string("sessionId"))

        // Another account's session id is not found; a junk target is MALFORMED.
        let stranger = try await signedIn()
        let strangerSession = try #require(stranger.login.string("sessionId"))
        #expect(
            try await identity.send("sessions.revoke", ["sessionId": .string(strangerSession)], session: first).code
                == "SESSION_NOT_FOUND")
        #expect(try await get(try #require(stranger.login.string("sessionToken"))).code == "OK")
        #expect(
            try await identity.send("sessions.revoke", ["sessionId": .string("everything")], session: first).code
                == "MALFORMED")

        let one = try await identity.send(
            "sessions.revoke", ["sessionId": .string(try #require(second.string("sessionId")))], session: first)
        #expect(one.code == "OK" && one.result["revoked"] == .int(1))
        #expect(try await get(secondToken).code == "UNAUTHENTICATED")
        let others = try await identity.send("sessions.revoke", ["sessionId": .string("all_others")], session: first)
        #expect(others.code == "OK" && others.result["revoked"] == .int(1))
        #expect(try await get(first).code == "OK")
        let all = try await identity.send("sessions.revoke", ["sessionId": .string("all")], session: first)
        #expect(all.code == "OK" && all.result["revoked"] == .int(1))
        #expect(try await get(first).code == "UNAUTHENTICATED")
    }

    @Test func aForgottenPasswordIsResetByCodeAndEveryLockAndSessionGoes() async throws {
        let a = try await signedIn()
        let token = try #require(a.login.string("sessionToken"))
        // Locked by wrong passwords first: the reset clears the temporary lock.
        for _ in 0..<5 { _ = try await identity.login(phone: a.phone, password: "Wrong-pass-1", device: a.device) }
        #expect(try await identity.login(phone: a.phone, device: a.device).code == "ACCOUNT_TEMPORARILY_LOCKED")

        let started = try await identity.send(
            "password.reset.start",
            ["phone": .string(a.phone), "device": a.device, "ip": IdentityClient.ip()])
        #expect(started.code == "OK")
        let code = try await identity.smsCode(for: a.phone, purpose: "password_reset")
        var complete: [String: JSONValue] = [
            "phone": .string(a.phone), "code": .string(code == "000000" ? "000001" : "000000"),
            "newPassword": .string("Moonflower-77"), "device": a.device, "ip": IdentityClient.ip(),
        ]
        let wrong = try await identity.send("password.reset.complete", complete)
        #expect(wrong.code == "SMS_CODE_INVALID" && wrong.result["attemptsLeft"] == .int(4))
        complete["code"] = .string(code)
        complete["newPassword"] = .string("password1")
        #expect(try await identity.send("password.reset.complete", complete).code == "PASSWORD_TOO_WEAK")
        complete["newPassword"] = .string("Moonflower-77")
        let done = try await identity.send("password.reset.complete", complete)
        #expect(done.code == "OK", "\(done.event.data)")
        #expect(done.string("accountId") == a.accountId)
        // Single use.
        #expect(try await identity.send("password.reset.complete", complete).code == "SMS_CODE_LOCKED")

        #expect(try await get(token).code == "UNAUTHENTICATED")
        #expect(try await identity.login(phone: a.phone, device: a.device).code == "INVALID_CREDENTIALS")
        #expect(
            try await identity.login(phone: a.phone, password: "Moonflower-77", device: a.device).code == "OK")
        // A reset binds no device: a new device still needs verification.
        #expect(
            try await identity.login(phone: a.phone, password: "Moonflower-77", device: IdentityClient.device()).code
                == "DEVICE_VERIFICATION_REQUIRED")
        let changed = try await identity.client.event(on: "identity.events") {
            $0.type == "password.changed" && $0.subject == a.accountId
        }
        #expect(changed.data["reason"]?.stringValue == "reset")
    }

    @Test func resetStartAnswersUnknownPhonesAlikeAndSendsThemNothing() async throws {
        let unknown = IdentityClient.phone()
        let answer = try await identity.send(
            "password.reset.start",
            ["phone": .string(unknown), "device": IdentityClient.device(), "ip": IdentityClient.ip()])
        #expect(answer.code == "OK")
        let pool = PostgresPool(configuration: TestStack.postgres(searchPath: ["identity"]))
        let row = try #require(
            try await pool.query("SELECT account_id::text AS a FROM password_resets WHERE phone = \(unknown)").first)
        #expect(try row.decode("a", as: String?.self) == nil)
        // No code can complete it.
        let complete = try await identity.send(
            "password.reset.complete",
            [
                "phone": .string(unknown), "code": .string("123456"), "newPassword": .string("Moonflower-77"),
                "device": IdentityClient.device(), "ip": IdentityClient.ip(),
            ])
        #expect(complete.code == "SMS_CODE_INVALID")
    }

    @Test func changingThePasswordNeedsTheCurrentOneAndEndsTheOtherSessions() async throws {
        let a = try await signedIn()
        let token = try #require(a.login.string("sessionToken"))
        let other = try await identity.login(phone: a.phone, device: a.device)
        let otherToken = try #require(other.string("sessionToken"))
        var data: [String: JSONValue] = [
            "accountId": .string(a.accountId), "currentPassword": .string("Not-it-42"),
            "newPassword": .string("Moonflower-77"),
        ]
        #expect(try await identity.send("password.change", data, session: token).code == "INVALID_CREDENTIALS")
        let failed = try await identity.client.event(on: "identity.events") {
            $0.type == "login.failed" && $0.subject == a.accountId
        }
        #expect(failed.data["reason"]?.stringValue == "current_password")
        data["currentPassword"] = .string("Sunflower-42")
        #expect(try await identity.send("password.change", data, session: token).code == "OK")
        #expect(try await get(token).code == "OK")
        #expect(try await get(otherToken).code == "UNAUTHENTICATED")
        #expect(
            try await identity.login(phone: a.phone, password: "Moonflower-77", device: a.device).code == "OK")
        let changed = try await identity.client.event(on: "identity.events") {
            $0.type == "password.changed" && $0.subject == a.accountId
        }
        #expect(changed.data["reason"]?.stringValue == "change")
    }

    @Test func aPhoneChangeNeedsBothCodesAndBlocksTheOldNumber() async throws {
        let a = try await signedIn()
        let token = try #require(a.login.string("sessionToken"))
        let newPhone = IdentityClient.phone()
        let started = try await identity.send(
            "phone.change.start", ["newPhone": .string(newPhone)], session: token)
        #expect(started.code == "OK", "\(started.event.data)")
        let oldCode = try await identity.smsCode(for: a.phone, purpose: "phone_change_old")
        let newCode = try await identity.smsCode(for: newPhone, purpose: "phone_change_new")
        let swapped = try await identity.send(
            "phone.change.complete", ["oldCode": .string(newCode), "newCode": .string(oldCode)], session: token)
        #expect(oldCode == newCode || swapped.code == "SMS_CODE_INVALID")
        let done = try await identity.send(
            "phone.change.complete", ["oldCode": .string(oldCode), "newCode": .string(newCode)], session: token)
        #expect(done.code == "OK", "\(done.event.data)")
        #expect(try await get(token).string("phone") == PhoneNumber.parse(newPhone)?.masked)
        #expect(try await identity.login(phone: newPhone, device: a.device).code == "OK")
        #expect(try await identity.login(phone: a.phone, device: a.device).code == "INVALID_CREDENTIALS")
        // The old number is blocked as a deregistered one is (docs/decisions.md).
        #expect(try await identity.start(phone: a.phone).code == "PHONE_IN_COOLDOWN")
        let event = try await identity.client.event(on: "identity.events") {
            $0.type == "account.phone_changed" && $0.subject == a.accountId
        }
        #expect(event.data["newPhone"]?.stringValue == PhoneNumber.parse(newPhone)?.masked)
        #expect(event.data["oldPhone"]?.stringValue == PhoneNumber.parse(a.phone)?.masked)
        #expect(String(describing: event.data).contains(newPhone) == false)
        // Deregistration's revoke-by-phone follows the new number.
        let pool = PostgresPool(configuration: TestStack.postgres(searchPath: ["deregistration"]))
        try await TestStack.eventually("deregistration follows the new phone") {
            try await pool.query(
                "SELECT phone_hash FROM accounts WHERE account_id = \(a.accountId)::uuid"
            ).first?.decode("phone_hash", as: String.self) == event.data["phoneHash"]?.stringValue
        }
    }

    @Test func aPhoneChangeToATakenNumberIsRefusedAfterTheCodes() async throws {
        let a = try await signedIn()
        let token = try #require(a.login.string("sessionToken"))
        let taken = try await signedIn()
        #expect(
            try await identity.send("phone.change.start", ["newPhone": .string(a.phone)], session: token).code
                == "SAME_PHONE")
        #expect(
            try await identity.send("phone.change.start", ["newPhone": .string(taken.phone)], session: token).code
                == "OK")
        let oldCode = try await identity.smsCode(for: a.phone, purpose: "phone_change_old")
        let newCode = try await identity.smsCode(for: taken.phone, purpose: "phone_change_new")
        let refused = try await identity.send(
            "phone.change.complete", ["oldCode": .string(oldCode), "newCode": .string(newCode)], session: token)
        #expect(refused.code == "PHONE_IN_USE")
        #expect(
            try await identity.send(
                "phone.change.complete", ["oldCode": .string(oldCode), "newCode": .string(newCode)], session: token
            ).code == "PHONE_CHANGE_NOT_FOUND")
    }

    @Test func aLostOldNumberGoesToReviewAndTheOperatorFinishesIt() async throws {
        let a = try await signedIn()
        let token = try #require(a.login.string("sessionToken"))
        let newPhone = IdentityClient.phone()
        #expect(
            try await identity.send("phone.change.start", ["newPhone": .string(newPhone)], session: token).code == "OK")
        let newCode = try await identity.smsCode(for: newPhone, purpose: "phone_change_new")
        let review = try await identity.send(
            "phone.change.by_review",
            [
                "newPhone": .string(newPhone), "newCode": .string(newCode),
                "handheldPhotoRef": .string("photo-\(UUID().uuidString.prefix(8))"),
                "statement": .string("I lost my old SIM card"),
            ], session: token)
        #expect(review.status == "pending_review", "\(review.event.data)")
        let task = try #require(review.string("taskId"))
        let reviewer = try await identity.addOperator(
            name: "Reviewer Zhao", databaseURL: TestStack.configuration.databaseURL)
        let decided = try await identity.decide(task, "approve", note: "photo matches", operatorToken: reviewer.token)
        #expect(decided.code == "OK", "\(decided.event.data)")
        #expect(try await get(token).string("phone") == PhoneNumber.parse(newPhone)?.masked)
        let event = try await identity.client.event(on: "identity.events") {
            $0.type == "account.phone_changed" && $0.subject == a.accountId
        }
        #expect(event.data["method"]?.stringValue == "review")
    }

    @Test func theOwnerReadsAndEditsTheProfileDevicesAndSecurityQuestions() async throws {
        let a = try await signedIn()
        let token = try #require(a.login.string("sessionToken"))
        let account = try await get(token)
        #expect(account.code == "OK")
        #expect(account.string("accountId") == a.accountId)
        #expect(account.string("status") == "active")
        #expect(account.string("tier") == "none")
        #expect(account.string("tierExpiresAt") != nil)
        #expect(account.result["deviceCount"] == .int(1))
        #expect(account.result["locks"]?["locked"] == .bool(false))
        #expect(account.string("phone") == PhoneNumber.parse(a.phone)?.masked)

        let updated = try await identity.send(
            "profile.update", ["displayName": .string("  Li Mei "), "avatarRef": .string("avatar-1")], session: token)
        #expect(updated.code == "OK")
        #expect(updated.string("displayName") == "Li Mei" && updated.string("avatarRef") == "avatar-1")
        #expect(
            try await identity.send("profile.update", ["displayName": .string(" ")], session: token).code
                == "MALFORMED")
        #expect(try await identity.send("profile.update", [:], session: token).code == "MALFORMED")

        let devices = try await identity.send("devices.list", [:], session: token)
        guard case .array(let list) = devices.result["devices"] ?? .null, let device = list.first else {
            Issue.record("no devices in \(devices.event.data)")
            return
        }
        #expect(list.count == 1)
        #expect(device["current"] == .bool(true))
        #expect(device["lastLoginAt"]?.stringValue != nil)
        // Masked: the last four characters of the hardware hash only.
        #expect(device["identifier"]?.stringValue?.count == 5)
        #expect(!String(describing: devices.event.data).contains("imeiHash-"))

        // Security questions: the current password is needed; then a new device is offered them.
        let questions: JSONValue = .array(
            (1...3).map { .object(["question": .string("Q\($0)?"), "answer": .string("A\($0)")]) })
        #expect(
            try await identity.send(
                "security_questions.set",
                ["currentPassword": .string("Wrong-pass-9"), "securityQuestions": questions], session: token
            ).code == "INVALID_CREDENTIALS")
        #expect(
            try await identity.send(
                "security_questions.set",
                ["currentPassword": .string("Sunflower-42"), "securityQuestions": questions], session: token
            ).code == "OK")
        // An iPhone: Android's new devices are offered only the original device's scan (issue 18).
        let challenged = try await identity.login(phone: a.phone, device: IdentityClient.iPhone())
        #expect(challenged.code == "DEVICE_VERIFICATION_REQUIRED")
        #expect(String(describing: challenged.result["methods"] ?? .null).contains("security_questions"))
    }
}
