import Foundation
import Testing

@testable import Platform

@Suite struct PolicyTests {
    @Test func shippedPolicyFileHoldsTheContractDefaults() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../deploy/policy.json"
        ).standardized.path
        let shipped = try #require(FileManager.default.contents(atPath: path))
        #expect(String(decoding: shipped, as: UTF8.self) == (try Policy.defaultsJSON()))
        #expect(try Policy.load(path: path) == Policy())
    }

    @Test func contractNumbersAreTheDefaults() {
        let policy = Policy()
        #expect(policy.deregistration.cooldown == .days(14))
        #expect(policy.registration.phoneReuseCooldown == .days(31))
        #expect(policy.sms.validity == .minutes(5))
        #expect(policy.sms.maxAttempts == 5)
        #expect(policy.risk.stepUp["proxy_ip"] == Policy.StepUpShare(medium: 0.75, high: 0.25))
        #expect(policy.binding.friendListValidity == .days(90))
        #expect(policy.runtime.maxMessageBytes == 65_536)
    }

    @Test func runtimeWindowsOutlastEveryRedeliveryHorizon() throws {
        let policy = Policy()
        #expect(policy.retentionShortfalls.isEmpty, "\(policy.retentionShortfalls)")
        // The command window covers a replay from the dead-letter topic (7 d + a 1 h segment + 5 min).
        #expect(policy.topics.deadLetter.horizon.milliseconds <= policy.runtime.commandInboxRetention.milliseconds)
        #expect(policy.topics.events.horizon.milliseconds <= policy.runtime.eventInboxRetention.milliseconds)
        #expect(policy.topics.events.horizon.milliseconds <= policy.runtime.deadLetterRetention.milliseconds)
        let short = try Policy.merged(overrides: Data(#"{"runtime": {"commandInboxRetention": "1d"}}"#.utf8))
        #expect(short.retentionShortfalls.count == 2)  // shorter than the commands' and dead letters' horizons
        #expect(throws: PolicyError.self) {
            try Policy.merged(overrides: Data(#"{"runtime": {"pruneBatchSize": 0}}"#.utf8))
        }
    }

    @Test func overridesMergeKeyByKey() throws {
        let policy = try Policy.merged(
            overrides: Data(#"{"deregistration": {"cooldown": "2s"}, "sms": {"maxAttempts": 3}}"#.utf8))
        #expect(policy.deregistration.cooldown == .seconds(2))
        #expect(policy.deregistration.deviceLockAt == 4)
        #expect(policy.sms.maxAttempts == 3)
        #expect(policy.sms.validity == .minutes(5))
    }

    @Test func unknownKeysAndBadValuesAreErrors() {
        #expect(throws: PolicyError.self) { try Policy.merged(overrides: Data(#"{"sms": {"maxAtempts": 3}}"#.utf8)) }
        #expect(throws: PolicyError.self) { try Policy.merged(overrides: Data(#"{"sms": {"validity": "soon"}}"#.utf8)) }
        #expect(throws: PolicyError.self) { try Policy.merged(overrides: Data(#"{"sms": 5}"#.utf8)) }
        #expect(throws: PolicyError.self) { try Policy.merged(overrides: Data("not json".utf8)) }
        #expect(throws: PolicyError.self) {
            try Policy.merged(overrides: Data(#"{"runtime": {"consumeBatchSize": 65}}"#.utf8))
        }
        #expect(throws: PolicyError.self) {
            try Policy.merged(overrides: Data(#"{"runtime": {"consumeBatchSize": 0}}"#.utf8))
        }
    }

    @Test(arguments: [
        ("300ms", 300), ("2s", 2000), ("5m", 300_000), ("24h", 86_400_000), ("14d", 1_209_600_000), ("1.5s", 1500),
    ])
    func durationsParse(text: String, milliseconds: Int64) throws {
        #expect(try #require(PolicyDuration(text: text)).milliseconds == milliseconds)
    }

    @Test func durationsPrintTheirLargestExactUnit() {
        #expect(PolicyDuration.days(14).description == "14d")
        #expect(PolicyDuration(milliseconds: 90_000).description == "90s")
        #expect(PolicyDuration(milliseconds: 1500).description == "1500ms")
        #expect(PolicyDuration(text: "x") == nil)
        #expect(PolicyDuration(text: "-1s") == nil)
    }
}
