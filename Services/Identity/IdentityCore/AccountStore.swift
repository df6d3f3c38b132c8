import Contract
import Foundation
import Messaging
import Platform
import Postgres

/// A `password_resets` row, locked.
struct PasswordReset {
    var id: String
    /// Set only when the code was sent (an active account's phone).
    var accountID: String?
    var codeHash: [UInt8]
    var attempts: Int
    var expiresAt: Date
}

/// A `phone_changes` row, locked.
struct PhoneChange {
    var id: String
    var accountID: String
    var newPhone: String
    var oldCodeHash: [UInt8]
    var newCodeHash: [UInt8]
    var attempts: Int
    var state: String
    var expiresAt: Date
}

/// An account as its owner reads it (`account.get`).
struct AccountView: Encodable {
    var accountId: String
    var status: String
    var phone: String
    var displayName: String
    var avatarRef: String?
    var createdAt: String
    var tier: String?
    var tierExpiresAt: String?
    var restrictions: [String]
    var locks: Locks
    var cooldownEndsAt: String?
    var deviceCount: Int

    struct Locks: Encodable {
        /// End of a temporary lock (wrong passwords), while it holds.
        var temporaryUntil: String?
        /// Locked until support unlocks it (wrong security answers).
        var locked: Bool
    }
}

/// A bound device as its owner reads it (`devices.list`): identifiers masked.
struct DeviceView: Encodable {
    var deviceId: String
    var platform: String
    var model: String
    /// The last four characters of the hardware identity hash (`imeiHash`, else `serialHash`).
    var identifier: String?
    var boundAt: String
    var lastLoginAt: String?
    var current: Bool
    /// The device's key for biometric sign-in (issue 18), when it has one; never the key itself.
    var deviceKey: KeyView?

    struct KeyView: Encodable {
        var keyId: String
        var algorithm: String
        var registeredAt: String
        var lastUsedAt: String?
    }
}

/// The SQL of account self-service (issue 16): password reset and change, phone change, profile,
/// and the owner's reads.
enum AccountStore {
    // MARK: password reset

    /// Starts in the rate window by phone, recognised device and IP (one statement).
    static func resetStartFacts(
        _ session: borrowing PostgresSession, phone: String, printID: String?, ip: String, since: Date
    ) throws -> ResetStartFacts {
        let row = try session.query(
            """
            SELECT count(*) FILTER (WHERE phone = \(phone)) AS by_phone,
                   count(*) FILTER (WHERE print_id = \(printID)::uuid) AS by_device,
                   count(*) FILTER (WHERE ip_address = \(ip)) AS by_ip
            FROM password_resets
            WHERE created_at > \(since) AND (phone = \(phone) OR print_id = \(printID)::uuid OR ip_address = \(ip))
            """
        ).first
        return ResetStartFacts(
            startsByPhone: try row?.decode("by_phone") ?? 0, startsByDevice: try row?.decode("by_device") ?? 0,
            startsByIP: try row?.decode("by_ip") ?? 0)
    }

    /// The live or frozen account of a phone: id, status and the support lock.
    static func accountOfPhone(_ session: borrowing PostgresSession, phone: String) throws
        -> (id: String, status: String, locked: Bool)?
    {
        guard
            let row = try session.query(
                """
                SELECT id::text AS id, status, locked FROM accounts WHERE phone = \(phone) AND status <> 'deregistered'
                """
            ).first
        else { return nil }
        return (try row.decode("id"), try row.decode("status"), try row.decode("locked"))
    }

    static func insertReset(
        _ session: borrowing PostgresSession, id: String, phone: String, accountID: String?, printID: String?,
        ip: String, codeHash: [UInt8], expiresAt: Date, now: Date
    ) throws {
        try session.query(
            """
            INSERT INTO password_resets (id, phone, account_id, print_id, ip_address, code_hash, expires_at, created_at)
            VALUES (\(id)::uuid, \(phone), \(accountID)::uuid, \(printID)::uuid, \(ip), \(PostgresBytes(codeHash)),
                    \(expiresAt), \(now))
            """)
    }

    /// The phone's latest unused reset, locked.
    static func latestReset(_ session: borrowing PostgresSession, phone: String) throws -> PasswordReset? {
        guard
            let row = try session.query(
                """
                SELECT id::text AS id, account_id::text AS account_id, code_hash, attempts, expires_at
                FROM password_resets WHERE phone = \(phone) AND used_at IS NULL
                ORDER BY created_at DESC LIMIT 1 FOR UPDATE
                """
            ).first
        else { return nil }
        return PasswordReset(
            id: try row.decode("id"), accountID: try row.decode("account_id"),
            codeHash: try row.decode("code_hash", as: PostgresBytes.self).bytes, attempts: try row.decode("attempts"),
            expiresAt: try row.decode("expires_at"))
    }

    /// Whether the phone has an unused reset (an unlocked read, for the `prepare` step).
    static func hasOpenReset(_ session: borrowing PostgresSession, phone: String, now: Date) throws -> Bool {
        try session.query(
            """
            SELECT 1 AS open FROM password_resets
            WHERE phone = \(phone) AND used_at IS NULL AND expires_at > \(now) LIMIT 1
            """
        ).first != nil
    }

    static func countWrongResetCode(_ session: borrowing PostgresSession, id: String) throws {
        try session.query("UPDATE password_resets SET attempts = attempts + 1 WHERE id = \(id)::uuid")
    }

    /// Uses up every open reset of the phone (the accepted code is single use; older ones go with it).
    static func closeResets(_ session: borrowing PostgresSession, phone: String, now: Date) throws {
        try session.query(
            "UPDATE password_resets SET used_at = \(now) WHERE phone = \(phone) AND used_at IS NULL")
    }

    /// Stores a new password hash.
    static func setPassword(_ session: borrowing PostgresSession, accountID: String, hash: String) throws {
        try session.query("UPDATE accounts SET password_hash = \(hash) WHERE id = \(accountID)::uuid")
    }

    // MARK: phone change

    /// The account's phone, locked.
    static func phone(_ session: borrowing PostgresSession, accountID: String) throws -> String? {
        try session.query("SELECT phone FROM accounts WHERE id = \(accountID)::uuid FOR UPDATE").first?.decode("phone")
    }

    /// Phone changes the account started in the window.
    static func phoneChangeStarts(_ session: borrowing PostgresSession, accountID: String, since: Date) throws -> Int {
        try session.query(
            "SELECT count(*) AS n FROM phone_changes WHERE account_id = \(accountID)::uuid AND created_at > \(since)"
        ).first?.decode("n") ?? 0
    }

    /// Opens a change, superseding the account's open one.
    static func openPhoneChange(
        _ session: borrowing PostgresSession, id: String, accountID: String, newPhone: String, oldCodeHash: [UInt8],
        newCodeHash: [UInt8], expiresAt: Date, now: Date
    ) throws {
        try session.query(
            """
            UPDATE phone_changes SET state = 'superseded', closed_at = \(now)
            WHERE account_id = \(accountID)::uuid AND state = 'open'
            """)
        try session.query(
            """
            INSERT INTO phone_changes (id, account_id, new_phone, old_code_hash, new_code_hash, expires_at, created_at)
            VALUES (\(id)::uuid, \(accountID)::uuid, \(newPhone), \(PostgresBytes(oldCodeHash)),
                    \(PostgresBytes(newCodeHash)), \(expiresAt), \(now))
            """)
    }

    /// The account's open phone change, locked (or the change with `id` in any state).
    static func phoneChange(_ session: borrowing PostgresSession, accountID: String? = nil, id: String? = nil) throws
        -> PhoneChange?
    {
        guard
            let row = try session.query(
                """
                SELECT id::text AS id, account_id::text AS account_id, new_phone, old_code_hash, new_code_hash, attempts,
                       state, expires_at
                FROM phone_changes
                WHERE (\(id)::uuid IS NOT NULL AND id = \(id)::uuid)
                   OR (\(accountID)::uuid IS NOT NULL AND account_id = \(accountID)::uuid AND state = 'open')
                ORDER BY created_at DESC LIMIT 1 FOR UPDATE
                """
            ).first
        else { return nil }
        return PhoneChange(
            id: try row.decode("id"), accountID: try row.decode("account_id"), newPhone: try row.decode("new_phone"),
            oldCodeHash: try row.decode("old_code_hash", as: PostgresBytes.self).bytes,
            newCodeHash: try row.decode("new_code_hash", as: PostgresBytes.self).bytes,
            attempts: try row.decode("attempts"), state: try row.decode("state"),
            expiresAt: try row.decode("expires_at"))
    }

    static func countWrongChangeCode(_ session: borrowing PostgresSession, id: String) throws {
        try session.query("UPDATE phone_changes SET attempts = attempts + 1 WHERE id = \(id)::uuid")
    }

    static func setPhoneChangeState(_ session: borrowing PostgresSession, id: String, state: String, now: Date) throws {
        let closed: Date? = state == "pending_review" ? nil : now
        try session.query("UPDATE phone_changes SET state = \(state), closed_at = \(closed) WHERE id = \(id)::uuid")
    }

    /// Whether a live or frozen account holds the phone, and when its reuse block ends.
    static func phoneStanding(_ session: borrowing PostgresSession, phone: String) throws
        -> (held: Bool, blockedUntil: Date?)
    {
        let row = try session.query(
            """
            SELECT EXISTS (SELECT 1 FROM accounts WHERE phone = \(phone) AND status <> 'deregistered') AS held,
                   (SELECT blocked_until FROM phone_blocks WHERE phone = \(phone)) AS blocked_until
            """
        ).first
        return (try row?.decode("held") ?? false, try row?.decode("blocked_until"))
    }

    /// Moves the account to its new phone; returns the old one.
    static func movePhone(_ session: borrowing PostgresSession, accountID: String, to phone: String) throws -> String {
        guard
            let old = try session.query(
                """
                UPDATE accounts a SET phone = \(phone) FROM accounts o
                WHERE a.id = \(accountID)::uuid AND o.id = a.id
                RETURNING o.phone
                """
            ).first
        else { throw ConfigurationError(reason: "account \(accountID) vanished during a phone change") }
        return try old.decode("phone")
    }

    /// Blocks a released phone for registration until `until` (a later block already there stays).
    static func blockPhone(_ session: borrowing PostgresSession, phone: String, until: Date) throws {
        try session.query(
            """
            INSERT INTO phone_blocks (phone, blocked_until) VALUES (\(phone), \(until))
            ON CONFLICT (phone) DO UPDATE SET blocked_until = GREATEST(phone_blocks.blocked_until, EXCLUDED.blocked_until)
            """)
    }

    /// Opens the `phone_change` review of a change.
    static func openPhoneChangeReview(
        _ session: borrowing PostgresSession, taskID: String, change: PhoneChange, evidence: [String: String],
        due: Date, now: Date
    ) throws {
        try session.query(
            """
            INSERT INTO review_tasks (id, kind, account_id, phone_change_id, evidence, due_at, created_at)
            VALUES (\(taskID)::uuid, 'phone_change', \(change.accountID)::uuid, \(change.id)::uuid,
                    \(try IdentityStore.json(evidence))::jsonb, \(due), \(now))
            """)
    }

    // MARK: profile

    static func updateProfile(
        _ session: borrowing PostgresSession, accountID: String, displayName: String?, avatarRef: String?
    ) throws {
        try session.query(
            """
            UPDATE accounts SET display_name = coalesce(\(displayName), display_name),
                                avatar_ref = coalesce(\(avatarRef), avatar_ref)
            WHERE id = \(accountID)::uuid
            """)
    }

    static func setSecurityQuestions(
        _ session: borrowing PostgresSession, accountID: String, questions: [StoredQuestion]
    ) throws {
        try session.query(
            """
            UPDATE accounts SET security_questions = \(try IdentityStore.json(questions))::jsonb, wrong_answers = 0
            WHERE id = \(accountID)::uuid
            """)
    }

    // MARK: reads

    /// The owner's view of an account (one statement).
    static func view(_ session: borrowing PostgresSession, accountID: String, now: Date) throws -> AccountView? {
        guard
            let row = try session.query(
                """
                SELECT a.id::text AS id, a.status, a.phone, a.display_name, a.avatar_ref, a.created_at, a.restricted,
                       a.locked, a.locked_until, a.cooldown_ends_at, t.tier, t.expires_at AS tier_expires_at,
                       (SELECT count(*) FROM devices d WHERE d.account_id = a.id AND d.unbound_at IS NULL) AS devices
                FROM accounts a LEFT JOIN account_tiers t ON t.account_id = a.id
                WHERE a.id = \(accountID)::uuid
                """
            ).first
        else { return nil }
        let lockedUntil: Date? = try row.decode("locked_until")
        return AccountView(
            accountId: try row.decode("id"), status: try row.decode("status"),
            phone: PhoneNumber.parse(try row.decode("phone"))?.masked ?? "",
            displayName: try row.decode("display_name"), avatarRef: try row.decode("avatar_ref"),
            createdAt: CloudEvent.timestamp(try row.decode("created_at")), tier: try row.decode("tier"),
            tierExpiresAt: (try row.decode("tier_expires_at", as: Date?.self)).map(CloudEvent.timestamp),
            restrictions: try row.decode("restricted"),
            locks: AccountView.Locks(
                temporaryUntil: lockedUntil.flatMap { $0 > now ? CloudEvent.timestamp($0) : nil },
                locked: try row.decode("locked")),
            cooldownEndsAt: (try row.decode("cooldown_ends_at", as: Date?.self)).map(CloudEvent.timestamp),
            deviceCount: try row.decode("devices"))
    }

    /// The account's bound devices, oldest first.
    static func devices(_ session: borrowing PostgresSession, accountID: String, current: String?) throws
        -> [DeviceView]
    {
        try session.query(
            """
            SELECT d.id::text AS id, d.platform, d.model, d.bound_at, d.last_login_at,
                   coalesce(nullif(d.fingerprint->>'imeiHash', ''), nullif(d.fingerprint->>'serialHash', '')) AS hardware,
                   k.id::text AS key_id, k.algorithm AS key_algorithm, k.registered_at AS key_registered_at,
                   k.last_used_at AS key_last_used_at
            FROM devices d LEFT JOIN device_keys k ON k.device_id = d.id
            WHERE d.account_id = \(accountID)::uuid AND d.unbound_at IS NULL ORDER BY d.bound_at, d.id
            """
        ).map { row in
            let id: String = try row.decode("id")
            let key: DeviceView.KeyView? =
                if let keyID: String = try row.decode("key_id") {
                    DeviceView.KeyView(
                        keyId: keyID, algorithm: try row.decode("key_algorithm"),
                        registeredAt: CloudEvent.timestamp(try row.decode("key_registered_at")),
                        lastUsedAt: (try row.decode("key_last_used_at", as: Date?.self)).map(CloudEvent.timestamp))
                } else {
                    nil
                }
            return DeviceView(
                deviceId: id, platform: try row.decode("platform"), model: try row.decode("model"),
                identifier: (try row.decode("hardware", as: String?.self)).map { "…" + String($0.suffix(4)) },
                boundAt: CloudEvent.timestamp(try row.decode("bound_at")),
                lastLoginAt: (try row.decode("last_login_at", as: Date?.self)).map(CloudEvent.timestamp),
                current: id == current, deviceKey: key)
        }
    }
}
