import Foundation
import Messaging
import Postgres
import TestSupport
import Testing

/// Counters checked and counted atomically: parallel attempts never get past a limit.
@Suite(.enabled(if: TestStack.enabled))
struct ConcurrencyLimitTests {
    let identity = IdentityClient()

    /// Sends all `envelopes` before reading any reply, then collects the replies' codes.
    func burst(_ envelopes: [[String: JSONValue]], key: String) async throws -> [String] {
        for envelope in envelopes {
            try await identity.client.sendRaw(
                Array(try JSONEncoder().encode(JSONValue.object(envelope))), topic: "identity.commands", key: key)
        }
        var codes: [String] = []
        for envelope in envelopes {
            codes.append(
                try await identity.client.reply(to: envelope["id"]!.stringValue!).data["code"]?.stringValue ?? "")
        }
        return codes
    }

    @Test func fiftyParallelWrongCodesGetFiveTries() async throws {
        let phone = IdentityClient.phone()
        let registrationId = try #require(try await identity.start(phone: phone).string("registrationId"))
        let code = try await identity.smsCode(for: phone)
        let wrong = code == "000000" ? "111111" : "000000"
        let envelopes = (0..<50).map { _ in
            RegistrarClient.command(
                type: "registration.verify_sms",
                data: .object(["registrationId": .string(registrationId), "code": .string(wrong)]))
        }
        let codes = try await burst(envelopes, key: registrationId)
        #expect(codes.filter { $0 == "SMS_CODE_INVALID" }.count == 5)
        #expect(codes.filter { $0 == "SMS_CODE_LOCKED" }.count == 45)
        let right = try await identity.send(
            "registration.verify_sms", ["registrationId": .string(registrationId), "code": .string(code)])
        #expect(right.code == "SMS_CODE_LOCKED")
    }

    @Test func parallelRegistrationsFromOneDeviceMakeAtMostThreeAccounts() async throws {
        let fingerprint = IdentityClient.fingerprint()
        let device = IdentityClient.device(fingerprint: fingerprint)
        // Ten registrations from one device (its start limit per hour) race to the account step.
        let results = try await withThrowingTaskGroup(of: String?.self) { group in
            for _ in 0..<10 {
                group.addTask {
                    let phone = IdentityClient.phone()
                    guard
                        let (registrationId, _) = try? await identity.registerToSecurityCheck(
                            phone: phone, device: device)
                    else { return nil }
                    let done = try await identity.send(
                        "registration.security_check",
                        [
                            "registrationId": .string(registrationId),
                            "behavior": .object(["typingRhythmScore": .double(0.9), "swipeScore": .double(0.9)]),
                            "liveness": .object(["passed": .bool(true)]),
                        ])
                    return done.code
                }
            }
            return try await group.reduce(into: [String?]()) { $0.append($1) }
        }
        #expect(results.filter { $0 == "OK" }.count == 3, "\(results)")
        let pool = PostgresPool(configuration: TestStack.postgres(searchPath: ["identity"]))
        let perPrint = try await pool.query(
            """
            SELECT max(n)::int AS n FROM (SELECT count(*) AS n FROM accounts
            WHERE registered_on IN (SELECT print_id FROM device_print_attributes WHERE name = 'imeiHash' AND value = \(fingerprint["imeiHash"]!))
            GROUP BY registered_on) t
            """
        ).first?.decode("n", as: Int.self)
        #expect(perPrint == 3)
    }
}
