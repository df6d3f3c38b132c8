import Foundation
import Platform
import Testing

@testable import DeregistrationCore

@Suite struct ReminderRulesTests {
    let policy = Policy()
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let day: TimeInterval = 86_400

    @Test func theReminderFallsADayBeforeTheEndOncePerRequest() {
        let ends = now + 14 * day
        #expect(CooldownRules.reminderAt(cooldownEndsAt: ends, policy: policy) == ends - day)
        #expect(CooldownRules.reminderHorizon(now: now, policy: policy) == now + day)
        func due(at time: Date, state: RequestState = .cooling, reminded: Date? = nil) -> Bool {
            CooldownRules.reminderDue(
                state: state, cooldownEndsAt: ends, remindedAt: reminded, now: time, policy: policy)
        }
        #expect(!due(at: ends - day - 1))
        #expect(due(at: ends - day))
        #expect(due(at: ends - 1))
        #expect(!due(at: ends), "past the end, the completion says it all")
        #expect(!due(at: ends - 60, reminded: ends - day), "once per request")
        #expect(!due(at: ends - 60, state: .revoked))
    }
}
