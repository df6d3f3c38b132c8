import Foundation
import Messaging
import TestSupport
import Testing

/// The gateway at the HTTP level, through curl, against the stack `scripts/test` starts (its gateway
/// trusts X-Forwarded-For from loopback and lists 198.51.100.0/24 as proxies).
@Suite(.enabled(if: TestStack.enabled)) struct GatewayHTTPTests {
    let http: Curl

    init() throws { http = try #require(Curl.stack, "REGISTRAR_GATEWAY_URL is not set") }

    /// A US address (DB-placed) that no other test run uses within the services' per-IP windows.
    static func usAddress() -> String { "8.8.\(Int.random(in: 0...255)).\(Int.random(in: 1...254))" }

    static func phone() -> String { IdentityClient.phone() }

    static func smsCode(_ phone: String, purpose: String) async throws -> String {
        let event = try await TestStack.client.event(on: "notifications.sms", timeout: .seconds(30)) {
            $0.data["phone"]?.stringValue == phone && $0.data["purpose"]?.stringValue == purpose
        }
        return try #require(event.data["code"]?.stringValue)
    }

    static func factors(of registrationId: String) async throws -> [String] {
        let assessed = try await TestStack.client.event(on: "identity.events", timeout: .seconds(30)) {
            $0.type == "risk.assessed" && $0.subject == registrationId
        }
        guard case .array(let values)? = assessed.data["factors"] else { return [] }
        return values.compactMap(\.stringValue)
    }

    /// A claimed `ip` the gateway must discard.
    static let claimedIP: JSONValue = .object([
        "address": .string("10.0.0.1"), "proxy": .bool(false), "country": .string("CN"),
        "timezone": .string("Asia/Shanghai"),
    ])

    @Test func pingAndRefusalsAnswerInJSON() async throws {
        let ping = try await http.request("GET", "/v1/ping")
        #expect(ping.status == 200 && ping.code == "OK" && ping.result("service") == "identity")
        #expect(ping.headers["x-command-id"] != nil)
        #expect(try await http.request("GET", "/v1/nothing-here").status == 404)
        #expect(try await http.request("DELETE", "/v1/login").status == 405)
        let noToken = try await http.request("GET", "/v1/account")
        #expect(noToken.status == 401 && noToken.code == "UNAUTHENTICATED")
        let badToken = try await http.request("GET", "/v1/account", token: "not-a-session")
        #expect(badToken.status == 401 && badToken.code == "UNAUTHENTICATED")
        let badKey = try await http.request("GET", "/v1/ping", idempotencyKey: "1")
        #expect(badKey.status == 400 && badKey.code == "MALFORMED")
        let notJSON = try await http.request("POST", "/v1/login", rawBody: Array("{nope".utf8))
        #expect(notJSON.status == 400 && notJSON.code == "MALFORMED")
        let malformed = try await http.request("POST", "/v1/login", json: .object([:]))
        #expect(malformed.status == 400 && malformed.code == "MALFORMED")
        let huge = try await http.request(
            "POST", "/v1/login", json: .object(["pad": .string(String(repeating: "x", count: 70_000))]))
        #expect(huge.status == 413)
    }

    @Test func aRegistrationLoginResetAndDeregistrationRunOverHTTP() async throws {
        let phone = Self.phone()
        let address = Self.usAddress()
        let device = IdentityClient.device()
        let key = UUID().uuidString
        let start = try await http.request(
            "POST", "/v1/registration/start",
            json: .object(["phone": .string(phone), "device": device, "ip": Self.claimedIP]), idempotencyKey: key,
            forwardedFor: address)
        #expect(start.status == 200, "\(start.body)")
        let registrationId = try #require(start.result("registrationId"))
        // The same Idempotency-Key is the same command: the kept reply again, no second start.
        let again = try await http.request(
            "POST", "/v1/registration/start",
            json: .object(["phone": .string(phone), "device": device, "ip": Self.claimedIP]), idempotencyKey: key,
            forwardedFor: address)
        #expect(again.status == 200 && again.result("registrationId") == registrationId)
        #expect(again.body["commandId"]?.stringValue == key.lowercased())

        let code = try await Self.smsCode(phone, purpose: "registration")
        let id = JSONValue.string(registrationId)
        let verified = try await http.request(
            "POST", "/v1/registration/verify-sms", json: .object(["registrationId": id, "code": .string(code)]))
        #expect(verified.status == 200, "\(verified.body)")
        let password = try await http.request(
            "POST", "/v1/registration/set-password",
            json: .object(["registrationId": id, "password": .string("Sunflower-42")]))
        #expect(password.status == 200, "\(password.body)")
        let profile = try await http.request(
            "POST", "/v1/registration/complete-profile",
            json: .object(["registrationId": id, "displayName": .string("Ada")]))
        #expect(profile.status == 200 && profile.result("requiredLevel") != "basic", "\(profile.body)")
        // The client claimed CN from a US address: the database's country wins, so geo_anomaly
        // (assessed at complete_profile).
        #expect(try await Self.factors(of: registrationId).contains("geo_anomaly"))
        let check = try await http.request(
            "POST", "/v1/registration/security-check",
            json: .object([
                "registrationId": id,
                "behavior": .object(["typingRhythmScore": .double(0.9), "swipeScore": .double(0.9)]),
                "liveness": .object(["passed": .bool(true), "score": .double(0.95)]),
            ]))
        #expect(check.status == 200, "\(check.body)")
        let accountId = try #require(check.result("accountId"))
        let token = try #require(check.result("sessionToken"))

        let account = try await http.request("GET", "/v1/account", token: token)
        #expect(account.status == 200, "\(account.body)")

        let login = try await http.request(
            "POST", "/v1/login",
            json: .object(["phone": .string(phone), "password": .string("Sunflower-42"), "device": device]),
            forwardedFor: address)
        #expect(login.status == 200 && login.result("accountId") == accountId, "\(login.body)")
        let wrong = try await http.request(
            "POST", "/v1/login",
            json: .object(["phone": .string(phone), "password": .string("Wrong-password-1"), "device": device]),
            forwardedFor: address)
        #expect(wrong.status == 401 && wrong.code == "INVALID_CREDENTIALS")

        let reset = try await http.request(
            "POST", "/v1/password/reset/start", json: .object(["phone": .string(phone), "device": device]),
            forwardedFor: address)
        #expect(reset.status == 200, "\(reset.body)")
        let resetCode = try await Self.smsCode(phone, purpose: "password_reset")
        let completed = try await http.request(
            "POST", "/v1/password/reset/complete",
            json: .object([
                "phone": .string(phone), "code": .string(resetCode), "newPassword": .string("Marigold-77"),
                "device": device,
            ]), forwardedFor: address)
        #expect(completed.status == 200, "\(completed.body)")
        let relogin = try await http.request(
            "POST", "/v1/login",
            json: .object(["phone": .string(phone), "password": .string("Marigold-77"), "device": device]),
            forwardedFor: address)
        #expect(relogin.status == 200, "\(relogin.body)")
        let fresh = try #require(relogin.result("sessionToken"))

        // The deregistration service learns of the session through identity's events: retry
        // while it does not know it yet (a fresh Idempotency-Key each time, as a client would).
        var deregistration = try await http.request(
            "POST", "/v1/deregistration/request",
            json: .object(["accountId": .string(accountId), "deviceFingerprint": device["fingerprint"]!]), token: fresh)
        let deadline = ContinuousClock.now + .seconds(30)
        while deregistration.status == 401 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            deregistration = try await http.request(
                "POST", "/v1/deregistration/request",
                json: .object(["accountId": .string(accountId), "deviceFingerprint": device["fingerprint"]!]),
                token: fresh)
        }
        #expect(
            deregistration.status == 200 && deregistration.result("cooldownEndsAt") != nil, "\(deregistration.body)")
    }

    @Test func aListedProxyRangeIsAssessedAsProxyWhateverTheClientClaims() async throws {
        let address = "198.51.100.\(Int.random(in: 1...254))"
        let phone = Self.phone()
        let start = try await http.request(
            "POST", "/v1/registration/start",
            json: .object([
                "phone": .string(phone), "device": IdentityClient.device(), "ip": Self.claimedIP,
            ]), forwardedFor: address)
        #expect(start.status == 200, "\(start.body)")
        let registrationId = try #require(start.result("registrationId"))
        let id = JSONValue.string(registrationId)
        let code = try await Self.smsCode(phone, purpose: "registration")
        for (path, body) in [
            ("/v1/registration/verify-sms", JSONValue.object(["registrationId": id, "code": .string(code)])),
            ("/v1/registration/set-password", .object(["registrationId": id, "password": .string("Sunflower-42")])),
            ("/v1/registration/complete-profile", .object(["registrationId": id, "displayName": .string("Pat")])),
        ] {
            let answer = try await http.request("POST", path, json: body)
            #expect(answer.status == 200, "\(path): \(answer.body)")
        }
        #expect(try await Self.factors(of: registrationId).contains("proxy_ip"))
    }

    @Test func aBurstFromOneClientAddressMeets429WithRetryAfter() async throws {
        // Through the trusted proxy (loopback) the gateway uses the forwarded address, and the
        // rate limiter counts per client address: a burst from one address meets 429 with
        // Retry-After while another address is unaffected.
        // (Sent side by side: one after another, 40 requests through curl on a loaded machine can
        // outlast the one-minute window and never meet the limit.)
        let address = "203.0.113.\(Int.random(in: 1...254))"
        let http = self.http
        let answers = try await withThrowingTaskGroup(of: Curl.Response.self) { group in
            for _ in 0..<40 {
                group.addTask {
                    try await http.request("POST", "/v1/login", json: .object([:]), forwardedFor: address)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(answers.allSatisfy { $0.status == 400 || $0.status == 429 }, "\(answers.map(\.status))")
        let refusal = try #require(answers.first { $0.status == 429 }, "no 429 within 40 logins from one address")
        #expect(refusal.code == "RATE_LIMITED" && Int(refusal.headers["retry-after"] ?? "") ?? 0 >= 1)
        let other = try await http.request(
            "POST", "/v1/login", json: .object([:]), forwardedFor: "203.0.113.\(Int.random(in: 1...254))")
        #expect(other.status == 400 || other.status == 429)
    }
}
