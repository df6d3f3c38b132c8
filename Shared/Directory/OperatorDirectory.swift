import Contract
import Foundation
import Messaging
import Platform
import Postgres

/// Operators as a service other than identity knows them: a read model fed by identity's
/// `operator.added` events (token hashes only), kept in the service's own `operators` table.
public enum OperatorDirectory {
    /// Follows identity's operator events into this service's `operators` table.
    public static func follow(_ router: inout Router) {
        router.event(.operatorAdded, on: RegistrarService.identity.eventTopic, OperatorAdded.self) {
            session, event, _ in
            guard let hash = [UInt8](hex: event.data.tokenHash), hash.count == 32 else {
                throw MalformedMessage.invalid(field: "data.tokenHash")
            }
            try session.query(
                """
                INSERT INTO operators (token_hash, operator_id) VALUES (\(PostgresBytes(hash)), \(event.data.operatorId))
                ON CONFLICT (token_hash) DO NOTHING
                """)
        }
    }

    /// The operator behind `token`, if any.
    public static func authenticate(_ session: borrowing PostgresSession, token: String?) throws -> String? {
        guard let token, !token.isEmpty else { return nil }
        return try session.query(
            "SELECT operator_id FROM operators WHERE token_hash = \(PostgresBytes(SessionDirectory.tokenHash(token)))"
        ).first?.decode("operator_id")
    }
}
