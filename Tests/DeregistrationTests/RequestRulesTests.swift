import Contract
import Foundation
import Platform
import Testing

@testable import DeregistrationCore

@Suite struct RequestRulesTests {
    let policy = Policy()
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    var window: TimeInterval { policy.deregistration.deviceWindow.timeInterval }

    /// `count` earlier requests, an hour apart, the latest an hour ago.
    func earlier(_ count: Int) -> [Date] {
        (0..<count).map { now.addingTimeInterval(-3600 * Double($0 + 1)) }
    }

    /// `filled` non-empty attributes (the first `longest` characters long) and `empty` empty ones.
    func fingerprint(_ filled: Int, empty: Int = 0, longest: Int = 8) -> [String: String] {
        var print: [String: String] = [:]
        for i in 0..<filled { print["a\(i)"] = String(repeating: "x", count: i == 0 ? longest : 8) }
        for i in 0..<empty { print["e\(i)"] = "" }
        return print
    }

    // MARK: fingerprint

    func usable(_ fingerprint: [String: String], policy: Policy) -> Bool {
        DeviceRecognition.isUsable(
            fingerprint, minAttributes: policy.devices.minFingerprintAttributes,
            maxValueLength: policy.devices.maxFingerprintValueLength)
    }

    @Test func aFingerprintNeedsEnoughNonEmptyValues() {
        let least = policy.devices.minFingerprintAttributes
        #expect(usable(fingerprint(least), policy: policy))
        #expect(!usable(fingerprint(least - 1, empty: 5), policy: policy))
        #expect(!usable([:], policy: policy))
    }

    @Test func aFingerprintValueMayBeAsLongAsThePolicyAllows() {
        let least = policy.devices.minFingerprintAttributes
        let longest = policy.devices.maxFingerprintValueLength
        #expect(usable(fingerprint(least, longest: longest), policy: policy))
        #expect(!usable(fingerprint(least, longest: longest + 1), policy: policy))
    }

    // MARK: the account

    @Test func anAccountWithoutOpenRequestOrEnterprisesMayGoOn() {
        #expect(RequestRules.accountRefusal(openCooldownEndsAt: nil, adminOf: []) == nil)
    }

    @Test func anEnterpriseAdminMustTransferFirst() {
        #expect(
            RequestRules.accountRefusal(openCooldownEndsAt: nil, adminOf: ["ent-a", "ent-b"])
                == .adminTransferRequired(enterpriseIds: ["ent-a", "ent-b"]))
    }

    @Test func anOpenCooldownIsAnsweredBeforeAdminRights() {
        let ends = now.addingTimeInterval(86_400)
        #expect(RequestRules.accountRefusal(openCooldownEndsAt: ends, adminOf: []) == .pending(cooldownEndsAt: ends))
        #expect(
            RequestRules.accountRefusal(openCooldownEndsAt: ends, adminOf: ["ent-a"]) == .pending(cooldownEndsAt: ends))
    }

    // MARK: the device

    @Test func aLockedDeviceIsRefusedWhateverItsHistory() {
        #expect(RequestRules.deviceDecision(locked: true, earlierRequests: [], now: now, policy: policy) == .locked)
        #expect(
            RequestRules.deviceDecision(locked: true, earlierRequests: earlier(9), now: now, policy: policy) == .locked)
    }

    @Test func theThirdRequestIsAcceptedAndTheFourthLocksTheDevice() {
        let lockAt = policy.deregistration.deviceLockAt
        let accepted = DeviceDecision.accept(cooldownEndsAt: CooldownRules.end(requestedAt: now, policy: policy))
        for count in 0..<(lockAt - 1) {
            #expect(
                RequestRules.deviceDecision(locked: false, earlierRequests: earlier(count), now: now, policy: policy)
                    == accepted)
        }
        #expect(
            RequestRules.deviceDecision(locked: false, earlierRequests: earlier(lockAt - 1), now: now, policy: policy)
                == .lock)
        #expect(
            RequestRules.deviceDecision(locked: false, earlierRequests: earlier(lockAt + 2), now: now, policy: policy)
                == .lock)
    }

    @Test func aRequestExactlyAtTheWindowEdgeNoLongerCounts() {
        let lockAt = policy.deregistration.deviceLockAt
        let recent = earlier(lockAt - 2)
        let atEdge = now.addingTimeInterval(-window)
        let justInside = atEdge.addingTimeInterval(0.001)
        #expect(
            RequestRules.deviceDecision(locked: false, earlierRequests: recent + [atEdge], now: now, policy: policy)
                == .accept(cooldownEndsAt: CooldownRules.end(requestedAt: now, policy: policy)))
        #expect(
            RequestRules.deviceDecision(locked: false, earlierRequests: recent + [justInside], now: now, policy: policy)
                == .lock)
    }

    @Test func theLimitAndWindowComeFromThePolicy() {
        var strict = policy
        strict.deregistration.deviceLockAt = 2
        strict.deregistration.deviceWindow = .minutes(10)
        let tenMinutesAgo = now.addingTimeInterval(-600)
        #expect(
            RequestRules.deviceDecision(locked: false, earlierRequests: [tenMinutesAgo], now: now, policy: strict)
                == .accept(cooldownEndsAt: CooldownRules.end(requestedAt: now, policy: strict)))
        #expect(
            RequestRules.deviceDecision(
                locked: false, earlierRequests: [tenMinutesAgo.addingTimeInterval(1)], now: now, policy: strict)
                == .lock)
    }
}
