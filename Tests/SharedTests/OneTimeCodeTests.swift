import Foundation
import Testing

@testable import Contract

@Suite struct OneTimeCodeTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func verdict(matches: Bool, attempts: Int, expiresIn seconds: TimeInterval? = 60) -> OneTimeCodeVerdict {
        OneTimeCode.verdict(
            matches: matches, attempts: attempts, maxAttempts: 5,
            expiresAt: seconds.map { now.addingTimeInterval($0) }, now: now)
    }

    @Test func theRightCodeWithinItsValidityIsAccepted() {
        #expect(verdict(matches: true, attempts: 0) == .accepted)
        #expect(verdict(matches: true, attempts: 4) == .accepted)
    }

    @Test func wrongTriesCountDownToZeroThenLock() {
        #expect(verdict(matches: false, attempts: 0) == .wrong(attemptsLeft: 4))
        #expect(verdict(matches: false, attempts: 4) == .wrong(attemptsLeft: 0))
        // A spent budget locks whatever the guess, even the right one.
        #expect(verdict(matches: false, attempts: 5) == .locked)
        #expect(verdict(matches: true, attempts: 5) == .locked)
    }

    @Test func aCodeExpiresAtItsInstantAndLockingComesFirst() {
        #expect(verdict(matches: true, attempts: 0, expiresIn: 0.001) == .accepted)
        #expect(verdict(matches: true, attempts: 0, expiresIn: 0) == .expired)
        #expect(verdict(matches: false, attempts: 1, expiresIn: -1) == .expired)
        #expect(verdict(matches: true, attempts: 5, expiresIn: -1) == .locked)
    }
}
