import Foundation
import IdentityCore
import Platform
import Testing

/// The pure rules of data export and consents (issue 17).
struct PrivacyRulesTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let policy = Policy()

    @Test func exportsAreLimitedPerWindowAndExpireAfterTheirValidity() {
        let privacy = policy.privacy
        #expect(ExportRules.mayRequest(recentExports: privacy.exportsPerWindow - 1, policy: privacy))
        #expect(!ExportRules.mayRequest(recentExports: privacy.exportsPerWindow, policy: privacy))
        #expect(ExportRules.expiry(requestedAt: now, policy: privacy) == now.addingTimeInterval(7 * 86_400))
    }

    @Test func anExportIsCompleteWhenEveryServiceAnswered() {
        #expect(!ExportRules.isComplete(received: ["identity", "permissions", "binding"]))
        #expect(ExportRules.isComplete(received: ["identity", "permissions", "binding", "deregistration"]))
    }

    @Test func getAnswersByOwnerStateAndExpiry() {
        let owner = "a"
        let pending = StoredExport(
            accountID: owner, expiresAt: now.addingTimeInterval(60), parts: nil, received: ["identity", "binding"])
        #expect(ExportRules.answer(nil, caller: owner, part: 0, now: now) == .notFound)
        #expect(ExportRules.answer(pending, caller: "b", part: 0, now: now) == .forbidden)
        #expect(
            ExportRules.answer(pending, caller: owner, part: 0, now: now)
                == .pending(missing: ["permissions", "deregistration"]))
        var ready = pending
        ready.parts = 3
        #expect(ExportRules.answer(ready, caller: owner, part: 2, now: now) == .ready(parts: 3, part: 2))
        #expect(ExportRules.answer(ready, caller: owner, part: 3, now: now) == .noSuchPart(parts: 3))
        #expect(ExportRules.answer(ready, caller: owner, part: -1, now: now) == .noSuchPart(parts: 3))
        // Expired: not found, before and after the sweep, whoever asks.
        #expect(ExportRules.answer(ready, caller: owner, part: 0, now: now.addingTimeInterval(60)) == .notFound)
        #expect(ExportRules.answer(ready, caller: "b", part: 0, now: now.addingTimeInterval(61)) == .notFound)
    }

    @Test func chunksFitTheBudgetEscapedAndConcatenateToTheText() {
        let text =
            #"{"name":"李梅 \"quoted\" a/b\\c","emoji":"👩‍👩‍👧","n":[1,2,3]}"#
            + String(repeating: "x", count: 500)
        for budget in [16, 20, 64, 200, 10_000] {
            let parts = ExportRules.chunk(text, maxBytes: budget)
            #expect(parts.joined() == text)
            for part in parts {
                let escaped = part.unicodeScalars.reduce(0) { total, scalar in
                    switch scalar.value {
                    case 0x22, 0x5C, 0x2F: total + 2
                    case 0..<0x20: total + 6
                    default: total + String(scalar).utf8.count
                    }
                }
                #expect(escaped <= budget || part.count == 1)
            }
        }
        #expect(ExportRules.chunk("", maxBytes: 100) == [""])
        #expect(ExportRules.chunk(text, maxBytes: 10_000).count == 1)
    }

    @Test func thePrivacyPolicyCannotBeWithdrawn() {
        #expect(
            ConsentRules.withdrawal(
                .privacyPolicy, current: nil, bankCardVerifiedAt: nil, registeredAt: now, now: now,
                policy: policy.verification) == nil)
    }

    @Test func biometricAndIDNumberWithdrawalsDropAnIDTierToAValidBankCardElseNone() throws {
        let idTier = TierState(tier: .idCard, expiresAt: nil)
        let registered = now.addingTimeInterval(-10 * 86_400)
        let biometric = try #require(
            ConsentRules.withdrawal(
                .biometric, current: idTier, bankCardVerifiedAt: nil, registeredAt: registered, now: now,
                policy: policy.verification))
        #expect(biometric.deleteLiveness && !biometric.deleteIDNumbers)
        #expect(biometric.tier == TierState(tier: .none, expiresAt: registered.addingTimeInterval(30 * 86_400)))

        let cardAt = now.addingTimeInterval(-100 * 86_400)
        let idNumber = try #require(
            ConsentRules.withdrawal(
                .idNumber, current: idTier, bankCardVerifiedAt: cardAt, registeredAt: registered, now: now,
                policy: policy.verification))
        #expect(idNumber.deleteIDNumbers && !idNumber.deleteLiveness)
        #expect(idNumber.tier == TierState(tier: .bankCard, expiresAt: cardAt.addingTimeInterval(365 * 86_400)))

        // A lapsed bank card does not count; a long-registered account falls to a lapsed none.
        let old = now.addingTimeInterval(-400 * 86_400)
        let lapsed = ConsentRules.fallbackTier(
            bankCardVerifiedAt: old, registeredAt: old, now: now, policy: policy.verification)
        #expect(lapsed.tier == .none && !lapsed.isValid(at: now))
    }

    @Test func withdrawalsThatTouchNoTierLeaveItAlone() throws {
        let card = TierState(tier: .bankCard, expiresAt: now.addingTimeInterval(86_400))
        for kind in [ConsentKind.biometric, .idNumber, .deviceIdentifiers] {
            let outcome = try #require(
                ConsentRules.withdrawal(
                    kind, current: card, bankCardVerifiedAt: now, registeredAt: now, now: now,
                    policy: policy.verification))
            #expect(outcome.tier == nil)
        }
        let device = try #require(
            ConsentRules.withdrawal(
                .deviceIdentifiers, current: nil, bankCardVerifiedAt: nil, registeredAt: now, now: now,
                policy: policy.verification))
        #expect(device == ConsentWithdrawal(stripDeviceIdentifiers: true))
    }

    @Test func anIDVerificationNeedsBothConsents() {
        #expect(ConsentRules.missingForIDCard(withdrawn: []).isEmpty)
        #expect(ConsentRules.missingForIDCard(withdrawn: [.biometric, .deviceIdentifiers]) == [.biometric])
        #expect(ConsentRules.missingForIDCard(withdrawn: [.idNumber, .biometric]) == [.idNumber, .biometric])
    }
}
