import Foundation
import Platform
import Testing

@testable import IdentityCore

@Suite struct VerificationRulesTests {
    let policy = Policy().verification
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    // MARK: Luhn

    @Test(arguments: ["4111111111111111", "4111 1111 1111 1111", "5500-0055-5555-5559", "6212262201234567891"])
    func validCardNumbersPass(_ number: String) {
        #expect(VerificationRules.normalizedCardNumber(number)?.allSatisfy(\.isNumber) == true)
    }

    @Test(arguments: [
        "4111111111111112", "6222020200112345678", "411111111111", "41111111111111111111", "4111a11111111111",
        "", "０４１１１１１１１１１１１１１１",
    ])
    func invalidCardNumbersFail(_ number: String) {
        #expect(VerificationRules.normalizedCardNumber(number) == nil)
    }

    @Test func luhnOfTheTextbookExample() {
        #expect(VerificationRules.luhnValid("79927398713"))
        #expect(!VerificationRules.luhnValid("79927398710"))
        #expect(VerificationRules.last4("4111111111111111") == "1111")
    }

    // MARK: resident ID

    @Test(arguments: ["11010519491231002X", "11010519491231002x", "310104198812120017"])
    func validResidentIDsPass(_ number: String) {
        #expect(VerificationRules.normalizedResidentID(number) == number.uppercased())
    }

    @Test(arguments: [
        "110105194912310021",  // wrong check character
        "11010519491231002",  // 17 characters
        "1101051949123100201",  // 19 characters
        "11010519491331002X",  // month 13 (checksum fixed below would still fail the date)
        "A1010519491231002X",  // letter in the body
        "110105190002290010",  // 1900 was not a leap year
        "440524188001010014",  // born before 1900
    ])
    func invalidResidentIDsFail(_ number: String) {
        #expect(VerificationRules.normalizedResidentID(number) == nil)
    }

    @Test func theCheckCharacterFollowsGB11643() {
        #expect(VerificationRules.residentIDCheckCharacter("11010519491231002") == "X")
        #expect(VerificationRules.residentIDCheckCharacter("44052418800101001") == "4")
        #expect(VerificationRules.residentIDCheckCharacter("4405241880010100") == nil)
        // A valid date with a correct check character passes; the same date on 29 Feb 2000 too.
        let body = "11010120000229123"
        let check = try! #require(VerificationRules.residentIDCheckCharacter(body))
        #expect(VerificationRules.normalizedResidentID(body + String(check)) != nil)
    }

    // MARK: tiers

    @Test func tiersExpireAsThePolicySays() {
        #expect(
            VerificationRules.expiry(of: .none, verifiedAt: now, policy: policy) == now.addingTimeInterval(30 * 86_400))
        #expect(
            VerificationRules.expiry(of: .bankCard, verifiedAt: now, policy: policy)
                == now.addingTimeInterval(365 * 86_400))
        #expect(VerificationRules.expiry(of: .idCard, verifiedAt: now, policy: policy) == nil)
    }

    @Test func aStrongerTierInForceIsKept() {
        let idCard = TierState(tier: .idCard, expiresAt: nil)
        #expect(VerificationRules.tier(after: .bankCard, current: idCard, now: now, policy: policy) == idCard)
        let none = TierState(tier: .none, expiresAt: now.addingTimeInterval(10))
        let card = VerificationRules.tier(after: .bankCard, current: none, now: now, policy: policy)
        #expect(card.tier == .bankCard && card.expiresAt == now.addingTimeInterval(365 * 86_400))
        // The same tier is renewed from now.
        let old = TierState(tier: .bankCard, expiresAt: now.addingTimeInterval(5))
        #expect(
            VerificationRules.tier(after: .bankCard, current: old, now: now, policy: policy).expiresAt
                == now.addingTimeInterval(365 * 86_400))
        #expect(VerificationRules.tier(after: .idCard, current: old, now: now, policy: policy) == idCard)
    }

    @Test func anExpiredStrongerTierDoesNotCount() {
        let expired = TierState(tier: .idCard, expiresAt: now.addingTimeInterval(-1))
        #expect(VerificationRules.tier(after: .bankCard, current: expired, now: now, policy: policy).tier == .bankCard)
    }

    @Test func onlyAnExplicitLivenessPassCounts() {
        #expect(VerificationRules.livenessPassed(true))
        #expect(!VerificationRules.livenessPassed(false))
        #expect(!VerificationRules.livenessPassed(nil))
    }
}

@Suite struct PIIProtectionTests {
    let pii = PIIProtection(piiKey: Sodium.randomBytes(32), hashKey: Sodium.randomBytes(32))

    @Test func sealedNumbersOpenOnlyForTheirRow() throws {
        let number = Array("11010519491231002X".utf8)
        let sealed = pii.seal(number, method: "id_card", accountID: "a", rowID: "r")
        #expect(sealed.first == (Sodium.aes256GCMAvailable ? PIIProtection.aes256GCM : PIIProtection.xChaCha20Poly1305))
        #expect(!String(decoding: sealed, as: UTF8.self).contains("11010519491231002X"))
        #expect(pii.open(sealed, method: "id_card", accountID: "a", rowID: "r") == number)
        #expect(pii.open(sealed, method: "id_card", accountID: "b", rowID: "r") == nil)
        #expect(pii.open(sealed, method: "bank_card", accountID: "a", rowID: "r") == nil)
        let other = PIIProtection(piiKey: Sodium.randomBytes(32), hashKey: pii.hashKey)
        #expect(other.open(sealed, method: "id_card", accountID: "a", rowID: "r") == nil)
        // Random nonces: the same number seals differently each time.
        #expect(pii.seal(number, method: "id_card", accountID: "a", rowID: "r") != sealed)
    }

    @Test func bothFormatsStayReadable() {
        let plaintext = Array("4111111111111111".utf8)
        let associated = PIIProtection.associatedData(method: "bank_card", accountID: "a", rowID: "r")
        let chacha =
            [PIIProtection.xChaCha20Poly1305] + Sodium.seal(plaintext, key: pii.piiKey, associatedData: associated)
        #expect(pii.open(chacha, method: "bank_card", accountID: "a", rowID: "r") == plaintext)
        if let aes = Sodium.sealAES256GCM(plaintext, key: pii.piiKey, associatedData: associated) {
            #expect(aes.count == 12 + plaintext.count + 16)
            #expect(Sodium.openAES256GCM(aes, key: pii.piiKey, associatedData: associated) == plaintext)
            var tampered = aes
            tampered[20] ^= 1
            #expect(Sodium.openAES256GCM(tampered, key: pii.piiKey, associatedData: associated) == nil)
        }
    }

    @Test func lookUpHashesAreKeyedAndStable() {
        let a = pii.lookupHash(method: "id_card", number: "11010519491231002X")
        #expect(a == pii.lookupHash(method: "id_card", number: "11010519491231002X"))
        #expect(a != pii.lookupHash(method: "bank_card", number: "11010519491231002X"))
        let other = PIIProtection(piiKey: pii.piiKey, hashKey: Sodium.randomBytes(32))
        #expect(a != other.lookupHash(method: "id_card", number: "11010519491231002X"))
    }
}
