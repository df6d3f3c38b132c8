import Contract
import Foundation
import Messaging
import Platform
import TestSupport
import Testing

/// Every command that acts on an account is refused without that account's session
/// (`UNAUTHENTICATED`) and with another account's (`FORBIDDEN`); operator and enterprise-admin
/// commands likewise (issue 8, security: authorization; RELIABILITY-NOTES R24). Contract §2.
@Suite(.enabled(if: TestStack.enabled))
struct AuthorizationReliabilityTests {
    let identity = IdentityClient()

    /// Collects the checks of one row: each is a command, a caller and the code the contract wants.
    final class Checks: @unchecked Sendable {
        // @unchecked: used by one test task at a time.
        var count = 0
        var failures: [String] = []

        func expect(_ what: String, _ answer: IdentityClient.Answer, _ code: String) {
            count += 1
            if answer.code != code { failures.append("\(what): \(answer.code ?? "-") instead of \(code)") }
        }
    }

    /// One command on `topic` with the given tokens; with `settle`, sent again (fresh id) while it
    /// meets `UNAUTHENTICATED`, for a valid session that has not reached the service yet.
    func send(
        _ topic: String, _ type: String, _ data: [String: JSONValue], session: String? = nil,
        operatorToken: String? = nil, settle: Bool = false
    ) async throws -> IdentityClient.Answer {
        try await TestStack.retrying(while: settle ? ["UNAUTHENTICATED"] : []) {
            IdentityClient.Answer(
                event: try await identity.client.request(
                    RegistrarClient.command(
                        type: type, data: .object(data), sessionToken: session, operatorToken: operatorToken),
                    topic: topic))
        }
    }

    /// A token nobody was ever given.
    static func forged() -> String { Sodium.randomBytes(32).hexString }

    @Test func identityCommandsNeedTheAccountsOwnSession() async throws {
        let checks = Checks()
        let phone = IdentityClient.phone()
        let device = IdentityClient.device()
        let owner = try await identity.register(phone: phone, device: device)
        let stranger = try await identity.register()
        let challenge = try #require(
            try await identity.login(phone: phone, device: IdentityClient.device()).string("challengeId"))
        let commands: [(String, [String: JSONValue])] = [
            ("device.approve", ["challengeId": .string(challenge)]),
            ("device.unbind", ["deviceId": .string(owner.deviceId)]),
            (
                "verification.submit",
                [
                    "accountId": .string(owner.accountId), "method": .string("bank_card"),
                    "cardNumber": .string(IdentityClient.cardNumber()), "holderName": .string("Li Mei"),
                ]
            ),
        ]
        for (type, data) in commands {
            checks.expect(
                "\(type) without a session", try await send("identity.commands", type, data), "UNAUTHENTICATED")
            checks.expect(
                "\(type) with a forged session",
                try await send("identity.commands", type, data, session: Self.forged()), "UNAUTHENTICATED")
            checks.expect(
                "\(type) with another account's session",
                try await send("identity.commands", type, data, session: stranger.sessionToken), "FORBIDDEN")
        }
        // A scan ticket names no account: the caller's own is used; it needs a mobile session.
        checks.expect(
            "desktop.scan_ticket.issue without a session",
            try await send("identity.commands", "desktop.scan_ticket.issue", [:]), "UNAUTHENTICATED")
        checks.expect(
            "desktop.scan_ticket.issue with a forged session",
            try await send("identity.commands", "desktop.scan_ticket.issue", [:], session: Self.forged()),
            "UNAUTHENTICATED")
        // Nothing happened to the owner: the device is still bound, the challenge still open.
        checks.expect(
            "device.approve by the owner afterwards",
            try await send(
                "identity.commands", "device.approve", ["challengeId": .string(challenge)], session: owner.sessionToken),
            "OK")
        #expect(checks.failures.isEmpty, "\(checks.failures)")
        ReliabilityReport.record(
            ReliabilityRow(
                test: "authorization: identity", workload: "\(checks.count) refusals and one owner's approval",
                notes: "device.approve, device.unbind, verification.submit: none/forged → UNAUTHENTICATED, other "
                    + "account → FORBIDDEN; desktop.scan_ticket.issue acts on the caller's own account (no account "
                    + "in data); device.answer_security_questions needs no session (the challenge id is the "
                    + "credential, docs/decisions.md)",
                passed: checks.failures.isEmpty))
    }

    @Test func selfServiceCommandsNeedALiveSessionOfTheirOwnAccount() async throws {
        let checks = Checks()
        let phone = IdentityClient.phone()
        let device = IdentityClient.device()
        let owner = try await identity.register(phone: phone, device: device)
        let stranger = try await identity.register()
        // A rotated access token, a logged-out one and a rotated refresh token.
        let login = try await identity.login(phone: phone, device: device)
        let rotatedAccess = try #require(login.string("sessionToken"))
        let rotatedRefresh = try #require(login.string("refreshToken"))
        let refreshed = try await send(
            "identity.commands", "session.refresh", ["refreshToken": .string(rotatedRefresh)])
        try #require(refreshed.code == "OK")
        let loggedOut = try #require(try await identity.login(phone: phone, device: device).string("sessionToken"))
        try #require(try await send("identity.commands", "logout", [:], session: loggedOut).code == "OK")
        let questions: JSONValue = .array(
            (1...3).map { .object(["question": .string("Q\($0)"), "answer": .string("A\($0)")]) })
        let commands: [(String, [String: JSONValue])] = [
            ("logout", [:]), ("sessions.list", [:]), ("sessions.revoke", ["sessionId": .string("all")]),
            (
                "password.change",
                [
                    "accountId": .string(owner.accountId), "currentPassword": .string("Sunflower-42"),
                    "newPassword": .string("Moonflower-77"),
                ]
            ),
            ("phone.change.start", ["newPhone": .string(IdentityClient.phone())]),
            ("phone.change.complete", ["oldCode": .string("123456"), "newCode": .string("654321")]),
            (
                "phone.change.by_review",
                [
                    "newPhone": .string(IdentityClient.phone()), "newCode": .string("123456"),
                    "handheldPhotoRef": .string("photo-1"), "statement": .string("lost"),
                ]
            ),
            ("profile.update", ["displayName": .string("Mallory")]),
            ("security_questions.set", ["currentPassword": .string("Sunflower-42"), "securityQuestions": questions]),
            ("account.get", [:]), ("devices.list", [:]),
        ]
        for (type, data) in commands {
            for (what, token) in [
                ("no session", nil), ("a forged session", Self.forged()), ("a rotated access token", rotatedAccess),
                ("a logged-out session", loggedOut),
            ] as [(String, String?)] {
                checks.expect(
                    "\(type) with \(what)", try await send("identity.commands", type, data, session: token),
                    "UNAUTHENTICATED")
            }
        }
        // The only command naming an account: another account's session is FORBIDDEN.
        checks.expect(
            "password.change with another account's session",
            try await send("identity.commands", "password.change", commands[3].1, session: stranger.sessionToken),
            "FORBIDDEN")
        // The rest act on the caller's own account: the stranger's session reads the stranger.
        let read = try await send("identity.commands", "account.get", [:], session: stranger.sessionToken)
        checks.expect("account.get with the stranger's session reads the stranger", read, "OK")
        if read.string("accountId") != stranger.accountId { checks.failures.append("account.get read another account") }
        // A rotated refresh token is refused (and ends its session: the refreshed token dies too).
        checks.expect(
            "session.refresh with a rotated refresh token",
            try await send("identity.commands", "session.refresh", ["refreshToken": .string(rotatedRefresh)]),
            "UNAUTHENTICATED")
        let replacedBy: String = try #require(refreshed.string("sessionToken"))
        checks.expect(
            "account.get with the token the reused refresh replaced",
            try await send("identity.commands", "account.get", [:], session: replacedBy), "UNAUTHENTICATED")
        // Nothing happened to the owner: the password and phone are unchanged.
        checks.expect("login of the owner afterwards", try await identity.login(phone: phone, device: device), "OK")
        #expect(checks.failures.isEmpty, "\(checks.failures)")
        ReliabilityReport.record(
            ReliabilityRow(
                test: "authorization: self-service", workload: "\(checks.count) checks of 11 session commands",
                notes: "none/forged/rotated access/logged-out token → UNAUTHENTICATED; password.change for another "
                    + "account → FORBIDDEN; the other commands act on the session's own account; a rotated refresh "
                    + "token → UNAUTHENTICATED and ends its session; expired access tokens: "
                    + "IdentitySelfServiceTests.anExpiredAccessTokenIsRefusedAndTheRefreshTokenRenewsIt",
                passed: checks.failures.isEmpty))
    }

    @Test func bindingAndDeregistrationCommandsNeedTheAccountsOwnSession() async throws {
        let checks = Checks()
        let fingerprint = IdentityClient.fingerprint()
        let owner = try await identity.register(device: IdentityClient.device(fingerprint: fingerprint))
        let stranger = try await identity.register()
        let account: JSONValue = .string(owner.accountId)
        let commands: [(String, String, [String: JSONValue])] = [
            (
                "binding.commands", "binding.link",
                [
                    "accountId": account, "provider": .string("wechat"),
                    "externalAccountId": .string(BindingClient.externalID()),
                    "mode": .string("secondary"), "scopes": .array([.string("login")]),
                ]
            ),
            ("binding.commands", "binding.unlink", ["accountId": account, "provider": .string("wechat")]),
            (
                "binding.commands", "migration.start",
                [
                    "accountId": account,
                    "manifest": .object([
                        "freeStorageBytes": .int(8 << 30), "items": .array([BindingClient.item("text")]),
                    ]),
                ]
            ),
            (
                "deregistration.commands", "deregistration.request",
                ["accountId": account, "deviceFingerprint": .object(fingerprint.mapValues(JSONValue.string))]
            ),
        ]
        for (topic, type, data) in commands {
            checks.expect("\(type) without a session", try await send(topic, type, data), "UNAUTHENTICATED")
            checks.expect(
                "\(type) with a forged session", try await send(topic, type, data, session: Self.forged()),
                "UNAUTHENTICATED")
            checks.expect(
                "\(type) with another account's session",
                try await send(topic, type, data, session: stranger.sessionToken, settle: true), "FORBIDDEN")
        }
        // Nothing happened to the owner's account: no deregistration holds it.
        checks.expect(
            "binding.link by the owner afterwards",
            try await send(
                "binding.commands", "binding.link", commands[0].2, session: owner.sessionToken, settle: true),
            "OK")
        #expect(checks.failures.isEmpty, "\(checks.failures)")
        ReliabilityReport.record(
            ReliabilityRow(
                test: "authorization: binding, deregistration",
                workload: "\(checks.count) refusals and one owner's link",
                notes: "binding.link/unlink, migration.start, deregistration.request: none/forged → UNAUTHENTICATED, "
                    + "other account → FORBIDDEN (sessions reach these services by identity's events: a valid one is "
                    + "retried while UNAUTHENTICATED)",
                passed: checks.failures.isEmpty))
    }

    @Test func readCommandsNeedTheAccountsOwnSession() async throws {
        let checks = Checks()
        let permissions = PermissionsClient(client: identity.client)
        let owner = try await identity.register()
        let stranger = try await identity.register()
        let account: JSONValue = .string(owner.accountId)
        // Reads name no account (the caller's own) or the caller's own: each is tried without a
        // session, with a forged one, and naming the owner with another account's session.
        let reads: [(String, String)] = [
            ("permissions.commands", "entitlements.get"), ("binding.commands", "bindings.list"),
            ("binding.commands", "migration.get"), ("deregistration.commands", "deregistration.status"),
        ]
        for (topic, type) in reads {
            checks.expect("\(type) without a session", try await send(topic, type, [:]), "UNAUTHENTICATED")
            checks.expect(
                "\(type) naming the account without a session", try await send(topic, type, ["accountId": account]),
                "UNAUTHENTICATED")
            checks.expect(
                "\(type) with a forged session", try await send(topic, type, [:], session: Self.forged()),
                "UNAUTHENTICATED")
            checks.expect(
                "\(type) naming the account with another account's session",
                try await send(topic, type, ["accountId": account], session: stranger.sessionToken, settle: true),
                "FORBIDDEN")
        }

        // enterprise.members.list: its admin only.
        let admin = try await identity.register()
        let otherAdmin = try await identity.register()
        for member in [admin, otherAdmin, owner] { try await permissions.known(member.accountId) }
        let operatorToken = try await permissions.addOperator()
        let enterprise = "ent-\(UUID().uuidString.prefix(8))"
        for (id, head) in [(enterprise, admin), ("ent-\(UUID().uuidString.prefix(8))", otherAdmin)] {
            checks.expect(
                "enterprise.create \(id) by the operator",
                try await send(
                    "permissions.commands", "enterprise.create",
                    [
                        "enterpriseId": .string(id), "name": .string("Acme"),
                        "adminAccountId": .string(head.accountId),
                    ], operatorToken: operatorToken, settle: true),
                "OK")
        }
        checks.expect(
            "enterprise.add_member by the admin",
            try await send(
                "permissions.commands", "enterprise.add_member",
                ["enterpriseId": .string(enterprise), "accountId": account, "role": .string("member")],
                session: admin.sessionToken, settle: true),
            "OK")
        let list: [String: JSONValue] = ["enterpriseId": .string(enterprise)]
        checks.expect(
            "enterprise.members.list without a session",
            try await send("permissions.commands", "enterprise.members.list", list), "UNAUTHENTICATED")
        checks.expect(
            "enterprise.members.list with a forged session",
            try await send("permissions.commands", "enterprise.members.list", list, session: Self.forged()),
            "UNAUTHENTICATED")
        checks.expect(
            "enterprise.members.list by an operator token",
            try await send("permissions.commands", "enterprise.members.list", list, operatorToken: operatorToken),
            "UNAUTHENTICATED")
        checks.expect(
            "enterprise.members.list by a member (not admin)",
            try await send(
                "permissions.commands", "enterprise.members.list", list, session: owner.sessionToken, settle: true),
            "FORBIDDEN")
        checks.expect(
            "enterprise.members.list by another enterprise's admin",
            try await send(
                "permissions.commands", "enterprise.members.list", list, session: otherAdmin.sessionToken,
                settle: true),
            "FORBIDDEN")

        // The owners themselves are answered.
        for (topic, type) in reads {
            checks.expect(
                "\(type) by the owner",
                try await send(topic, type, ["accountId": account], session: owner.sessionToken, settle: true), "OK")
        }
        checks.expect(
            "enterprise.members.list by the admin",
            try await send(
                "permissions.commands", "enterprise.members.list", list, session: admin.sessionToken, settle: true),
            "OK")
        #expect(checks.failures.isEmpty, "\(checks.failures)")
        ReliabilityReport.record(
            ReliabilityRow(
                test: "authorization: reads", workload: "\(checks.count) commands (refusals plus 8 allowed controls)",
                notes: "entitlements.get, bindings.list, migration.get, deregistration.status: none/forged → "
                    + "UNAUTHENTICATED, naming the account with another account's session → FORBIDDEN (with no "
                    + "accountId a read is the caller's own); enterprise.members.list: none/forged/operator token → "
                    + "UNAUTHENTICATED, a member or another enterprise's admin → FORBIDDEN",
                passed: checks.failures.isEmpty))
    }

    @Test func operatorAndEnterpriseAdminCommandsAreRefusedToOthers() async throws {
        let checks = Checks()
        let permissions = PermissionsClient(client: identity.client)
        let admin = try await identity.register()
        let otherAdmin = try await identity.register()
        let member = try await identity.register()
        let outsider = try await identity.register()
        for account in [admin, otherAdmin, member, outsider] { try await permissions.known(account.accountId) }
        let operatorToken = try await permissions.addOperator()

        // Operator commands: enterprise.create and review.decide.
        let enterprise = "ent-\(UUID().uuidString.prefix(8))"
        let create: [String: JSONValue] = [
            "enterpriseId": .string(enterprise), "name": .string("Acme"), "adminAccountId": .string(admin.accountId),
        ]
        checks.expect(
            "enterprise.create without a token", try await send("permissions.commands", "enterprise.create", create),
            "UNAUTHENTICATED")
        checks.expect(
            "enterprise.create with a forged operator token",
            try await send("permissions.commands", "enterprise.create", create, operatorToken: Self.forged()),
            "UNAUTHENTICATED")
        checks.expect(
            "enterprise.create with a user's session",
            try await send(
                "permissions.commands", "enterprise.create", create, session: admin.sessionToken, settle: true),
            "FORBIDDEN")
        let decide: [String: JSONValue] = [
            "taskId": .string(UUID().uuidString.lowercased()), "decision": .string("approve"), "note": .string("n"),
        ]
        checks.expect(
            "review.decide without a token", try await send("identity.commands", "review.decide", decide),
            "UNAUTHENTICATED")
        checks.expect(
            "review.decide with a forged operator token",
            try await send("identity.commands", "review.decide", decide, operatorToken: Self.forged()),
            "UNAUTHENTICATED")
        checks.expect(
            "review.decide with a user's session",
            try await send("identity.commands", "review.decide", decide, session: admin.sessionToken), "FORBIDDEN")
        checks.expect(
            "enterprise.create by the operator",
            try await send(
                "permissions.commands", "enterprise.create", create, operatorToken: operatorToken, settle: true),
            "OK")
        let second = "ent-\(UUID().uuidString.prefix(8))"
        checks.expect(
            "enterprise.create (second enterprise) by the operator",
            try await send(
                "permissions.commands", "enterprise.create",
                [
                    "enterpriseId": .string(second), "name": .string("Other"),
                    "adminAccountId": .string(otherAdmin.accountId),
                ], operatorToken: operatorToken),
            "OK")
        checks.expect(
            "enterprise.add_member by the admin",
            try await send(
                "permissions.commands", "enterprise.add_member",
                [
                    "enterpriseId": .string(enterprise), "accountId": .string(member.accountId),
                    "role": .string("member"),
                ],
                session: admin.sessionToken, settle: true),
            "OK")

        // Admin commands on the first enterprise, by everyone but its admin.
        let adminCommands: [(String, [String: JSONValue])] = [
            (
                "enterprise.add_member",
                [
                    "enterpriseId": .string(enterprise), "accountId": .string(outsider.accountId),
                    "role": .string("member"),
                ]
            ),
            (
                "enterprise.set_member_policy",
                [
                    "enterpriseId": .string(enterprise), "accountId": .string("*"),
                    "overrides": .object(["momentsEnabled": .bool(false)]),
                ]
            ),
            (
                "enterprise.transfer_admin",
                ["enterpriseId": .string(enterprise), "toAccountId": .string(member.accountId)]
            ),
        ]
        for (type, data) in adminCommands {
            checks.expect(
                "\(type) without a session", try await send("permissions.commands", type, data), "UNAUTHENTICATED")
            checks.expect(
                "\(type) with a forged session",
                try await send("permissions.commands", type, data, session: Self.forged()), "UNAUTHENTICATED")
            checks.expect(
                "\(type) by a member (not admin)",
                try await send("permissions.commands", type, data, session: member.sessionToken, settle: true),
                "FORBIDDEN")
            checks.expect(
                "\(type) by another enterprise's admin",
                try await send("permissions.commands", type, data, session: otherAdmin.sessionToken, settle: true),
                "FORBIDDEN")
            checks.expect(
                "\(type) by an operator token",
                try await send("permissions.commands", type, data, operatorToken: operatorToken), "UNAUTHENTICATED")
        }
        // A privilege taken away applies to the very next command.
        checks.expect(
            "enterprise.transfer_admin by the admin",
            try await send(
                "permissions.commands", "enterprise.transfer_admin", adminCommands[2].1, session: admin.sessionToken),
            "OK")
        checks.expect(
            "enterprise.add_member by the former admin, at once",
            try await send(
                "permissions.commands", "enterprise.add_member", adminCommands[0].1, session: admin.sessionToken),
            "FORBIDDEN")
        #expect(checks.failures.isEmpty, "\(checks.failures)")
        ReliabilityReport.record(
            ReliabilityRow(
                test: "authorization: operators, enterprise admins",
                workload: "\(checks.count) commands (refusals plus 5 allowed controls)",
                notes: "enterprise.create, review.decide: no/forged operator token → UNAUTHENTICATED, a user's "
                    + "session → FORBIDDEN; add_member, set_member_policy, transfer_admin: member or another "
                    + "enterprise's admin → FORBIDDEN; the former admin is refused right after the transfer; "
                    + "permissions.check needs no token by contract (service-to-service, broker ACLs)",
                passed: checks.failures.isEmpty))
    }
}
