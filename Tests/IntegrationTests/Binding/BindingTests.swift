import Contract
import Foundation
import Messaging
import Platform
import Postgres
import TestSupport
import Testing

/// `binding.commands` on the shared stack, with sessions from real identity registrations.
@Suite(.enabled(if: TestStack.enabled))
struct BindingTests {
    let binding = BindingClient()
    let identity = IdentityClient()
    let pool = PostgresPool(configuration: TestStack.postgres(searchPath: ["binding"]))

    @Test func linksFollowTheCapabilityMatrixAndTheLinkRules() async throws {
        let me = try await identity.register()
        let other = try await identity.register()
        let (account, session) = (me.accountId, me.sessionToken)
        let wechat = BindingClient.externalID()
        let link: [String: JSONValue] = [
            "accountId": .string(account), "provider": .string("wechat"), "externalAccountId": .string(wechat),
            "mode": .string("primary"), "scopes": .array([.string("login"), .string("notifications")]),
        ]
        #expect(try await binding.send("binding.link", link, session: nil).code == "UNAUTHENTICATED")
        #expect(
            try await binding.sendAuthenticated("binding.link", link, session: other.sessionToken).code == "FORBIDDEN")

        // Scopes outside the provider's row of the matrix; providers outside the matrix.
        let calendar = try await binding.link(account, "wechat", scopes: ["login", "calendar"], session: session)
        #expect(calendar.code == "SCOPE_UNSUPPORTED" && calendar.result["unsupported"] == .array([.string("calendar")]))
        let friends = try await binding.link(account, "feishu", scopes: ["friend_list"], session: session)
        #expect(friends.code == "SCOPE_UNSUPPORTED")
        let qq = try await binding.link(account, "qq", scopes: ["login"], session: session)
        #expect(qq.code == "PROVIDER_UNSUPPORTED")

        // WeChat as the primary binding, with notifications: linked, with the warning.
        let primary = try await binding.sendAuthenticated("binding.link", link, session: session)
        #expect(primary.code == "OK" && primary.warnings == ["DUPLICATE_NOTIFICATIONS"])
        let linked = try await binding.client.event(on: "binding.events") {
            $0.type == "binding.linked" && $0.subject == account && $0.data["provider"] == .string("wechat")
        }
        #expect(linked.data["mode"] == .string("primary"))
        #expect(linked.data["scopes"] == .array([.string("login"), .string("notifications")]))
        #expect(linked.data["externalAccountId"] == nil && linked.data["expiresAt"] == nil)
        let second = try await binding.link(account, "feishu", mode: "primary", scopes: ["login"], session: session)
        #expect(second.code == "PRIMARY_EXISTS" && second.result["primary"] == .string("wechat"))

        // Calendar on DingTalk and Feishu conflicts unless one of them is temporary.
        #expect(try await binding.link(account, "dingtalk", scopes: ["calendar"], session: session).code == "OK")
        let conflict = try await binding.link(account, "feishu", scopes: ["login", "calendar"], session: session)
        #expect(conflict.code == "BINDING_CONFLICT" && conflict.result["conflictsWith"] == .string("dingtalk"))
        let temporary = try await binding.link(
            account, "feishu", mode: "temporary", scopes: ["calendar"], session: session)
        #expect(temporary.code == "OK" && temporary.warnings.isEmpty)
        let expires = try #require(temporary.string("expiresAt").flatMap(Date.init(rfc3339:)))
        #expect(abs(expires.timeIntervalSinceNow - 86_400) < 60)
        _ = try await binding.client.event(on: "binding.events") {
            $0.type == "binding.linked" && $0.subject == account && $0.data["mode"] == .string("temporary")
                && $0.data["expiresAt"] != nil
        }

        // An external account belongs to one Registrar account; unlinking frees it.
        let taken = try await binding.link(
            other.accountId, "wechat", external: wechat, scopes: ["login"], session: other.sessionToken)
        #expect(taken.code == "EXTERNAL_ACCOUNT_TAKEN")
        #expect(try await binding.unlink(account, "wechat", session: session).code == "OK")
        let unlinked = try await binding.client.event(on: "binding.events") {
            $0.type == "binding.unlinked" && $0.subject == account && $0.data["provider"] == .string("wechat")
        }
        #expect(unlinked.data["reason"] == .string("user"))
        #expect(try await binding.unlink(account, "wechat", session: session).code == "BINDING_NOT_FOUND")
        let freed = try await binding.link(
            other.accountId, "wechat", external: wechat, mode: "primary", scopes: ["login"],
            session: other.sessionToken)
        #expect(freed.code == "OK" && freed.warnings.isEmpty)

        // Ill-formed content is MALFORMED naming the field.
        let badMode = try await binding.link(account, "wechat", mode: "forever", scopes: ["login"], session: session)
        #expect(badMode.code == "MALFORMED" && badMode.result["field"] == .string("data.mode"))
        let noScopes = try await binding.link(account, "wechat", scopes: [], session: session)
        #expect(noScopes.code == "MALFORMED" && noScopes.result["field"] == .string("data.scopes"))
    }

    @Test func aMigrationPlanCountsEveryItem() async throws {
        let me = try await identity.register()
        let (account, session) = (me.accountId, me.sessionToken)
        let day = 86_400.0
        let items: [JSONValue] = [
            BindingClient.item("text", at: Date().addingTimeInterval(-1 * day)),  // auto
            BindingClient.item("text", at: Date().addingTimeInterval(-89 * day)),  // auto
            BindingClient.item("text", at: Date().addingTimeInterval(-91 * day)),  // impossible
            BindingClient.item("image"),  // manual
            BindingClient.item("video"),  // manual
            BindingClient.item("video", at: nil),  // manual
            BindingClient.item("red_packet"),  // impossible
            BindingClient.item("transfer"),  // impossible
            BindingClient.item("friend"),  // needs_confirmation
            BindingClient.item("friend", at: nil),  // needs_confirmation
            BindingClient.item("friend"),  // needs_confirmation
            BindingClient.item("group"),  // external_group
            BindingClient.item("official_account"),  // refollow
            BindingClient.item("sticker", compatible: true),  // auto
            BindingClient.item("sticker"),  // auto
            BindingClient.item("sticker", compatible: false),  // flagged
            BindingClient.item("wallet"),  // withdraw_then_recharge (issue 18)
        ]
        let refused = try await binding.migrate(account, items: items, session: session)
        #expect(refused.code == "BINDING_REQUIRED")
        // A Feishu binding is not a WeChat one.
        #expect(try await binding.link(account, "feishu", scopes: ["login"], session: session).code == "OK")
        #expect(try await binding.migrate(account, items: items, session: session).code == "BINDING_REQUIRED")
        #expect(try await binding.link(account, "wechat", scopes: ["messaging"], session: session).code == "OK")
        let small = try await binding.migrate(account, freeStorageBytes: 5 << 30 - 1, items: items, session: session)
        #expect(small.code == "INSUFFICIENT_STORAGE" && small.result["requiredBytes"] == .int(5 << 30))

        let plan = try await binding.migrate(account, freeStorageBytes: 5 << 30, items: items, session: session)
        #expect(plan.code == "OK")
        let expected: JSONValue = .object([
            "auto": .int(4), "manual": .int(3), "impossible": .int(3), "needs_confirmation": .int(3),
            "external_group": .int(1), "refollow": .int(1), "flagged": .int(1), "withdraw_then_recharge": .int(1),
        ])
        #expect(plan.result["plan"] == expected)
        #expect(plan.result["items"] == .int(17))
        let planId = try #require(plan.string("planId"))
        let planned = try await binding.client.event(on: "binding.events") {
            $0.type == "migration.planned" && $0.subject == account
        }
        #expect(planned.data["planId"] == .string(planId) && planned.data["counts"] == expected)
        let stored = try await pool.query(
            "SELECT items, counts::text AS counts FROM migration_plans WHERE plan_id = \(planId)::uuid")
        #expect(try stored.first?.decode("items", as: Int.self) == 17)

        // A bad item is MALFORMED naming it.
        let unknown = try await binding.migrate(
            account, items: [BindingClient.item("text"), BindingClient.item("voice")], session: session)
        #expect(unknown.code == "MALFORMED" && unknown.result["field"] == .string("data.manifest.items[1].kind"))
        let undated = try await binding.migrate(account, items: [BindingClient.item("text", at: nil)], session: session)
        #expect(undated.code == "MALFORMED" && undated.result["field"] == .string("data.manifest.items[0].at"))
    }
}
