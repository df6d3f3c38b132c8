import Contract
import Directory
import Foundation
import Messaging
import Platform
import Postgres

/// A live session, as the caller of a command.
struct SessionInfo: Sendable {
    var id: String
    var accountID: String
    var deviceID: String?
    var platform: DevicePlatform
}

/// The tokens of a session just opened or refreshed (only their hashes are stored).
struct IssuedSession: Sendable {
    var id: String
    var accessToken: String
    var refreshToken: String
    var accessExpiresAt: Date
    var refreshExpiresAt: Date
}

/// A session found by a presented refresh token, locked.
struct RefreshableSession: Sendable {
    var id: String
    var accountID: String
    var presented: PresentedRefreshToken
}

/// A session as `sessions.list` shows it (no tokens).
struct ListedSession: Encodable, Sendable {
    var sessionId: String
    var deviceId: String?
    var platform: String
    var createdAt: String
    var lastUsedAt: String
    var expiresAt: String
    var current: Bool
}

/// The SQL of sessions. Identity owns them; the other services learn of them from `session.opened`,
/// `session.refreshed` and `session.revoked` (`SessionDirectory`), which these functions emit in the
/// same transaction as the change.
enum SessionStore {
    /// The session of a live access token.
    static func authenticate(_ session: borrowing PostgresSession, tokenHash: [UInt8], now: Date) throws
        -> SessionInfo?
    {
        guard
            let row = try session.query(
                """
                SELECT s.id::text AS id, s.account_id::text AS account_id, s.device_id::text AS device_id, s.platform
                FROM sessions s JOIN accounts a ON a.id = s.account_id
                WHERE s.token_hash = \(PostgresBytes(tokenHash)) AND s.revoked_at IS NULL AND s.expires_at > \(now)
                  AND a.status = 'active'
                """
            ).first
        else { return nil }
        return SessionInfo(
            id: try row.decode("id"), accountID: try row.decode("account_id"), deviceID: try row.decode("device_id"),
            platform: DevicePlatform(rawValue: try row.decode("platform")) ?? .web)
    }

    /// Opens a session with fresh access and refresh tokens; on a bound device, first signs the
    /// least recently used other accounts out of it when it is at `devices.maxSignedInAccountsPerDevice`.
    static func open(
        _ session: borrowing PostgresSession, accountID: String, deviceID: String?, platform: DevicePlatform, now: Date,
        policy: Policy, effects: inout MessageEffects
    ) throws -> IssuedSession {
        if let deviceID {
            try makeRoom(session, accountID: accountID, deviceID: deviceID, now: now, policy: policy, effects: &effects)
        }
        let issued = issue(id: IdentityStore.newID(), now: now, policy: policy.login)
        try session.query(
            """
            INSERT INTO sessions (id, token_hash, refresh_hash, account_id, device_id, platform, created_at, last_used_at,
                                  expires_at, refresh_expires_at)
            VALUES (\(issued.id)::uuid, \(PostgresBytes(SecretCodes.tokenHash(issued.accessToken))),
                    \(PostgresBytes(SecretCodes.tokenHash(issued.refreshToken))), \(accountID)::uuid, \(deviceID)::uuid,
                    \(platform.rawValue), \(now), \(now), \(issued.accessExpiresAt), \(issued.refreshExpiresAt))
            """)
        if let deviceID {
            try session.query("UPDATE devices SET last_login_at = \(now) WHERE id = \(deviceID)::uuid")
        }
        try effects.emit(
            .sessionOpened, subject: accountID,
            data: SessionOpened(
                accountId: accountID, sessionId: issued.id, deviceId: deviceID, platform: platform.rawValue,
                tokenHash: SecretCodes.tokenHash(issued.accessToken).hexString,
                expiresAt: CloudEvent.timestamp(issued.accessExpiresAt)))
        return issued
    }

    /// Signs other accounts out of the physical device (every bound device row of its print) per
    /// `DeviceRules.accountsToSignOut`; each gets `session.revoked` (reason `device_account_limit`).
    private static func makeRoom(
        _ session: borrowing PostgresSession, accountID: String, deviceID: String, now: Date, policy: Policy,
        effects: inout MessageEffects
    ) throws {
        guard
            let printID: String = try session.query(
                "SELECT print_id::text AS print_id FROM devices WHERE id = \(deviceID)::uuid"
            ).first?.decode("print_id")
        else { return }
        // Two sign-ins on one device at once must not both find room.
        try IdentityStore.lock(session, ["print:" + printID])
        let rows = try session.query(
            """
            SELECT s.account_id::text AS account_id, max(s.last_used_at) AS last_used,
                   array_agg(DISTINCT s.device_id::text) AS devices
            FROM sessions s JOIN devices d ON d.id = s.device_id
            WHERE d.print_id = \(printID)::uuid AND d.unbound_at IS NULL AND s.account_id <> \(accountID)::uuid
              AND s.revoked_at IS NULL
              AND greatest(s.expires_at, s.refresh_expires_at) > \(now)
            GROUP BY s.account_id
            """
        )
        var devices: [String: [String]] = [:]
        var others: [(accountId: String, lastUsed: Date)] = []
        for row in rows {
            let account: String = try row.decode("account_id")
            devices[account] = try row.decode("devices")
            others.append((account, try row.decode("last_used")))
        }
        for account in DeviceRules.accountsToSignOut(others: others, policy: policy.devices) {
            for device in devices[account] ?? [] {
                try revoke(
                    session, accountID: account, .device(device), reason: "device_account_limit", now: now,
                    effects: &effects)
            }
        }
    }

    /// New tokens for session `id`.
    private static func issue(id: String, now: Date, policy: Policy.Login) -> IssuedSession {
        let expiries = SessionRules.expiries(now: now, policy: policy)
        return IssuedSession(
            id: id, accessToken: SecretCodes.newToken(), refreshToken: SecretCodes.newToken(),
            accessExpiresAt: expiries.access, refreshExpiresAt: expiries.refresh)
    }

    /// The session a refresh token belongs to (current or rotated), locked.
    static func byRefreshToken(_ session: borrowing PostgresSession, hash: [UInt8]) throws -> RefreshableSession? {
        guard
            let row = try session.query(
                """
                SELECT s.id::text AS id, s.account_id::text AS account_id, s.refresh_expires_at,
                       s.revoked_at IS NOT NULL AS revoked, s.refresh_hash = \(PostgresBytes(hash)) AS current
                FROM sessions s
                WHERE s.refresh_hash = \(PostgresBytes(hash))
                   OR s.id = (SELECT session_id FROM rotated_refresh_tokens WHERE refresh_hash = \(PostgresBytes(hash)))
                FOR UPDATE OF s
                """
            ).first
        else { return nil }
        let revoked: Bool = try row.decode("revoked")
        let current: Bool = try row.decode("current")
        return RefreshableSession(
            id: try row.decode("id"), accountID: try row.decode("account_id"),
            presented: current
                ? .current(expiresAt: try row.decode("refresh_expires_at"), revoked: revoked)
                : .rotated(sessionRevoked: revoked))
    }

    /// Replaces a session's tokens; the presented refresh token is kept as rotated.
    static func rotate(
        _ session: borrowing PostgresSession, _ refreshable: RefreshableSession, presentedHash: [UInt8], now: Date,
        policy: Policy.Login, effects: inout MessageEffects
    ) throws -> IssuedSession {
        let issued = issue(id: refreshable.id, now: now, policy: policy)
        try session.query(
            """
            INSERT INTO rotated_refresh_tokens (refresh_hash, session_id, rotated_at)
            VALUES (\(PostgresBytes(presentedHash)), \(refreshable.id)::uuid, \(now))
            """)
        try session.query(
            """
            UPDATE sessions SET token_hash = \(PostgresBytes(SecretCodes.tokenHash(issued.accessToken))),
                refresh_hash = \(PostgresBytes(SecretCodes.tokenHash(issued.refreshToken))),
                expires_at = \(issued.accessExpiresAt), refresh_expires_at = \(issued.refreshExpiresAt),
                last_used_at = \(now)
            WHERE id = \(refreshable.id)::uuid
            """)
        try effects.emit(
            .sessionRefreshed, subject: refreshable.accountID,
            data: SessionRefreshed(
                accountId: refreshable.accountID, sessionId: refreshable.id,
                tokenHash: SecretCodes.tokenHash(issued.accessToken).hexString,
                expiresAt: CloudEvent.timestamp(issued.accessExpiresAt)))
        return issued
    }

    /// Which of an account's sessions a revocation ends.
    enum Scope {
        case all
        case device(String)
        case session(String)
        case allExcept(String)
    }

    /// Revokes the account's live sessions in `scope`; publishes `session.revoked` when any was live.
    /// Returns how many were.
    @discardableResult
    static func revoke(
        _ session: borrowing PostgresSession, accountID: String, _ scope: Scope, reason: String, now: Date,
        effects: inout MessageEffects
    ) throws -> Int {
        var deviceID: String?
        var sessionID: String?
        var exceptID: String?
        switch scope {
        case .all: break
        case .device(let id): deviceID = id
        case .session(let id): sessionID = id
        case .allExcept(let id): exceptID = id
        }
        let revoked = try session.query(
            """
            UPDATE sessions SET revoked_at = \(now), revoke_reason = \(reason)
            WHERE account_id = \(accountID)::uuid AND revoked_at IS NULL
              AND (\(deviceID)::uuid IS NULL OR device_id = \(deviceID)::uuid)
              AND (\(sessionID)::uuid IS NULL OR id = \(sessionID)::uuid)
              AND (\(exceptID)::uuid IS NULL OR id <> \(exceptID)::uuid)
            RETURNING id
            """
        ).count
        if revoked > 0 {
            try effects.emit(
                .sessionRevoked, subject: accountID,
                data: SessionRevoked(
                    accountId: accountID, deviceId: deviceID, sessionId: sessionID, exceptSessionId: exceptID,
                    reason: reason))
        }
        return revoked
    }

    /// The account's live sessions (refresh token not yet expired), newest use first.
    static func list(_ session: borrowing PostgresSession, accountID: String, current: String, now: Date) throws
        -> [ListedSession]
    {
        try session.query(
            """
            SELECT id::text AS id, device_id::text AS device_id, platform, created_at, last_used_at,
                   greatest(expires_at, refresh_expires_at) AS ends_at
            FROM sessions
            WHERE account_id = \(accountID)::uuid AND revoked_at IS NULL
              AND greatest(expires_at, refresh_expires_at) > \(now)
            ORDER BY last_used_at DESC, id
            """
        ).map { row in
            let id: String = try row.decode("id")
            return ListedSession(
                sessionId: id, deviceId: try row.decode("device_id"), platform: try row.decode("platform"),
                createdAt: CloudEvent.timestamp(try row.decode("created_at")),
                lastUsedAt: CloudEvent.timestamp(try row.decode("last_used_at")),
                expiresAt: CloudEvent.timestamp(try row.decode("ends_at")), current: id == current)
        }
    }
}
