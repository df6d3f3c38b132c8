import Contract
import Foundation
import Messaging
import Platform
import Postgres

/// What every service but identity knows of sessions: a read model fed by identity's
/// `session.opened` and `session.revoked` events, kept in the service's own `sessions` table.
///
/// Identity owns sessions; the others learn of them only from its events (no shared tables). A
/// token is therefore known to another service a moment after `login` answers: a command sent at
/// once may meet `UNAUTHENTICATED`, and clients retry it (the contract's effectively-once ids make
/// that safe).
public enum SessionDirectory {
    /// A live session.
    public struct Caller: Sendable, Equatable {
        public var accountId: String
        public var deviceId: String?
        public var platform: String
    }

    /// The hash under which a token is known.
    public static func tokenHash(_ token: String) -> [UInt8] { Sodium.sha256(Array(token.utf8)) }

    /// Follows identity's session events into this service's `sessions` table.
    public static func follow(_ router: inout Router) {
        let topic = RegistrarService.identity.eventTopic
        router.event(.sessionOpened, on: topic, SessionOpened.self) { session, event, _ in
            let data = event.data
            let hash = try tokenHash(hex: data.tokenHash)
            try validate(accountId: data.accountId, sessionId: data.sessionId)
            try session.query(
                """
                INSERT INTO sessions (token_hash, session_id, account_id, device_id, platform, expires_at)
                VALUES (\(PostgresBytes(hash)), \(data.sessionId)::uuid, \(data.accountId)::uuid, \(data.deviceId)::uuid,
                        \(data.platform), \(try expiry(data.expiresAt)))
                ON CONFLICT (token_hash) DO NOTHING
                """)
        }
        router.event(.sessionRefreshed, on: topic, SessionRefreshed.self) { session, event, _ in
            let data = event.data
            let hash = try tokenHash(hex: data.tokenHash)
            try validate(accountId: data.accountId, sessionId: data.sessionId)
            // The previous access token stops working: the session's row takes the new one.
            try session.query(
                """
                UPDATE sessions SET token_hash = \(PostgresBytes(hash)), expires_at = \(try expiry(data.expiresAt))
                WHERE session_id = \(data.sessionId)::uuid AND account_id = \(data.accountId)::uuid
                """)
        }
        router.event(.sessionRevoked, on: topic, SessionRevoked.self) { session, event, _ in
            let data = event.data
            try validate(accountId: data.accountId, sessionId: data.sessionId)
            try validate(accountId: data.accountId, sessionId: data.exceptSessionId)
            try session.query(
                """
                UPDATE sessions SET revoked_at = \(event.receivedAt)
                WHERE account_id = \(data.accountId)::uuid AND revoked_at IS NULL
                  AND (\(data.deviceId)::uuid IS NULL OR device_id = \(data.deviceId)::uuid)
                  AND (\(data.sessionId)::uuid IS NULL OR session_id = \(data.sessionId)::uuid)
                  AND (\(data.exceptSessionId)::uuid IS NULL OR session_id IS DISTINCT FROM \(data.exceptSessionId)::uuid)
                """)
        }
    }

    static func tokenHash(hex: String) throws -> [UInt8] {
        guard let hash = [UInt8](hex: hex), hash.count == 32 else {
            throw MalformedMessage.invalid(field: "data.tokenHash")
        }
        return hash
    }

    static func validate(accountId: String, sessionId: String?) throws {
        guard UUID(uuidString: accountId) != nil else { throw MalformedMessage.invalid(field: "data.accountId") }
        if let sessionId, UUID(uuidString: sessionId) == nil {
            throw MalformedMessage.invalid(field: "data.sessionId")
        }
    }

    static func expiry(_ text: String) throws -> Date {
        guard let date = Date(rfc3339: text) else { throw MalformedMessage.invalid(field: "data.expiresAt") }
        return date
    }

    /// The caller behind `token`, when the session is live at `now`.
    public static func authenticate(_ session: borrowing PostgresSession, token: String?, now: Date) throws -> Caller? {
        guard let token, !token.isEmpty,
            let row = try session.query(
                """
                SELECT account_id::text AS account_id, device_id::text AS device_id, platform FROM sessions
                WHERE token_hash = \(PostgresBytes(tokenHash(token))) AND revoked_at IS NULL AND expires_at > \(now)
                """
            ).first
        else { return nil }
        return Caller(
            accountId: try row.decode("account_id"), deviceId: try row.decode("device_id"),
            platform: try row.decode("platform"))
    }
}
