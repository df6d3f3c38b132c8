import Contract
import Foundation
import Messaging
import Platform
import Postgres

/// What permissions keeps after an account is deregistered: nothing personal (active days, quota
/// use), the account's financial records archived under a pseudonym for good, and its enterprise
/// memberships until `contactsRetainedUntil` of `account.deregistered`, then nothing. Each step is confirmed to the
/// deregistration service with `purge.completed`.
enum Retention {
    static func deregistered(
        _ session: borrowing PostgresSession, _ accountID: String, now: Date, purgeContactsAt: Date,
        hashKey: [UInt8], effects: inout MessageEffects
    ) throws {
        let pseudonym = Sodium.hmacSHA256(key: hashKey, message: Array("account:\(accountID)".utf8)).hexString
        let moved = try session.query(
            """
            UPDATE accounts SET deregistered = true,
                purge_contacts_at = \(purgeContactsAt)
            WHERE account_id = \(accountID)::uuid AND NOT deregistered
            """)
        guard moved.affectedRows == 1 else { return }
        try session.query(
            """
            INSERT INTO financial_archive (pseudonym, kind, day, amount, archived_at)
            SELECT \(pseudonym), kind, day, used, \(now) FROM quota_usage
            WHERE account_id = \(accountID)::uuid AND kind = 'payment.transfer'
            ON CONFLICT DO NOTHING
            """)
        try session.query("DELETE FROM quota_usage WHERE account_id = \(accountID)::uuid")
        try session.query("DELETE FROM active_days WHERE account_id = \(accountID)::uuid")
        // Invitations to the account (issue 18) and its contact count are personal, not contacts.
        try session.query("DELETE FROM enterprise_invitations WHERE account_id = \(accountID)::uuid")
        try session.query("UPDATE accounts SET external_contacts = 0 WHERE account_id = \(accountID)::uuid")
        try session.query("DELETE FROM sessions WHERE account_id = \(accountID)::uuid")
        // Kept replies (checks, entitlements) and outbox rows of the account, before the confirmations.
        try AccountPurge.runtimeCopies(session, accountID: accountID, effects: effects)
        for category in ["personal", "financial"] {
            try effects.emit(
                .purgeCompleted, subject: accountID,
                data: PurgeCompleted(accountId: accountID, service: "permissions", category: category))
        }
    }

    /// Deletes memberships whose retention ended.
    static func contactsTask(policy: Policy) -> PeriodicTask {
        PeriodicTask(name: "permissions.retention", interval: policy.permissions.sweepInterval.duration) {
            session, now, effects in
            let due: [String] = try session.query(
                """
                SELECT account_id::text AS account_id FROM accounts WHERE purge_contacts_at <= \(now)
                ORDER BY purge_contacts_at LIMIT 500 FOR UPDATE SKIP LOCKED
                """
            ).map { try $0.decode("account_id") }
            for account in due {
                try session.query("DELETE FROM enterprise_policies WHERE member = \(account)")
                try session.query("DELETE FROM enterprise_members WHERE account_id = \(account)::uuid")
                try session.query("UPDATE accounts SET purge_contacts_at = NULL WHERE account_id = \(account)::uuid")
                try effects.emit(
                    .purgeCompleted, subject: account,
                    data: ["accountId": account, "service": "permissions", "category": "contacts"])
            }
            return due.count
        }
    }
}
