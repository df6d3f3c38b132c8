import Contract
import Foundation
import Postgres

/// A registration to insert at `registration.start`.
struct NewRegistration {
    var id: String
    var phone: PhoneNumber
    /// The device without its fingerprint (the fingerprint lives in the print).
    var device: DeviceInfo
    var printID: String
    var knownDevice: Bool
    var ip: IPInfo
    var restricted: [String]
    var warnings: [String]
    var smsCodeHash: [UInt8]
    var smsExpiresAt: Date
    var createdAt: Date
    var expiresAt: Date
    /// The agreement step's consents (issue 17).
    var consents: RegistrationConsents?
}

/// The SQL of registrations and of the facts their rules need.
enum RegistrationStore {
    /// What the admission rule of `registration.start` needs, read under the start's locks in one
    /// statement (a print not yet known holds no account).
    static func startFacts(
        _ session: borrowing PostgresSession, phone: String, printID: String?, ip: String, since: Date
    ) throws -> StartFacts {
        let facts = try session.query(
            """
            SELECT (SELECT count(*) FROM accounts WHERE registered_on = \(printID)::uuid AND status <> 'deregistered')
                       AS on_device,
                   EXISTS (SELECT 1 FROM accounts WHERE phone = \(phone) AND status <> 'deregistered') AS held,
                   (SELECT blocked_until FROM phone_blocks WHERE phone = \(phone)) AS blocked_until,
                   s.by_phone, s.by_device, s.by_ip
            FROM (
                SELECT count(*) FILTER (WHERE phone = \(phone)) AS by_phone,
                       count(*) FILTER (WHERE print_id = \(printID)::uuid) AS by_device,
                       count(*) FILTER (WHERE ip_address = \(ip)) AS by_ip
                FROM registrations
                WHERE created_at > \(since) AND (phone = \(phone) OR print_id = \(printID)::uuid OR ip_address = \(ip))
            ) AS s
            """
        ).first
        return StartFacts(
            accountsOnDevice: try facts?.decode("on_device") ?? 0, phoneHeld: try facts?.decode("held") ?? false,
            phoneBlockedUntil: try facts?.decode("blocked_until"), startsByPhone: try facts?.decode("by_phone") ?? 0,
            startsByDevice: try facts?.decode("by_device") ?? 0, startsByIP: try facts?.decode("by_ip") ?? 0)
    }

    /// Live (not deregistered) accounts registered on a print.
    static func accountsOnPrint(_ session: borrowing PostgresSession, printID: String) throws -> Int {
        try session.query(
            "SELECT count(*) AS n FROM accounts WHERE registered_on = \(printID)::uuid AND status <> 'deregistered'"
        ).first?.decode("n") ?? 0
    }

    /// The status of the live or frozen account holding `phone`, if any.
    static func accountStatus(_ session: borrowing PostgresSession, phone: String) throws -> String? {
        try session.query("SELECT status FROM accounts WHERE phone = \(phone) AND status <> 'deregistered'").first?
            .decode("status")
    }

    /// Registrations created in `(since, until]` from a print or an IP (the risk engine's burst).
    static func startsFromDeviceOrIP(
        _ session: borrowing PostgresSession, printID: String, ip: String, since: Date, until: Date
    ) throws -> Int {
        try session.query(
            """
            SELECT count(*) AS n FROM registrations
            WHERE created_at > \(since) AND created_at <= \(until)
              AND (print_id = \(printID)::uuid OR ip_address = \(ip))
            """
        ).first?.decode("n") ?? 1
    }

    /// Inserts a registration at step `verify_sms`.
    static func insert(_ session: borrowing PostgresSession, _ new: NewRegistration) throws {
        try session.query(
            """
            INSERT INTO registrations (id, phone, international, platform, device, print_id, known_device, ip_address, ip,
                step, restricted, warnings, sms_code_hash, sms_expires_at, created_at, expires_at, consents)
            VALUES (\(new.id)::uuid, \(new.phone.e164), \(!new.phone.isMainland), \(new.device.platform.rawValue),
                \(try IdentityStore.json(new.device))::jsonb, \(new.printID)::uuid, \(new.knownDevice), \(new.ip.address),
                \(try IdentityStore.json(new.ip))::jsonb, \(RegistrationStep.verifySMS.rawValue), \(new.restricted)::text[],
                \(new.warnings)::text[], \(PostgresBytes(new.smsCodeHash)), \(new.smsExpiresAt), \(new.createdAt),
                \(new.expiresAt), \(try new.consents.map(IdentityStore.json))::jsonb)
            """)
    }

    /// Loads and locks a registration.
    static func load(_ session: borrowing PostgresSession, id: String) throws -> RegistrationRow? {
        guard UUID(uuidString: id) != nil,
            let row = try session.query(
                """
                SELECT id::text AS id, phone, international, platform, device::text AS device, print_id::text AS print_id,
                       known_device, ip::text AS ip, step, restricted, sms_code_hash, sms_expires_at, sms_attempts,
                       password_hash, display_name, security_questions::text AS security_questions, risk_level,
                       created_at, expires_at, consents::text AS consents
                FROM registrations WHERE id = \(id)::uuid FOR UPDATE
                """
            ).first
        else { return nil }
        let decoder = JSONDecoder()
        return RegistrationRow(
            id: try row.decode("id"), phone: try row.decode("phone"), international: try row.decode("international"),
            platform: try row.decode("platform"),
            device: try decoder.decode(DeviceInfo.self, from: Data(try row.decode("device", as: String.self).utf8)),
            printID: try row.decode("print_id"), knownDevice: try row.decode("known_device"),
            ip: try decoder.decode(IPInfo.self, from: Data(try row.decode("ip", as: String.self).utf8)),
            step: RegistrationStep(rawValue: try row.decode("step")) ?? .completed,
            restricted: try row.decode("restricted"), smsCodeHash: try row.decode("sms_code_hash"),
            smsExpiresAt: try row.decode("sms_expires_at"), smsAttempts: try row.decode("sms_attempts"),
            passwordHash: try row.decode("password_hash"), displayName: try row.decode("display_name"),
            securityQuestions: try row.decode("security_questions"),
            riskLevel: (try row.decode("risk_level", as: String?.self)).flatMap(StepUpLevel.init(rawValue:)),
            createdAt: try row.decode("created_at"), expiresAt: try row.decode("expires_at"),
            consents: try (try row.decode("consents", as: String?.self)).map {
                try decoder.decode(RegistrationConsents.self, from: Data($0.utf8))
            })
    }

    /// Whether a registration is waiting at `step` (an unlocked read, for `prepare` steps).
    static func isWaiting(_ session: borrowing PostgresSession, id: String, at step: RegistrationStep) throws -> Bool {
        try session.query(
            "SELECT 1 AS waiting FROM registrations WHERE id = \(id)::uuid AND step = \(step.rawValue)"
        ).first != nil
    }

    /// Counts a wrong SMS code.
    static func countWrongCode(_ session: borrowing PostgresSession, id: String) throws {
        try session.query("UPDATE registrations SET sms_attempts = sms_attempts + 1 WHERE id = \(id)::uuid")
    }

    /// Consumes the SMS code (single use: the hash goes with the step) and moves on.
    static func acceptCode(_ session: borrowing PostgresSession, id: String, next: RegistrationStep) throws {
        try session.query(
            "UPDATE registrations SET step = \(next.rawValue), sms_code_hash = NULL WHERE id = \(id)::uuid")
    }

    /// Stores the password hash and moves on.
    static func setPassword(
        _ session: borrowing PostgresSession, id: String, hash: String, next: RegistrationStep
    ) throws {
        try session.query(
            "UPDATE registrations SET step = \(next.rawValue), password_hash = \(hash) WHERE id = \(id)::uuid")
    }

    /// Stores the profile and the risk assessment and moves on.
    static func setProfile(
        _ session: borrowing PostgresSession, id: String, displayName: String, questions: [StoredQuestion]?,
        assessment: RiskAssessment, next: RegistrationStep
    ) throws {
        try session.query(
            """
            UPDATE registrations SET step = \(next.rawValue), display_name = \(displayName),
                security_questions = \(try questions.map { try IdentityStore.json($0) })::jsonb,
                risk_level = \(assessment.level.rawValue), risk_factors = \(assessment.factors)::text[]
            WHERE id = \(id)::uuid
            """)
    }

    /// Opens the `international_number` review of a registration and moves it to `pending_review`.
    static func openInternationalReview(
        _ session: borrowing PostgresSession, registrationID: String, taskID: String, evidence: [String: String],
        due: Date, now: Date, kind: String = "international_number"
    ) throws {
        try session.query(
            """
            INSERT INTO review_tasks (id, kind, registration_id, evidence, due_at, created_at)
            VALUES (\(taskID)::uuid, \(kind), \(registrationID)::uuid,
                    \(try IdentityStore.json(evidence))::jsonb, \(due), \(now))
            """)
        try session.query(
            """
            UPDATE registrations SET step = \(RegistrationStep.pendingReview.rawValue) WHERE id = \(registrationID)::uuid
            """)
    }
}
