import Contract
import Foundation
import Messaging
import Postgres
import TestSupport
import Testing

/// A full account life — registration, ID and bank-card verification, login, deregistration with
/// a revoke code — then the database dump, the service logs and every topic of the run are scanned
/// for the raw secrets it used; they appear only where the contract allows (issue 8, security:
/// secrets; RELIABILITY-NOTES R17).
///
/// Allowed: command topics carry what clients send; `notifications.sms` carries phone and code
/// (contract §5); `registrar.deadletter` keeps originals (base64, none expected here); identity's
/// `accounts` and `registrations` hold the phone (identity owns phones; `phone_blocks` after a
/// deregistration). Nowhere else: not in events, replies, other tables, outbox or inbox rows, logs.
@Suite(.enabled(if: TestStack.enabled))
struct SecretsReliabilityTests {
    /// Where each secret may appear: topics (base names) and `schema.table` sections of the dump.
    struct Allowed {
        var topics: Set<String>
        var tables: Set<String> = []
    }

    @Test func aFullAccountLifeLeavesSecretsOnlyWhereTheContractAllows() async throws {
        try await ServiceProcess.run(
            .identity, policy: DeregistrationTests.policy, with: [.permissions, .binding, .deregistration]
        ) { instance, client in
            let identity = IdentityClient(client: client)
            let phone = IdentityClient.phone()
            let password = "Secret-\(UUID().uuidString.prefix(8))"
            let fingerprint = IdentityClient.fingerprint()
            let device = IdentityClient.device(fingerprint: fingerprint)
            let card = IdentityClient.cardNumber()
            let idNumber = IdentityClient.residentID()

            let account = try await identity.register(phone: phone, device: device, password: password)
            let smsCode = try await identity.smsCode(for: phone)
            #expect(try await identity.verifyCard(card, session: account.sessionToken).code == "OK")
            #expect(try await identity.verifyID(idNumber, session: account.sessionToken).code == "OK")
            let login = try await identity.login(phone: phone, password: password, device: device)
            #expect(login.code == "OK")
            let requested = try await DeregistrationTests.request(
                client, account.accountId, account.sessionToken, fingerprint)
            #expect(requested.code == "OK")
            #expect(
                try await DeregistrationTests.send(client, "deregistration.send_revoke_code", ["phone": .string(phone)])
                    .code == "OK")
            let revokeCode = try await identity.smsCode(for: phone, purpose: "revoke")
            let revoked = try await DeregistrationTests.send(
                client, "deregistration.revoke", ["phone": .string(phone), "code": .string(revokeCode)])
            #expect(revoked.code == "OK")

            // Self-service (issue 16) on a second account: refresh tokens, a password reset, a phone change.
            let selfPhone = IdentityClient.phone()
            let selfDevice = IdentityClient.device()
            _ = try await identity.register(phone: selfPhone, device: selfDevice)
            let selfLogin = try await identity.login(phone: selfPhone, device: selfDevice)
            let firstRefresh = try #require(selfLogin.string("refreshToken"))
            let refreshed = try await identity.send("session.refresh", ["refreshToken": .string(firstRefresh)])
            let secondRefresh = try #require(refreshed.string("refreshToken"))
            let selfToken = try #require(refreshed.string("sessionToken"))
            let newPhone = IdentityClient.phone()
            #expect(
                try await identity.send("phone.change.start", ["newPhone": .string(newPhone)], session: selfToken).code
                    == "OK")
            let oldCode = try await identity.smsCode(for: selfPhone, purpose: "phone_change_old")
            let newCode = try await identity.smsCode(for: newPhone, purpose: "phone_change_new")
            #expect(
                try await identity.send(
                    "phone.change.complete", ["oldCode": .string(oldCode), "newCode": .string(newCode)],
                    session: selfToken
                ).code == "OK")
            #expect(
                try await identity.send(
                    "password.reset.start",
                    ["phone": .string(newPhone), "device": selfDevice, "ip": IdentityClient.ip()]
                ).code == "OK")
            let resetCode = try await identity.smsCode(for: newPhone, purpose: "password_reset")
            let newPassword = "Reset-\(UUID().uuidString.prefix(8))"
            #expect(
                try await identity.send(
                    "password.reset.complete",
                    [
                        "phone": .string(newPhone), "code": .string(resetCode), "newPassword": .string(newPassword),
                        "device": selfDevice, "ip": IdentityClient.ip(),
                    ]
                ).code == "OK")

            // Wait until every outbox is sent (SMS and sealed replies are blanked once confirmed).
            let pools = RegistrarService.allCases.map { instance.pool($0) }
            try await TestStack.eventually("every outbox sent") {
                for pool in pools {
                    let unsent = try await pool.query("SELECT count(*)::int AS n FROM outbox WHERE sent_at IS NULL")
                        .first?.decode("n", as: Int.self)
                    if unsent != 0 { return false }
                }
                return true
            }

            let secrets: [(String, String, Allowed)] = [
                (
                    "phone", phone,
                    Allowed(
                        topics: ["identity.commands", "deregistration.commands", "notifications.sms"],
                        tables: ["identity.accounts", "identity.registrations", "identity.phone_blocks"])
                ),
                ("password", password, Allowed(topics: ["identity.commands"])),
                ("SMS code", "\"\(smsCode)\"", Allowed(topics: ["identity.commands", "notifications.sms"])),
                (
                    "revoke code", "\"\(revokeCode)\"",
                    Allowed(topics: ["deregistration.commands", "notifications.sms"])
                ),
                ("card number", card, Allowed(topics: ["identity.commands"])),
                ("ID number", idNumber, Allowed(topics: ["identity.commands"])),
                ("ID number body", String(idNumber.dropLast()), Allowed(topics: ["identity.commands"])),
                (
                    "session token", account.sessionToken,
                    Allowed(topics: ["registrar.replies", "identity.commands", "deregistration.commands"])
                ),
                ("refresh token", firstRefresh, Allowed(topics: ["registrar.replies", "identity.commands"])),
                ("rotated-to refresh token", secondRefresh, Allowed(topics: ["registrar.replies"])),
                ("reset password", newPassword, Allowed(topics: ["identity.commands"])),
                ("reset code", "\"\(resetCode)\"", Allowed(topics: ["identity.commands", "notifications.sms"])),
                ("old-number code", "\"\(oldCode)\"", Allowed(topics: ["identity.commands", "notifications.sms"])),
                ("new-number code", "\"\(newCode)\"", Allowed(topics: ["identity.commands", "notifications.sms"])),
                (
                    "changed-from phone", selfPhone,
                    Allowed(
                        topics: ["identity.commands", "notifications.sms"],
                        tables: ["identity.registrations", "identity.phone_blocks"])
                ),
                (
                    "changed-to phone", newPhone,
                    Allowed(
                        topics: ["identity.commands", "notifications.sms"],
                        tables: ["identity.accounts", "identity.phone_changes", "identity.password_resets"])
                ),
            ]
            var findings: [String] = []

            // 1. The database dump, section by section (COPY schema.table … \.).
            let dump = try IdentityVerificationTests.pgDump(instance.databaseURL)
            let sections = Self.sections(dump)
            for (what, secret, allowed) in secrets {
                for (table, text) in sections where text.contains(secret) && !allowed.tables.contains(table) {
                    findings.append("\(what) in the dump: \(table)")
                }
            }
            // 2. Logs: the instance's (all four services) and the test stack's folder.
            var logs: [(String, String)] = [("instance log", instance.log)]
            if let stack = ProcessInfo.processInfo.environment["REGISTRAR_STACK_DIR"],
                let names = try? FileManager.default.contentsOfDirectory(atPath: stack + "/logs")
            {
                for name in names.sorted() {
                    let text = (try? String(contentsOfFile: "\(stack)/logs/\(name)", encoding: .utf8)) ?? ""
                    logs.append((name, text))
                }
            }
            for (what, secret, _) in secrets {
                for (name, text) in logs where text.contains(secret) { findings.append("\(what) in \(name)") }
            }
            // 3. Every topic of the run, from the beginning, dead letters decoded.
            let topics = try await withThrowingTaskGroup(of: (String, [String]).self) { group in
                for topic in Topics.all {
                    group.addTask {
                        let read = try await client.read(topic: topic, timeout: .seconds(10)) { _ in false }
                        return (
                            topic,
                            read.map { message in
                                let text = String(decoding: message.message.value, as: UTF8.self)
                                guard topic == "registrar.deadletter",
                                    let original = message.event?.data["original"]?.stringValue,
                                    let bytes = Data(base64Encoded: original)
                                else { return text }
                                return text + String(decoding: bytes, as: UTF8.self)
                            }
                        )
                    }
                }
                return try await group.reduce(into: [String: [String]]()) { $0[$1.0] = $1.1 }
            }
            var messages = 0
            for (topic, texts) in topics {
                messages += texts.count
                for (what, secret, allowed) in secrets where !allowed.topics.contains(topic) {
                    let hits = texts.filter { $0.contains(secret) }.count
                    if hits > 0 { findings.append("\(what) in \(hits) message(s) on \(topic)") }
                }
            }
            // The scans see what they scan: the phone is where it must be.
            let seen =
                sections["identity.accounts"]?.contains(phone) == true
                && topics["notifications.sms"]?.contains { $0.contains(phone) } == true
            #expect(seen, "the scans did not find the phone where it must be")
            #expect(findings.isEmpty, "\(findings)")
            ReliabilityReport.record(
                ReliabilityRow(
                    test: "secrets: dump, logs, topics after a full account life",
                    workload: "register, bank card + ID verification, login, deregistration request, revoke code, "
                        + "revoke; a second account refreshes its session, changes its phone, resets its password; "
                        + "\(sections.count) tables, \(logs.count) logs, \(messages) messages on "
                        + "\(topics.count) topics scanned",
                    notes:
                        "\(secrets.count) secrets (phones, passwords, SMS, revoke, reset and phone-change codes, card, ID, "
                        + "session and refresh tokens); "
                        + "allowed: command topics (what clients send, incl. sessiontoken), notifications.sms "
                        + "(phone+code), registrar.replies (session and refresh tokens), "
                        + "dead letters (originals), identity.accounts/registrations/phone_blocks/phone_changes/"
                        + "password_resets (phone); "
                        + "\(findings.count) findings elsewhere",
                    passed: seen && findings.isEmpty))
        }
    }

    /// The data of each `COPY schema.table … FROM stdin;` section of a plain `pg_dump`, by table;
    /// everything else (DDL, comments) under `"-"`.
    static func sections(_ dump: String) -> [String: String] {
        var sections: [String: String] = [:]
        var current = "-"
        for line in dump.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("COPY ") {
                current = String(line.dropFirst(5).prefix { $0 != " " })
                continue
            }
            if line == "\\." {
                current = "-"
                continue
            }
            sections[current, default: ""] += line + "\n"
        }
        return sections
    }
}
