import Contract
import Foundation
import Messaging
import Postgres
import TestSupport
import Testing

/// Issue 17: operators with roles, support commands in every service, and the append-only audit
/// trail, driven through the topics as the `registrar` CLI drives them.
@Suite(.enabled(if: TestStack.enabled))
struct SupportAuditTests {
    let identity = IdentityClient()
    var databaseURL: String { TestStack.configuration.databaseURL }

    /// `type` with an operator token on `topic`, sent again while it meets one of `codes` (a new
    /// operator, or a new account, reaches the other services through identity's events).
    func send(
        _ type: String, _ data: [String: JSONValue], operatorToken: String?, topic: String = "identity.commands",
        retrying codes: Set<String> = []
    ) async throws -> IdentityClient.Answer {
        try await TestStack.retrying(while: codes) {
            try await identity.operatorCommand(type, data, operatorToken: operatorToken, topic: topic)
        }
    }

    /// The audit rows of `subject` across the services, oldest first: "service action kind:id reason".
    func trail(_ subject: String) async throws -> [String] {
        try await PostgresConnection(configuration: TestStack.postgres(searchPath: ["ops"])).run { session in
            try session.query(
                """
                SELECT service || ' ' || action || ' ' || actor_kind || ':' || coalesce(actor_id, '-') || ' '
                       || coalesce(reason, '-') AS line
                FROM ops.audit WHERE subject = \(subject) ORDER BY at, service, id
                """
            ).map { try $0.decode("line") }
        }
    }

    @Test func rolesDecideWhatAnOperatorMayDoAndAChangedTokenIsRefused() async throws {
        let admin = try await IdentityClient.fixtureAdmin(databaseURL: databaseURL)
        let support = try await identity.addOperator(name: "Support Liu", role: "support", databaseURL: databaseURL)
        let reviewer = try await identity.addOperator(name: "Reviewer Sun", role: "reviewer", databaseURL: databaseURL)
        let user = try await identity.register()
        let lookup: [String: JSONValue] = ["accountId": .string(user.accountId)]
        let noTask: [String: JSONValue] = [
            "taskId": .string(UUID().uuidString), "decision": .string("approve"), "note": .string("n"),
        ]

        // Each role does its own duty only; a signed-in user is forbidden, nobody else authenticated.
        #expect(try await send("review.decide", noTask, operatorToken: support.token).code == "FORBIDDEN")
        #expect(try await send("review.decide", noTask, operatorToken: reviewer.token).code == "REVIEW_NOT_FOUND")
        #expect(try await send("support.account.lookup", lookup, operatorToken: reviewer.token).code == "FORBIDDEN")
        #expect(try await send("support.account.lookup", lookup, operatorToken: support.token).code == "OK")
        #expect(try await send("support.account.lookup", lookup, operatorToken: admin.token).code == "OK")
        let addition: [String: JSONValue] = ["name": .string("X"), "role": .string("support")]
        #expect(try await send("operator.add", addition, operatorToken: support.token).code == "FORBIDDEN")
        #expect(try await send("operator.add", addition, operatorToken: "not-a-token").code == "UNAUTHENTICATED")
        let asUser = try await identity.send("operator.add", addition, session: user.sessionToken)
        #expect(asUser.code == "FORBIDDEN")
        let badRole = try await send(
            "operator.add", ["name": .string("X"), "role": .string("root")], operatorToken: admin.token)
        #expect(badRole.code == "MALFORMED" && badRole.result["field"] == .string("data.role"))
        // The other services learn the operator from identity's events.
        #expect(
            try await send(
                "support.permissions.lookup", lookup, operatorToken: support.token, topic: "permissions.commands",
                retrying: ["UNAUTHENTICATED", "ACCOUNT_NOT_FOUND"]
            ).code == "OK")
        #expect(
            try await send(
                "support.binding.lookup", lookup, operatorToken: reviewer.token, topic: "binding.commands",
                retrying: ["UNAUTHENTICATED"]
            ).code == "FORBIDDEN")

        // A rotated token is refused by identity at once and by the others once they followed.
        let rotated = try await send(
            "operator.rotate_token", ["operatorId": .string(support.id)], operatorToken: support.token)
        let newToken = try #require(rotated.string("token"))
        #expect(
            try await send("support.account.lookup", lookup, operatorToken: support.token).code == "UNAUTHENTICATED")
        #expect(try await send("support.account.lookup", lookup, operatorToken: newToken).code == "OK")
        #expect(
            try await send(
                "support.permissions.lookup", lookup, operatorToken: support.token, topic: "permissions.commands",
                retrying: ["OK"]
            ).code == "UNAUTHENTICATED")

        // A disabled operator likewise; disabling needs a reason.
        let noReason = try await send(
            "operator.disable", ["operatorId": .string(support.id)], operatorToken: admin.token)
        #expect(noReason.code == "MALFORMED" && noReason.result["field"] == .string("data.reason"))
        let disabled = try await send(
            "operator.disable", ["operatorId": .string(support.id), "reason": .string("left the team")],
            operatorToken: admin.token)
        #expect(disabled.code == "OK")
        #expect(try await send("support.account.lookup", lookup, operatorToken: newToken).code == "UNAUTHENTICATED")
        #expect(
            try await send(
                "support.deregistration.lookup", lookup, operatorToken: newToken, topic: "deregistration.commands",
                retrying: ["OK"]
            ).code == "UNAUTHENTICATED")
        let unknown = try await send(
            "operator.disable", ["operatorId": .string(UUID().uuidString), "reason": .string("r")],
            operatorToken: admin.token)
        #expect(unknown.code == "OPERATOR_NOT_FOUND")

        // Each step is in identity's trail, with its operator and reason.
        let operatorTrail = try await trail(support.id)
        // (added by the fixture admin of `addOperator`)
        #expect(operatorTrail.contains { $0.hasPrefix("identity operator.added operator:") }, "\(operatorTrail)")
        #expect(operatorTrail.contains("identity operator.token_rotated operator:\(support.id) -"), "\(operatorTrail)")
        #expect(
            operatorTrail.contains("identity operator.disabled operator:\(admin.id) left the team"), "\(operatorTrail)")
        let lookups = try await trail(user.accountId).filter { $0.contains("support.lookup") }
        #expect(lookups.contains("identity support.lookup operator:\(support.id) -"), "\(lookups)")
        #expect(lookups.contains("permissions support.lookup operator:\(support.id) -"), "\(lookups)")
    }

    @Test func supportLooksAnAccountUpLiftsItsLocksAndSignsItOut() async throws {
        let support = try await identity.addOperator(name: "Support Ma", role: "support", databaseURL: databaseURL)
        let phone = IdentityClient.phone()
        let device = IdentityClient.device()
        let user = try await identity.register(
            phone: phone, device: device, questions: [("pet", "Rex"), ("city", "Chengdu"), ("food", "noodles")])
        for _ in 0..<5 { _ = try await identity.login(phone: phone, password: "Nope-nope-1", device: device) }
        #expect(try await identity.login(phone: phone, device: device).code == "ACCOUNT_TEMPORARILY_LOCKED")

        // Identity's part, by phone: the lock, the counters, the devices (masked).
        let found = try await send("support.account.lookup", ["phone": .string(phone)], operatorToken: support.token)
        #expect(found.code == "OK", "\(found.event.data)")
        #expect(found.result["account"]?["accountId"] == .string(user.accountId))
        #expect(found.result["account"]?["phone"] == .string(try #require(PhoneNumber.parse(phone)).masked))
        #expect(found.result["account"]?["locks"]?["temporaryUntil"]?.stringValue != nil)
        #expect(found.result["lockouts"] == .int(1))
        #expect(found.result["devices"]?[0]?["deviceId"] == .string(user.deviceId))
        #expect(!"\(found.event.data)".contains(phone))
        let none = try await send(
            "support.account.lookup", ["phone": .string(IdentityClient.phone())], operatorToken: support.token)
        #expect(none.code == "ACCOUNT_NOT_FOUND")
        let both = try await send(
            "support.account.lookup", ["phone": .string(phone), "accountId": .string(user.accountId)],
            operatorToken: support.token)
        #expect(both.code == "MALFORMED")

        // The other services' parts, by account id.
        let lookup: [String: JSONValue] = ["accountId": .string(user.accountId)]
        let permissions = try await send(
            "support.permissions.lookup", lookup, operatorToken: support.token, topic: "permissions.commands",
            retrying: ["UNAUTHENTICATED", "ACCOUNT_NOT_FOUND"])
        #expect(permissions.result["entitlements"]?["stage"] == .int(1), "\(permissions.event.data)")
        #expect(permissions.result["memberships"] == .array([]))
        let binding = try await send(
            "support.binding.lookup", lookup, operatorToken: support.token, topic: "binding.commands",
            retrying: ["UNAUTHENTICATED"])
        #expect(binding.result["bindings"] == .array([]) && binding.result["migration"] == .null, "\(binding.result)")
        let deregistration = try await send(
            "support.deregistration.lookup", lookup, operatorToken: support.token, topic: "deregistration.commands",
            retrying: ["UNAUTHENTICATED"])
        #expect(deregistration.result["status"]?["status"] == .string("none"), "\(deregistration.event.data)")

        // The wrong-password lock: lifted with a reason, the right password signs in again.
        let unlock: [String: JSONValue] = [
            "accountId": .string(user.accountId), "lock": .string("login"), "reason": .string("ticket 4711"),
        ]
        var withoutReason = unlock
        withoutReason["reason"] = .string("  ")
        #expect(
            try await send("support.account.unlock", withoutReason, operatorToken: support.token).result["field"]
                == .string("data.reason"))
        #expect(try await send("support.account.unlock", unlock, operatorToken: support.token).code == "OK")
        #expect(try await identity.login(phone: phone, device: device).code == "OK")

        // The security-question lock likewise (from an iPhone: Android's new devices take only the
        // original device's scan, issue 18).
        let challenge = try #require(
            try await identity.login(phone: phone, device: IdentityClient.iPhone()).string("challengeId"))
        let wrong: JSONValue = .array([.string("cat"), .string("Chengdu"), .string("noodles")])
        for _ in 0..<3 {
            _ = try await identity.send(
                "device.answer_security_questions", ["challengeId": .string(challenge), "answers": wrong])
        }
        #expect(try await identity.login(phone: phone, device: device).code == "ACCOUNT_LOCKED")
        var questions = unlock
        questions["lock"] = .string("security_questions")
        #expect(try await send("support.account.unlock", questions, operatorToken: support.token).code == "OK")
        let signedIn = try await identity.login(phone: phone, device: device)
        #expect(signedIn.code == "OK")
        let signedInToken = signedIn.string("sessionToken")

        // Signed out everywhere.
        let revoke: [String: JSONValue] = ["accountId": .string(user.accountId), "reason": .string("stolen phone")]
        let revoked = try await send("support.sessions.revoke_all", revoke, operatorToken: support.token)
        #expect(revoked.code == "OK" && (revoked.result["revoked"]?.intValue ?? 0) >= 1, "\(revoked.event.data)")
        #expect(signedInToken != nil)
        #expect(try await identity.send("account.get", [:], session: signedInToken).code == "UNAUTHENTICATED")

        // The account's timeline: what the client did, what the system did, what support did and why.
        let timeline = try await trail(user.accountId)
        for expected in [
            "identity login.failed client:- password", "identity account.locked client:- password_failures",
            "identity session.revoked client:- security_questions",
            "identity account.locked client:- security_questions",
            "identity support.lookup operator:\(support.id) -",
            "identity account.unlocked operator:\(support.id) ticket 4711",
            "identity session.revoked operator:\(support.id) stolen phone",
            "deregistration support.lookup operator:\(support.id) -",
        ] {
            #expect(timeline.contains(expected), "\(expected) not in \(timeline)")
        }
        // `registrar audit` prints the same timeline.
        let printed = try CLITests.registrar(["audit", "--account", user.accountId])
        #expect(printed.status == 0, "\(printed.err)")
        #expect(printed.out.contains("account.unlocked") && printed.out.contains("(ticket 4711)"), "\(printed.out)")
        let byOperator = try CLITests.registrar(["audit", "--operator", support.id])
        #expect(byOperator.lines.filter { $0.contains("support.lookup") }.count >= 4, "\(byOperator.out)")
    }

    @Test func supportLiftsADevicesDeregistrationLock() async throws {
        let support = try await identity.addOperator(name: "Support Hu", role: "support", databaseURL: databaseURL)
        let deregistration = DeregistrationClient(client: identity.client)
        let shared = IdentityClient.fingerprint()
        var accounts: [String] = []
        var answers: [String] = []
        for _ in 0..<4 {
            let account = try await identity.register()
            accounts.append(account.accountId)
            answers.append(
                try await deregistration.request(account.accountId, session: account.sessionToken, fingerprint: shared)
                    .code ?? "")
        }
        #expect(answers == ["OK", "OK", "OK", "DEVICE_LOCKED"])
        let lookup = try await send(
            "support.deregistration.lookup", ["accountId": .string(accounts[0])], operatorToken: support.token,
            topic: "deregistration.commands", retrying: ["UNAUTHENTICATED"])
        let request = try #require(lookup.result["requests"]?[0])
        #expect(request["state"] == .string("cooling") && request["deviceLocked"] == .bool(true))
        let device = try #require(request["deviceId"]?.stringValue)

        let unlock: [String: JSONValue] = ["deviceId": .string(device), "reason": .string("family shares the phone")]
        let lifted = try await send(
            "support.device.unlock", unlock, operatorToken: support.token, topic: "deregistration.commands")
        #expect(lifted.code == "OK")
        _ = try await identity.client.event(on: "deregistration.events") {
            $0.type == "device.unlocked" && $0.subject == device
        }
        #expect(
            try await send(
                "support.device.unlock", unlock, operatorToken: support.token, topic: "deregistration.commands"
            )
            .code == "DEVICE_NOT_LOCKED")
        // The device starts over: the earlier requests no longer count.
        let next = try await identity.register()
        #expect(
            try await deregistration.request(next.accountId, session: next.sessionToken, fingerprint: shared).code
                == "OK")
        #expect(
            try await trail(device).contains(
                "deregistration device.unlocked operator:\(support.id) family shares the phone"))
    }

    @Test func auditRowsCannotBeChangedOrRemovedByTheServicesRole() async throws {
        // A row to try on in every trail (identity's has one from this lookup at least).
        let admin = try await IdentityClient.fixtureAdmin(databaseURL: databaseURL)
        let user = try await identity.register()
        _ = try await send("support.account.lookup", ["accountId": .string(user.accountId)], operatorToken: admin.token)
        let (refused, rows) = try await PostgresConnection(configuration: TestStack.postgres(searchPath: ["identity"]))
            .run { session -> ([String], Int) in
                var refused: [String] = []
                // A row in each (appending is allowed), so the row triggers have something to refuse.
                for schema in ["identity", "permissions", "binding", "deregistration"] {
                    try session.query(
                        PostgresQuery(
                            trusted:
                                "INSERT INTO \(schema).audit_trail (at, actor_kind, action, subject) VALUES (now(), 'system', 'test.probe', 'probe')"
                        ))
                }
                try session.query(
                    "INSERT INTO deregistration.audit (account_id, step, at) VALUES (\(UUID())::uuid, 'test.probe', now())"
                )
                for table in [
                    "identity.audit_trail", "permissions.audit_trail", "binding.audit_trail",
                    "deregistration.audit_trail", "deregistration.audit",
                ] {
                    for statement in ["UPDATE \(table) SET at = at", "DELETE FROM \(table)", "TRUNCATE \(table)"] {
                        do {
                            try session.query(PostgresQuery(trusted: statement))
                        } catch {
                            // insufficient_privilege, raised by the append-only triggers
                            if (error as? PostgresError)?.sqlState == "42501" { refused.append(statement) }
                        }
                    }
                }
                let rows = try session.query(
                    "SELECT count(*) AS n FROM identity.audit_trail WHERE subject = \(user.accountId)"
                ).first?.decode("n", as: Int.self)
                return (refused, rows ?? 0)
            }
        #expect(rows >= 1)
        #expect(refused.count == 15, "\(refused)")
        ReliabilityReport.record(
            ReliabilityRow(
                test: "audit: append-only trail",
                workload:
                    "UPDATE, DELETE and TRUNCATE on every service's audit_trail and deregistration.audit, as the services' database role",
                notes: "\(refused.count)/15 refused by the append-only triggers; operator actions and security events "
                    + "asserted in the support suite",
                passed: refused.count == 15))
    }
}

extension JSONValue {
    /// The element at `index` of an array.
    fileprivate subscript(index: Int) -> JSONValue? {
        guard case .array(let list) = self, list.indices.contains(index) else { return nil }
        return list[index]
    }

    /// An integer's value.
    fileprivate var intValue: Int64? {
        guard case .int(let value) = self else { return nil }
        return value
    }
}
