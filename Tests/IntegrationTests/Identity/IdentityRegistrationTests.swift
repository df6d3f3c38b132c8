import Contract
import Foundation
import Messaging
import Postgres
import TestSupport
import Testing

/// Registration through `identity.commands`, read back from `registrar.replies`, `identity.events`
/// and `notifications.sms`, as a client would.
@Suite(.enabled(if: TestStack.enabled))
struct IdentityRegistrationTests {
    let identity = IdentityClient()

    @Test func aMobileRegistrationCreatesAnAccountAndTellsEveryone() async throws {
        let phone = IdentityClient.phone()
        let started = try await identity.start(phone: phone)
        #expect(started.code == "OK")
        #expect(started.string("next") == "verify_sms")
        #expect(started.result["international"] == .bool(false))
        let registrationId = try #require(started.string("registrationId"))

        // The code travels only on notifications.sms, keyed by the phone.
        let sms = try await identity.client.event(on: "notifications.sms") { $0.data["phone"]?.stringValue == phone }
        let code = try #require(sms.data["code"]?.stringValue)
        #expect(code.count == 6 && code.allSatisfy(\.isNumber))
        #expect(sms.type == "sms.requested")
        #expect(sms.data["purpose"] == .string("registration"))

        let verified = try await identity.send(
            "registration.verify_sms", ["registrationId": .string(registrationId), "code": .string(code)])
        #expect(verified.code == "OK" && verified.string("next") == "set_password")
        let password = try await identity.send(
            "registration.set_password",
            ["registrationId": .string(registrationId), "password": .string("Sunflower-42")])
        #expect(password.string("next") == "complete_profile")
        let profile = try await identity.send(
            "registration.complete_profile",
            ["registrationId": .string(registrationId), "displayName": .string("Mei")])
        #expect(profile.string("next") == "security_check")
        let level = try #require(profile.string("requiredLevel"))
        #expect(["basic", "medium", "high"].contains(level))
        let done = try await identity.send(
            "registration.security_check",
            [
                "registrationId": .string(registrationId),
                "behavior": .object(["typingRhythmScore": .double(0.8), "swipeScore": .double(0.8)]),
                "liveness": .object(["passed": .bool(true)]),
            ])
        #expect(done.code == "OK")
        let accountId = try #require(done.string("accountId"))
        #expect(done.string("sessionToken")?.count == 64)

        let registered = try await identity.client.event(on: "identity.events") {
            $0.type == "account.registered" && $0.subject == accountId
        }
        let masked = try #require(registered.data["phone"]?.stringValue)
        #expect(masked.hasPrefix("+86") && masked.hasSuffix(String(phone.suffix(4))) && masked.contains("******"))
        #expect(registered.correlationid != nil && registered.causationid == done.event.inreplyto)
        let assessed = try await identity.client.event(on: "identity.events") {
            $0.type == "risk.assessed" && $0.subject == registrationId
        }
        #expect(assessed.data["level"] == .string(level))
        // Events never carry the raw phone.
        let events = identity.client.seenEvents(on: "identity.events")
        #expect(!events.contains { String(decoding: $0.encoded(), as: UTF8.self).contains(phone) })
    }

    @Test func everyPlatformsEntryRuleHolds() async throws {
        let web = try await identity.start(
            phone: IdentityClient.phone(), device: IdentityClient.device(platform: "web"))
        #expect(web.code == "REGISTRATION_NOT_AVAILABLE_ON_WEB")
        for desktop in ["windows", "macos"] {
            let refused = try await identity.start(
                phone: IdentityClient.phone(), device: IdentityClient.device(platform: desktop, osVersion: "11"))
            #expect(refused.code == "SCAN_REQUIRED", "\(desktop)")
        }
        let emulator = try await identity.start(
            phone: IdentityClient.phone(), device: IdentityClient.device(emulator: true))
        #expect(emulator.code == "EMULATOR_FORBIDDEN")
        let unsupported: [JSONValue] = [
            IdentityClient.device(platform: "ios", osVersion: "10.3", chip: "A12"),
            IdentityClient.device(platform: "ios", osVersion: "15", chip: "A8"),
            IdentityClient.device(platform: "android", osVersion: "6.0"),
            IdentityClient.device(platform: "android", osVersion: "12", ramMB: 1024),
            IdentityClient.device(platform: "harmonyos", osVersion: "1.1"),
        ]
        for device in unsupported {
            let answer = try await identity.start(phone: IdentityClient.phone(), device: device)
            #expect(answer.code == "DEVICE_UNSUPPORTED", "\(device)")
        }
        for device in [
            IdentityClient.device(platform: "ios", osVersion: "11.0", chip: "A9"),
            IdentityClient.device(platform: "android", osVersion: "7", ramMB: 2048),
            IdentityClient.device(platform: "harmonyos", osVersion: "2.0"),
        ] {
            #expect(try await identity.start(phone: IdentityClient.phone(), device: device).code == "OK", "\(device)")
        }
    }

    @Test func aDesktopRegistersWithAScanTicketFromASignedInPhoneOnce() async throws {
        let owner = try await identity.register()
        let issued = try await identity.send("desktop.scan_ticket.issue", [:], session: owner.sessionToken)
        let ticket = try #require(issued.string("scanTicket"))
        let desktop = IdentityClient.device(platform: "macos", osVersion: "14.1", chip: "M2")
        let first = try await identity.start(phone: IdentityClient.phone(), device: desktop, scanTicket: ticket)
        #expect(first.code == "OK")
        let again = try await identity.start(phone: IdentityClient.phone(), device: desktop, scanTicket: ticket)
        #expect(again.code == "SCAN_REQUIRED")
        let noSession = try await identity.send("desktop.scan_ticket.issue", [:])
        #expect(noSession.code == "UNAUTHENTICATED")
    }

    @Test func rootedDevicesAreRestrictedAndCustomROMsWarned() async throws {
        let rooted = try await identity.start(
            phone: IdentityClient.phone(), device: IdentityClient.device(rooted: true))
        #expect(rooted.code == "OK")
        #expect(rooted.result["restricted"] == .array([.string("payment")]))
        let rom = try await identity.start(
            phone: IdentityClient.phone(), device: IdentityClient.device(customRom: "MIUI", pushWhitelisted: false))
        #expect(rom.code == "OK")
        #expect(rom.warnings == ["PUSH_WHITELIST_REQUIRED"])
    }

    @Test func phoneRules() async throws {
        for bad in ["13800138000", "+86123", "+8623800138000", "+0123456789", "phone"] {
            #expect(try await identity.start(phone: bad).code == "INVALID_PHONE", "\(bad)")
        }
        let international = try await identity.start(phone: "+8529\(Int.random(in: 1_000_000...9_999_999))")
        #expect(international.code == "OK" && international.result["international"] == .bool(true))

        let account = try await identity.register()
        let phone = try await phoneOf(account.accountId)
        #expect(try await identity.start(phone: phone).code == "PHONE_IN_USE")
        try await identity.publishLifecycle("account.frozen", accountId: account.accountId)
        try await waitForStatus(account.accountId, "frozen")
        #expect(try await identity.start(phone: phone).code == "PHONE_IN_USE")
        try await identity.publishLifecycle("account.deregistered", accountId: account.accountId)
        try await waitForStatus(account.accountId, "deregistered")
        let cooling = try await identity.start(phone: phone)
        #expect(cooling.code == "PHONE_IN_COOLDOWN")
        #expect(cooling.string("availableAt") != nil)
    }

    @Test func startsAreRateLimitedPerPhone() async throws {
        let phone = IdentityClient.phone()
        for _ in 0..<5 {
            #expect(try await identity.start(phone: phone).code == "OK")
        }
        #expect(try await identity.start(phone: phone).code == "RATE_LIMITED")
    }

    @Test func startsAreRateLimitedPerIP() async throws {
        let ip = IdentityClient.ip("10.250.\(Int.random(in: 0...255)).\(Int.random(in: 1...254))")
        for _ in 0..<20 {
            #expect(try await identity.start(phone: IdentityClient.phone(), ip: ip).code == "OK")
        }
        #expect(try await identity.start(phone: IdentityClient.phone(), ip: ip).code == "RATE_LIMITED")
    }

    @Test func startsAreRateLimitedPerDevice() async throws {
        let device = IdentityClient.device()
        for _ in 0..<10 {
            #expect(try await identity.start(phone: IdentityClient.phone(), device: device).code == "OK")
        }
        #expect(try await identity.start(phone: IdentityClient.phone(), device: device).code == "RATE_LIMITED")
    }

    @Test func aDeviceHoldsAtMostThreeAccounts() async throws {
        let fingerprint = IdentityClient.fingerprint()
        for _ in 0..<3 {
            _ = try await identity.register(device: IdentityClient.device(fingerprint: fingerprint))
        }
        // A slightly different fingerprint (2 of 22 attributes changed) is still the same device.
        var changed = fingerprint
        changed["screen"] = "other"
        changed["locale"] = "other"
        let fourth = try await identity.start(
            phone: IdentityClient.phone(), device: IdentityClient.device(fingerprint: changed))
        #expect(fourth.code == "DEVICE_ACCOUNT_LIMIT")
    }

    @Test func smsCodesAllowFiveTriesThenLock() async throws {
        let phone = IdentityClient.phone()
        let started = try await identity.start(phone: phone)
        let registrationId = try #require(started.string("registrationId"))
        let code = try await identity.smsCode(for: phone)
        let wrong = code == "000000" ? "111111" : "000000"
        for left in (0..<5).reversed() {
            let answer = try await identity.send(
                "registration.verify_sms", ["registrationId": .string(registrationId), "code": .string(wrong)])
            #expect(answer.code == "SMS_CODE_INVALID")
            #expect(answer.result["attemptsLeft"] == .int(Int64(left)))
        }
        let locked = try await identity.send(
            "registration.verify_sms", ["registrationId": .string(registrationId), "code": .string(code)])
        #expect(locked.code == "SMS_CODE_LOCKED")
    }

    @Test func weakPasswordsAreRefused() async throws {
        let phone = IdentityClient.phone()
        let registrationId = try #require(try await identity.start(phone: phone).string("registrationId"))
        let code = try await identity.smsCode(for: phone)
        _ = try await identity.send(
            "registration.verify_sms", ["registrationId": .string(registrationId), "code": .string(code)])
        for weak in ["short1A", "abcdefghij", "12345678", "password1", "QWERTYUIOP"] {
            let answer = try await identity.send(
                "registration.set_password", ["registrationId": .string(registrationId), "password": .string(weak)])
            #expect(answer.code == "PASSWORD_TOO_WEAK", "\(weak)")
        }
        let ok = try await identity.send(
            "registration.set_password",
            ["registrationId": .string(registrationId), "password": .string("Sunflower-42")])
        #expect(ok.code == "OK")
        // No password or code in the registration row.
        let pool = PostgresPool(configuration: TestStack.postgres(searchPath: ["identity"]))
        let row = try #require(
            try await pool.query("SELECT password_hash FROM registrations WHERE id = \(registrationId)::uuid").first)
        #expect(try row.decode("password_hash", as: String.self).hasPrefix("$argon2id$"))
    }

    @Test func stepsCannotBeSkippedAndUnknownRegistrationsAreNamed() async throws {
        let phone = IdentityClient.phone()
        let registrationId = try #require(try await identity.start(phone: phone).string("registrationId"))
        let early = try await identity.send(
            "registration.set_password",
            ["registrationId": .string(registrationId), "password": .string("Sunflower-42")])
        #expect(early.code == "STEP_OUT_OF_ORDER" && early.string("next") == "verify_sms")
        let unknown = try await identity.send(
            "registration.verify_sms", ["registrationId": .string(UUID().uuidString), "code": .string("123456")])
        #expect(unknown.code == "REGISTRATION_NOT_FOUND")
    }

    @Test func aFingerprintWithTooFewAttributesIsMalformed() async throws {
        let device = IdentityClient.device(fingerprint: ["imeiHash": "x", "screen": "y"])
        let answer = try await identity.start(phone: IdentityClient.phone(), device: device)
        #expect(answer.code == "MALFORMED")
        #expect(answer.string("field") == "data.device.fingerprint")
    }

    @Test func internationalNumbersGoToReview() async throws {
        let (registrationId, profile) = try await identity.registerToSecurityCheck(
            phone: "+8529\(Int.random(in: 1_000_000...9_999_999))")
        #expect(profile.string("next") == "submit_documents")
        let early = try await identity.send(
            "registration.security_check", ["registrationId": .string(registrationId)])
        #expect(early.code == "STEP_OUT_OF_ORDER")
        let submitted = try await identity.send(
            "registration.submit_documents",
            [
                "registrationId": .string(registrationId), "documentType": .string("passport"),
                "documentRef": .string("doc-1"),
            ])
        #expect(submitted.status == "pending_review")
        #expect(submitted.string("taskId") != nil)
    }

    @Test func aResentCommandAnswersTheSameAndCreatesNothing() async throws {
        let phone = IdentityClient.phone()
        let id = UUID().uuidString.lowercased()
        let data: [String: JSONValue] = [
            "phone": .string(phone), "device": IdentityClient.device(), "ip": IdentityClient.ip(),
        ]
        let first = try await identity.send("registration.start", data, id: id)
        let envelope = RegistrarClient.command(type: "registration.start", data: .object(data), id: id)
        try await identity.client.sendRaw(
            Array(try JSONEncoder().encode(JSONValue.object(envelope))), topic: "identity.commands", key: phone)
        let replies = try await identity.client.read(topic: "registrar.replies") { read in
            read.filter { $0.event?.inreplyto == id }.count >= 2
        }.compactMap(\.event).filter { $0.inreplyto == id }
        #expect(replies.count == 2 && replies.allSatisfy { $0 == first.event })
        let pool = PostgresPool(configuration: TestStack.postgres(searchPath: ["identity"]))
        #expect(
            try await pool.query("SELECT count(*) AS n FROM registrations WHERE phone = \(phone)").first?.decode(
                "n", as: Int.self) == 1)
    }

    // MARK: helpers

    func phoneOf(_ accountId: String) async throws -> String {
        let pool = PostgresPool(configuration: TestStack.postgres(searchPath: ["identity"]))
        return try #require(try await pool.query("SELECT phone FROM accounts WHERE id = \(accountId)::uuid").first)
            .decode("phone")
    }

    func waitForStatus(_ accountId: String, _ status: String) async throws {
        let pool = PostgresPool(configuration: TestStack.postgres(searchPath: ["identity"]))
        try await TestStack.eventually("account \(accountId) becomes \(status)") {
            try await pool.query("SELECT status FROM accounts WHERE id = \(accountId)::uuid").first?
                .decode("status", as: String.self) == status
        }
    }
}

/// No raw phone, password, SMS code or session token is kept where the contract does not allow it.
@Suite(.enabled(if: TestStack.enabled))
struct IdentitySecretsTests {
    @Test func secretsAppearOnlyWhereTheContractAllows() async throws {
        let identity = IdentityClient()
        let phone = IdentityClient.phone()
        let password = "Secret-\(UUID().uuidString.prefix(8))"
        let device = IdentityClient.device()
        let account = try await identity.register(phone: phone, device: device, password: password)
        let code = try await identity.smsCode(for: phone)
        let login = try await identity.login(phone: phone, password: password, device: device)
        let token = try #require(login.string("sessionToken"))
        let secrets = [
            ("password", password), ("SMS code", "\"" + code + "\""), ("first token", account.sessionToken),
            ("login token", token),
        ]

        // Every row of every identity table, as JSON text, once the relay has sent everything.
        let pool = PostgresPool(configuration: TestStack.postgres(searchPath: ["identity"]))
        let deadline = ContinuousClock.now + .seconds(20)
        while try await pool.query("SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL").first?.decode(
            "n", as: Int.self) != 0
            && ContinuousClock.now < deadline
        {
            try await Task.sleep(for: .milliseconds(50))
        }
        let tables: [String] = try await pool.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'identity' AND table_type = 'BASE TABLE'"
        ).map { try $0.decode("table_name") }
        #expect(tables.count >= 10)
        for table in tables {
            // Table names come from the catalogue above.
            let rows: [String] = try await pool.query(
                PostgresQuery(trusted: "SELECT to_jsonb(t)::text AS row FROM identity.\(table) t")
            ).map { try $0.decode("row") }
            for (what, secret) in secrets {
                #expect(!rows.contains { $0.contains(secret) }, "\(what) stored in identity.\(table)")
            }
            if table != "accounts" && table != "registrations" && table != "phone_blocks" {
                #expect(!rows.contains { $0.contains(phone) }, "phone stored in identity.\(table)")
            }
        }
        // The service's log never names them.
        if let stackDir = ProcessInfo.processInfo.environment["REGISTRAR_STACK_DIR"] {
            let log = (try? String(contentsOfFile: stackDir + "/logs/registrar-identity.log", encoding: .utf8)) ?? ""
            for (what, secret) in secrets + [("phone", phone)] {
                #expect(!log.contains(secret), "\(what) in the identity log")
            }
        }
        // Events carry only the masked phone.
        let events = try await identity.client.read(topic: "identity.events", timeout: .seconds(3)) { _ in false }
        #expect(!events.contains { String(decoding: $0.message.value, as: UTF8.self).contains(phone) })
        #expect(!events.contains { String(decoding: $0.message.value, as: UTF8.self).contains(token) })
    }
}
