import Contract
import Foundation
import Messaging
import Platform
import Postgres
import TestSupport
import Testing

@Suite(.enabled(if: TestStack.enabled))
struct EnterpriseTests {
    let permissions = PermissionsClient()
    let identity = IdentityClient()
    let pool = PostgresPool(configuration: TestStack.postgres(searchPath: ["permissions"]))

    /// Sends until the reply is not `UNAUTHENTICATED` (sessions and operators reach permissions
    /// through identity's events a moment later).
    func sendAuthenticated(
        _ type: String, _ data: [String: JSONValue], session: String? = nil, operatorToken: String? = nil
    )
        async throws -> IdentityClient.Answer
    {
        try await TestStack.retrying {
            try await permissions.send(type, data, session: session, operatorToken: operatorToken)
        }
    }

    @Test func adminsRunTheirEnterpriseAndOverridesApply() async throws {
        let admin = try await identity.register()
        try await permissions.known(admin.accountId)
        let operatorToken = try await permissions.addOperator()
        let enterprise = "ent-\(UUID().uuidString.prefix(8))"
        let create: [String: JSONValue] = [
            "enterpriseId": .string(enterprise), "name": .string("Acme"), "adminAccountId": .string(admin.accountId),
        ]
        #expect(try await permissions.send("enterprise.create", create).code == "UNAUTHENTICATED")
        #expect(
            try await sendAuthenticated("enterprise.create", create, session: admin.sessionToken).code == "FORBIDDEN")
        #expect(try await sendAuthenticated("enterprise.create", create, operatorToken: operatorToken).code == "OK")
        #expect(
            try await permissions.send("enterprise.create", create, operatorToken: operatorToken).code
                == "ENTERPRISE_EXISTS")

        // Two seasoned members (stage 2, criteria met) and one newcomer with a session.
        let seasoned = try await (0..<2).asyncMap { _ in
            let account = try await permissions.account(age: 12 * PermissionsClient.day, tier: "bank_card")
            try await permissions.logins(account, daysAgo: Array(1...20))
            try await permissions.waitForState(account, schemaPool: pool, "successful_logins", equals: 20)
            return account
        }
        let newcomer = try await identity.register()
        try await permissions.known(newcomer.accountId)
        for member in seasoned + [newcomer.accountId] {
            let added = try await sendAuthenticated(
                "enterprise.add_member",
                ["enterpriseId": .string(enterprise), "accountId": .string(member), "role": .string("member")],
                session: admin.sessionToken)
            #expect(added.code == "OK")
        }
        let byMember = try await sendAuthenticated(
            "enterprise.add_member", ["enterpriseId": .string(enterprise), "accountId": .string(admin.accountId)],
            session: newcomer.sessionToken)
        #expect(byMember.code == "FORBIDDEN")
        let noSession = try await permissions.send(
            "enterprise.set_member_policy",
            ["enterpriseId": .string(enterprise), "accountId": .string("*"), "overrides": .object([:])])
        #expect(noSession.code == "UNAUTHENTICATED")

        // Moments off for one member; external contacts capped at 2 a day for everyone.
        #expect(
            try await permissions.send(
                "enterprise.set_member_policy",
                [
                    "enterpriseId": .string(enterprise), "accountId": .string(seasoned[0]),
                    "overrides": .object(["momentsEnabled": .bool(false)]),
                ], session: admin.sessionToken
            ).code == "OK")
        #expect(
            try await permissions.send(
                "enterprise.set_member_policy",
                [
                    "enterpriseId": .string(enterprise), "accountId": .string("*"),
                    "overrides": .object(["maxExternalContacts": .int(2)]),
                ], session: admin.sessionToken
            ).code == "OK")
        // The enterprise's policy applies in its context; the personal identity keeps its own (issue 18).
        let inside: [String: JSONValue] = ["enterpriseId": .string(enterprise)]
        #expect(try await permissions.check(seasoned[0], "moments.post", inside).reason == "enterprise_policy")
        #expect(try await permissions.check(seasoned[0], "moments.post").allowed)
        #expect(try await permissions.check(seasoned[1], "moments.post", inside).allowed)
        for member in seasoned {
            #expect(try await permissions.check(member, "contact.external.add", inside).allowed)
            let second = try await permissions.check(member, "contact.external.add", inside)
            #expect(second.allowed && second.limits["maxExternalContactsPerDay"] == .int(2))
            // Two held of a total cap of two: refused by the total before the day's quota.
            let third = try await permissions.check(member, "contact.external.add", inside)
            #expect(third.reason == "enterprise_policy" && third.limits["maxExternalContacts"] == .int(2))
        }
        _ = try await permissions.client.event(on: "permissions.events") {
            $0.type == "permissions.changed" && $0.subject == seasoned[0]
                && !"\($0.data["after"] ?? .null)".contains("moments.post")
        }

        // Admin rights move to a member; the old admin can no longer act.
        let transfer = try await permissions.send(
            "enterprise.transfer_admin",
            ["enterpriseId": .string(enterprise), "toAccountId": .string(newcomer.accountId)],
            session: admin.sessionToken)
        #expect(transfer.code == "OK")
        let former = try await permissions.send(
            "enterprise.add_member", ["enterpriseId": .string(enterprise), "accountId": .string(admin.accountId)],
            session: admin.sessionToken)
        #expect(former.code == "FORBIDDEN")
        _ = try await permissions.client.event(on: "permissions.events") {
            $0.type == "enterprise.admin_transferred" && $0.data["toAccountId"] == .string(newcomer.accountId)
        }
    }
}

extension Sequence {
    /// `map` with an async transform, in order.
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
