import Contract
import Directory
import Foundation
import Messaging
import Platform
import Postgres

struct AddOperator: Decodable, Sendable {
    var name: String
    var role: String
}

struct OperatorAction: Decodable, Sendable {
    var operatorId: String
    var reason: String?
}

/// Operators and their roles (issue 17): `operator.add`, `operator.disable` and
/// `operator.rotate_token`, for admins. Tokens are 32 CSPRNG bytes shown once in the reply (kept
/// sealed in the inbox); only their SHA-256 is stored and announced. A disabled or rotated token
/// is refused by identity from the command's own transaction on, and by the other services once
/// they followed the event (`OperatorDirectory`).
enum OperatorHandlers {
    static func register(_ router: inout Router, _ context: IdentityContext) {
        router.command("operator.add", AddOperator.self, sensitive: true) { session, command, effects in
            _ = try OperatorDirectory.authorize(
                session, command.envelope, for: .administration, now: command.receivedAt, effects: &effects)
            let name = command.data.name.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !name.isEmpty, name.count <= 128 else { throw MalformedMessage.invalid(field: "data.name") }
            guard let role = OperatorRole(rawValue: command.data.role) else {
                throw MalformedMessage.invalid(field: "data.role")
            }
            let id = UUID().uuidString.lowercased()
            let token = SecretCodes.newToken()
            try session.query(
                """
                INSERT INTO operators (id, name, role, token_hash, created_at, announced_at)
                VALUES (\(id)::uuid, \(name), \(role.rawValue), \(PostgresBytes(SecretCodes.tokenHash(token))),
                        \(command.receivedAt), \(command.receivedAt))
                """)
            try effects.emit(
                .operatorAdded, subject: id,
                data: OperatorAdded(operatorId: id, tokenHash: SecretCodes.tokenHash(token).hexString, role: role))
            return try .ok(["operatorId": id, "name": name, "role": role.rawValue, "token": token])
        }
        router.command("operator.disable", OperatorAction.self) { session, command, effects in
            _ = try OperatorDirectory.authorize(
                session, command.envelope, for: .administration, now: command.receivedAt, effects: &effects)
            let reason = try OperatorDirectory.reason(command.data.reason ?? "", effects: &effects)
            guard let target = try lockedOperator(session, command.data.operatorId) else {
                return .rejected(.operatorNotFound, "no such operator")
            }
            guard target.enabled else {
                return try .ok(JSONValue.object(["operatorId": .string(target.id), "disabled": .bool(true)]))
            }
            if target.role == .admin {
                let admins =
                    try session.query(
                        "SELECT count(*) AS n FROM operators WHERE role = 'admin' AND disabled_at IS NULL"
                    ).first?.decode("n", as: Int.self) ?? 0
                guard admins > 1 else { return .rejected(.lastAdmin, "the last enabled admin cannot be disabled") }
            }
            try session.query(
                """
                UPDATE operators SET disabled_at = \(command.receivedAt), disabled_reason = \(reason)
                WHERE id = \(target.id)::uuid
                """)
            try effects.emit(.operatorDisabled, subject: target.id, data: OperatorDisabled(operatorId: target.id))
            return try .ok(JSONValue.object(["operatorId": .string(target.id), "disabled": .bool(true)]))
        }
        router.command("operator.rotate_token", OperatorAction.self, sensitive: true) { session, command, effects in
            // An admin rotates anyone's token; an operator of any role its own.
            let caller = try OperatorDirectory.authenticate(session, token: command.envelope.operatortoken)
            if let caller, caller.id == command.data.operatorId.lowercased() {
                effects.operatorID = caller.id
            } else {
                _ = try OperatorDirectory.authorize(
                    session, command.envelope, for: .administration, now: command.receivedAt, effects: &effects)
            }
            if let reason = command.data.reason { _ = try OperatorDirectory.reason(reason, effects: &effects) }
            guard let target = try lockedOperator(session, command.data.operatorId), target.enabled else {
                return .rejected(.operatorNotFound, "no such enabled operator")
            }
            let token = SecretCodes.newToken()
            let hash = SecretCodes.tokenHash(token)
            try session.query("UPDATE operators SET token_hash = \(PostgresBytes(hash)) WHERE id = \(target.id)::uuid")
            try effects.emit(
                .operatorTokenRotated, subject: target.id,
                data: OperatorAdded(operatorId: target.id, tokenHash: hash.hexString, role: target.role))
            return try .ok(["operatorId": target.id, "token": token])
        }
    }

    /// An operator by id, locked.
    private static func lockedOperator(_ session: borrowing PostgresSession, _ id: String) throws
        -> (id: String, role: OperatorRole, enabled: Bool)?
    {
        guard UUID(uuidString: id) != nil,
            let row = try session.query(
                """
                SELECT id::text AS id, role, disabled_at IS NULL AS enabled FROM operators
                WHERE id = \(id)::uuid FOR UPDATE
                """
            ).first,
            let role = OperatorRole(rawValue: try row.decode("role"))
        else { return nil }
        return (try row.decode("id"), role, try row.decode("enabled"))
    }

    /// Publishes `operator.added` (token hash and role) for operators that `registrar operator
    /// bootstrap` wrote, so the other services can authenticate them too; each is announced once.
    /// Operators added through `operator.add` are announced by the command itself.
    static func operatorAnnouncer(_ context: IdentityContext) -> PeriodicTask {
        PeriodicTask(name: "operator-directory", interval: context.policy.runtime.relayIdlePoll.duration) {
            session, now, effects in
            let added = try session.query(
                """
                WITH due AS (
                    SELECT id FROM operators WHERE announced_at IS NULL ORDER BY created_at LIMIT 100
                    FOR UPDATE SKIP LOCKED
                )
                UPDATE operators o SET announced_at = \(now) FROM due WHERE o.id = due.id
                RETURNING o.id::text AS id, o.token_hash, o.role
                """)
            for row in added {
                let id: String = try row.decode("id")
                let role: String = try row.decode("role")
                let hash: PostgresBytes = try row.decode("token_hash")
                try effects.emit(
                    .operatorAdded, subject: id,
                    data: OperatorAdded(
                        operatorId: id, tokenHash: hash.bytes.hexString, role: OperatorRole(rawValue: role) ?? .admin))
            }
            return added.count
        }
    }

}
