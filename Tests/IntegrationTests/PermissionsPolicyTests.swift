import Contract
import Foundation
import Messaging
import Testing
import TestSupport

/// Time-driven entitlement rules on a private permissions instance whose days last 5 seconds.
@Suite(.enabled(if: TestStack.enabled))
struct PermissionsPolicyTests {
    static let policy = """
        {"permissions": {"dayLength": "5s", "stageOneLastDay": 0, "stageTwoLastDay": 1000, "sweepInterval": "200ms",
                         "sensitiveMinActiveDays": 1, "sensitiveMinLogins": 1, "stageTwoExternalAddsPerDay": 3}}
        """

    @Test func stagesAdvanceWithoutMessagesAndQuotasResetDaily() async throws {
        try await ServiceProcess.run(.permissions, policy: Self.policy) { _, client in
            let permissions = PermissionsClient(client: client)
            let account = try await permissions.account(tier: "bank_card")
            try await permissions.logins(account, daysAgo: [0])
            #expect(try await permissions.check(account, "contact.external.add").reason == "stage")

            // Day 1 starts 5 s after registration: the sweep reports the new grants unprompted.
            let changed = try await client.event(on: "permissions.events", timeout: .seconds(20)) {
                $0.type == "permissions.changed" && $0.subject == account
                    && "\($0.data["after"] ?? .null)".contains("contact.external.add")
            }
            #expect(changed.causationid?.hasPrefix("task:permissions.sweep:") == true)
            #expect(!"\(changed.data["before"] ?? .null)".contains("contact.external.add"))

            // Three adds a day: start right after a day boundary, use them up, wait for the next day.
            // The four checks must fall into one 5-second day; on a loaded machine they may not, and
            // then the next day starts afresh (at most three tries).
            let dayLength = 5.0
            var answers: [(allowed: Bool, reason: String, limits: JSONValue)] = []
            for _ in 0..<3 {
                let now = Date().timeIntervalSince1970 + 8 * 3600
                try await Task.sleep(
                    for: .milliseconds(Int((dayLength - now.truncatingRemainder(dividingBy: dayLength)) * 1000) + 50))
                let dayStarted = Date()
                answers = []
                for _ in 0..<4 { answers.append(try await permissions.check(account, "contact.external.add")) }
                if Date().timeIntervalSince(dayStarted) < dayLength - 0.1 { break }
            }
            for (add, left) in zip(answers, [2, 1, 0]) {
                #expect(add.allowed && add.limits["remainingToday"] == .int(Int64(left)))
            }
            #expect(answers.last?.reason == "quota")
            try await Task.sleep(for: .seconds(5))
            #expect(try await permissions.check(account, "contact.external.add").allowed)
        }
    }
}
