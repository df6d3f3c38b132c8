import Foundation
import Platform
import Testing

@testable import BindingCore

@Suite struct BindingReadsTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let day: TimeInterval = 86_400

    func record(
        _ provider: String, mode: BindingMode = .secondary, scopes: [String], expiresAt: Date? = nil,
        grants: [String: Date] = [:]
    ) -> BindingRecord {
        BindingRecord(
            provider: provider, mode: mode, state: "active", scopes: scopes, linkedAt: now - 10 * day,
            expiresAt: expiresAt, grantsExpireAt: grants)
    }

    @Test func aTemporaryBindingIsGoneAtItsExpiry() {
        let temporary = record("feishu", mode: .temporary, scopes: ["calendar"], expiresAt: now + 1)
        #expect(BindingReads.live([temporary], now: now) == [temporary])
        #expect(BindingReads.live([temporary], now: now + 1).isEmpty)
        #expect(BindingReads.live([temporary], now: now + 2).isEmpty)
    }

    @Test func anExpiredGrantLeavesItsBindingBeforeTheSweep() {
        let friends = now + 80 * day
        let wechat = record("wechat", scopes: ["login", "friend_list"], grants: ["friend_list": friends])
        #expect(BindingReads.live([wechat], now: now) == [wechat])
        let later = BindingReads.live([wechat], now: friends)
        #expect(later.map(\.scopes) == [["login"]])
        #expect(later.first?.grantsExpireAt == [:])
        // A grant whose scope the sweep already removed is not shown either.
        let swept = record("wechat", scopes: ["login"], grants: ["friend_list": friends])
        #expect(BindingReads.live([swept], now: now).first?.grantsExpireAt == [:])
    }

    @Test func bindingsComeByProvider() {
        let list = [record("wechat", scopes: ["login"]), record("dingtalk", scopes: ["login"])]
        #expect(BindingReads.live(list, now: now).map(\.provider) == ["dingtalk", "wechat"])
        #expect(BindingReads.live([], now: now).isEmpty)
    }
}
