import Contract
import Foundation
import Messaging
import Platform
import Postgres
import TestSupport
import Testing

/// Deregistration across the services, on a private stack whose cool-downs last seconds and whose
/// clock the tests move past them.
@Suite(.enabled(if: TestStack.enabled))
struct DeregistrationTests {
    static let policy = """
        {"deregistration": {"cooldown": "60s", "schedulerInterval": "200ms", "contactRetention": "60s"},
         "registration": {"phoneReuseCooldown": "60s"},
         "permissions": {"sweepInterval": "200ms", "dayLength": "1s", "stageOneLastDay": 0, "stageTwoLastDay": 1000000,
                         "sensitiveMinActiveDays": 1, "sensitiveMinLogins": 1}}
        """

    /// Sends a deregistration command, again while the session has not reached the service yet.
    static func send(_ client: RegistrarClient, _ type: String, _ data: [String: JSONValue], session: String? = nil)
        async throws -> IdentityClient.Answer
    {
        try await TestStack.retrying(while: ["UNAUTHENTICATED", "ACCOUNT_NOT_FOUND"]) {
            IdentityClient.Answer(
                event: try await client.request(
                    RegistrarClient.command(type: type, data: .object(data), sessionToken: session),
                    topic: "deregistration.commands"))
        }
    }

    static func request(
        _ client: RegistrarClient, _ account: String, _ session: String, _ fingerprint: [String: String]
    )
        async throws -> IdentityClient.Answer
    {
        try await send(
            client, "deregistration.request",
            ["accountId": .string(account), "deviceFingerprint": .object(fingerprint.mapValues(JSONValue.string))],
            session: session)
    }

    @Test func requestRevokeFinalizeAndRetention() async throws {
        try await ServiceProcess.run(.deregistration, policy: Self.policy, with: [.identity, .permissions, .binding]) {
            instance, client in
            let identity = IdentityClient(client: client)
            let permissions = PermissionsClient(client: client)

            // An account that is a member of an enterprise run by another.
            let phone = IdentityClient.phone()
            let fingerprint = IdentityClient.fingerprint()
            let device = IdentityClient.device(fingerprint: fingerprint)
            let account = try await identity.register(phone: phone, device: device)
            let admin = try await identity.register()
            let operatorToken = try await permissions.addOperator()
            let enterprise = "ent-\(UUID().uuidString.prefix(6))"
            try await TestStack.eventually("enterprise created") {
                try await permissions.send(
                    "enterprise.create",
                    [
                        "enterpriseId": .string(enterprise), "name": .string("E"),
                        "adminAccountId": .string(admin.accountId),
                    ],
                    operatorToken: operatorToken
                ).code == "OK"
            }
            try await TestStack.eventually("member added") {
                try await permissions.send(
                    "enterprise.add_member",
                    ["enterpriseId": .string(enterprise), "accountId": .string(account.accountId)],
                    session: admin.sessionToken
                ).code == "OK"
            }

            // A payment makes a financial record (days last a second here: stage 2 after one).
            try await permissions.publish(
                .identity, "account.verified", accountId: account.accountId, data: ["tier": .string("bank_card")])
            _ = try await identity.login(phone: phone, device: device)
            try await TestStack.eventually("payment allowed") {
                try await permissions.check(account.accountId, "payment.transfer", ["amountCNY": .int(120)]).allowed
            }

            // The admin cannot leave the enterprise without an admin.
            let refused = try await Self.request(
                client, admin.accountId, admin.sessionToken, IdentityClient.fingerprint())
            #expect(refused.code == "ADMIN_TRANSFER_REQUIRED")
            #expect(refused.result["enterpriseIds"] == .array([.string(enterprise)]))
            let stranger = try await Self.request(client, account.accountId, admin.sessionToken, fingerprint)
            #expect(stranger.code == "FORBIDDEN")

            // Request: frozen at once, everywhere.
            let requested = try await Self.request(client, account.accountId, account.sessionToken, fingerprint)
            #expect(requested.code == "OK" && requested.string("cooldownEndsAt") != nil)
            _ = try await client.event(on: "deregistration.events") {
                $0.type == "account.frozen" && $0.subject == account.accountId
            }
            try await TestStack.eventually("login refused while frozen") {
                try await identity.login(phone: phone, device: device).code == "ACCOUNT_FROZEN"
            }
            #expect(try await permissions.check(account.accountId, "chat.internal").reason == "frozen")

            // Revoke with an SMS code to the original phone; unknown phones get the same answer.
            let sent = try await Self.send(client, "deregistration.send_revoke_code", ["phone": .string(phone)])
            let unknown = try await Self.send(
                client, "deregistration.send_revoke_code", ["phone": .string(IdentityClient.phone())])
            #expect(sent.code == "OK" && sent.event.data == unknown.event.data)
            let code = try await identity.smsCode(for: phone, purpose: "revoke")
            let wrong = try await Self.send(
                client, "deregistration.revoke",
                ["phone": .string(phone), "code": .string(code == "000000" ? "111111" : "000000")])
            #expect(wrong.code == "SMS_CODE_INVALID")
            let revoked = try await Self.send(
                client, "deregistration.revoke", ["phone": .string(phone), "code": .string(code)])
            #expect(revoked.code == "OK")
            // Freezing ended every session: the user signs in again.
            var session = ""
            try await TestStack.eventually("login allowed after revoke") {
                let login = try await identity.login(phone: phone, device: device)
                session = login.string("sessionToken") ?? ""
                return login.code == "OK"
            }

            // Request again and let the cool-down run out.
            let again = try await Self.request(client, account.accountId, session, fingerprint)
            #expect(again.code == "OK", "\(again.event.data)")
            try instance.advanceClock(by: .seconds(60))
            let deregistered = try await client.event(on: "deregistration.events", timeout: .seconds(30)) {
                $0.type == "account.deregistered" && $0.subject == account.accountId
            }
            let late = try await Self.send(
                client, "deregistration.revoke", ["phone": .string(phone), "code": .string(code)])
            #expect(late.code == "COOLDOWN_OVER")

            // Personal data goes at once (identity), contacts stay for their retention, then go.
            let identityDB = instance.pool(.identity)
            try await TestStack.eventually("identity purged") {
                try await identityDB.query(
                    "SELECT count(*) AS n FROM devices WHERE account_id = \(account.accountId)::uuid"
                ).first?.decode("n", as: Int.self) == 0
            }
            let profile = try #require(
                try await identityDB.query(
                    "SELECT phone, display_name, password_hash FROM accounts WHERE id = \(account.accountId)::uuid"
                ).first)
            #expect(try profile.decode("phone", as: String.self).isEmpty)
            #expect(try profile.decode("password_hash", as: String.self).isEmpty)
            #expect(
                try await identityDB.query(
                    "SELECT count(*) AS n FROM sessions WHERE account_id = \(account.accountId)::uuid"
                )
                .first?.decode("n", as: Int.self) == 0)
            let permissionsDB = instance.pool(.permissions)
            let members = {
                try await permissionsDB.query(
                    "SELECT count(*) AS n FROM enterprise_members WHERE account_id = \(account.accountId)::uuid"
                ).first?.decode("n", as: Int.self)
            }
            #expect(try await members() == 1, "memberships are kept during their retention")
            // Financial records: archived under a pseudonym, gone from the account.
            try await TestStack.eventually("payments archived") {
                try await permissionsDB.query("SELECT count(*) AS n FROM financial_archive WHERE amount = 120").first?
                    .decode("n", as: Int.self) == 1
            }
            #expect(
                try await permissionsDB.query(
                    "SELECT count(*) AS n FROM quota_usage WHERE account_id = \(account.accountId)::uuid"
                ).first?.decode("n", as: Int.self) == 0)
            #expect(
                try await permissionsDB.query(
                    "SELECT count(*) AS n FROM financial_archive WHERE pseudonym = \(account.accountId)"
                ).first?.decode("n", as: Int.self) == 0, "the archive never names the account")
            // The phone is blocked for its cool-down, then free.
            try await TestStack.eventually("phone blocked") {
                try await identity.start(phone: phone).code == "PHONE_IN_COOLDOWN"
            }
            try instance.advanceClock(by: .seconds(61))
            try await TestStack.eventually("contacts purged") { try await members() == 0 }
            try await TestStack.eventually("phone free again") { try await identity.start(phone: phone).code == "OK" }

            // Every step is audited, without personal data.
            let audit = try await instance.pool(.deregistration).query(
                "SELECT step, detail::text AS detail FROM audit WHERE account_id = \(account.accountId)::uuid ORDER BY id"
            )
            let steps: [String] = try audit.map { try $0.decode("step") }
            #expect(Array(steps.prefix(4)) == ["requested", "revoked", "requested", "finalized"])
            #expect(steps.contains("purged:identity:personal") && steps.contains("purged:permissions:contacts"))
            #expect(!audit.contains { (try? $0.decode("detail", as: String.self).contains(phone)) == true })
            #expect(deregistered.data["contactsRetainedUntil"] != nil)
            // Every service confirmed its purge: the account is purged, once.
            let purged = try await client.event(on: "deregistration.events", timeout: .seconds(30)) {
                $0.type == "account.purged" && $0.subject == account.accountId
            }
            #expect(purged.data["accountId"] == .string(account.accountId))
        }
    }

    @Test func theFourthDeregistrationFromADeviceLocksIt() async throws {
        try await ServiceProcess.run(.deregistration, policy: Self.policy, with: [.identity]) { _, client in
            let identity = IdentityClient(client: client)
            let shared = IdentityClient.fingerprint()
            var answers: [String] = []
            for _ in 0..<5 {
                let account = try await identity.register()
                answers.append(
                    try await Self.request(client, account.accountId, account.sessionToken, shared).code ?? "")
            }
            #expect(answers == ["OK", "OK", "OK", "DEVICE_LOCKED", "DEVICE_LOCKED"])
            _ = try await client.event(on: "deregistration.events") { $0.type == "device.locked" }
        }
    }

    @Test func aFinalizerKilledMidwayResumesWithoutLosingOrDoubling() async throws {
        try await ServiceProcess.run(.deregistration, policy: Self.policy, with: [.identity]) { instance, client in
            let identity = IdentityClient(client: client)
            var accounts: [String] = []
            for _ in 0..<6 {
                let account = try await identity.register()
                #expect(
                    try await Self.request(
                        client, account.accountId, account.sessionToken, IdentityClient.fingerprint()
                    ).code == "OK")
                accounts.append(account.accountId)
            }
            // Kill the service as the cool-downs end (the clock moved past them, the finalizer's next
            // tick is at most 200 ms away), then start it again.
            try instance.advanceClock(by: .seconds(60))
            try await Task.sleep(for: .milliseconds(200))
            let killed = await instance.stop(signal: SIGKILL)
            #expect(killed?.bySignal == true)
            try instance.start()
            let events = try await client.read(topic: "deregistration.events", timeout: .seconds(40)) { read in
                Set(read.compactMap { $0.event?.type == "account.deregistered" ? $0.event?.subject : nil }).count
                    >= accounts.count
            }.compactMap(\.event).filter { $0.type == "account.deregistered" }
            // At-least-once on the wire (a relay crash may re-send), exactly once as an event id.
            let published = accounts.map { account in Set(events.filter { $0.subject == account }.map(\.id)).count }
            for (account, count) in zip(accounts, published) { #expect(count == 1, "\(account)") }
            let finalized = try await instance.pool(.deregistration).query(
                "SELECT account_id::text AS a, count(*) AS n FROM audit WHERE step = 'finalized' GROUP BY account_id")
            let audits = try finalized.map { try $0.decode("n", as: Int.self) }
            #expect(finalized.count == accounts.count)
            #expect(audits.allSatisfy { $0 == 1 })
            ReliabilityReport.record(
                ReliabilityRow(
                    test: "cool-down finalizer killed",
                    workload: "6 deregistrations whose 10 s cool-downs end together",
                    faults: "kill -9 as the cool-downs end",
                    lost: published.count(where: { $0 == 0 }) + max(0, accounts.count - finalized.count),
                    duplicated: published.reduce(0) { $0 + max(0, $1 - 1) } + audits.reduce(0) { $0 + max(0, $1 - 1) },
                    notes: "account.deregistered counted by event id; one finalized audit row each",
                    passed: published.allSatisfy { $0 == 1 } && finalized.count == accounts.count
                        && audits.allSatisfy { $0 == 1 }))
        }
    }
}
