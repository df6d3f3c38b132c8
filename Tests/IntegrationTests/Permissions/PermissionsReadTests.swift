import Contract
import Foundation
import Messaging
import Postgres
import TestSupport
import Testing

/// The permissions reads: `entitlements.get` (on a private instance whose clock the test moves) and
/// `enterprise.members.list` (on the shared stack, with real sessions).
@Suite(.enabled(if: TestStack.enabled))
struct PermissionsReadTests {
    static let policy = """
        {"permissions": {"stageOneLastDay": 0, "stageTwoLastDay": 1000, "sweepInterval": "200ms",
                         "sensitiveMinActiveDays": 1, "sensitiveMinLogins": 1, "stageTwoExternalAddsPerDay": 3}}
        """

    /// `time` of a reply's result field.
    static func time(_ answer: IdentityClient.Answer, _ path: String...) -> Date? {
        var value = answer.result
        for key in path { value = value[key] ?? .null }
        return value.stringValue.flatMap(Date.init(rfc3339:))
    }

    @Test func entitlementsShowWhatChecksDecideAndTodaysQuota() async throws {
        try await ServiceProcess.run(.permissions, policy: Self.policy) { instance, client in
            let permissions = PermissionsClient(client: client)
            let account = try await permissions.account(tier: "bank_card")
            try await permissions.logins(account, daysAgo: [0])
            // The test moves the clock four days on.
            let session = try await permissions.openSession(account, validity: 30 * PermissionsClient.day)

            // Day 0: stage 1, stage 2 a day after registration; no quota applies yet.
            let first = try await permissions.entitlements(session: session)
            #expect(first.code == "OK", "\(first.event.data)")
            #expect(first.string("accountId") == account)
            #expect(first.result["stage"] == .int(1) && first.result["tier"] == .string("bank_card"))
            #expect(first.result["tierInForce"] == .bool(true) && first.result["tierExpiresAt"] == .null)
            let stageTwo = try #require(Self.time(first, "nextStageAt"))
            #expect(abs(stageTwo.timeIntervalSince(instance.now) - 86_400) < 120)
            #expect(first.result["actions"]?["chat.internal"]?["allowed"] == .bool(true))
            #expect(first.result["actions"]?["contact.external.add"]?["reason"] == .string("stage"))
            #expect(first.result["actions"]?["file.send"]?["limits"]?["maxFileBytes"] == .int(10_485_760))
            #expect(first.result["quotas"] == .object([:]))
            // Each action as permissions.check answers it (checks that consume nothing).
            for action in ["chat.internal", "contact.external.add", "payment.transfer", "enterprise.app.use"] {
                let check = try await permissions.check(account, action)
                #expect(first.result["actions"]?[action]?["allowed"] == .bool(check.allowed), "\(action)")
                #expect(first.result["actions"]?[action]?["reason"] == .string(check.reason), "\(action)")
            }

            // Stage 2 from day 1 (stage 3 after day 1000). Move to just after the start of a Shanghai
            // day, so that the day does not end while the test uses its quota.
            try instance.advanceClock(by: .seconds(86_400))
            let shanghai = instance.now.timeIntervalSince1970 + 8 * 3600
            try instance.advanceClock(by: .seconds(86_400 - Int(shanghai.truncatingRemainder(dividingBy: 86_400)) + 1))
            let midnight = instance.now.addingTimeInterval(86_400 - 1)
            #expect(try await permissions.check(account, "contact.external.add").allowed)
            #expect(try await permissions.check(account, "contact.external.add").allowed)
            #expect(try await permissions.check(account, "payment.transfer", ["amountCNY": .int(120)]).allowed)
            let pool = instance.pool()
            let activeDays = {
                try await pool.query("SELECT count(*) AS n FROM active_days WHERE account_id = \(account)::uuid")
                    .first?.decode("n", as: Int.self)
            }
            let daysBefore = try await activeDays()

            let second = try await permissions.entitlements(session: session, accountId: account.uppercased())
            #expect(second.code == "OK", "\(second.event.data)")
            #expect(second.result["stage"] == .int(2))
            let stageThree = try #require(Self.time(second, "nextStageAt"))
            #expect(abs(stageThree.timeIntervalSince(stageTwo) - 1000 * 86_400) < 1)
            let adds = second.result["quotas"]?["contact.external.add"]
            #expect(adds?["used"] == .int(2) && adds?["limit"] == .int(3) && adds?["remaining"] == .int(1))
            let resets = try #require(adds?["resetsAt"]?.stringValue.flatMap(Date.init(rfc3339:)))
            #expect(abs(resets.timeIntervalSince(midnight)) < 2, "\(resets) vs \(midnight)")
            let payments = second.result["quotas"]?["payment.transfer"]
            #expect(payments?["used"] == .int(120) && payments?["limit"] == .int(5000))
            #expect(second.result["actions"]?["contact.external.add"]?["allowed"] == .bool(true))
            #expect(
                second.result["actions"]?["contact.external.add"]?["limits"]
                    == .object(["maxExternalContactsPerDay": .int(3), "remainingToday": .int(1)]))
            // A read records no active day and consumes nothing.
            #expect(try await activeDays() == daysBefore)

            // The last add of the day: the action now shows the quota, as the next check would.
            #expect(try await permissions.check(account, "contact.external.add").allowed)
            let spent = try await permissions.entitlements(session: session)
            #expect(spent.result["actions"]?["contact.external.add"]?["allowed"] == .bool(false))
            #expect(spent.result["actions"]?["contact.external.add"]?["reason"] == .string("quota"))
            #expect(try await permissions.check(account, "contact.external.add").reason == "quota")

            // The next day starts from zero.
            try instance.advanceClock(by: .seconds(86_400))
            let tomorrow = try await permissions.entitlements(session: session)
            #expect(tomorrow.result["quotas"]?["contact.external.add"]?["used"] == .int(0))
            #expect(tomorrow.result["actions"]?["contact.external.add"]?["allowed"] == .bool(true))
            #expect(
                Self.time(tomorrow, "quotas", "contact.external.add", "resetsAt") == resets.addingTimeInterval(86_400))

            // The same command id again, a day later: the same reply again, from the inbox.
            let id = "read-\(UUID().uuidString)"
            let command = RegistrarClient.command(
                type: "entitlements.get", data: .emptyObject, id: id, sessionToken: session)
            _ = try await client.request(command, topic: "permissions.commands")
            try instance.advanceClock(by: .seconds(86_400))
            try await client.sendRaw(
                Array(try JSONEncoder().encode(JSONValue.object(command))), topic: "permissions.commands", key: nil)
            let replies = try await client.read(topic: "registrar.replies", timeout: .seconds(30)) { read in
                read.filter { $0.event?.inreplyto == id }.count >= 2
            }.compactMap(\.event).filter { $0.inreplyto == id }
            #expect(replies.count == 2 && replies.first?.data == replies.last?.data)
        }
    }

    @Test func adminsListTheirMembersWithTheirOverrides() async throws {
        let permissions = PermissionsClient()
        let identity = IdentityClient()
        let admin = try await identity.register()
        let members = [try await identity.register(), try await identity.register()]
        for account in [admin] + members { try await permissions.known(account.accountId) }
        let operatorToken = try await permissions.addOperator()
        let enterprise = "ent-\(UUID().uuidString.prefix(8))"
        let created = try await TestStack.retrying {
            try await permissions.send(
                "enterprise.create",
                [
                    "enterpriseId": .string(enterprise), "name": .string("Acme"),
                    "adminAccountId": .string(admin.accountId),
                ], operatorToken: operatorToken)
        }
        #expect(created.code == "OK")
        for member in members {
            let added = try await TestStack.retrying {
                try await permissions.send(
                    "enterprise.add_member",
                    [
                        "enterpriseId": .string(enterprise), "accountId": .string(member.accountId),
                        "role": .string("member"),
                    ], session: admin.sessionToken)
            }
            #expect(added.code == "OK")
        }
        let policies: [(String, [String: JSONValue])] = [
            (members[0].accountId, ["momentsEnabled": .bool(false)]), ("*", ["maxExternalContacts": .int(2)]),
        ]
        for (member, overrides) in policies {
            let set = try await permissions.send(
                "enterprise.set_member_policy",
                [
                    "enterpriseId": .string(enterprise), "accountId": .string(member),
                    "overrides": .object(overrides),
                ], session: admin.sessionToken)
            #expect(set.code == "OK")
        }

        let list = try await permissions.members(enterprise, session: admin.sessionToken)
        #expect(list.code == "OK", "\(list.event.data)")
        #expect(list.result["everyone"] == .object(["maxExternalContacts": .int(2)]))
        #expect(list.result["nextAfter"] == .null)
        guard case .array(let listed) = list.result["members"] ?? .null else {
            Issue.record("no members in \(list.event.data)")
            return
        }
        let expected = ([admin.accountId] + members.map(\.accountId)).sorted()
        #expect(listed.compactMap { $0["accountId"]?.stringValue } == expected)
        for member in listed {
            let id = member["accountId"]?.stringValue
            #expect(member["role"] == .string(id == admin.accountId ? "admin" : "member"))
            let joined = member["joinedAt"]?.stringValue.flatMap(Date.init(rfc3339:))
            #expect(joined.map { abs($0.timeIntervalSinceNow) < 600 } == true)
            #expect(
                member["overrides"]
                    == (id == members[0].accountId ? .object(["momentsEnabled": .bool(false)]) : .null))
        }

        // Pages of one, in the same order.
        var paged: [String] = []
        var after: String?
        repeat {
            let page = try await permissions.members(enterprise, session: admin.sessionToken, after: after, limit: 1)
            guard case .array(let one) = page.result["members"] ?? .null else { break }
            #expect(one.count == 1)
            paged += one.compactMap { $0["accountId"]?.stringValue }
            after = page.string("nextAfter")
        } while after != nil && paged.count < 10
        #expect(paged == expected)

        // Refusals: a member, an unknown enterprise (as the other enterprise commands), bad paging.
        #expect(
            try await permissions.members(enterprise, session: members[1].sessionToken).code == "FORBIDDEN")
        #expect(
            try await permissions.members("no-such-\(enterprise)", session: admin.sessionToken).code
                == "ENTERPRISE_NOT_FOUND")
        let zero = try await permissions.members(enterprise, session: admin.sessionToken, limit: 0)
        #expect(zero.code == "MALFORMED" && zero.string("field") == "data.limit")
        let cursor = try await permissions.members(enterprise, session: admin.sessionToken, after: "not-an-id")
        #expect(cursor.code == "MALFORMED" && cursor.string("field") == "data.after")
    }
}
