import Foundation
import Messaging
import Postgres

/// `data` of the deregistration service's account events: the account they are about.
struct AccountEvent: Decodable, Sendable {
    var accountId: String
}

/// What identity does when deregistration freezes, unfreezes or deregisters an account.
enum LifecycleEvents {
    static func register(_ router: inout Router, _ context: IdentityContext) {
        let topic = RegistrarService.deregistration.eventTopic
        router.event("account.frozen", on: topic, AccountEvent.self) { session, event, effects in
            try setStatus(
                session, event.data.accountId, to: "frozen", from: ["active"], now: event.receivedAt, effects: &effects)
        }
        router.event("account.unfrozen", on: topic, AccountEvent.self) { session, event, effects in
            try setStatus(
                session, event.data.accountId, to: "active", from: ["frozen"], now: event.receivedAt, effects: &effects)
        }
        router.event("account.deregistered", on: topic, AccountEvent.self) { session, event, effects in
            let now = event.receivedAt
            guard
                let phone = try setStatus(
                    session, event.data.accountId, to: "deregistered", from: ["active", "frozen"], now: now,
                    effects: &effects)
            else { return }
            let until = now.addingTimeInterval(context.policy.registration.phoneReuseCooldown.timeInterval)
            try session.query(
                """
                INSERT INTO phone_blocks (phone, blocked_until) VALUES (\(phone), \(until))
                ON CONFLICT (phone) DO UPDATE SET blocked_until = GREATEST(phone_blocks.blocked_until, EXCLUDED.blocked_until)
                """)
            try session.query(
                "UPDATE devices SET unbound_at = \(now) WHERE account_id = \(event.data.accountId)::uuid AND unbound_at IS NULL"
            )
        }
    }

    /// Moves the account to `status` when it is in one of `from`, revoking its sessions unless it
    /// becomes active; returns its phone when it moved.
    @discardableResult
    static func setStatus(
        _ session: borrowing PostgresSession, _ accountID: String, to status: String, from: [String], now: Date,
        effects: inout MessageEffects
    )
        throws -> String?
    {
        guard UUID(uuidString: accountID) != nil,
            let row = try session.query(
                """
                UPDATE accounts SET status = \(status) WHERE id = \(accountID)::uuid AND status = ANY(\(from)::text[])
                RETURNING phone
                """
            ).first
        else { return nil }
        if status != "active" {
            try IdentityStore.revokeSessions(session, accountID: accountID, now: now, effects: &effects)
        }
        return try row.decode("phone")
    }
}
