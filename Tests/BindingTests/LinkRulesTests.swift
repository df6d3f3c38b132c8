import Foundation
import Platform
import Testing

@testable import BindingCore

@Suite struct LinkRulesTests {
    let policy = Policy().binding
    let me = "11111111-1111-1111-1111-111111111111"

    func decide(
        _ provider: String, _ scopes: [String], mode: BindingMode = .secondary, owner: String? = nil,
        existing: [ExistingBinding] = [], policy: Policy.Binding? = nil
    ) -> LinkDecision {
        LinkRules.decide(
            LinkRequest(provider: provider, mode: mode, scopes: scopes), accountID: me, externalOwner: owner,
            existing: existing, policy: policy ?? self.policy)
    }

    @Test func theCapabilityMatrixDecidesScopes() {
        #expect(decide("wechat", ["login", "messaging", "friend_list"]) == .linked(warnings: []))
        #expect(decide("wechat", ["calendar"]) == .scopeUnsupported(["calendar"]))
        #expect(
            decide("dingtalk", ["login", "messaging", "notifications"])
                == .scopeUnsupported(["messaging", "notifications"]))
        #expect(decide("feishu", ["data_sync", "messaging", "calendar"]) == .linked(warnings: []))
        #expect(decide("feishu", ["friend_list"]) == .scopeUnsupported(["friend_list"]))
        #expect(decide("qq", ["login"]) == .providerUnsupported)
        // A new provider is configuration.
        var extended = policy
        extended.capabilities["qq"] = ["login", "calendar"]
        #expect(decide("qq", ["login"], policy: extended) == .linked(warnings: []))
        #expect(
            decide(
                "qq", ["calendar"], existing: [.init(provider: "feishu", mode: .secondary, scopes: ["calendar"])],
                policy: extended) == .conflict(with: "feishu", scope: "calendar"))
    }

    @Test func onePrimaryAtATime() {
        let primary = ExistingBinding(provider: "wechat", mode: .primary, scopes: ["login"])
        #expect(decide("feishu", ["login"], mode: .primary, existing: [primary]) == .primaryExists(provider: "wechat"))
        #expect(decide("feishu", ["login"], mode: .secondary, existing: [primary]) == .linked(warnings: []))
        // Re-linking the primary provider replaces it.
        #expect(decide("wechat", ["login"], mode: .primary, existing: [primary]) == .linked(warnings: []))
    }

    @Test func calendarOnDingTalkAndFeishuConflictsUnlessOneIsTemporary() {
        let ding = ExistingBinding(provider: "dingtalk", mode: .secondary, scopes: ["calendar"])
        #expect(decide("feishu", ["calendar"], existing: [ding]) == .conflict(with: "dingtalk", scope: "calendar"))
        #expect(
            decide("feishu", ["calendar"], mode: .primary, existing: [ding])
                == .conflict(with: "dingtalk", scope: "calendar"))
        #expect(decide("feishu", ["calendar"], mode: .temporary, existing: [ding]) == .linked(warnings: []))
        #expect(decide("feishu", ["login"], existing: [ding]) == .linked(warnings: []))
        let temporaryDing = ExistingBinding(provider: "dingtalk", mode: .temporary, scopes: ["calendar"])
        #expect(decide("feishu", ["calendar"], existing: [temporaryDing]) == .linked(warnings: []))
        let dingWithoutCalendar = ExistingBinding(provider: "dingtalk", mode: .secondary, scopes: ["login"])
        #expect(decide("feishu", ["calendar"], existing: [dingWithoutCalendar]) == .linked(warnings: []))
    }

    @Test func weChatNotificationsWarn() {
        #expect(decide("wechat", ["notifications"]) == .linked(warnings: ["DUPLICATE_NOTIFICATIONS"]))
        #expect(
            decide("wechat", ["login", "notifications"], mode: .temporary)
                == .linked(warnings: ["DUPLICATE_NOTIFICATIONS"]))
    }

    @Test func anExternalAccountBelongsToOneAccount() {
        #expect(decide("wechat", ["login"], owner: "22222222-2222-2222-2222-222222222222") == .externalAccountTaken)
        #expect(decide("wechat", ["login"], owner: me) == .linked(warnings: []))
    }

    @Test func expiries() {
        let now = Date(timeIntervalSince1970: 1_795_680_000)
        #expect(LinkRules.bindingExpiry(mode: .temporary, linkedAt: now, policy: policy) == now + 86_400)
        #expect(LinkRules.bindingExpiry(mode: .primary, linkedAt: now, policy: policy) == nil)
        #expect(LinkRules.scopeExpiry("friend_list", grantedAt: now, policy: policy) == now + 90 * 86_400)
        #expect(LinkRules.scopeExpiry("login", grantedAt: now, policy: policy) == nil)
        #expect(LinkRules.normalized(["login", "login", "messaging"]) == ["login", "messaging"])
    }
}
