import Foundation
import Platform

/// The revoke code of `deregistration.send_revoke_code` and `deregistration.revoke`. Whether a
/// presented code is accepted is the shared one-time-code rule (`OneTimeCode.verdict`).
public enum RevokeCodeRules {
    /// The exclusive start of the per-phone window at `now`: requests at or before it no longer count.
    public static func windowStart(now: Date, policy: Policy) -> Date {
        SlidingWindow.start(policy.deregistration.revokeCodeWindow, endingAt: now)
    }

    /// Whether a phone may request another code at `now`, given the times of its earlier requests
    /// (counted whether or not the phone is known, so the answer does not tell them apart).
    public static func mayRequestCode(earlierRequests: [Date], now: Date, policy: Policy) -> Bool {
        SlidingWindow.count(earlierRequests, in: policy.deregistration.revokeCodeWindow, endingAt: now)
            < policy.deregistration.revokeCodesPerPhonePerWindow
    }

    /// When a code sent at `sentAt` expires (`sms.validity` later).
    public static func expiry(sentAt: Date, policy: Policy) -> Date {
        sentAt.addingTimeInterval(policy.sms.validity.timeInterval)
    }

    /// The keyed hash under which a revoke code is stored, bound to its request and purpose.
    public static func codeHash(_ code: String, requestID: String, key: [UInt8]) -> [UInt8] {
        Sodium.hmacSHA256(key: key, message: Array("revoke:\(requestID):\(code)".utf8))
    }
}
