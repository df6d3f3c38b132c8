import Foundation
import Platform
import Testing

@testable import IdentityCore

@Suite struct RegistrationRulesTests {
    let policy = Policy()
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func facts(
        accountsOnDevice: Int = 0, phoneHeld: Bool = false, phoneBlockedUntil: Date? = nil, phone: Int = 0,
        device: Int = 0, ip: Int = 0
    ) -> StartFacts {
        StartFacts(
            accountsOnDevice: accountsOnDevice, phoneHeld: phoneHeld, phoneBlockedUntil: phoneBlockedUntil,
            startsByPhone: phone, startsByDevice: device, startsByIP: ip)
    }

    func admit(_ facts: StartFacts) -> StartAdmission {
        RegistrationRules.admitStart(facts, now: now, policy: policy.registration)
    }

    @Test func aCleanStartIsAdmitted() {
        #expect(admit(facts()) == .admitted)
    }

    @Test func theDeviceAccountLimitIsReachedAtTheLimit() {
        let limit = policy.registration.maxAccountsPerDevice
        #expect(admit(facts(accountsOnDevice: limit - 1)) == .admitted)
        #expect(admit(facts(accountsOnDevice: limit)) == .deviceAccountLimit)
        #expect(RegistrationRules.deviceIsFull(accountsOnDevice: limit, policy: policy.registration))
        #expect(!RegistrationRules.deviceIsFull(accountsOnDevice: limit - 1, policy: policy.registration))
    }

    @Test func aHeldPhoneIsInUse() {
        #expect(admit(facts(phoneHeld: true)) == .phoneInUse)
    }

    @Test func theReuseBlockEndsAtItsInstant() {
        let until = now.addingTimeInterval(1)
        #expect(admit(facts(phoneBlockedUntil: until)) == .phoneInCooldown(availableAt: until))
        #expect(admit(facts(phoneBlockedUntil: now)) == .admitted)
        #expect(admit(facts(phoneBlockedUntil: now.addingTimeInterval(-1))) == .admitted)
    }

    @Test func eachStartLimitRefusesAtTheLimit() {
        let rules = policy.registration
        #expect(admit(facts(phone: rules.startsPerPhonePerWindow - 1)) == .admitted)
        #expect(admit(facts(phone: rules.startsPerPhonePerWindow)) == .rateLimited)
        #expect(admit(facts(device: rules.startsPerDevicePerWindow - 1)) == .admitted)
        #expect(admit(facts(device: rules.startsPerDevicePerWindow)) == .rateLimited)
        #expect(admit(facts(ip: rules.startsPerIPPerWindow - 1)) == .admitted)
        #expect(admit(facts(ip: rules.startsPerIPPerWindow)) == .rateLimited)
    }

    @Test func theRulesApplyInTheContractsOrder() {
        let blocked = now.addingTimeInterval(60)
        let all = facts(
            accountsOnDevice: 3, phoneHeld: true, phoneBlockedUntil: blocked, phone: 5, device: 10, ip: 20)
        #expect(admit(all) == .deviceAccountLimit)
        var rest = all
        rest.accountsOnDevice = 0
        #expect(admit(rest) == .phoneInUse)
        rest.phoneHeld = false
        #expect(admit(rest) == .phoneInCooldown(availableAt: blocked))
        rest.phoneBlockedUntil = nil
        #expect(admit(rest) == .rateLimited)
    }

    @Test func theRateWindowEndsAtNow() {
        let start = RegistrationRules.rateWindowStart(now: now, policy: policy.registration)
        #expect(now.timeIntervalSince(start) == policy.registration.rateWindow.timeInterval)
    }

    @Test func basicPassesWithoutEvidence() {
        #expect(
            RegistrationRules.stepUp(level: .basic, behaviour: nil, livenessPassed: nil, policy: policy.risk) == .passed
        )
    }

    @Test func mediumNeedsBothScoresAtTheMinimum() {
        let minimum = policy.risk.behaviorMinScore
        func verdict(_ typing: Double, _ swipe: Double) -> StepUpVerdict {
            RegistrationRules.stepUp(
                level: .medium, behaviour: BehaviourScores(typingRhythm: typing, swipe: swipe), livenessPassed: true,
                policy: policy.risk)
        }
        #expect(verdict(minimum, minimum) == .passed)
        #expect(verdict(minimum.nextDown, minimum) == .stepUpRequired)
        #expect(verdict(minimum, minimum.nextDown) == .stepUpRequired)
        #expect(
            RegistrationRules.stepUp(level: .medium, behaviour: nil, livenessPassed: true, policy: policy.risk)
                == .stepUpRequired)
    }

    @Test func highNeedsAPassedLiveness() {
        let scores = BehaviourScores(typingRhythm: 1, swipe: 1)
        #expect(
            RegistrationRules.stepUp(level: .high, behaviour: scores, livenessPassed: true, policy: policy.risk)
                == .passed)
        #expect(
            RegistrationRules.stepUp(level: .high, behaviour: scores, livenessPassed: false, policy: policy.risk)
                == .livenessFailed)
        #expect(
            RegistrationRules.stepUp(level: .high, behaviour: scores, livenessPassed: nil, policy: policy.risk)
                == .livenessFailed)
    }
}
