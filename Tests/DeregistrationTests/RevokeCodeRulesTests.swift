import Foundation
import Platform
import Testing

@testable import DeregistrationCore

@Suite struct RevokeCodeRulesTests {
    let policy = Policy()
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    var window: TimeInterval { policy.deregistration.revokeCodeWindow.timeInterval }
    var limit: Int { policy.deregistration.revokeCodesPerPhonePerWindow }

    /// `count` earlier requests, a minute apart, the latest a minute ago.
    func earlier(_ count: Int) -> [Date] {
        (0..<count).map { now.addingTimeInterval(-60 * Double($0 + 1)) }
    }

    @Test func theWindowStartsAnHourBack() {
        #expect(RevokeCodeRules.windowStart(now: now, policy: policy) == now - 3600)
    }

    @Test func aPhoneMayRequestUpToTheLimitInTheWindow() {
        #expect(RevokeCodeRules.mayRequestCode(earlierRequests: [], now: now, policy: policy))
        #expect(RevokeCodeRules.mayRequestCode(earlierRequests: earlier(limit - 1), now: now, policy: policy))
        #expect(!RevokeCodeRules.mayRequestCode(earlierRequests: earlier(limit), now: now, policy: policy))
    }

    @Test func aRequestExactlyAtTheWindowEdgeNoLongerCounts() {
        let atEdge = now.addingTimeInterval(-window)
        #expect(
            RevokeCodeRules.mayRequestCode(earlierRequests: earlier(limit - 1) + [atEdge], now: now, policy: policy))
        #expect(
            !RevokeCodeRules.mayRequestCode(
                earlierRequests: earlier(limit - 1) + [atEdge + 0.001], now: now, policy: policy))
    }

    @Test func theLimitComesFromThePolicy() {
        var strict = policy
        strict.deregistration.revokeCodesPerPhonePerWindow = 1
        #expect(RevokeCodeRules.mayRequestCode(earlierRequests: [], now: now, policy: strict))
        #expect(!RevokeCodeRules.mayRequestCode(earlierRequests: earlier(1), now: now, policy: strict))
    }

    @Test func aCodeIsValidForTheSMSValidity() {
        #expect(RevokeCodeRules.expiry(sentAt: now, policy: policy) == now + 300)
    }

    @Test func theCodeHashIsBoundToItsRequestAndKey() {
        let key = [UInt8](repeating: 7, count: 32)
        let hash = RevokeCodeRules.codeHash("123456", requestID: "r1", key: key)
        #expect(hash.count == 32)
        #expect(RevokeCodeRules.codeHash("123456", requestID: "r1", key: key) == hash)
        #expect(RevokeCodeRules.codeHash("123457", requestID: "r1", key: key) != hash)
        #expect(RevokeCodeRules.codeHash("123456", requestID: "r2", key: key) != hash)
        #expect(RevokeCodeRules.codeHash("123456", requestID: "r1", key: [UInt8](repeating: 8, count: 32)) != hash)
    }
}
