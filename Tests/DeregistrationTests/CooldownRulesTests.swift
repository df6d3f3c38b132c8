import Foundation
import Platform
import Testing

@testable import DeregistrationCore

@Suite struct CooldownRulesTests {
    let policy = Policy()
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let day: TimeInterval = 86_400

    @Test func theCooldownEndsFourteenDaysAfterTheRequest() {
        #expect(CooldownRules.end(requestedAt: now, policy: policy) == now + 14 * day)
        var short = policy
        short.deregistration.cooldown = .seconds(3)
        #expect(CooldownRules.end(requestedAt: now, policy: short) == now + 3)
    }

    @Test func aCoolingRequestIsRevocableUntilJustBeforeItsEnd() {
        let ends = CooldownRules.end(requestedAt: now, policy: policy)
        #expect(CooldownRules.revokeWindow(state: .cooling, cooldownEndsAt: ends, now: now) == .open)
        #expect(CooldownRules.revokeWindow(state: .cooling, cooldownEndsAt: ends, now: ends - 0.001) == .open)
        #expect(CooldownRules.revokeWindow(state: .cooling, cooldownEndsAt: ends, now: ends) == .over)
        #expect(CooldownRules.revokeWindow(state: .cooling, cooldownEndsAt: ends, now: ends + 1) == .over)
    }

    @Test func aClosedRequestIsNeverRevocable() {
        let ends = CooldownRules.end(requestedAt: now, policy: policy)
        #expect(CooldownRules.revokeWindow(state: .finalized, cooldownEndsAt: ends, now: now) == .over)
        #expect(CooldownRules.revokeWindow(state: .revoked, cooldownEndsAt: ends, now: now) == .over)
    }

    @Test func finalizationBlocksThePhoneAndKeepsContacts() {
        let finalization = CooldownRules.finalization(at: now, policy: policy)
        #expect(finalization.deregisteredAt == now)
        #expect(finalization.phoneBlockedUntil == now + 31 * day)
        #expect(finalization.contactsRetainedUntil == now + 30 * day)
    }

    @Test func finalizationDurationsComeFromThePolicy() {
        var custom = policy
        custom.registration.phoneReuseCooldown = .hours(2)
        custom.deregistration.contactRetention = .minutes(5)
        #expect(
            CooldownRules.finalization(at: now, policy: custom)
                == Finalization(deregisteredAt: now, phoneBlockedUntil: now + 7200, contactsRetainedUntil: now + 300))
    }
}
