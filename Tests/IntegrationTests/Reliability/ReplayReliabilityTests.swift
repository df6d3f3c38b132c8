import Contract
import Foundation
import Messaging
import Postgres
import TestSupport
import Testing

/// Redelivery on a large scale (issue 8, RELIABILITY-NOTES R10/R11): a command topic replayed from
/// offset 0, and events published again (same id) at new offsets, change nothing, because the
/// inbox keys on the message id, not on the offset.
@Suite(.enabled(if: TestStack.enabled), .serialized)
struct ReplayReliabilityTests {
    static let policy = """
        {"permissions": {"stageOneLastDay": 0, "sensitiveMinActiveDays": 0, "sensitiveMinLogins": 0}}
        """

    /// What permissions holds about `accounts`: quota use, login counts and tiers, as one digest.
    static func digest(_ pool: PostgresPool, _ accounts: [String]) async throws -> String {
        try await pool.query(
            """
            SELECT md5(coalesce(string_agg(line, ',' ORDER BY line), '')) AS d FROM (
                SELECT a.account_id || ':' || a.successful_logins || ':' || a.tier AS line FROM accounts a
                WHERE a.account_id = ANY(\(accounts)::uuid[])
                UNION ALL
                SELECT q.account_id || ':' || q.kind || ':' || q.day || ':' || q.used FROM quota_usage q
                WHERE q.account_id = ANY(\(accounts)::uuid[])
            ) lines
            """
        ).first?.decode("d", as: String.self) ?? ""
    }

    @Test func aCommandTopicReplayedFromOffsetZeroChangesNothing() async throws {
        try await ServiceProcess.run(.permissions, policy: Self.policy) { instance, client in
            let permissions = PermissionsClient(client: client)
            var accounts: [String] = []
            for _ in 0..<10 {
                accounts.append(try await permissions.account(age: 2 * PermissionsClient.day, tier: "bank_card"))
            }
            for round in 0..<30 {
                for account in accounts {
                    _ = try await permissions.check(account, "payment.transfer", ["amountCNY": .int(Int64(round + 1))])
                }
            }
            let pool = instance.pool()
            let before = try await Self.digest(pool, accounts)

            // Every message of the command topic, from offset 0 (all of it is there: each was
            // answered), sent again as it was.
            let original = try await client.read(topic: "permissions.commands", timeout: .seconds(8)) { _ in false }
            let payments = original.count(where: { "\($0.event?.data ?? .null)".contains("payment.transfer") })
            #expect(payments == 300)
            for message in original {
                try await client.sendRaw(
                    message.message.value, topic: "permissions.commands",
                    key: message.message.key.map { String(decoding: $0, as: UTF8.self) })
            }
            let ids = Set(original.compactMap { $0.event?.id })
            let replies = try await client.read(topic: "registrar.replies", timeout: .seconds(60)) { read in
                read.count(where: { $0.event?.inreplyto.map(ids.contains) == true }) >= 2 * ids.count
            }.compactMap(\.event).filter { $0.inreplyto.map(ids.contains) == true }
            let answers = Dictionary(grouping: replies, by: { $0.inreplyto! })
            let unanswered = ids.count(where: { (answers[$0]?.count ?? 0) < 2 })
            let contradicting = answers.values.count(where: { list in list.contains { $0.data != list[0].data } })
            let after = try await Self.digest(pool, accounts)
            let passed = before == after && unanswered == 0 && contradicting == 0
            ReliabilityReport.record(
                ReliabilityRow(
                    test: "command topic replayed from offset 0",
                    workload: "\(ids.count) permissions commands (300 quota-consuming checks) sent again",
                    faults: "full replay (same ids, new offsets)", lost: before == after ? 0 : 1,
                    duplicated: contradicting, stalls: unanswered,
                    notes: "state digest \(before == after ? "unchanged" : "CHANGED"); every replay re-answered",
                    passed: passed))
            #expect(before == after, "the replay changed permissions' state")
            #expect(unanswered == 0 && contradicting == 0)
        }
    }

    @Test func theSameEventsPublishedTwiceAtNewOffsetsAreAppliedOnce() async throws {
        try await ServiceProcess.run(.permissions, policy: Self.policy) { instance, client in
            let permissions = PermissionsClient(client: client)
            var accounts: [String] = []
            for _ in 0..<20 { accounts.append(try await permissions.account()) }
            // 1,000 logins: each event raises the account's login count by one.
            var events: [CloudEvent] = []
            for index in 0..<1000 {
                let account = accounts[index % accounts.count]
                events.append(
                    CloudEvent(
                        source: RegistrarService.identity.source, type: "login.succeeded", time: Date(),
                        subject: account, data: .object(["accountId": .string(account)])))
            }
            for event in events {
                try await client.sendRaw(event.encoded(), topic: "identity.events", key: event.subject)
            }
            let pool = instance.pool()
            try await TestStack.eventually("1,000 logins counted", timeout: .seconds(60)) {
                try await pool.query(
                    "SELECT sum(successful_logins)::bigint AS n FROM accounts WHERE account_id = ANY(\(accounts)::uuid[])"
                ).first?.decode("n", as: Int.self) == 1000
            }
            let before = try await Self.digest(pool, accounts)

            // Each event twice more, interleaved, then markers on every partition: once the markers
            // are known, everything before them on their partitions was processed.
            for event in events + events.reversed() {
                try await client.sendRaw(event.encoded(), topic: "identity.events", key: event.subject)
            }
            var markers: [String] = []
            for _ in 0..<30 {
                let marker = UUID().uuidString.lowercased()
                try await permissions.publish(
                    .identity, "account.registered", accountId: marker,
                    data: IdentityClient.registeredEvent())
                markers.append(marker)
            }
            try await TestStack.eventually("the markers are known", timeout: .seconds(60)) {
                try await pool.query(
                    "SELECT count(*)::bigint AS n FROM accounts WHERE account_id = ANY(\(markers)::uuid[])"
                ).first?.decode("n", as: Int.self) == markers.count
            }
            let counted =
                try await pool.query(
                    "SELECT sum(successful_logins)::bigint AS n FROM accounts WHERE account_id = ANY(\(accounts)::uuid[])"
                ).first?.decode("n", as: Int.self) ?? 0
            let after = try await Self.digest(pool, accounts)
            let passed = counted == 1000 && before == after
            ReliabilityReport.record(
                ReliabilityRow(
                    test: "same events at new offsets",
                    workload: "1,000 login.succeeded events, each published 3 times (2,000 redeliveries)",
                    faults: "duplicate publication (same ids, new offsets)", lost: max(0, 1000 - counted),
                    duplicated: max(0, counted - 1000), notes: "logins counted \(counted) of 1,000",
                    passed: passed))
            #expect(counted == 1000)
            #expect(before == after)
        }
    }
}
