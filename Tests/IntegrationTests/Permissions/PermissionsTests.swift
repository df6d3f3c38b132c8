import Contract
import Foundation
import Messaging
import Postgres
import TestSupport
import Testing

/// Entitlements through `permissions.commands`, with identity's events published as identity would.
@Suite(.enabled(if: TestStack.enabled))
struct PermissionsTests {
    let permissions = PermissionsClient()
    let pool = PostgresPool(configuration: TestStack.postgres(searchPath: ["permissions"]))
    let day = PermissionsClient.day
    let bigFile: [String: JSONValue] = ["bytes": .int(11 * 1024 * 1024)]

    /// An account of `age` with the sensitive criteria met (20 login days) and a tier.
    func seasoned(age: TimeInterval, tier: String = "bank_card") async throws -> String {
        let account = try await permissions.account(age: age, tier: tier)
        try await permissions.logins(account, daysAgo: Array(1...20))
        try await permissions.waitForState(account, schemaPool: pool, "successful_logins", equals: 20)
        return account
    }

    @Test func stageBoundaries() async throws {
        // Day 7 is still stage 1; day 8 is stage 2; day 30 is stage 2; day 31 is stage 3.
        let day7 = try await seasoned(age: 7 * day + 3600)
        let day8 = try await seasoned(age: 8 * day + 3600)
        let day30 = try await seasoned(age: 30 * day + 3600, tier: "id_card")
        let day31 = try await seasoned(age: 31 * day + 3600, tier: "id_card")
        #expect(
            try await permissions.check(day7, "file.send", bigFile) == (
                false, "stage", .object(["maxFileBytes": .int(10_485_760)])
            ))
        #expect(try await permissions.check(day7, "file.send", ["bytes": .int(1000)]).allowed)
        #expect(try await permissions.check(day7, "contact.external.add").reason == "stage")
        #expect(try await permissions.check(day7, "payment.transfer", ["amountCNY": .int(1)]).reason == "stage")
        #expect(try await permissions.check(day8, "file.send", bigFile).allowed)
        let add = try await permissions.check(day8, "contact.external.add")
        #expect(
            add.allowed && add.limits["maxExternalContactsPerDay"] == .int(50)
                && add.limits["remainingToday"] == .int(49))
        #expect(try await permissions.check(day8, "payment.transfer", ["amountCNY": .int(100)]).allowed)
        #expect(
            try await permissions.check(day30, "enterprise.app.use", ["enterpriseId": .string("x")]).reason == "stage")
        #expect(
            try await permissions.check(day30, "contact.external.add").limits["maxExternalContactsPerDay"] == .int(50))
        // Day 31: no daily add cap; enterprise apps need a membership (enterprise policy).
        let uncapped = try await permissions.check(day31, "contact.external.add")
        #expect(uncapped.allowed && uncapped.limits["maxExternalContactsPerDay"] == nil)
        #expect(
            try await permissions.check(day31, "enterprise.app.use", ["enterpriseId": .string("x")]).reason
                == "enterprise_policy")
    }

    @Test func checksCarryTheStagesRiskLevel() async throws {
        for (age, level) in [(0.0, "high"), (8 * day + 3600, "medium"), (31 * day + 3600, "low")] {
            let account = try await permissions.account(age: age, tier: "id_card")
            let reply = try await permissions.client.request(
                RegistrarClient.command(
                    type: "permissions.check",
                    data: .object(["accountId": .string(account), "action": .string("chat.internal")])),
                topic: "permissions.commands")
            #expect(reply.data["result"]?["riskLevel"] == .string(level), "age \(age): \(reply.data)")
        }
    }

    @Test func eachSensitiveCriterionMissingInTurn() async throws {
        // 18 login days and today's allowed checks: 19 active days, one short.
        let few = try await permissions.account(age: 10 * day, tier: "bank_card")
        try await permissions.logins(few, daysAgo: Array(1...18))
        try await permissions.waitForState(few, schemaPool: pool, "successful_logins", equals: 18)
        #expect(try await permissions.check(few, "contact.external.add").reason == "sensitive_criteria")
        #expect(
            try await permissions.check(few, "payment.transfer", ["amountCNY": .int(1)]).reason == "sensitive_criteria")
        // 20 days (the allowed chat check today adds the 20th) but only 2 logins.
        let shy = try await permissions.account(age: 25 * day, tier: "bank_card")
        try await permissions.logins(shy, daysAgo: [1, 2])
        try await permissions.waitForState(shy, schemaPool: pool, "successful_logins", equals: 2)
        for offset in 3...19 {
            try await pool.query(
                """
                INSERT INTO active_days (account_id, day)
                SELECT account_id, (SELECT max(day) FROM active_days WHERE account_id = \(shy)::uuid) - \(offset)
                FROM accounts WHERE account_id = \(shy)::uuid
                """)
        }
        #expect(try await permissions.check(shy, "chat.internal").allowed)
        #expect(try await permissions.check(shy, "contact.external.add").reason == "sensitive_criteria")
        // Everything met, then a fingerprint mismatch: denied for 30 days.
        let changed = try await seasoned(age: 25 * day)
        #expect(try await permissions.check(changed, "contact.external.add").allowed)
        try await permissions.publish(.identity, "device.fingerprint_mismatch", accountId: changed)
        try await permissions.waitForState(changed, schemaPool: pool, "(last_mismatch_at IS NOT NULL)::int", equals: 1)
        #expect(try await permissions.check(changed, "contact.external.add").reason == "sensitive_criteria")
        // A mismatch 31 days ago no longer counts.
        let old = try await seasoned(age: 60 * day)
        try await permissions.publish(
            .identity, "device.fingerprint_mismatch", accountId: old, time: Date().addingTimeInterval(-31 * day))
        try await permissions.waitForState(old, schemaPool: pool, "(last_mismatch_at IS NOT NULL)::int", equals: 1)
        #expect(try await permissions.check(old, "contact.external.add").allowed)
    }

    @Test func tierCaps() async throws {
        let none = try await permissions.account(age: 10 * day)
        #expect(try await permissions.check(none, "group.create", ["size": .int(50)]).allowed)
        #expect(
            try await permissions.check(none, "group.create", ["size": .int(51)]) == (
                false, "tier", .object(["maxGroupSize": .int(50)])
            ))
        #expect(try await permissions.check(none, "payment.transfer", ["amountCNY": .int(1)]).reason == "tier")
        #expect(try await permissions.check(none, "moments.post").allowed)

        let card = try await seasoned(age: 10 * day)
        #expect(try await permissions.check(card, "group.create", ["size": .int(200)]).allowed)
        #expect(try await permissions.check(card, "group.create", ["size": .int(201)]).reason == "tier")
        let first = try await permissions.check(card, "payment.transfer", ["amountCNY": .int(3000)])
        #expect(first.allowed && first.limits["remainingToday"] == .int(2000))
        #expect(try await permissions.check(card, "payment.transfer", ["amountCNY": .int(2500)]).reason == "quota")
        #expect(try await permissions.check(card, "payment.transfer", ["amountCNY": .int(2000)]).allowed)

        let id = try await seasoned(age: 10 * day, tier: "id_card")
        #expect(try await permissions.check(id, "group.create", ["size": .int(5000)]).allowed)
        #expect(try await permissions.check(id, "payment.transfer", ["amountCNY": .int(50_000)]).allowed)

        // The none tier lapses 30 days after registration: chat only.
        let lapsed = try await permissions.account(age: 31 * day)
        #expect(try await permissions.check(lapsed, "chat.internal").allowed)
        #expect(try await permissions.check(lapsed, "moments.post").reason == "tier")
        // A rooted device's account never pays.
        let rooted = try await permissions.account(age: 10 * day, restricted: ["payment"], tier: "id_card")
        try await permissions.logins(rooted, daysAgo: Array(1...20))
        try await permissions.waitForState(rooted, schemaPool: pool, "successful_logins", equals: 20)
        #expect(try await permissions.check(rooted, "payment.transfer", ["amountCNY": .int(1)]).reason == "restricted")
        #expect(try await permissions.check(rooted, "contact.external.add").allowed)
    }

    @Test func frozenAccountsGetNothingAndUnknownOnesAreNamed() async throws {
        let account = try await seasoned(age: 40 * day, tier: "id_card")
        try await permissions.publish(.deregistration, "account.frozen", accountId: account)
        try await permissions.waitForState(account, schemaPool: pool, "frozen::int", equals: 1)
        for action in ["chat.internal", "moments.post", "contact.external.add"] {
            #expect(try await permissions.check(account, action) == (false, "frozen", .object([:])))
        }
        try await permissions.publish(.deregistration, "account.unfrozen", accountId: account)
        try await permissions.waitForState(account, schemaPool: pool, "frozen::int", equals: 0)
        #expect(try await permissions.check(account, "moments.post").allowed)
        #expect(try await permissions.check(UUID().uuidString, "chat.internal").reason == "unknown_account")
    }

    @Test func concurrentChecksNeverTakeMoreThanTheQuota() async throws {
        let account = try await seasoned(age: 10 * day)
        let client = permissions.client
        let envelopes = (0..<100).map { _ in
            RegistrarClient.command(
                type: "permissions.check",
                data: .object([
                    "accountId": .string(account), "action": .string("contact.external.add"), "context": .object([:]),
                ]))
        }
        // All 100 are on the topic before the first is answered.
        for envelope in envelopes {
            try await client.sendRaw(
                Array(try JSONEncoder().encode(JSONValue.object(envelope))), topic: "permissions.commands", key: account
            )
        }
        var allowed = 0
        for envelope in envelopes {
            let reply = try await client.reply(to: envelope["id"]!.stringValue!)
            if reply.data["result"]?["allowed"] == .bool(true) { allowed += 1 }
        }
        #expect(allowed == 50)
        #expect(try await permissions.check(account, "contact.external.add").reason == "quota")
    }

    @Test func verificationChangesGrantsAndSaysSo() async throws {
        let account = try await permissions.account(age: 10 * day)
        try await permissions.logins(account, daysAgo: Array(1...20))
        try await permissions.publish(
            .identity, "account.verified", accountId: account, data: ["tier": .string("bank_card")])
        let changed = try await permissions.client.event(on: "permissions.events") { event in
            event.type == "permissions.changed" && event.subject == account
                && event.data["after"]?.stringValue == nil
                && (event.data["after"].map { "\($0)" } ?? "").contains("payment.transfer")
        }
        #expect(!("\(changed.data["before"] ?? .null)").contains("payment.transfer"))
    }
}
