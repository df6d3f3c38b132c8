import Contract
import Foundation
import Messaging
import TestSupport
import Testing

/// The binding reads: `bindings.list` and `migration.get` after real links, unlinks and migrations
/// (shared stack, real sessions), and expiries and manifests in parts on a private instance whose
/// clock the test moves.
@Suite(.enabled(if: TestStack.enabled))
struct BindingReadTests {
    static func bindings(_ answer: IdentityClient.Answer) -> [String: JSONValue] {
        guard case .array(let list) = answer.result["bindings"] ?? .null else { return [:] }
        return Dictionary(list.map { ($0["provider"]?.stringValue ?? "?", $0) }) { first, _ in first }
    }

    @Test func theListAndTheLatestPlanFollowLinksAndMigrations() async throws {
        let binding = BindingClient()
        let me = try await IdentityClient().register()
        let (account, session) = (me.accountId, me.sessionToken)

        let empty = try await binding.list(session: session)
        #expect(empty.code == "OK" && empty.result == .object(["accountId": .string(account), "bindings": .array([])]))
        let none = try await binding.latestPlan(session: session, accountId: account)
        #expect(none.code == "OK" && none.result == .object(["accountId": .string(account), "plan": .null]))

        let external = BindingClient.externalID()
        let wechat = try await binding.link(
            account, "wechat", external: external, mode: "primary", scopes: ["login", "friend_list"], session: session)
        #expect(wechat.code == "OK")
        let feishu = try await binding.link(
            account, "feishu", mode: "temporary", scopes: ["calendar"], session: session)
        #expect(feishu.code == "OK")

        let listed = try await binding.list(session: session)
        let byProvider = Self.bindings(listed)
        #expect(listed.code == "OK" && Array(byProvider.keys).sorted() == ["feishu", "wechat"])
        let primary = try #require(byProvider["wechat"])
        #expect(primary["mode"] == .string("primary") && primary["state"] == .string("active"))
        #expect(primary["scopes"] == .array([.string("login"), .string("friend_list")]))
        #expect(primary["expiresAt"] == .null)
        #expect(primary["authorizationsExpireAt"] == wechat.result["authorizationsExpireAt"])
        #expect(primary["linkedAt"]?.stringValue.flatMap(Date.init(rfc3339:)) != nil)
        let temporary = try #require(byProvider["feishu"])
        #expect(temporary["mode"] == .string("temporary") && temporary["expiresAt"] == feishu.result["expiresAt"])
        #expect(temporary["authorizationsExpireAt"] == .object([:]))
        // The external account id is in no reply.
        #expect(!"\(listed.event.data)".contains(external))

        // A migration: the latest plan is the one migration.start answered.
        let old = Date().addingTimeInterval(-120 * 86_400)
        let started = try await binding.migrate(
            account,
            items: [BindingClient.item("text"), BindingClient.item("text", at: old), BindingClient.item("image")],
            session: session)
        #expect(started.code == "OK")
        let latest = try await binding.latestPlan(session: session)
        let plan = try #require(latest.result["plan"])
        #expect(plan["planId"] == started.result["planId"] && plan["counts"] == started.result["plan"])
        #expect(plan["items"] == .int(3) && plan["state"] == .string("planned") && plan["complete"] == .bool(true))
        #expect(plan["partsReceived"] == .int(1) && plan["partsTotal"] == .int(1))
        #expect(plan["counts"]?["auto"] == .int(1) && plan["counts"]?["impossible"] == .int(1))

        // Unlinked: gone from the list.
        #expect(try await binding.unlink(account, "feishu", session: session).code == "OK")
        #expect(Array(Self.bindings(try await binding.list(session: session)).keys) == ["wechat"])
    }

    @Test func expiriesLeaveTheListAtTheirInstantAndPartsShowUntilComplete() async throws {
        // Validities of minutes the moved clock crosses; a sweep that never runs in the test, so
        // that the list is seen deciding expiries itself.
        let policy = """
            {"binding": {"friendListValidity": "20m", "temporaryValidity": "10m", "sweepInterval": "1h"}}
            """
        try await ServiceProcess.run(.binding, policy: policy) { instance, client in
            let binding = BindingClient(client: client)
            let (account, session) = try await binding.openSession()
            let wechat = try await binding.link(account, "wechat", scopes: ["login", "friend_list"], session: session)
            #expect(wechat.code == "OK")
            #expect(
                try await binding.link(account, "dingtalk", mode: "temporary", scopes: ["login"], session: session)
                    .code == "OK")
            #expect(Self.bindings(try await binding.list(session: session)).count == 2)

            try instance.advanceClock(by: .seconds(10 * 60))
            let afterTemporary = Self.bindings(try await binding.list(session: session))
            #expect(Array(afterTemporary.keys) == ["wechat"])
            #expect(afterTemporary["wechat"]?["authorizationsExpireAt"]?["friend_list"] != nil)

            try instance.advanceClock(by: .seconds(10 * 60))
            let afterGrant = Self.bindings(try await binding.list(session: session))
            #expect(afterGrant["wechat"]?["scopes"] == .array([.string("login")]))
            #expect(afterGrant["wechat"]?["authorizationsExpireAt"] == .object([:]))

            // A manifest in two parts: collecting after the first, planned after the second.
            let manifest: (Int, String?) -> [String: JSONValue] = { index, plan in
                var part: [String: JSONValue] = ["index": .int(Int64(index)), "total": .int(2)]
                if let plan { part["planId"] = .string(plan) }
                return [
                    "accountId": .string(account),
                    "manifest": .object([
                        "freeStorageBytes": .int(8 << 30), "items": .array([BindingClient.item("video")]),
                        "part": .object(part),
                    ]),
                ]
            }
            let first = try await binding.sendAuthenticated("migration.start", manifest(0, nil), session: session)
            let planId = try #require(first.string("planId"))
            let collecting = try #require(try await binding.latestPlan(session: session).result["plan"])
            #expect(collecting["planId"] == .string(planId) && collecting["state"] == .string("collecting"))
            #expect(collecting["partsReceived"] == .int(1) && collecting["partsTotal"] == .int(2))
            #expect(collecting["complete"] == .bool(false) && collecting["items"] == .int(1))
            #expect(
                try await binding.sendAuthenticated("migration.start", manifest(1, planId), session: session).code
                    == "OK")
            let planned = try #require(try await binding.latestPlan(session: session).result["plan"])
            #expect(planned["state"] == .string("planned") && planned["partsReceived"] == .int(2))
            #expect(planned["counts"]?["manual"] == .int(2) && planned["complete"] == .bool(true))
        }
    }
}
