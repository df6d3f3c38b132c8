import Contract
import Foundation
import Messaging
import Postgres
import TestSupport
import Testing

/// Known and unknown phones get the same code and reply shape (issue 8, security: enumeration;
/// RELIABILITY-NOTES R20), and the median command → reply times are reported side by side.
@Suite(.enabled(if: TestStack.enabled))
struct EnumerationReliabilityTests {
    let identity = IdentityClient()

    /// The reply's `data` without its human text: what a client could compare.
    static func shape(_ answer: IdentityClient.Answer) -> JSONValue { answer.event.data }

    /// "known 123.4 ms, unknown 120.1 ms, difference 3.3 ms (n = 12 each)".
    static func timing(known: [Double], unknown: [Double]) -> String {
        let k = Security.median(known)
        let u = Security.median(unknown)
        return "median command→reply: known \(Security.ms(k)), unknown \(Security.ms(u)), difference "
            + "\(Security.ms(abs(k - u))) (n = \(known.count)/\(unknown.count), measured at the client under the "
            + "parallel suite; not asserted)"
    }

    @Test func loginAnswersKnownAndUnknownPhonesAlike() async throws {
        // A known phone takes login.maxFailures - 1 wrong passwords before its lock changes the answer.
        let perAccount = Security.policy.login.maxFailures - 1
        var known: [(String, JSONValue)] = []
        for _ in 0..<3 {
            let phone = IdentityClient.phone()
            let device = IdentityClient.device()
            _ = try await identity.register(phone: phone, device: device)
            known += Array(repeating: (phone, device), count: perAccount)
        }
        var knownTimes: [Double] = []
        var unknownTimes: [Double] = []
        var differences: [String] = []
        var reference: JSONValue?
        for (phone, device) in known {
            // Interleaved, so load changes hit both sides alike.
            for candidate in [phone, IdentityClient.phone()] {
                let envelope = RegistrarClient.command(
                    type: "login",
                    data: .object([
                        "phone": .string(candidate), "password": .string("Wrong-password-1"), "device": device,
                        "ip": IdentityClient.ip(),
                    ]))
                let (answer, time) = try await Security.timed(identity.client, envelope, topic: "identity.commands")
                if candidate == phone { knownTimes.append(time) } else { unknownTimes.append(time) }
                let shape = Self.shape(answer)
                if reference == nil { reference = shape }
                if shape != reference || answer.code != "INVALID_CREDENTIALS" {
                    differences.append("\(candidate == phone ? "known" : "unknown"): \(shape)")
                }
            }
        }
        #expect(differences.isEmpty, "\(differences)")
        ReliabilityReport.record(
            ReliabilityRow(
                test: "enumeration: login",
                workload: "\(knownTimes.count) wrong-password logins on known phones, "
                    + "\(unknownTimes.count) on unknown phones, interleaved",
                notes: "every reply INVALID_CREDENTIALS with identical data; "
                    + Self.timing(known: knownTimes, unknown: unknownTimes),
                passed: differences.isEmpty))
    }

    @Test func sendRevokeCodeAnswersKnownAndUnknownPhonesAlike() async throws {
        // Phones in a cool-down (an SMS goes out), a registered phone without a request, unknown phones.
        let perPhone = Security.policy.deregistration.revokeCodesPerPhonePerWindow - 1
        var cooling: [String] = []
        for _ in 0..<2 {
            let phone = IdentityClient.phone()
            let fingerprint = IdentityClient.fingerprint()
            let account = try await identity.register(
                phone: phone, device: IdentityClient.device(fingerprint: fingerprint))
            let requested = try await DeregistrationTests.request(
                identity.client, account.accountId, account.sessionToken, fingerprint)
            try #require(requested.code == "OK", "\(requested.event.data)")
            cooling.append(phone)
        }
        let registeredPhone = IdentityClient.phone()
        _ = try await identity.register(phone: registeredPhone)
        var knownTimes: [Double] = []
        var unknownTimes: [Double] = []
        var differences: [String] = []
        var reference: JSONValue?
        let known = cooling.flatMap { Array(repeating: $0, count: perPhone) } + [registeredPhone]
        for phone in known {
            for candidate in [phone, IdentityClient.phone()] {
                let envelope = RegistrarClient.command(
                    type: "deregistration.send_revoke_code", data: .object(["phone": .string(candidate)]))
                let (answer, time) = try await Security.timed(
                    identity.client, envelope, topic: "deregistration.commands")
                if candidate == phone { knownTimes.append(time) } else { unknownTimes.append(time) }
                let shape = Self.shape(answer)
                if reference == nil { reference = shape }
                if shape != reference || answer.code != "OK" {
                    differences.append("\(candidate == phone ? "known" : "unknown"): \(shape)")
                }
            }
        }
        // The phones in a cool-down did get their codes.
        for phone in cooling { _ = try await identity.smsCode(for: phone, purpose: "revoke") }
        #expect(differences.isEmpty, "\(differences)")
        ReliabilityReport.record(
            ReliabilityRow(
                test: "enumeration: deregistration.send_revoke_code",
                workload: "\(knownTimes.count) requests for known phones (in a cool-down or merely registered), "
                    + "\(unknownTimes.count) for unknown phones, interleaved",
                notes: "every reply OK with identical data; " + Self.timing(known: knownTimes, unknown: unknownTimes),
                passed: differences.isEmpty))
    }

    @Test func passwordResetStartAnswersEveryPhoneAlike() async throws {
        // Active, frozen and support-locked accounts' phones, and unknown phones, interleaved.
        let perPhone = Security.policy.recovery.resetStartsPerPhonePerWindow
        var known: [String] = []
        for kind in ["active", "frozen", "locked"] {
            let phone = IdentityClient.phone()
            let fingerprint = IdentityClient.fingerprint()
            let account = try await identity.register(
                phone: phone, device: IdentityClient.device(fingerprint: fingerprint),
                questions: kind == "locked" ? [("q1", "a1"), ("q2", "a2"), ("q3", "a3")] : nil)
            switch kind {
            case "frozen":
                let requested = try await DeregistrationTests.request(
                    identity.client, account.accountId, account.sessionToken, fingerprint)
                try #require(requested.code == "OK", "\(requested.event.data)")
                try await TestStack.eventually("frozen") {
                    try await identity.login(phone: phone, device: IdentityClient.device(fingerprint: fingerprint))
                        .code == "ACCOUNT_FROZEN"
                }
            case "locked":
                // An iPhone: Android's new devices take only the original device's scan (issue 18).
                let challenge = try #require(
                    try await identity.login(phone: phone, device: IdentityClient.iPhone()).string("challengeId"))
                for _ in 0..<Security.policy.devices.maxWrongSecurityAnswers {
                    _ = try await identity.send(
                        "device.answer_security_questions",
                        [
                            "challengeId": .string(challenge),
                            "answers": .array([.string("x"), .string("y"), .string("z")]),
                        ])
                }
            default: break
            }
            known += Array(repeating: phone, count: perPhone - 1)
        }
        var knownTimes: [Double] = []
        var unknownTimes: [Double] = []
        var differences: [String] = []
        var reference: JSONValue?
        for phone in known {
            for candidate in [phone, IdentityClient.phone()] {
                let envelope = RegistrarClient.command(
                    type: "password.reset.start",
                    data: .object([
                        "phone": .string(candidate), "device": IdentityClient.device(), "ip": IdentityClient.ip(),
                    ]))
                let (answer, time) = try await Security.timed(identity.client, envelope, topic: "identity.commands")
                if candidate == phone { knownTimes.append(time) } else { unknownTimes.append(time) }
                let shape = Self.shape(answer)
                if reference == nil { reference = shape }
                if shape != reference || answer.code != "OK" {
                    differences.append("\(candidate == phone ? "known" : "unknown"): \(shape)")
                }
            }
        }
        // Only the active account's phone was sent codes.
        _ = try await identity.smsCode(for: known[0], purpose: "password_reset")
        let pool = PostgresPool(configuration: TestStack.postgres(searchPath: ["identity"]))
        let sentTo = try await pool.query(
            """
            SELECT count(DISTINCT phone)::int AS n FROM password_resets
            WHERE phone = ANY(\(Array(Set(known)))::text[]) AND account_id IS NOT NULL
            """
        ).first?.decode("n", as: Int.self)
        #expect(sentTo == 1)
        #expect(differences.isEmpty, "\(differences)")
        ReliabilityReport.record(
            ReliabilityRow(
                test: "enumeration: password.reset.start",
                workload: "\(knownTimes.count) starts for active, frozen and support-locked accounts' phones, "
                    + "\(unknownTimes.count) for unknown phones, interleaved",
                notes: "every reply OK with identical data; a code went to the active account only; "
                    + Self.timing(known: knownTimes, unknown: unknownTimes),
                passed: differences.isEmpty && sentTo == 1))
    }

    @Test func registrationStartTellsAPhoneInUseAsTheContractRequires() async throws {
        // Contract §4: "phone of a live or frozen account → PHONE_IN_USE". Registration cannot be
        // uniform; the reply keeps the same shape and only the code (and its text) differ.
        let phone = IdentityClient.phone()
        _ = try await identity.register(phone: phone)
        var knownTimes: [Double] = []
        var unknownTimes: [Double] = []
        var knownAnswers: [IdentityClient.Answer] = []
        var unknownAnswers: [IdentityClient.Answer] = []
        // A phone in use never counts against the per-phone start limit (refused starts do not count).
        for _ in 0..<6 {
            for candidate in [phone, IdentityClient.phone()] {
                let envelope = RegistrarClient.command(
                    type: "registration.start",
                    data: .object([
                        "phone": .string(candidate), "device": IdentityClient.device(), "ip": IdentityClient.ip(),
                    ]))
                let (answer, time) = try await Security.timed(identity.client, envelope, topic: "identity.commands")
                if candidate == phone {
                    knownTimes.append(time)
                    knownAnswers.append(answer)
                } else {
                    unknownTimes.append(time)
                    unknownAnswers.append(answer)
                }
            }
        }
        let keys = { (answer: IdentityClient.Answer) -> [String] in
            guard case .object(let data) = answer.event.data else { return [] }
            return data.keys.sorted()
        }
        let sameShape = Set((knownAnswers + unknownAnswers).map(keys)).count == 1
        let knownAsRequired = knownAnswers.allSatisfy {
            $0.code == "PHONE_IN_USE" && $0.status == "rejected"
        }
        let unknownOK = unknownAnswers.allSatisfy { $0.code == "OK" && $0.string("registrationId") != nil }
        #expect(sameShape)
        #expect(knownAsRequired, "\(knownAnswers.map(\.event.data))")
        #expect(unknownOK)
        ReliabilityReport.record(
            ReliabilityRow(
                test: "enumeration: registration.start",
                workload:
                    "\(knownAnswers.count) starts with a live account's phone, \(unknownAnswers.count) with fresh phones",
                notes: "contract requires PHONE_IN_USE for a live or frozen account's phone: the code differs as the "
                    + "contract says, the reply shape does not; "
                    + Self.timing(known: knownTimes, unknown: unknownTimes),
                passed: sameShape && knownAsRequired && unknownOK))
    }
}
