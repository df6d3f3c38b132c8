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

    @Test func theStatusFollowsTheLatestRequest() {
        let ends = CooldownRules.end(requestedAt: now, policy: policy)
        #expect(CooldownRules.status(of: nil, now: now) == .none)
        let cooling = RequestSummary(state: .cooling, requestedAt: now, cooldownEndsAt: ends, closedAt: nil)
        #expect(
            CooldownRules.status(of: cooling, now: now + day)
                == .coolingDown(requestedAt: now, cooldownEndsAt: ends, revocable: true))
        // At the end, until the finalizer closes it: still cooling, no longer revocable.
        #expect(
            CooldownRules.status(of: cooling, now: ends)
                == .coolingDown(requestedAt: now, cooldownEndsAt: ends, revocable: false))
        let revoked = RequestSummary(state: .revoked, requestedAt: now, cooldownEndsAt: ends, closedAt: now + 3 * day)
        #expect(
            CooldownRules.status(of: revoked, now: ends + day) == .revoked(requestedAt: now, revokedAt: now + 3 * day))
        let finalized = RequestSummary(state: .finalized, requestedAt: now, cooldownEndsAt: ends, closedAt: ends + 1)
        #expect(
            CooldownRules.status(of: finalized, now: ends + day) == .done(requestedAt: now, deregisteredAt: ends + 1))
        var unclosed = finalized
        unclosed.closedAt = nil
        #expect(CooldownRules.status(of: unclosed, now: ends + day) == .done(requestedAt: now, deregisteredAt: ends))
    }
}
