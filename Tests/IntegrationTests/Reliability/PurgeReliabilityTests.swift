import Contract
import Directory
import Foundation
import Messaging
import Platform
import Postgres
import TestSupport
import Testing

/// The purge at deregistration reaches the runtime's copies (issue 17): an account with distinctive
/// values is used in every service (reads whose replies hold its masked phone and ids), deregistered,
/// and its cool-down, contact retention and the sent-outbox window run out on the instance's moved
/// clock; then every table of every schema is scanned for what identified the person. Only the rows
/// `docs/decisions.md` keeps on purpose may still hold any of it ("What the purge leaves").
@Suite(.enabled(if: TestStack.enabled))
struct PurgeReliabilityTests {
    /// Seconds-long cool-down and retentions, a one-minute sent-outbox window and a fast pruner;
    /// kept replies keep their default window, so what removes them here is the purge.
    static let policy = """
        {"deregistration": {"cooldown": "10s", "schedulerInterval": "200ms", "contactRetention": "30s"},
         "registration": {"phoneReuseCooldown": "60s"},
         "permissions": {"sweepInterval": "200ms"},
         "runtime": {"sentOutboxRetention": "1m", "pruneInterval": "200ms"}}
        """

    static let auditTrail = "security events and operator actions: ids and action names only, append-only"

    /// What is expected to hold a value after the purge, by `schema.table`, and why.
    static let kept: [String: [String: String]] = [
        "account id": [
            "identity.accounts": "the account row: id and status `deregistered`, every personal field blanked",
            "identity.registrations": "the finished registration's row, blanked, pointing at the account",
            "permissions.accounts": "the tombstone that refuses every check of a deregistered account",
            "binding.accounts": "the tombstone that refuses links of a deregistered account",
            "deregistration.requests": "the request and its outcome (the audit of the deregistration)",
            "deregistration.audit": "every step, without personal data, kept for good",
            "deregistration.purges": "which service confirmed which purge",
            "deregistration.accounts": "the read model that answers send_revoke_code uniformly",
            "identity.audit_trail": Self.auditTrail, "permissions.audit_trail": Self.auditTrail,
            "binding.audit_trail": Self.auditTrail, "deregistration.audit_trail": Self.auditTrail,
        ],
        "phone": ["identity.phone_blocks": "the reuse block (contract: 31 days)"],
        "phone hash": ["deregistration.accounts": "keyed hash only, with the account id above"],
    ]

    static func count(_ pool: PostgresPool, _ query: PostgresQuery) async throws -> Int {
        try await pool.query(query).first?.decode("n", as: Int.self) ?? -1
    }

    @Test func afterThePurgeAndThePrunerNoTableHoldsTheAccountBeyondWhatIsKeptOnPurpose() async throws {
        try await ServiceProcess.run(
            .deregistration, policy: Self.policy, with: [.identity, .permissions, .binding]
        ) { instance, client in
            let identity = IdentityClient(client: client)
            let binding = BindingClient(client: client)
            let phone = IdentityClient.phone()
            let masked = try #require(PhoneNumber.parse(phone)).masked
            let fingerprint = IdentityClient.fingerprint()
            let device = IdentityClient.device(fingerprint: fingerprint)
            let idNumber = IdentityClient.residentID()
            let hashKey = try #require(TestStack.configuration.hashKey)
            let phoneHash = PhoneHash.of(phone, key: hashKey)

            // A life that leaves replies in every service's inbox: registration, ID verification,
            // login, the owner's reads, a check, a binding, the deregistration's status.
            let account = try await identity.register(phone: phone, device: device)
            #expect(try await identity.verifyID(idNumber, session: account.sessionToken).code == "OK")
            let login = try await identity.login(phone: phone, device: device)
            let session = try #require(login.string("sessionToken"))
            let accountGet = RegistrarClient.command(type: "account.get", data: .emptyObject, sessionToken: session)
            let got = IdentityClient.Answer(event: try await client.request(accountGet, topic: "identity.commands"))
            #expect(got.string("phone") == masked, "\(got.event.data)")
            #expect(try await identity.send("devices.list", [:], session: session).code == "OK")
            #expect(try await identity.send("sessions.list", [:], session: session).code == "OK")
            // Permissions learns of the account from identity's event: checked until it does.
            var checkEnvelope: [String: JSONValue] = [:]
            var allowed = false
            for _ in 0..<150 where !allowed {
                checkEnvelope = RegistrarClient.command(
                    type: "permissions.check",
                    data: .object(["accountId": .string(account.accountId), "action": .string("chat.internal")]))
                let answer = IdentityClient.Answer(
                    event: try await client.request(checkEnvelope, topic: "permissions.commands"))
                allowed = answer.result["allowed"] == .bool(true)
                if !allowed { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(allowed)
            #expect(
                try await binding.link(account.accountId, "wechat", scopes: ["login"], session: session).code == "OK")
            #expect(try await binding.list(session: session).code == "OK")
            let status = try await DeregistrationTests.send(
                client, "deregistration.status", ["accountId": .string(account.accountId)], session: session)
            #expect(status.code == "OK")

            // The scans see what they scan: before the purge the replies are filed under the account
            // in every service, and identity's kept reply of account.get holds the masked phone.
            var filedBefore: [String: Int] = [:]
            for service in RegistrarService.allCases {
                filedBefore[service.rawValue] = try await Self.count(
                    instance.pool(service),
                    "SELECT count(*)::int AS n FROM inbox WHERE account_id = \(account.accountId)::uuid")
            }
            let identityDB = instance.pool(.identity)
            let maskedKept = try await Self.count(
                identityDB, "SELECT count(*)::int AS n FROM inbox WHERE strpos(reply, \(masked)) > 0")
            #expect(filedBefore.values.allSatisfy { $0 > 0 }, "\(filedBefore)")
            #expect(maskedKept > 0)

            // Deregistration; the cool-down and the contact retention end on the moved clock.
            let requested = try await DeregistrationTests.request(client, account.accountId, session, fingerprint)
            #expect(requested.code == "OK", "\(requested.event.data)")
            try instance.advanceClock(by: .seconds(11))
            _ = try await client.event(on: "deregistration.events", timeout: .seconds(30)) {
                $0.type == "account.deregistered" && $0.subject == account.accountId
            }
            try instance.advanceClock(by: .seconds(31))
            _ = try await client.event(on: "deregistration.events", timeout: .seconds(30)) {
                $0.type == "account.purged" && $0.subject == account.accountId
            }

            // A command re-sent after the purge is one already handled: the neutral reply, no effect.
            try await client.sendRaw(
                Array(try JSONEncoder().encode(JSONValue.object(accountGet))), topic: "identity.commands", key: nil)
            try await client.sendRaw(
                Array(try JSONEncoder().encode(JSONValue.object(checkEnvelope))), topic: "permissions.commands",
                key: nil)
            let getID = try #require(accountGet["id"]?.stringValue)
            let checkID = try #require(checkEnvelope["id"]?.stringValue)
            let replies = try await client.read(topic: "registrar.replies", timeout: .seconds(30)) { read in
                read.filter { [getID, checkID].contains($0.event?.inreplyto) }.count >= 4
            }.compactMap(\.event).filter { [getID, checkID].contains($0.inreplyto) }
            let neutral = replies.filter {
                $0.data["code"] == .string("ACCOUNT_NOT_FOUND") && $0.data["result"]?["purged"] == .bool(true)
            }
            #expect(neutral.count == 2, "\(replies)")
            let resurrected = try await Self.count(
                instance.pool(.permissions),
                "SELECT count(*)::int AS n FROM active_days WHERE account_id = \(account.accountId)::uuid")
            #expect(resurrected == 0)

            // Everything sent, then past the sent-outbox window: the pruner takes the rest.
            let pools = RegistrarService.allCases.map { instance.pool($0) }
            try await TestStack.eventually("every outbox sent") {
                for pool in pools
                where try await Self.count(pool, "SELECT count(*)::int AS n FROM outbox WHERE sent_at IS NULL") != 0 {
                    return false
                }
                return true
            }
            try instance.advanceClock(by: .seconds(61))
            let windowStart = instance.now.addingTimeInterval(-60)
            try await TestStack.eventually("sent outbox rows pruned") {
                for pool in pools
                where try await Self.count(
                    pool, "SELECT count(*)::int AS n FROM outbox WHERE sent_at < \(windowStart)") != 0
                {
                    return false
                }
                return true
            }

            // The scan: every table of every schema, as pg_dump writes it.
            let values: [(String, String)] = [
                ("account id", account.accountId), ("phone", phone), ("phone digits", String(phone.dropFirst())),
                ("phone hash", phoneHash), ("masked phone", masked), ("ID number", idNumber),
                ("ID number body", String(idNumber.dropLast())),
            ]
            let dump = try IdentityVerificationTests.pgDump(instance.databaseURL)
            let tables = dump.split(separator: "\n").filter { $0.hasPrefix("COPY ") }.count
            // Only tables with rows have a section: the others hold nothing to find.
            let sections = SecretsReliabilityTests.sections(dump).filter { $0.key != "-" }
            var found: [String: Set<String>] = [:]
            for (what, value) in values {
                for (table, text) in sections where text.localizedCaseInsensitiveContains(value) {
                    found[what, default: []].insert(table)
                }
            }
            var findings: [String] = []
            for (what, tables) in found.sorted(by: { $0.key < $1.key }) {
                let allowed = Self.kept[what] ?? Self.kept[what == "phone digits" ? "phone" : ""] ?? [:]
                for table in tables.sorted() where allowed[table] == nil { findings.append("\(what) in \(table)") }
            }
            #expect(findings.isEmpty, "\(findings)")
            let keptList = found.sorted(by: { $0.key < $1.key }).map {
                "\($0.key): \($0.value.sorted().joined(separator: ", "))"
            }
            ReliabilityReport.record(
                ReliabilityRow(
                    test: "secrets: nothing of a purged account in any table",
                    workload: "register, ID verification, login, account.get/devices.list/sessions.list, "
                        + "permissions.check, binding.link/list, deregistration.status; deregistration, cool-down, "
                        + "contact retention and sent-outbox window run out (moved clock), pruner; "
                        + "\(tables) tables of 4 schemas scanned for \(values.count) values",
                    notes:
                        "replies filed before the purge \(filedBefore.sorted(by: { $0.key < $1.key }).map { "\($0.key) \($0.value)" }.joined(separator: ", ")); "
                        + "re-sent account.get and permissions.check after it: \(neutral.count)/2 neutral "
                        + "ACCOUNT_NOT_FOUND (purged), \(resurrected) rows resurrected; kept on purpose: "
                        + keptList.joined(separator: "; ") + "; \(findings.count) findings elsewhere",
                    passed: findings.isEmpty && neutral.count == 2 && resurrected == 0 && maskedKept > 0))
        }
    }
}
