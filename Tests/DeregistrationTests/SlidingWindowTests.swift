import Foundation
import Platform
import Testing

@testable import DeregistrationCore

@Suite struct SlidingWindowTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func aTimeCountsWhileStrictlyAfterTheStart() {
        let start = SlidingWindow.start(.hours(1), endingAt: now)
        #expect(start == now - 3600)
        #expect(SlidingWindow.count([start], in: .hours(1), endingAt: now) == 0)
        #expect(SlidingWindow.count([start + 0.001, now], in: .hours(1), endingAt: now) == 2)
        #expect(SlidingWindow.count([start - 1, start + 1], in: .hours(1), endingAt: now) == 1)
        #expect(SlidingWindow.count([], in: .hours(1), endingAt: now) == 0)
    }
}
