import BindingCore
import Foundation
import Testing

/// Bindings' data-sharing consents (issue 17): one per live binding.
struct SharingConsentsTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func everyLiveBindingIsAConsentAndAnExpiredOneIsNot() {
        let linked = now.addingTimeInterval(-3_600)
        let bindings = [
            BindingRecord(
                provider: "wechat", mode: .secondary, state: "active", scopes: ["login", "friend_list"],
                linkedAt: linked, expiresAt: nil, grantsExpireAt: ["friend_list": now.addingTimeInterval(-1)]),
            BindingRecord(
                provider: "dingtalk", mode: .temporary, state: "active", scopes: ["login"], linkedAt: linked,
                expiresAt: now, grantsExpireAt: [:]),
        ]
        let consents = SharingConsents.consents(bindings, now: now)
        #expect(
            consents == [
                SharingConsent(kind: "binding_sharing", provider: "wechat", scopes: ["login"], grantedAt: linked)
            ])
    }
}
