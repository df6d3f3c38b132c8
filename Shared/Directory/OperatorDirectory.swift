import Contract
import Foundation
import Messaging
import Platform
import Postgres

/// Operators as a service knows them, in its `operator_directory` (token hashes and roles only):
/// identity's is a view of its `operators` table; the other services' follow identity's operator
/// events.
public enum OperatorDirectory {
    /// Follows identity's operator events into this service's `operator_directory`. Events of one
    /// operator share its key, so they arrive in order: a disabled operator is never re-added by a
    /// late `operator.added`.
    public static func follow(_ router: inout Router) {
        let topic = RegistrarService.identity.eventTopic
        router.event(.operatorAdded, on: topic, OperatorAdded.self) { session, event, _ in
            try insert(session, event.data)
        }
        router.event(.operatorTokenRotated, on: topic, OperatorAdded.self) { session, event, _ in
            try session.query("DELETE FROM operator_directory WHERE operator_id = \(event.data.operatorId)")
            try insert(session, event.data)
        }
        router.event(.operatorDisabled, on: topic, OperatorDisabled.self) { session, event, _ in
            try session.query("DELETE FROM operator_directory WHERE operator_id = \(event.data.operatorId)")
        }
    }

    private static func insert(_ session: borrowing PostgresSession, _ data: OperatorAdded) throws {
        guard let hash = [UInt8](hex: data.tokenHash), hash.count == 32 else {
            throw MalformedMessage.invalid(field: "data.tokenHash")
        }
        try session.query(
            """
            INSERT INTO operator_directory (token_hash, operator_id, role)
            VALUES (\(PostgresBytes(hash)), \(data.operatorId), \((data.role ?? .admin).rawValue))
            ON CONFLICT (token_hash) DO NOTHING
            """)
    }

    /// The operator behind `token` and its role, if the token names an enabled operator.
    public static func authenticate(_ session: borrowing PostgresSession, token: String?) throws
        -> (id: String, role: OperatorRole)?
    {
        guard let token, !token.isEmpty,
            let row = try session.query(
                """
                SELECT operator_id, role FROM operator_directory
                WHERE token_hash = \(PostgresBytes(SessionDirectory.tokenHash(token)))
                """
            ).first,
            let role = OperatorRole(rawValue: try row.decode("role"))
        else { return nil }
        return (try row.decode("operator_id"), role)
    }

    /// The id of the operator whose token the command carries, when its role allows `duty`; it
    /// becomes the actor of what the command audits. Refuses `FORBIDDEN` to an operator of another
    /// role and to a signed-in user, `UNAUTHENTICATED` to everyone else (contract §2).
    public static func authorize(
        _ session: borrowing PostgresSession, _ envelope: IncomingEnvelope, for duty: OperatorDuty, now: Date,
        effects: inout MessageEffects
    ) throws -> String {
        if let found = try authenticate(session, token: envelope.operatortoken) {
            guard found.role.allows(duty) else {
                throw Refusal(.rejected(.forbidden, "the \(found.role.rawValue) role may not do this"))
            }
            effects.operatorID = found.id
            return found.id
        }
        if try SessionDirectory.authenticate(session, token: envelope.sessiontoken, now: now) != nil {
            throw Refusal(.rejected(.forbidden, "only operators may do this"))
        }
        throw Refusal(.rejected(.unauthenticated, "a valid operator token is required"))
    }

    /// The mandatory `reason` of a support command, trimmed: kept with the command's audit rows.
    public static func reason(_ text: String, effects: inout MessageEffects, maxLength: Int = 2000) throws -> String {
        let reason = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty, reason.count <= maxLength else { throw MalformedMessage.invalid(field: "data.reason") }
        effects.auditReason = reason
        return reason
    }
}

/// `data` of a service's `support.<service>.lookup`.
public struct SupportQuery: Decodable, Sendable {
    /// The account (from identity's `support.account.lookup`, which also takes a phone).
    public var accountId: String
}

extension OperatorDirectory {
    /// The account a support lookup asks for, once its operator is authorized; the lookup is
    /// audited (`support.lookup`).
    public static func supportLookup(
        _ session: borrowing PostgresSession, _ command: Command<SupportQuery>, effects: inout MessageEffects
    ) throws -> String {
        _ = try authorize(session, command.envelope, for: .support, now: command.receivedAt, effects: &effects)
        guard let id = UUID(uuidString: command.data.accountId) else {
            throw MalformedMessage.invalid(field: "data.accountId")
        }
        let accountID = id.uuidString.lowercased()
        effects.audit("support.lookup", subject: accountID)
        return accountID
    }
}
