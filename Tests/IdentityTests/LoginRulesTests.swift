import Foundation
import Platform
import Testing

@testable import IdentityCore

@Suite struct LoginRulesTests {
    let policy = Policy().login
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let clean = LoginCounters(failures: 0, windowStart: nil, lockouts: 0, lockedUntil: nil)

    /// `count` wrong passwords at `now` from `start`.
    func fail(_ count: Int, from start: LoginCounters) -> LoginFailureOutcome? {
        var counters = start
        var outcome: LoginFailureOutcome?
        for _ in 0..<count {
            outcome = LoginRules.afterFailure(counters, now: now, policy: policy)
            switch outcome {
            case .counted(let next)?, .locked(let next, _, _)?: counters = next
            case nil: break
            }
        }
        return outcome
    }

    @Test func failuresBelowTheLimitAreCounted() {
        let outcome = fail(policy.maxFailures - 1, from: clean)
        #expect(
            outcome
                == .counted(
                    LoginCounters(failures: policy.maxFailures - 1, windowStart: now, lockouts: 0, lockedUntil: nil)))
    }

    @Test func theLimitLocksForTheBaseLockout() {
        let base = policy.baseLockout.timeInterval
        let until = now.addingTimeInterval(base)
        #expect(
            fail(policy.maxFailures, from: clean)
                == .locked(
                    LoginCounters(failures: 0, windowStart: nil, lockouts: 1, lockedUntil: until), until: until,
                    retryAfterSeconds: Int(base)))
    }

    @Test func eachFurtherLockDoublesUpToTheMaximum() {
        let base = policy.baseLockout.timeInterval
        #expect(LoginRules.lockoutDuration(number: 1, policy: policy) == base)
        #expect(LoginRules.lockoutDuration(number: 2, policy: policy) == 2 * base)
        #expect(LoginRules.lockoutDuration(number: 3, policy: policy) == 4 * base)
        #expect(LoginRules.lockoutDuration(number: 60, policy: policy) == policy.maxLockout.timeInterval)
        let second = LoginCounters(failures: policy.maxFailures - 1, windowStart: now, lockouts: 1, lockedUntil: nil)
        guard case .locked(let counters, _, let retryAfter) = LoginRules.afterFailure(second, now: now, policy: policy)
        else {
            Issue.record("the second lock did not lock")
            return
        }
        #expect(counters.lockouts == 2)
        #expect(retryAfter == Int(2 * base))
    }

    @Test func aWindowExactlyAtItsLengthStillCounts() {
        let window = policy.failureWindow.timeInterval
        let atEdge = LoginCounters(
            failures: policy.maxFailures - 1, windowStart: now.addingTimeInterval(-window), lockouts: 0,
            lockedUntil: nil)
        if case .locked = LoginRules.afterFailure(atEdge, now: now, policy: policy) {
        } else {
            Issue.record("a failure exactly at the window's end did not lock")
        }
        let past = LoginCounters(
            failures: policy.maxFailures - 1, windowStart: now.addingTimeInterval(-window).addingTimeInterval(-0.001),
            lockouts: 0, lockedUntil: nil)
        #expect(
            LoginRules.afterFailure(past, now: now, policy: policy)
                == .counted(LoginCounters(failures: 1, windowStart: now, lockouts: 0, lockedUntil: nil)))
    }

    @Test func aLockHoldsUntilItsEndRoundedUp() {
        #expect(LoginRules.retryAfterSeconds(lockedUntil: nil, now: now) == nil)
        #expect(LoginRules.retryAfterSeconds(lockedUntil: now, now: now) == nil)
        #expect(LoginRules.retryAfterSeconds(lockedUntil: now.addingTimeInterval(0.2), now: now) == 1)
        #expect(LoginRules.retryAfterSeconds(lockedUntil: now.addingTimeInterval(60), now: now) == 60)
    }

    @Test func successClosesTheWindowAndKeepsTheLockCount() {
        let counters = LoginCounters(failures: 3, windowStart: now, lockouts: 2, lockedUntil: now)
        #expect(
            LoginRules.afterSuccess(counters)
                == LoginCounters(failures: 0, windowStart: nil, lockouts: 2, lockedUntil: now))
    }
}

@Suite struct LoginDeviceStepTests {
    let policy = Policy().devices

    func print(_ tag: String, count: Int = 20, overrides: [String: String] = [:]) -> [String: String] {
        var print: [String: String] = [:]
        for i in 0..<count { print["attr\(i)"] = "\(tag)-\(i)" }
        return print.merging(overrides) { $1 }
    }

    @Test func aLockComesBeforeAFreeze() {
        #expect(LoginRules.standing(locked: true, status: "frozen") == .locked)
        #expect(LoginRules.standing(locked: false, status: "frozen") == .frozen)
        #expect(LoginRules.standing(locked: false, status: "active") == .active)
    }

    @Test func aRecognisedBoundDeviceSignsIn() {
        let phone = print("a")
        let step = LoginRules.deviceStep(
            presented: phone, bound: [("d1", print("b")), ("d2", phone)], hasSecurityQuestions: false,
            policy: policy)
        #expect(step == .signIn(deviceID: "d2"))
    }

    @Test func aNewDeviceIsChallengedWithTheQuestionsWhenTheAccountHasThem() {
        let bound = [("d1", print("b"))]
        #expect(
            LoginRules.deviceStep(presented: print("n"), bound: bound, hasSecurityQuestions: false, policy: policy)
                == .verify(methods: ["original_device_scan"], mismatch: nil))
        #expect(
            LoginRules.deviceStep(presented: print("n"), bound: bound, hasSecurityQuestions: true, policy: policy)
                == .verify(methods: ["original_device_scan", "security_questions"], mismatch: nil))
    }

    @Test func aBoundDevicesHardwareWithAChangedFingerprintIsAMismatch() {
        let bound = [("d1", print("b", overrides: ["imeiHash": "imei-1"]))]
        let changed = print("n", overrides: ["imeiHash": "imei-1"])
        #expect(
            LoginRules.deviceStep(presented: changed, bound: bound, hasSecurityQuestions: false, policy: policy)
                == .verify(methods: ["original_device_scan"], mismatch: "d1"))
    }

    @Test func aFullAccountRefusesANewDevice() {
        let bound = (0..<policy.maxDevicesPerAccount).map { ("d\($0)", print("b\($0)")) }
        #expect(
            LoginRules.deviceStep(presented: print("n"), bound: bound, hasSecurityQuestions: true, policy: policy)
                == .deviceLimit(mismatch: nil))
        #expect(
            LoginRules.deviceStep(
                presented: print("n"), bound: Array(bound.dropLast()), hasSecurityQuestions: false, policy: policy)
                == .verify(methods: ["original_device_scan"], mismatch: nil))
    }
}
