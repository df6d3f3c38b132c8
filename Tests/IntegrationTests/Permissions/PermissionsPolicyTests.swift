import Contract
import Foundation
import Messaging
import TestSupport
import Testing

/// Time-driven entitlement rules on a private permissions instance whose clock the test moves.
@Suite(.enabled(if: TestStack.enabled))
struct PermissionsPolicyTests {
    static let policy = """
        {"permissions": {"stageOneLastDay": 0, "stageTwoLastDay": 1000, "sweepInterval": "200ms",
                         "sensitiveMinActiveDays": 1, "sensitiveMinLogins": 1, "stageTwoExternalAddsPerDay": 3}}
        """

    @Test func stagesAdvanceWithoutMessagesAndQuotasResetDaily() async throws {
        try await ServiceProcess.run(.permissions, policy: Self.policy) { instance, client in
            let permissions = PermissionsClient(client: client)
            let account = try await permissions.account(tier: "bank_card")
            try await permissions.logins(account, daysAgo: [0])
            #expect(try await permissions.check(account, "contact.external.add").reason == "stage")

            // Day 1 starts a day after registration: the sweep reports the new grants unprompted.
            try instance.advanceClock(by: .seconds(86_400))
            let changed = try await client.event(on: "permissions.events", timeout: .seconds(20)) {
                $0.type == "permissions.changed" && $0.subject == account
                    && "\($0.data["after"] ?? .null)".contains("contact.external.add")
            }
            #expect(changed.causationid?.hasPrefix("task:permissions.sweep:") == true)
            #expect(!"\(changed.data["before"] ?? .null)".contains("contact.external.add"))

            // Three adds a day: move to the start of a (Shanghai) day, use them up, move to the next day.
            let shanghai = instance.now.timeIntervalSince1970 + 8 * 3600
            try instance.advanceClock(by: .seconds(86_400 - Int(shanghai.truncatingRemainder(dividingBy: 86_400)) + 1))
            var answers: [(allowed: Bool, reason: String, limits: JSONValue)] = []
            for _ in 0..<4 { answers.append(try await permissions.check(account, "contact.external.add")) }
            for (add, left) in zip(answers, [2, 1, 0]) {
                #expect(add.allowed && add.limits["remainingToday"] == .int(Int64(left)))
            }
            #expect(answers.last?.reason == "quota")
            try instance.advanceClock(by: .seconds(86_400))
            #expect(try await permissions.check(account, "contact.external.add").allowed)
        }
    }
}
