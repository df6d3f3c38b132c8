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
            guard let hash = [UInt8](hex: event.data.tokenHash), hash.count == 32,
                UUID(uuidString: event.data.accountId) != nil
            else {
                throw MalformedMessage.invalid(field: "data.tokenHash")
            }
            guard
                let expires = Date(rfc3339: event.data.expiresAt)
            else { throw MalformedMessage.invalid(field: "data.expiresAt") }
            try session.query(
                """
                INSERT INTO sessions (token_hash, account_id, device_id, platform, expires_at)
                VALUES (\(PostgresBytes(hash)), \(event.data.accountId)::uuid, \(event.data.deviceId)::uuid,
                        \(event.data.platform), \(expires))
                ON CONFLICT (token_hash) DO NOTHING
                """)
        }
        router.event(.sessionRevoked, on: topic, SessionRevoked.self) { session, event, _ in
            guard UUID(uuidString: event.data.accountId) != nil else {
                throw MalformedMessage.invalid(field: "data.accountId")
            }
            try session.query(
                """
                UPDATE sessions SET revoked_at = \(event.receivedAt)
                WHERE account_id = \(event.data.accountId)::uuid AND revoked_at IS NULL
                  AND (\(event.data.deviceId)::uuid IS NULL OR device_id = \(event.data.deviceId)::uuid)
                """)
        }
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
