import Contract
import Foundation
import Messaging
import Postgres
import TestSupport
import Testing

/// SMS cost abuse: per-phone, per-device, per-IP and global send limits hold under parallel bursts
/// (issue 8, security: SMS cost abuse; RELIABILITY-NOTES R19). Each burst spreads over every
/// partition (random keys), so only the services' locks keep the counts.
@Suite(.enabled(if: TestStack.enabled))
struct SMSAbuseReliabilityTests {
    let identity = IdentityClient()

    /// `n` `registration.start` envelopes built by `start(i)`.
    static func starts(_ n: Int, _ start: (Int) -> (phone: String, device: JSONValue, ip: JSONValue)) -> [[String:
        JSONValue]]
    {
        (0..<n).map { i in
            let (phone, device, ip) = start(i)
            return RegistrarClient.command(
                type: "registration.start", data: .object(["phone": .string(phone), "device": device, "ip": ip]))
        }
    }

    /// The SMS on `notifications.sms` of `client`'s topics for `phones` with `purpose`, read once
    /// every outbox row of `pool` is sent.
    static func smsCount(
        _ client: RegistrarClient, _ pool: PostgresPool, phones: Set<String>, purpose: String, expected: Int
    ) async throws -> Int {
        try await TestStack.eventually("the outbox is sent") {
            try await pool.query("SELECT count(*)::int AS n FROM outbox WHERE sent_at IS NULL").first?.decode(
                "n", as: Int.self) == 0
        }
        // The shared topic holds every test's SMS: read until the expected ones are in (a few more
        // seconds would show extras, which come before or with them per phone's partition).
        func matching(_ read: [RegistrarClient.ReadEvent]) -> Int {
            read.compactMap(\.event).count(where: {
                phones.contains($0.data["phone"]?.stringValue ?? "") && $0.data["purpose"]?.stringValue == purpose
            })
        }
        return matching(
            try await client.read(topic: "notifications.sms", timeout: .seconds(30)) { matching($0) >= expected })
    }

    @Test func perPhoneDeviceAndIPStartLimitsHoldUnderABurst() async throws {
        let limits = Security.policy.registration
        let phone = IdentityClient.phone()
        let device = IdentityClient.device()
        let ip = IdentityClient.ip("10.251.\(Int.random(in: 0...255)).\(Int.random(in: 1...254))")
        let bursts: [(String, String, Int, [[String: JSONValue]])] = [
            (
                "phone", "startsPerPhonePerWindow", limits.startsPerPhonePerWindow,
                Self.starts(40) { _ in (phone, IdentityClient.device(), IdentityClient.ip()) }
            ),
            (
                "device", "startsPerDevicePerWindow", limits.startsPerDevicePerWindow,
                Self.starts(40) { _ in (IdentityClient.phone(), device, IdentityClient.ip()) }
            ),
            (
                "IP", "startsPerIPPerWindow", limits.startsPerIPPerWindow,
                Self.starts(40) { _ in (IdentityClient.phone(), IdentityClient.device(), ip) }
            ),
        ]
        let pool = PostgresPool(configuration: TestStack.postgres(searchPath: ["identity"]))
        for (what, key, limit, envelopes) in bursts {
            let answers = try await Security.burst(identity.client, envelopes, topic: "identity.commands")
            let ok = Security.count(answers, "OK")
            let limited = Security.count(answers, "RATE_LIMITED")
            let phones = Set(envelopes.compactMap { $0["data"]?["phone"]?.stringValue })
            let okPhones = Set(
                zip(envelopes, answers).filter { $0.1.code == "OK" }.compactMap { $0.0["data"]?["phone"]?.stringValue })
            let sms = try await Self.smsCount(
                identity.client, pool, phones: phones, purpose: "registration", expected: limit)
            #expect(ok == limit && limited == 40 - limit, "\(answers.map(\.code))")
            #expect(sms == limit)
            #expect(what != "phone" || okPhones.count == 1)
            ReliabilityReport.record(
                ReliabilityRow(
                    test: "SMS abuse: registration.start per \(what)",
                    workload: "40 parallel starts from one \(what)",
                    notes: "\(ok) OK, \(limited) RATE_LIMITED, \(sms) SMS on notifications.sms "
                        + "(limit registration.\(key) = \(limit))",
                    passed: ok == limit && limited == 40 - limit && sms == limit
                        && (what != "phone" || okPhones.count == 1)))
        }
    }

    @Test func theGlobalSendBudgetHoldsUnderABurst() async throws {
        let budget = 7
        let policy = #"{"sms": {"globalSendsPerWindow": \#(budget), "globalWindow": "1h"}}"#
        try await ServiceProcess.run(.identity, policy: policy) { instance, client in
            let envelopes = Self.starts(30) { _ in
                (IdentityClient.phone(), IdentityClient.device(), IdentityClient.ip())
            }
            let answers = try await Security.burst(client, envelopes, topic: "identity.commands")
            let ok = Security.count(answers, "OK")
            let limited = Security.count(answers, "RATE_LIMITED")
            let phones = Set(envelopes.compactMap { $0["data"]?["phone"]?.stringValue })
            let sms = try await Self.smsCount(
                client, instance.pool(), phones: phones, purpose: "registration", expected: budget)
            #expect(ok == budget && limited == 30 - budget && sms == budget, "\(answers.map(\.code))")
            ReliabilityReport.record(
                ReliabilityRow(
                    test: "SMS abuse: global send budget (identity)",
                    workload: "30 parallel starts, every phone, device and IP different",
                    notes: "\(ok) OK, \(limited) RATE_LIMITED, \(sms) SMS; private identity with "
                        + "sms.globalSendsPerWindow = \(budget) per 1h (default \(Security.policy.sms.globalSendsPerWindow) "
                        + "per \(Security.policy.sms.globalWindow))",
                    passed: ok == budget && limited == 30 - budget && sms == budget))
        }
    }

    @Test func revokeCodesAreLimitedPerPhoneAlikeForKnownAndUnknownPhones() async throws {
        let limit = Security.policy.deregistration.revokeCodesPerPhonePerWindow
        let known = IdentityClient.phone()
        let fingerprint = IdentityClient.fingerprint()
        let account = try await identity.register(phone: known, device: IdentityClient.device(fingerprint: fingerprint))
        let requested = try await DeregistrationTests.request(
            identity.client, account.accountId, account.sessionToken, fingerprint)
        try #require(requested.code == "OK")
        let unknown = IdentityClient.phone()
        var outcomes: [String: (ok: Int, limited: Int)] = [:]
        for phone in [known, unknown] {
            let envelopes = (0..<20).map { _ in
                RegistrarClient.command(
                    type: "deregistration.send_revoke_code", data: .object(["phone": .string(phone)]))
            }
            let answers = try await Security.burst(identity.client, envelopes, topic: "deregistration.commands")
            outcomes[phone] = (Security.count(answers, "OK"), Security.count(answers, "RATE_LIMITED"))
        }
        let pool = PostgresPool(configuration: TestStack.postgres(searchPath: ["deregistration"]))
        let sms = try await Self.smsCount(
            identity.client, pool, phones: [known, unknown], purpose: "revoke", expected: limit)
        let alike = outcomes[known]! == outcomes[unknown]!
        let held = outcomes[known]! == (limit, 20 - limit)
        #expect(alike && held, "\(outcomes)")
        #expect(sms == limit)
        ReliabilityReport.record(
            ReliabilityRow(
                test: "SMS abuse: send_revoke_code per phone",
                workload: "20 parallel requests for a phone in a cool-down, 20 for an unknown phone",
                notes: "known \(outcomes[known]!.ok) OK / \(outcomes[known]!.limited) RATE_LIMITED, unknown "
                    + "\(outcomes[unknown]!.ok) OK / \(outcomes[unknown]!.limited) RATE_LIMITED (counted per phone "
                    + "hash whether known or not, so the limit does not enumerate); \(sms) revoke SMS "
                    + "(limit deregistration.revokeCodesPerPhonePerWindow = \(limit))",
                passed: alike && held && sms == limit))
    }

    @Test func deregistrationsGlobalBudgetRefusesEveryPhoneAlike() async throws {
        let budget = 3
        let policy = """
            {"sms": {"globalSendsPerWindow": \(budget), "globalWindow": "1h"},
             "deregistration": {"revokeCodesPerPhonePerWindow": 100}}
            """
        try await ServiceProcess.run(.deregistration, policy: policy, with: [.identity]) { instance, client in
            let identity = IdentityClient(client: client)
            let phone = IdentityClient.phone()
            let fingerprint = IdentityClient.fingerprint()
            let account = try await identity.register(
                phone: phone, device: IdentityClient.device(fingerprint: fingerprint))
            let requested = try await DeregistrationTests.request(
                client, account.accountId, account.sessionToken, fingerprint)
            try #require(requested.code == "OK")
            let envelopes = (0..<10).map { _ in
                RegistrarClient.command(
                    type: "deregistration.send_revoke_code", data: .object(["phone": .string(phone)]))
            }
            let answers = try await Security.burst(client, envelopes, topic: "deregistration.commands")
            let ok = Security.count(answers, "OK")
            let limited = Security.count(answers, "RATE_LIMITED")
            let stranger = try await client.request(
                RegistrarClient.command(
                    type: "deregistration.send_revoke_code", data: .object(["phone": .string(IdentityClient.phone())])),
                topic: "deregistration.commands")
            let sms = try await Self.smsCount(
                client, instance.pool(), phones: [phone], purpose: "revoke", expected: budget)
            let strangerCode = stranger.data["code"]?.stringValue
            #expect(ok == budget && limited == 10 - budget && sms == budget, "\(answers.map(\.code))")
            #expect(strangerCode == "RATE_LIMITED")
            ReliabilityReport.record(
                ReliabilityRow(
                    test: "SMS abuse: global send budget (deregistration)",
                    workload: "10 parallel revoke-code requests for a phone in a cool-down, then one unknown phone",
                    notes: "\(ok) OK, \(limited) RATE_LIMITED, \(sms) revoke SMS; an unknown phone then gets "
                        + "\(strangerCode ?? "-") too (uniform); private deregistration with sms.globalSendsPerWindow = "
                        + "\(budget) per 1h (each service keeps its own budget in its schema)",
                    passed: ok == budget && limited == 10 - budget && sms == budget && strangerCode == "RATE_LIMITED"))
        }
    }
}
