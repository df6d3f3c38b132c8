import Contract
import Foundation
import Messaging
import Postgres
import TestSupport
import Testing

/// Counters checked and counted atomically: parallel attempts never get past a limit (issue 8,
/// security: concurrency; RELIABILITY-NOTES R18).
@Suite(.enabled(if: TestStack.enabled))
struct ConcurrencyReliabilityTests {
    let identity = IdentityClient()

    @Test func fiftyParallelWrongCodesGetFiveTries() async throws {
        let maxAttempts = Security.policy.sms.maxAttempts
        let phone = IdentityClient.phone()
        let registrationId = try #require(try await identity.start(phone: phone).string("registrationId"))
        let code = try await identity.smsCode(for: phone)
        let wrong = code == "000000" ? "111111" : "000000"
        let envelopes = (0..<50).map { _ in
            RegistrarClient.command(
                type: "registration.verify_sms",
                data: .object(["registrationId": .string(registrationId), "code": .string(wrong)]))
        }
        // Random keys spread the burst over every partition, as a hostile client could.
        let answers = try await Security.burst(identity.client, envelopes, topic: "identity.commands")
        let invalid = Security.count(answers, "SMS_CODE_INVALID")
        let locked = Security.count(answers, "SMS_CODE_LOCKED")
        let right = try await identity.send(
            "registration.verify_sms", ["registrationId": .string(registrationId), "code": .string(code)])
        #expect(invalid == maxAttempts)
        #expect(locked == 50 - maxAttempts)
        #expect(right.code == "SMS_CODE_LOCKED")
        ReliabilityReport.record(
            ReliabilityRow(
                test: "concurrency: 50 parallel wrong SMS codes", workload: "50 verify_sms on one registration",
                notes: "\(invalid) counted (limit sms.maxAttempts = \(maxAttempts)), \(locked) SMS_CODE_LOCKED; "
                    + "the right code afterwards: \(right.code ?? "-")",
                passed: invalid == maxAttempts && locked == 50 - maxAttempts && right.code == "SMS_CODE_LOCKED"))
    }

    @Test func fiftyParallelWrongResetCodesGetFiveTries() async throws {
        let maxAttempts = Security.policy.sms.maxAttempts
        let phone = IdentityClient.phone()
        let device = IdentityClient.device()
        _ = try await identity.register(phone: phone, device: device)
        let started = try await identity.send(
            "password.reset.start", ["phone": .string(phone), "device": device, "ip": IdentityClient.ip()])
        try #require(started.code == "OK")
        let code = try await identity.smsCode(for: phone, purpose: "password_reset")
        let wrong = code == "000000" ? "111111" : "000000"
        func complete(_ code: String) -> [String: JSONValue] {
            RegistrarClient.command(
                type: "password.reset.complete",
                data: .object([
                    "phone": .string(phone), "code": .string(code), "newPassword": .string("Moonflower-77"),
                    "device": device, "ip": IdentityClient.ip(),
                ]))
        }
        let answers = try await Security.burst(
            identity.client, (0..<50).map { _ in complete(wrong) }, topic: "identity.commands")
        let invalid = Security.count(answers, "SMS_CODE_INVALID")
        let locked = Security.count(answers, "SMS_CODE_LOCKED")
        let right = IdentityClient.Answer(
            event: try await identity.client.request(complete(code), topic: "identity.commands"))
        let passed = invalid == maxAttempts && locked == 50 - maxAttempts && right.code == "SMS_CODE_LOCKED"
        #expect(passed, "\(invalid) invalid, \(locked) locked, then \(right.code ?? "-")")
        ReliabilityReport.record(
            ReliabilityRow(
                test: "concurrency: 50 parallel wrong reset codes", workload: "50 password.reset.complete on one reset",
                notes: "\(invalid) counted (limit sms.maxAttempts = \(maxAttempts)), \(locked) SMS_CODE_LOCKED; "
                    + "the right code afterwards: \(right.code ?? "-")",
                passed: passed))
    }

    @Test func twoParallelRefreshesWithOneTokenLeaveAtMostOneLiveSession() async throws {
        let phone = IdentityClient.phone()
        let device = IdentityClient.device()
        let account = try await identity.register(phone: phone, device: device)
        var failures: [String] = []
        var outcomes: [String: Int] = [:]
        for _ in 0..<10 {
            let login = try await identity.login(phone: phone, device: device)
            let refresh = try #require(login.string("refreshToken"))
            let sessionId = try #require(login.string("sessionId"))
            let envelopes = (0..<2).map { _ in
                RegistrarClient.command(type: "session.refresh", data: .object(["refreshToken": .string(refresh)]))
            }
            let answers = try await Security.burst(identity.client, envelopes, topic: "identity.commands")
            let codes = answers.map { $0.code ?? "-" }.sorted().joined(separator: "+")
            outcomes[codes, default: 0] += 1
            // Whatever the order, the session has at most one live access token: either one refresh
            // won and the other (a reuse) ended the session, or both met the ended session.
            let pool = PostgresPool(configuration: TestStack.postgres(searchPath: ["identity"]))
            let live = try await pool.query(
                "SELECT count(*)::int AS n FROM sessions WHERE id = \(sessionId)::uuid AND revoked_at IS NULL"
            ).first?.decode("n", as: Int.self)
            let tokens = answers.compactMap { $0.string("sessionToken") }
            var working = 0
            for token in tokens where try await identity.send("account.get", [:], session: token).code == "OK" {
                working += 1
            }
            if working > 1 || (live ?? 0) > 1 { failures.append("\(codes): \(working) working tokens") }
        }
        _ = account
        #expect(failures.isEmpty, "\(failures)")
        ReliabilityReport.record(
            ReliabilityRow(
                test: "concurrency: 2 parallel refreshes, one token",
                workload: "10 sessions, each refreshed twice at once with its refresh token",
                notes: "outcomes: "
                    + outcomes.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
                    + "; never more than one working access token (a second use of a token is a reuse: the session ends)",
                passed: failures.isEmpty))
    }

    @Test func fiftyParallelWrongPasswordsCountAtMostTheLimit() async throws {
        // A private identity whose first lock lasts an hour: on a loaded machine the burst can take
        // longer than the default one-minute lock, and a lock that ended rightly opens a new window.
        try await ServiceProcess.run(.identity, policy: #"{"login": {"baseLockout": "1h"}}"#) { instance, client in
            try await wrongPasswordBurst(IdentityClient(client: client), instance)
        }
    }

    func wrongPasswordBurst(_ identity: IdentityClient, _ instance: ServiceProcess) async throws {
        let maxFailures = Security.policy.login.maxFailures
        let phone = IdentityClient.phone()
        let device = IdentityClient.device()
        let account = try await identity.register(phone: phone, device: device)
        let envelopes = (0..<50).map { _ in
            RegistrarClient.command(
                type: "login",
                data: .object([
                    "phone": .string(phone), "password": .string("Wrong-password-9"), "device": device,
                    "ip": IdentityClient.ip(),
                ]))
        }
        let answers = try await Security.burst(identity.client, envelopes, topic: "identity.commands")
        let invalid = Security.count(answers, "INVALID_CREDENTIALS")
        let locked = Security.count(answers, "ACCOUNT_TEMPORARILY_LOCKED")
        let right = try await identity.login(phone: phone, device: device)
        // The failures counted, as identity published them (its outbox keeps every event).
        let pool = instance.pool(.identity)
        let events = instance.topics.name("identity.events")
        let failed = try await Security.outboxCount(pool, topic: events, type: "login.failed", key: account.accountId)
        let locks = try await Security.outboxCount(pool, topic: events, type: "account.locked", key: account.accountId)
        let expected = (invalid: maxFailures - 1, locked: 50 - maxFailures + 1)
        #expect(invalid == expected.invalid, "\(answers.map(\.code))")
        #expect(locked == expected.locked)
        #expect(failed == expected.invalid && locks == 1)
        #expect(right.code == "ACCOUNT_TEMPORARILY_LOCKED")
        ReliabilityReport.record(
            ReliabilityRow(
                test: "concurrency: 50 parallel wrong passwords",
                workload: "50 logins with a wrong password, one account (private identity, 1-hour first lock)",
                notes:
                    "\(invalid) INVALID_CREDENTIALS + \(locked) ACCOUNT_TEMPORARILY_LOCKED (limit login.maxFailures = "
                    + "\(maxFailures)); \(failed) login.failed, \(locks) account.locked; right password while locked: "
                    + "\(right.code ?? "-")",
                passed: invalid == expected.invalid && locked == expected.locked && failed == expected.invalid
                    && locks == 1 && right.code == "ACCOUNT_TEMPORARILY_LOCKED"))
    }

    /// A private identity whose per-device and per-IP start limits (10 and 20 an hour by default)
    /// let all 100 registrations reach the account step, where the device limit must hold.
    static let manyStartsPolicy = """
        {"registration": {"startsPerDevicePerWindow": 1000, "startsPerIPPerWindow": 1000},
         "password": {"argon2MemoryKiB": 1024, "argon2Iterations": 1}}
        """

    @Test func hundredParallelRegistrationsFromOneDeviceMakeAtMostThreeAccounts() async throws {
        try await ServiceProcess.run(.identity, policy: Self.manyStartsPolicy) { instance, client in
            let identity = IdentityClient(client: client)
            let limit = Security.policy.registration.maxAccountsPerDevice
            let fingerprint = IdentityClient.fingerprint()
            let device = IdentityClient.device(fingerprint: fingerprint)
            let results = try await withThrowingTaskGroup(of: String?.self) { group in
                for _ in 0..<100 {
                    group.addTask {
                        guard
                            let (registrationId, _) = try? await identity.registerToSecurityCheck(
                                phone: IdentityClient.phone(), device: device)
                        else { return nil }
                        return try await identity.send(
                            "registration.security_check",
                            [
                                "registrationId": .string(registrationId),
                                "behavior": .object([
                                    "typingRhythmScore": .double(0.9), "swipeScore": .double(0.9),
                                ]),
                                "liveness": .object(["passed": .bool(true)]),
                            ]
                        ).code
                    }
                }
                return try await group.reduce(into: [String?]()) { $0.append($1) }
            }
            let pool = instance.pool(.identity)
            let perPrint = try await pool.query(
                """
                SELECT coalesce(max(n), 0)::int AS n, count(*)::int AS prints FROM (SELECT count(*) AS n FROM accounts
                WHERE registered_on IN (SELECT print_id FROM device_print_attributes WHERE name = 'imeiHash' AND value = \(fingerprint["imeiHash"]!))
                GROUP BY registered_on) t
                """
            ).first?.decode("n", as: Int.self)
            let created = results.filter { $0 == "OK" }.count
            let refusedAtStart = results.filter { $0 == nil }.count
            let refusedAtEnd = results.filter { $0 == "DEVICE_ACCOUNT_LIMIT" }.count
            #expect(created == limit, "\(results)")
            #expect(perPrint == limit)
            #expect(created + refusedAtStart + refusedAtEnd == 100)
            ReliabilityReport.record(
                ReliabilityRow(
                    test: "concurrency: 100 parallel registrations, one device",
                    workload: "100 registrations (5 commands each) racing from one fingerprint",
                    notes: "\(created) accounts (limit registration.maxAccountsPerDevice = \(limit)), "
                        + "\(refusedAtEnd) DEVICE_ACCOUNT_LIMIT at the account step, \(refusedAtStart) refused earlier; "
                        + "private identity with startsPerDevicePerWindow and startsPerIPPerWindow raised to 1000 "
                        + "(defaults 10/20 an hour would refuse 90 at start) and a light Argon2id (1 MiB, t=1) for speed",
                    passed: created == limit && perPrint == limit && created + refusedAtStart + refusedAtEnd == 100))
        }
    }
}
