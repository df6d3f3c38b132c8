import Contract
import Directory
import Foundation
import Messaging
import Postgres

/// The identity schema's SQL, one function per statement family. Handlers call these; rules never do.
enum IdentityStore {
    // MARK: locks

    /// Serializes work on one subject (a phone, a print, an IP) until the transaction ends.
    static func lock(_ session: borrowing PostgresSession, _ subjects: [String]) throws {
        // Sorted, so two transactions never wait on each other in opposite orders.
        for subject in subjects.sorted() {
            try session.query("SELECT pg_advisory_xact_lock(hashtextextended(\(subject), 0))")
        }
    }

    // MARK: sessions

    /// The account and device of a live session token.
    static func session(_ session: borrowing PostgresSession, tokenHash: [UInt8], now: Date) throws -> SessionInfo? {
        guard
            let row = try session.query(
                """
                SELECT s.account_id::text AS account_id, s.device_id::text AS device_id, s.platform
                FROM sessions s JOIN accounts a ON a.id = s.account_id
                WHERE s.token_hash = \(PostgresBytes(tokenHash)) AND s.revoked_at IS NULL AND s.expires_at > \(now)
                  AND a.status = 'active'
                """
            ).first
        else { return nil }
        return SessionInfo(
            accountID: try row.decode("account_id"), deviceID: try row.decode("device_id"),
            platform: DevicePlatform(rawValue: try row.decode("platform")) ?? .web)
    }

    /// Creates a session and returns its token (only its hash is stored); the other services
    /// learn of it from `session.opened`.
    static func createSession(
        _ session: borrowing PostgresSession, accountID: String, deviceID: String?, platform: DevicePlatform, now: Date,
        validity: TimeInterval, effects: inout MessageEffects
    ) throws -> String {
        let token = SecretCodes.newToken()
        let hash = SecretCodes.tokenHash(token)
        let expires = now.addingTimeInterval(validity)
        try session.query(
            """
            INSERT INTO sessions (token_hash, account_id, device_id, platform, created_at, expires_at)
            VALUES (\(PostgresBytes(hash)), \(accountID)::uuid, \(deviceID)::uuid,
                    \(platform.rawValue), \(now), \(expires))
            """)
        try effects.emit(
            .sessionOpened, subject: accountID,
            data: SessionOpened(
                accountId: accountID, deviceId: deviceID, platform: platform.rawValue, tokenHash: hash.hexString,
                expiresAt: CloudEvent.timestamp(expires)))
        return token
    }

    /// Revokes every live session of an account (optionally only one device's).
    static func revokeSessions(
        _ session: borrowing PostgresSession, accountID: String, deviceID: String? = nil, now: Date,
        effects: inout MessageEffects
    ) throws {
        try session.query(
            """
            UPDATE sessions SET revoked_at = \(now)
            WHERE account_id = \(accountID)::uuid AND revoked_at IS NULL
              AND (\(deviceID)::uuid IS NULL OR device_id = \(deviceID)::uuid)
            """)
        try effects.emit(
            .sessionRevoked, subject: accountID,
            data: SessionRevoked(accountId: accountID, deviceId: deviceID))
    }

    // MARK: devices

    /// Binds a device to an account.
    static func bindDevice(
        _ session: borrowing PostgresSession, accountID: String, printID: String, fingerprint: [String: String],
        platform: String, model: String, now: Date
    ) throws -> String {
        let id = newID()
        try session.query(
            """
            INSERT INTO devices (id, account_id, print_id, fingerprint, platform, model, bound_at)
            VALUES (\(id)::uuid, \(accountID)::uuid, \(printID)::uuid, \(try json(fingerprint))::jsonb, \(platform),
                    \(model), \(now))
            """)
        return id
    }

    /// Devices bound to an account, with their fingerprints.
    static func boundDevices(_ session: borrowing PostgresSession, accountID: String) throws -> [BoundDevice] {
        try session.query(
            """
            SELECT id::text AS id, print_id::text AS print_id, fingerprint::text AS fingerprint
            FROM devices WHERE account_id = \(accountID)::uuid AND unbound_at IS NULL ORDER BY bound_at
            """
        ).map { row in
            BoundDevice(
                id: try row.decode("id"), printID: try row.decode("print_id"),
                fingerprint: try JSONDecoder().decode(
                    [String: String].self, from: Data(try row.decode("fingerprint", as: String.self).utf8)))
        }
    }

    /// A fresh lowercase UUID.
    static func newID() -> String { UUID().uuidString.lowercased() }

    /// JSON text of an `Encodable` (for `jsonb` parameters).
    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

/// A live session.
struct SessionInfo: Sendable {
    var accountID: String
    var deviceID: String?
    var platform: DevicePlatform
}

/// A device bound to an account.
struct BoundDevice: Sendable {
    var id: String
    var printID: String
    var fingerprint: [String: String]
}
