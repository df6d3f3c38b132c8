import Contract
import Foundation
import Messaging
import Platform
import Postgres

/// One consent as its owner reads it (`consents.list`).
struct ConsentView: Encodable, Sendable {
    var kind: String
    var granted: Bool
    /// The accepted version (privacy policy only; `null` when accepted before versions were recorded).
    var version: String?
    /// The version in force (privacy policy only).
    var currentVersion: String?
    /// When it was last given or withdrawn; `null` for accounts registered before consents were recorded.
    var changedAt: String?

    private enum CodingKeys: String, CodingKey { case kind, granted, version, currentVersion, changedAt }

    /// Encodes every key, absent values as `null`.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        try container.encode(granted, forKey: .granted)
        try container.encode(version, forKey: .version)
        try container.encode(currentVersion, forKey: .currentVersion)
        try container.encode(changedAt, forKey: .changedAt)
    }
}

/// A verification as the owner's export shows it: never the number, at most a card's last four.
struct VerificationView: Encodable, Sendable {
    var method: String
    var state: String
    var checkedAt: String
    var cardLast4: String?
    var livenessPassed: Bool?
}

/// The consents a registration's agreement step recorded (`registration.start` `consents`).
struct RegistrationConsents: Codable, Sendable {
    var privacyPolicyVersion: String?
    var idNumber: Bool?
    var biometric: Bool?
    var deviceIdentifiers: Bool?
}

/// The SQL of exports and consents (issue 17).
enum PrivacyStore {
    // MARK: exports

    /// Exports the account asked for since `since`.
    static func exportsSince(_ session: borrowing PostgresSession, accountID: String, since: Date) throws -> Int {
        try session.query(
            """
            SELECT count(*) AS n FROM exports WHERE account_id = \(accountID)::uuid AND requested_at > \(since)
            """
        ).first?.decode("n") ?? 0
    }

    /// Records a new export.
    static func insertExport(
        _ session: borrowing PostgresSession, id: String, accountID: String, requestedAt: Date, expiresAt: Date
    ) throws {
        try session.query(
            """
            INSERT INTO exports (id, account_id, requested_at, expires_at)
            VALUES (\(id)::uuid, \(accountID)::uuid, \(requestedAt), \(expiresAt))
            """)
    }

    /// The export's owner and dates, locked, while it waits for parts (`nil`: unknown or assembled).
    static func pendingExport(_ session: borrowing PostgresSession, id: String) throws
        -> (accountID: String, requestedAt: Date, expiresAt: Date)?
    {
        guard
            let row = try session.query(
                """
                SELECT account_id::text AS account_id, requested_at, expires_at FROM exports
                WHERE id = \(id)::uuid AND parts IS NULL FOR UPDATE
                """
            ).first
        else { return nil }
        return (try row.decode("account_id"), try row.decode("requested_at"), try row.decode("expires_at"))
    }

    /// Keeps one service's part (a second copy of it changes nothing).
    static func savePart(
        _ session: borrowing PostgresSession, exportID: String, service: String, data: JSONValue, now: Date
    ) throws {
        try session.query(
            """
            INSERT INTO export_parts (export_id, service, data, received_at)
            VALUES (\(exportID)::uuid, \(service), \(try IdentityStore.json(data))::jsonb, \(now))
            ON CONFLICT (export_id, service) DO NOTHING
            """)
    }

    /// The parts received so far, by service.
    static func parts(_ session: borrowing PostgresSession, exportID: String) throws -> [String: JSONValue] {
        var parts: [String: JSONValue] = [:]
        for row in try session.query(
            "SELECT service, data::text AS data FROM export_parts WHERE export_id = \(exportID)::uuid")
        {
            let text: String = try row.decode("data")
            parts[try row.decode("service")] = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        }
        return parts
    }

    /// Stores the assembled bundle's parts and marks the export ready; the services' parts go.
    static func storeBundle(_ session: borrowing PostgresSession, exportID: String, chunks: [String], now: Date) throws
    {
        for (index, chunk) in chunks.enumerated() {
            try session.query(
                "INSERT INTO export_chunks (export_id, part, data) VALUES (\(exportID)::uuid, \(index), \(chunk))")
        }
        try session.query("DELETE FROM export_parts WHERE export_id = \(exportID)::uuid")
        try session.query(
            "UPDATE exports SET parts = \(chunks.count), ready_at = \(now) WHERE id = \(exportID)::uuid")
    }

    /// The export as `account.export.get` needs it.
    static func export(_ session: borrowing PostgresSession, id: String) throws -> StoredExport? {
        guard
            let row = try session.query(
                """
                SELECT e.account_id::text AS account_id, e.expires_at, e.parts,
                       coalesce((SELECT array_agg(p.service) FROM export_parts p WHERE p.export_id = e.id), '{}') AS received
                FROM exports e WHERE e.id = \(id)::uuid
                """
            ).first
        else { return nil }
        let received: [String] = try row.decode("received")
        return StoredExport(
            accountID: try row.decode("account_id"), expiresAt: try row.decode("expires_at"),
            parts: try row.decode("parts"), received: Set(received))
    }

    /// One part of an assembled bundle.
    static func chunk(_ session: borrowing PostgresSession, exportID: String, part: Int) throws -> String? {
        try session.query(
            "SELECT data FROM export_chunks WHERE export_id = \(exportID)::uuid AND part = \(part)"
        ).first?.decode("data")
    }

    /// Deletes up to `limit` exports that expired by `now` (their parts and chunks cascade).
    static func deleteExpired(_ session: borrowing PostgresSession, now: Date, limit: Int) throws -> Int {
        try session.query(
            """
            WITH due AS (
                SELECT id FROM exports WHERE expires_at <= \(now) ORDER BY expires_at LIMIT \(limit)
                FOR UPDATE SKIP LOCKED
            )
            DELETE FROM exports e USING due WHERE e.id = due.id RETURNING e.id
            """
        ).count
    }

    // MARK: the owner's data (identity's part of an export)

    /// The account's verifications, newest first, without numbers.
    static func verifications(_ session: borrowing PostgresSession, accountID: String) throws -> [VerificationView] {
        try session.query(
            """
            SELECT method, state, checked_at, last4, liveness_passed FROM verifications
            WHERE account_id = \(accountID)::uuid ORDER BY checked_at DESC, id
            """
        ).map { row in
            VerificationView(
                method: try row.decode("method"), state: try row.decode("state"),
                checkedAt: CloudEvent.timestamp(try row.decode("checked_at")), cardLast4: try row.decode("last4"),
                livenessPassed: try row.decode("liveness_passed"))
        }
    }

    // MARK: consents

    /// The account's stored consents by kind: (granted, version, changed at).
    static func consents(_ session: borrowing PostgresSession, accountID: String) throws
        -> [ConsentKind: (granted: Bool, version: String?, changedAt: Date)]
    {
        var stored: [ConsentKind: (granted: Bool, version: String?, changedAt: Date)] = [:]
        for row in try session.query(
            "SELECT kind, granted, version, changed_at FROM consents WHERE account_id = \(accountID)::uuid")
        {
            guard let kind = ConsentKind(rawValue: try row.decode("kind")) else { continue }
            stored[kind] = (try row.decode("granted"), try row.decode("version"), try row.decode("changed_at"))
        }
        return stored
    }

    /// The account's consents as its owner reads them, every kind (a kind with no row was given
    /// before consents were recorded).
    static func consentViews(_ session: borrowing PostgresSession, accountID: String, policy: Policy.Privacy) throws
        -> [ConsentView]
    {
        let stored = try consents(session, accountID: accountID)
        return ConsentKind.allCases.map { kind in
            let row = stored[kind]
            return ConsentView(
                kind: kind.rawValue, granted: row?.granted ?? true, version: row?.version,
                currentVersion: kind == .privacyPolicy ? policy.policyVersion : nil,
                changedAt: row.map { CloudEvent.timestamp($0.changedAt) })
        }
    }

    /// Gives or withdraws one consent.
    static func setConsent(
        _ session: borrowing PostgresSession, accountID: String, kind: ConsentKind, granted: Bool, version: String?,
        now: Date
    ) throws {
        try session.query(
            """
            INSERT INTO consents (account_id, kind, granted, version, changed_at)
            VALUES (\(accountID)::uuid, \(kind.rawValue), \(granted), \(version), \(now))
            ON CONFLICT (account_id, kind) DO UPDATE
            SET granted = EXCLUDED.granted, version = coalesce(EXCLUDED.version, consents.version),
                changed_at = EXCLUDED.changed_at
            """)
    }

    /// Records a new account's consents from its registration's agreement step (absent: the privacy
    /// policy in force and every other kind given, as the app's single agreement step does).
    static func recordAtRegistration(
        _ session: borrowing PostgresSession, accountID: String, consents: RegistrationConsents?, now: Date,
        policy: Policy.Privacy
    ) throws {
        let given: [(ConsentKind, Bool, String?)] = [
            (.privacyPolicy, true, consents?.privacyPolicyVersion ?? policy.policyVersion),
            (.idNumber, consents?.idNumber ?? true, nil),
            (.biometric, consents?.biometric ?? true, nil),
            (.deviceIdentifiers, consents?.deviceIdentifiers ?? true, nil),
        ]
        for (kind, granted, version) in given {
            try setConsent(session, accountID: accountID, kind: kind, granted: granted, version: version, now: now)
        }
    }

    /// The identity consents the account has withdrawn.
    static func withdrawn(_ session: borrowing PostgresSession, accountID: String) throws -> Set<ConsentKind> {
        Set(try consents(session, accountID: accountID).filter { !$0.value.granted }.keys)
    }

    // MARK: effects of a withdrawal

    /// When the account registered, and its latest verified bank card (for the fallback tier).
    static func tierFacts(_ session: borrowing PostgresSession, accountID: String) throws
        -> (registeredAt: Date, bankCardVerifiedAt: Date?)?
    {
        guard
            let row = try session.query(
                """
                SELECT a.created_at,
                       (SELECT max(v.checked_at) FROM verifications v
                        WHERE v.account_id = a.id AND v.method = 'bank_card' AND v.state = 'verified') AS card_at
                FROM accounts a WHERE a.id = \(accountID)::uuid
                """
            ).first
        else { return nil }
        return (try row.decode("created_at"), try row.decode("card_at"))
    }

    /// Deletes the account's liveness results: its liveness checks and the liveness fields of its
    /// verifications. Returns the rows touched.
    static func deleteLiveness(_ session: borrowing PostgresSession, accountID: String) throws -> Int {
        let checks = try session.query(
            "DELETE FROM liveness_checks WHERE account_id = \(accountID)::uuid RETURNING account_id"
        ).count
        let fields = try session.query(
            """
            UPDATE verifications SET liveness_passed = NULL, liveness_score = NULL
            WHERE account_id = \(accountID)::uuid AND (liveness_passed IS NOT NULL OR liveness_score IS NOT NULL)
            RETURNING id
            """
        ).count
        return checks + fields
    }

    /// Deletes the account's ID-card verifications (sealed number and lookup hash); their review
    /// tasks stay, without evidence or link. Returns the verifications deleted.
    static func deleteIDNumbers(_ session: borrowing PostgresSession, accountID: String) throws -> Int {
        try session.query(
            """
            UPDATE review_tasks SET evidence = '{}', verification_id = NULL
            WHERE verification_id IN (
                SELECT id FROM verifications WHERE account_id = \(accountID)::uuid AND method = 'id_card')
            """)
        return try session.query(
            """
            DELETE FROM verifications WHERE account_id = \(accountID)::uuid AND method = 'id_card' RETURNING id
            """
        ).count
    }

    /// Removes the device identifiers from the account's stored fingerprints (devices and challenges;
    /// a registration keeps none). Returns the device rows changed.
    static func stripDeviceIdentifiers(_ session: borrowing PostgresSession, accountID: String) throws -> Int {
        let names = ConsentRules.deviceIdentifierAttributes
        let devices = try session.query(
            """
            UPDATE devices SET fingerprint = fingerprint - \(names)::text[]
            WHERE account_id = \(accountID)::uuid AND fingerprint ?| \(names)::text[]
            RETURNING id
            """
        ).count
        try session.query(
            """
            UPDATE challenges SET fingerprint = fingerprint - \(names)::text[]
            WHERE account_id = \(accountID)::uuid AND fingerprint ?| \(names)::text[]
            """)
        return devices
    }

    /// Sets the account's tier after a withdrawal.
    static func setTier(_ session: borrowing PostgresSession, accountID: String, _ tier: TierState, now: Date) throws {
        try session.query(
            """
            UPDATE account_tiers SET tier = \(tier.tier.rawValue), expires_at = \(tier.expiresAt), expired_at = NULL,
                updated_at = \(now)
            WHERE account_id = \(accountID)::uuid
            """)
    }
}
