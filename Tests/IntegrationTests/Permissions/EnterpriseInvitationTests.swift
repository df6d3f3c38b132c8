import Contract
import Foundation
import Messaging
import Platform
import Postgres
import TestSupport
import Testing

/// Issue 18, permissions: invitations, leaving and removal, identity switching (`context.enterpriseId`),
/// the total external-contact cap, and the member's notifications, through the topics as a client.
@Suite(.enabled(if: TestStack.enabled))
struct EnterpriseInvitationTests {
    let permissions = PermissionsClient()
    let identity = IdentityClient()

    /// A command with the session, sent again while the session has not reached permissions.
    func send(_ type: String, _ data: [String: JSONValue], session: String) async throws -> IdentityClient.Answer {
        try await TestStack.retrying { try await permissions.send(type, data, session: session) }
    }

    /// The `push.requested` messages for `account` with `template` on `notifications.push`, counted
    /// after the topic was read for `settle` (to see a duplicate that would follow the first).
    static func pushes(
        _ client: RegistrarClient, _ account: String, _ template: NotificationTemplate, settle: Duration = .seconds(8)
    ) async throws -> [CloudEvent] {
        try await client.read(topic: "notifications.push", timeout: settle) { _ in false }.compactMap(\.event).filter {
            $0.type == "push.requested" && $0.subject == account && $0.data["template"] == .string(template.rawValue)
        }
    }

    /// Waits for the first push of `template` to `account`.
    static func push(_ client: RegistrarClient, _ account: String, _ template: NotificationTemplate) async throws
        -> CloudEvent
    {
        try await client.event(on: "notifications.push", timeout: .seconds(30)) {
            $0.subject == account && $0.data["template"] == .string(template.rawValue)
        }
    }

    @Test func invitationsLeavingRemovalAndContexts() async throws {
        let client = permissions.client
        let admin = try await identity.register()
        let invitee = try await identity.register()
        let other = try await identity.register()
        for account in [admin, invitee, other] { try await permissions.known(account.accountId) }
        let operatorToken = try await permissions.addOperator()
        let (first, second) = ("ent-\(UUID().uuidString.prefix(8))", "ent-\(UUID().uuidString.prefix(8))")
        for (enterprise, owner) in [(first, admin.accountId), (second, other.accountId)] {
            let created = try await TestStack.retrying {
                try await permissions.send(
                    "enterprise.create",
                    [
                        "enterpriseId": .string(enterprise), "name": .string("Acme"),
                        "adminAccountId": .string(owner),
                    ], operatorToken: operatorToken)
            }
            #expect(created.code == "OK")
        }

        // Invite: the admin's session only.
        let invite: [String: JSONValue] = [
            "enterpriseId": .string(first), "accountId": .string(invitee.accountId),
        ]
        #expect(try await permissions.send("enterprise.invite", invite).code == "UNAUTHENTICATED")
        #expect(try await send("enterprise.invite", invite, session: invitee.sessionToken).code == "FORBIDDEN")
        let invited = try await send("enterprise.invite", invite, session: admin.sessionToken)
        #expect(invited.code == "OK")
        let invitation = try #require(invited.string("invitationId"))
        let again = try await send("enterprise.invite", invite, session: admin.sessionToken)
        #expect(again.code == "INVITATION_PENDING" && again.string("invitationId") == invitation)
        let told = try await Self.push(client, invitee.accountId, .enterpriseInvitation)
        #expect(told.data["params"]?["invitationId"] == .string(invitation))
        #expect(told.data["locale"] == .string("zh-CN") && told.data["accountId"] == .string(invitee.accountId))
        _ = try await client.event(on: "permissions.events") {
            $0.type == "enterprise.member_invited" && $0.data["invitationId"] == .string(invitation)
        }

        // Accept: the invitee's session only; once.
        let ref: [String: JSONValue] = ["invitationId": .string(invitation)]
        #expect(try await permissions.send("enterprise.invitation.accept", ref).code == "UNAUTHENTICATED")
        #expect(try await send("enterprise.invitation.accept", ref, session: other.sessionToken).code == "FORBIDDEN")
        #expect(try await send("enterprise.invitation.decline", ref, session: other.sessionToken).code == "FORBIDDEN")
        let accepted = try await send("enterprise.invitation.accept", ref, session: invitee.sessionToken)
        #expect(accepted.code == "OK" && accepted.string("enterpriseId") == first)
        let twice = try await send("enterprise.invitation.accept", ref, session: invitee.sessionToken)
        #expect(twice.code == "INVITATION_CLOSED" && twice.string("state") == "accepted")
        #expect(try await send("enterprise.invite", invite, session: admin.sessionToken).code == "ALREADY_A_MEMBER")
        let unknown: [String: JSONValue] = ["invitationId": .string(UUID().uuidString)]
        #expect(
            try await send("enterprise.invitation.accept", unknown, session: invitee.sessionToken).code
                == "INVITATION_NOT_FOUND")
        let listed = try await permissions.members(first, session: admin.sessionToken)
        #expect("\(listed.result["members"] ?? .null)".contains(invitee.accountId))

        // Decline: the invitation closes; the admin learns of it by event.
        let declinedInvite = try await send(
            "enterprise.invite", ["enterpriseId": .string(first), "accountId": .string(other.accountId)],
            session: admin.sessionToken)
        let declinedRef: [String: JSONValue] = ["invitationId": .string(declinedInvite.string("invitationId") ?? "")]
        #expect(try await permissions.send("enterprise.invitation.decline", declinedRef).code == "UNAUTHENTICATED")
        #expect(
            try await send("enterprise.invitation.decline", declinedRef, session: other.sessionToken).code == "OK")
        let late = try await send("enterprise.invitation.accept", declinedRef, session: other.sessionToken)
        #expect(late.code == "INVITATION_CLOSED" && late.string("state") == "declined")
        _ = try await client.event(on: "permissions.events") {
            $0.type == "enterprise.invitation_declined" && $0.subject == other.accountId
        }

        // A member of two enterprises: each one's policy in its own context, the personal one without.
        let secondInvite = try await send(
            "enterprise.invite", ["enterpriseId": .string(second), "accountId": .string(invitee.accountId)],
            session: other.sessionToken)
        #expect(
            try await send(
                "enterprise.invitation.accept", ["invitationId": .string(secondInvite.string("invitationId") ?? "")],
                session: invitee.sessionToken
            ).code == "OK")
        let policyCommand = RegistrarClient.command(
            type: "enterprise.set_member_policy",
            data: .object([
                "enterpriseId": .string(second), "accountId": .string(invitee.accountId),
                "overrides": .object(["momentsEnabled": .bool(false)]),
            ]), sessionToken: other.sessionToken)
        let set = try await client.request(policyCommand, topic: "permissions.commands")
        #expect(set.data["code"] == .string("OK"))
        let inFirst: [String: JSONValue] = ["enterpriseId": .string(first)]
        let inSecond: [String: JSONValue] = ["enterpriseId": .string(second)]
        #expect(try await permissions.check(invitee.accountId, "moments.post", inSecond).reason == "enterprise_policy")
        #expect(try await permissions.check(invitee.accountId, "moments.post", inFirst).allowed)
        #expect(try await permissions.check(invitee.accountId, "moments.post").allowed)
        let outside = try await permissions.check(
            invitee.accountId, "moments.post", ["enterpriseId": .string("ent-none")])
        #expect(!outside.allowed && outside.reason == "not_a_member")

        // The member is told once: the same command again is the kept reply, the same policy again
        // changes nothing.
        let resent = try await client.request(policyCommand, topic: "permissions.commands")
        #expect(resent.data == set.data)
        let same = try await send(
            "enterprise.set_member_policy",
            [
                "enterpriseId": .string(second), "accountId": .string(invitee.accountId),
                "overrides": .object(["momentsEnabled": .bool(false)]),
            ], session: other.sessionToken)
        #expect(same.code == "OK")
        let policyPush = try await Self.push(client, invitee.accountId, .enterprisePolicyChanged)
        #expect(policyPush.data["params"]?["momentsEnabled"] == .string("off"))
        #expect(Set(try await Self.pushes(client, invitee.accountId, .enterprisePolicyChanged).map(\.id)).count == 1)

        // Leaving: not the admin; a member leaves, and the enterprise's context is gone for it.
        let leaveFirst: [String: JSONValue] = ["enterpriseId": .string(first)]
        #expect(try await permissions.send("enterprise.leave", leaveFirst).code == "UNAUTHENTICATED")
        let adminLeaves = try await send("enterprise.leave", leaveFirst, session: admin.sessionToken)
        #expect(adminLeaves.code == "ADMIN_TRANSFER_REQUIRED")
        #expect(try await send("enterprise.leave", leaveFirst, session: other.sessionToken).code == "NOT_A_MEMBER")
        #expect(try await send("enterprise.leave", inSecond, session: invitee.sessionToken).code == "OK")
        _ = try await client.event(on: "permissions.events") {
            $0.type == "enterprise.member_removed" && $0.subject == invitee.accountId
                && $0.data["enterpriseId"] == .string(second) && $0.data["by"] == .string("self")
        }
        #expect(try await permissions.check(invitee.accountId, "moments.post", inSecond).reason == "not_a_member")

        // Removal: the admin's session only; the member is told.
        let remove: [String: JSONValue] = ["enterpriseId": .string(first), "accountId": .string(invitee.accountId)]
        #expect(try await permissions.send("enterprise.remove_member", remove).code == "UNAUTHENTICATED")
        #expect(try await send("enterprise.remove_member", remove, session: invitee.sessionToken).code == "FORBIDDEN")
        let removeAdmin: [String: JSONValue] = [
            "enterpriseId": .string(first), "accountId": .string(admin.accountId),
        ]
        #expect(
            try await send("enterprise.remove_member", removeAdmin, session: admin.sessionToken).code
                == "ADMIN_TRANSFER_REQUIRED")
        #expect(try await send("enterprise.remove_member", remove, session: admin.sessionToken).code == "OK")
        #expect(
            try await send("enterprise.remove_member", remove, session: admin.sessionToken).code == "NOT_A_MEMBER")
        _ = try await Self.push(client, invitee.accountId, .enterpriseMemberRemoved)
        #expect(try await permissions.check(invitee.accountId, "moments.post", inFirst).reason == "not_a_member")

        // Contact removals: the account's own session only.
        let removed: [String: JSONValue] = ["accountId": .string(invitee.accountId)]
        #expect(try await permissions.send("contact.external.removed", removed).code == "UNAUTHENTICATED")
        #expect(try await send("contact.external.removed", removed, session: other.sessionToken).code == "FORBIDDEN")
        let own = try await send("contact.external.removed", removed, session: invitee.sessionToken)
        #expect(own.code == "OK" && own.result["externalContacts"] == .int(0))
    }

    /// On a private instance with a moved clock: an invitation expires; the enterprise's cap bounds
    /// the contacts held, and a removal frees a slot.
    @Test func invitationsExpireAndTheTotalCapHolds() async throws {
        let policy = """
            {"permissions": {"invitationValidity": "60s", "sensitiveMinActiveDays": 1, "sensitiveMinLogins": 1}}
            """
        try await ServiceProcess.run(.permissions, policy: policy) { instance, client in
            let permissions = PermissionsClient(client: client)
            func send(_ type: String, _ data: [String: JSONValue], session: String) async throws
                -> IdentityClient.Answer
            {
                try await TestStack.retrying { try await permissions.send(type, data, session: session) }
            }
            let admin = try await permissions.account()
            let adminSession = try await permissions.openSession(admin, validity: 10 * PermissionsClient.day)
            let member = try await permissions.account(age: 12 * PermissionsClient.day, tier: "bank_card")
            try await permissions.logins(member, daysAgo: [1])
            try await permissions.waitForState(
                member, schemaPool: instance.pool(.permissions), "successful_logins", equals: 1)
            let memberSession = try await permissions.openSession(member, validity: 10 * PermissionsClient.day)
            let operatorToken = try await permissions.addOperator()
            let enterprise = "ent-\(UUID().uuidString.prefix(8))"
            let created = try await TestStack.retrying {
                try await permissions.send(
                    "enterprise.create",
                    ["enterpriseId": .string(enterprise), "name": .string("E"), "adminAccountId": .string(admin)],
                    operatorToken: operatorToken)
            }
            #expect(created.code == "OK")

            // An invitation left unanswered past its validity cannot be accepted; a new one can.
            let invite: [String: JSONValue] = ["enterpriseId": .string(enterprise), "accountId": .string(member)]
            let stale = try await send("enterprise.invite", invite, session: adminSession)
            #expect(stale.code == "OK")
            try instance.advanceClock(by: .seconds(61))
            let expired = try await send(
                "enterprise.invitation.accept", ["invitationId": .string(stale.string("invitationId") ?? "")],
                session: memberSession)
            #expect(expired.code == "INVITATION_EXPIRED")
            let fresh = try await send("enterprise.invite", invite, session: adminSession)
            #expect(fresh.code == "OK" && fresh.string("invitationId") != stale.string("invitationId"))
            #expect(
                try await send(
                    "enterprise.invitation.accept", ["invitationId": .string(fresh.string("invitationId") ?? "")],
                    session: memberSession
                ).code == "OK")

            // The trail names who acted: the admin inviting, the member accepting (joining).
            let trail = try await instance.pool(.permissions).query(
                """
                SELECT action, actor_kind, actor_id FROM audit_trail WHERE subject = \(member) ORDER BY at, action
                """
            ).map {
                "\(try $0.decode("action", as: String.self)) \(try $0.decode("actor_kind", as: String.self)) "
                    + (try $0.decode("actor_id", as: String?.self) ?? "-")
            }
            #expect(
                trail.filter { $0.hasPrefix("enterprise.member_invited ") }
                    == Array(repeating: "enterprise.member_invited account \(admin)", count: 2))
            #expect(trail.contains("enterprise.member_added account \(member)"), "\(trail)")

            // A cap of 2 external contacts in the enterprise's context.
            #expect(
                try await send(
                    "enterprise.set_member_policy",
                    [
                        "enterpriseId": .string(enterprise), "accountId": .string(member),
                        "overrides": .object(["maxExternalContacts": .int(2)]),
                    ], session: adminSession
                ).code == "OK")
            let inside: [String: JSONValue] = ["enterpriseId": .string(enterprise)]
            #expect(try await permissions.check(member, "contact.external.add", inside).allowed)
            #expect(try await permissions.check(member, "contact.external.add", inside).allowed)
            let full = try await permissions.check(member, "contact.external.add", inside)
            #expect(full.reason == "enterprise_policy")
            #expect(full.limits == .object(["maxExternalContacts": .int(2), "externalContacts": .int(2)]))

            // A removal frees a slot; today's adds are spent (the daily cap is the enterprise's too).
            let removed = try await send(
                "contact.external.removed", ["accountId": .string(member)], session: memberSession)
            #expect(removed.code == "OK" && removed.result["externalContacts"] == .int(1))
            #expect(try await permissions.check(member, "contact.external.add", inside).reason == "quota")
            try instance.advanceClock(by: .seconds(86_400))
            #expect(try await permissions.check(member, "contact.external.add", inside).allowed)
            #expect(try await permissions.check(member, "contact.external.add", inside).reason == "enterprise_policy")
            // The personal identity is not capped by the enterprise, and its contacts count too.
            #expect(try await permissions.check(member, "contact.external.add").allowed)
            let over = try await permissions.check(member, "contact.external.add", inside)
            #expect(over.limits["externalContacts"] == .int(3))
        }
    }
}
