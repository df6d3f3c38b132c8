import Foundation
import Platform
import Testing

@testable import IdentityCore

@Suite struct SessionRulesTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func tokensLastThePolicysTimes() {
        let policy = Policy().login
        let expiries = SessionRules.expiries(now: now, policy: policy)
        #expect(expiries.access == now.addingTimeInterval(3_600))
        #expect(expiries.refresh == now.addingTimeInterval(30 * 86_400))
    }

    @Test func aCurrentTokenRotatesUntilItExpiresOrTheSessionEnds() {
        let later = now.addingTimeInterval(60)
        #expect(SessionRules.refresh(.current(expiresAt: later, revoked: false), now: now) == .rotate)
        #expect(SessionRules.refresh(.current(expiresAt: now, revoked: false), now: now) == .refuse)
        #expect(SessionRules.refresh(.current(expiresAt: later, revoked: true), now: now) == .refuse)
    }

    @Test func aRotatedTokenEndsItsSessionOnce() {
        #expect(SessionRules.refresh(.rotated(sessionRevoked: false), now: now) == .revokeFamily)
        #expect(SessionRules.refresh(.rotated(sessionRevoked: true), now: now) == .refuse)
        #expect(SessionRules.refresh(.unknown, now: now) == .refuse)
    }

    @Test func revocationTargets() {
        let id = UUID().uuidString
        #expect(SessionRules.revocation("all") == .all)
        #expect(SessionRules.revocation("all_others") == .allOthers)
        #expect(SessionRules.revocation(id) == .one(sessionId: id.lowercased()))
        #expect(SessionRules.revocation("everything") == nil)
        #expect(SessionRules.revocation("") == nil)
    }
}

@Suite struct RecoveryRulesTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let policy = Policy()

    @Test func resetStartsStopAtEachLimit() {
        let recovery = policy.recovery
        let under = ResetStartFacts(
            startsByPhone: recovery.resetStartsPerPhonePerWindow - 1,
            startsByDevice: recovery.resetStartsPerDevicePerWindow - 1,
            startsByIP: recovery.resetStartsPerIPPerWindow - 1)
        #expect(RecoveryRules.admitResetStart(under, policy: recovery))
        var phone = under
        phone.startsByPhone += 1
        #expect(!RecoveryRules.admitResetStart(phone, policy: recovery))
        var device = under
        device.startsByDevice += 1
        #expect(!RecoveryRules.admitResetStart(device, policy: recovery))
        var ip = under
        ip.startsByIP += 1
        #expect(!RecoveryRules.admitResetStart(ip, policy: recovery))
        #expect(RecoveryRules.rateWindowStart(now: now, policy: recovery) == now.addingTimeInterval(-3_600))
    }

    @Test func onlyAnActiveUnlockedAccountIsSentACode() {
        #expect(RecoveryRules.sendsResetCode(status: "active", locked: false))
        #expect(!RecoveryRules.sendsResetCode(status: "active", locked: true))
        #expect(!RecoveryRules.sendsResetCode(status: "frozen", locked: false))
        #expect(!RecoveryRules.sendsResetCode(status: nil, locked: false))
    }

    @Test func aResetClearsTheWindowAndTheLockButKeepsTheLockCount() {
        let counters = LoginCounters(
            failures: 3, windowStart: now, lockouts: 2, lockedUntil: now.addingTimeInterval(60))
        let cleared = RecoveryRules.countersAfterReset(counters)
        #expect(cleared == LoginCounters(failures: 0, windowStart: nil, lockouts: 2, lockedUntil: nil))
    }

    @Test func theNewPhoneIsCheckedHeldThenBlocked() {
        let until = now.addingTimeInterval(86_400)
        #expect(RecoveryRules.newPhoneStanding(held: true, blockedUntil: until, now: now) == .inUse)
        #expect(
            RecoveryRules.newPhoneStanding(held: false, blockedUntil: until, now: now)
                == .inCooldown(availableAt: until))
        #expect(RecoveryRules.newPhoneStanding(held: false, blockedUntil: now, now: now) == .free)
        #expect(RecoveryRules.newPhoneStanding(held: false, blockedUntil: nil, now: now) == .free)
    }

    @Test func theOldPhoneIsBlockedForTheReuseCooldownUnlessThePolicySaysNot() {
        var recovery = policy.recovery
        #expect(
            RecoveryRules.oldPhoneBlockedUntil(now: now, recovery: recovery, registration: policy.registration)
                == now.addingTimeInterval(31 * 86_400))
        recovery.blockOldPhone = false
        #expect(
            RecoveryRules.oldPhoneBlockedUntil(now: now, recovery: recovery, registration: policy.registration) == nil)
    }

    @Test func phoneChangeStartsStopAtTheLimit() {
        let limit = policy.recovery.phoneChangeStartsPerAccountPerWindow
        #expect(RecoveryRules.admitPhoneChangeStart(startsInWindow: limit - 1, policy: policy.recovery))
        #expect(!RecoveryRules.admitPhoneChangeStart(startsInWindow: limit, policy: policy.recovery))
    }
}

@Suite struct ProfileRulesTests {
    @Test func displayNamesAreTrimmedAndBounded() {
        #expect(ProfileRules.displayName("  Li Mei ") == "Li Mei")
        #expect(ProfileRules.displayName("   ") == nil)
        #expect(ProfileRules.displayName(String(repeating: "名", count: 64)) != nil)
        #expect(ProfileRules.displayName(String(repeating: "名", count: 65)) == nil)
    }

    @Test func avatarReferencesHaveNoSpaces() {
        #expect(ProfileRules.avatarRefIsValid("avatars/1234.png"))
        #expect(!ProfileRules.avatarRefIsValid(""))
        #expect(!ProfileRules.avatarRefIsValid("a b"))
        #expect(!ProfileRules.avatarRefIsValid("a\u{0}b"))
        #expect(!ProfileRules.avatarRefIsValid(String(repeating: "x", count: 257)))
    }

    @Test func securityQuestionsAreThreeAndNoneEmpty() {
        let three = [("q1", "a1"), ("q2", "a2"), ("q3", "a3")]
        #expect(ProfileRules.securityQuestionsAreValid(three))
        #expect(!ProfileRules.securityQuestionsAreValid(Array(three.prefix(2))))
        #expect(!ProfileRules.securityQuestionsAreValid([("q1", "a1"), ("q2", ""), ("q3", "a3")]))
    }
}
