import Foundation
import Platform

/// The sliding windows of the deregistration rules (requests per device, revoke codes per phone):
/// a time counts while it is strictly after `now - length`, so one exactly `length` old has left.
public enum SlidingWindow {
    /// The exclusive start of the window of `length` ending at `now`.
    public static func start(_ length: PolicyDuration, endingAt now: Date) -> Date {
        now.addingTimeInterval(-length.timeInterval)
    }

    /// How many of `times` fall in the window of `length` ending at `now`.
    public static func count(_ times: [Date], in length: PolicyDuration, endingAt now: Date) -> Int {
        let start = start(length, endingAt: now)
        return times.count { $0 > start }
    }
}
