import Contract
import Foundation
import Messaging
import Platform
import Postgres

/// What identity does when deregistration freezes, unfreezes or deregisters an account.
enum LifecycleEvents {
    static func register(_ router: inout Router, _ context: IdentityContext) {
        let topic = RegistrarService.deregistration.eventTopic
        router.event(.accountFrozen, on: topic, AccountFrozen.self) { session, event, effects in
            let ends = try event.data.cooldownEndsAt.map { text in
                guard let date = Date(rfc3339: text) else {
                    throw MalformedMessage.invalid(field: "data.cooldownEndsAt")
                }
                return date
            }
            if try setStatus(
                session, event.data.accountId, to: "frozen", from: ["active"], now: event.receivedAt, effects: &effects)
                != nil
            {
                try session.query(
                    "UPDATE accounts SET cooldown_ends_at = \(ends) WHERE id = \(event.data.accountId)::uuid")
            }
        }
        router.event(.accountUnfrozen, on: topic, AccountRef.self) { session, event, effects in
            try setStatus(
                session, event.data.accountId, to: "active", from: ["frozen"], now: event.receivedAt, effects: &effects)
        }
        router.event(.accountDeregistered, on: topic, AccountDeregistered.self) { session, event, effects in
            let now = event.receivedAt
            // The block's end is deregistration's decision (published with the event), not
            // recomputed from this service's receipt time.
            guard let until = Date(rfc3339: event.data.phoneBlockedUntil) else {
                throw MalformedMessage.invalid(field: "data.phoneBlockedUntil")
            }
            guard
                let phone = try setStatus(
                    session, event.data.accountId, to: "deregistered", from: ["active", "frozen"], now: now,
                    effects: &effects)
            else { return }
            try session.query(
                """
                INSERT INTO phone_blocks (phone, blocked_until) VALUES (\(phone), \(until))
                ON CONFLICT (phone) DO UPDATE SET blocked_until = GREATEST(phone_blocks.blocked_until, EXCLUDED.blocked_until)
                """)
            try purgePersonalData(session, event.data.accountId)
            // The replies and outbox rows that hold the account's data go in the same transaction,
            // before the confirmation below is written.
            try AccountPurge.runtimeCopies(session, accountID: event.data.accountId, effects: effects)
            try effects.emit(
                .purgeCompleted, subject: event.data.accountId,
                data: PurgeCompleted(accountId: event.data.accountId, service: "identity", category: "personal"))
        }
    }

    /// Deletes the account's personal data at once (contract: profile, devices, sessions,
    /// verification records): rows that only describe the person go, the account row keeps its id
    /// and status with everything personal blanked. The phone stays only in `phone_blocks`, for its
    /// reuse cool-down.
    static func purgePersonalData(_ session: borrowing PostgresSession, _ accountID: String) throws {
        for statement: PostgresQuery in [
            "DELETE FROM sessions WHERE account_id = \(accountID)::uuid",
            "DELETE FROM challenges WHERE account_id = \(accountID)::uuid",
            "DELETE FROM scan_tickets WHERE account_id = \(accountID)::uuid",
            // Device keys (issue 18) before the devices they belong to.
            "DELETE FROM device_key_challenges WHERE account_id = \(accountID)::uuid",
            "DELETE FROM device_keys WHERE account_id = \(accountID)::uuid",
            "DELETE FROM devices WHERE account_id = \(accountID)::uuid",
            // Review tasks and their decisions stay (the audit); their evidence and the link to the
            // verification go with the verification records.
            """
            UPDATE review_tasks SET evidence = '{}', verification_id = NULL WHERE account_id = \(accountID)::uuid
            """,
            "DELETE FROM verifications WHERE account_id = \(accountID)::uuid",
            "DELETE FROM liveness_checks WHERE account_id = \(accountID)::uuid",
            "DELETE FROM account_tiers WHERE account_id = \(accountID)::uuid",
            // Exports (issue 17): their parts and bundles cascade.
            "DELETE FROM exports WHERE account_id = \(accountID)::uuid",
            "DELETE FROM consents WHERE account_id = \(accountID)::uuid",
            """
            UPDATE registrations SET phone = '', device = '{}', ip = '{}', ip_address = '', password_hash = NULL,
                display_name = NULL, security_questions = NULL, sms_code_hash = NULL, consents = NULL
            WHERE account_id = \(accountID)::uuid
            """,
            """
            UPDATE accounts SET phone = '', display_name = '', password_hash = '', security_questions = NULL
            WHERE id = \(accountID)::uuid
            """,
        ] {
            try session.query(statement)
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
                UPDATE accounts SET status = \(status), cooldown_ends_at = NULL WHERE id = \(accountID)::uuid AND status = ANY(\(from)::text[])
                RETURNING phone
                """
            ).first
        else { return nil }
        if status != "active" {
            try SessionStore.revoke(
                session, accountID: accountID, .all, reason: "account_" + status, now: now, effects: &effects)
        }
        return try row.decode("phone")
    }
}
