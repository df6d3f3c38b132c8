import Contract
import Foundation
import Platform
import Postgres

/// One row of `verifications`.
struct VerificationRecord {
    var id: String
    var accountID: String
    var method: String
    var state: String
    var numberHash: [UInt8]
    var sealed: [UInt8]
    var last4: String?
    var livenessPassed: Bool?
    var livenessScore: Double?
    var checkMilliseconds: Double
    var slaMilliseconds: Double
    var checkedAt: Date
}

/// A tier whose validity ended, as claimed by the sweep.
struct ExpiredTier {
    var accountID: String
    var tier: String
    var expiresAt: Date
    var accountActive: Bool
}

/// The SQL of tiers, verifications and their reviews.
enum VerificationStore {
    /// The tier a new account starts at: `none`, valid `verification.noneValidity`.
    static func startTier(_ session: borrowing PostgresSession, accountID: String, now: Date, policy: Policy) throws
        -> TierState
    {
        let state = TierState(
            tier: .none, expiresAt: VerificationRules.expiry(of: .none, verifiedAt: now, policy: policy.verification))
        try session.query(
            """
            INSERT INTO account_tiers (account_id, tier, expires_at, updated_at)
            VALUES (\(accountID)::uuid, \(state.tier.rawValue), \(state.expiresAt), \(now))
            """)
        return state
    }

    /// The account's tier as stored (unlocked).
    static func tier(_ session: borrowing PostgresSession, accountID: String) throws -> TierState? {
        guard
            let row = try session.query(
                "SELECT tier, expires_at FROM account_tiers WHERE account_id = \(accountID)::uuid"
            ).first,
            let tier = VerificationTier(rawValue: try row.decode("tier"))
        else { return nil }
        return TierState(tier: tier, expiresAt: try row.decode("expires_at"))
    }

    /// Records a successful check's tier (a stronger tier in force is kept) and returns the result.
    static func applyTier(
        _ session: borrowing PostgresSession, accountID: String, verified: VerificationTier, now: Date, policy: Policy
    ) throws -> TierState {
        let row = try session.query(
            "SELECT tier, expires_at FROM account_tiers WHERE account_id = \(accountID)::uuid FOR UPDATE"
        ).first
        let current = try row.flatMap { row in
            VerificationTier(rawValue: try row.decode("tier")).map {
                TierState(tier: $0, expiresAt: try? row.decode("expires_at", as: Date?.self))
            }
        }
        let next = VerificationRules.tier(after: verified, current: current, now: now, policy: policy.verification)
        guard next != current else { return next }
        try session.query(
            """
            INSERT INTO account_tiers (account_id, tier, expires_at, updated_at)
            VALUES (\(accountID)::uuid, \(next.tier.rawValue), \(next.expiresAt), \(now))
            ON CONFLICT (account_id) DO UPDATE
            SET tier = EXCLUDED.tier, expires_at = EXCLUDED.expires_at, expired_at = NULL, updated_at = EXCLUDED.updated_at
            """)
        return next
    }

    /// Records a liveness result (every one counts for the pass rate, refused commands too).
    static func recordLiveness(
        _ session: borrowing PostgresSession, accountID: String, passed: Bool, score: Double?, now: Date
    ) throws {
        try session.query(
            """
            INSERT INTO liveness_checks (account_id, passed, score, checked_at)
            VALUES (\(accountID)::uuid, \(passed), \(score), \(now))
            """)
    }

    /// Opens an `id_conflict` review task.
    static func openConflictReview(
        _ session: borrowing PostgresSession, taskID: String, accountID: String, evidence: IDConflictEvidence,
        due: Date, now: Date
    ) throws {
        try session.query(
            """
            INSERT INTO review_tasks (id, kind, account_id, evidence, due_at, created_at)
            VALUES (\(taskID)::uuid, 'id_conflict', \(accountID)::uuid, \(try IdentityStore.json(evidence))::jsonb,
                    \(due), \(now))
            """)
    }

    /// Inserts a verification record, linking it to its review task when it waits for one.
    static func insert(
        _ session: borrowing PostgresSession, _ record: VerificationRecord, reviewTaskID: String? = nil
    ) throws {
        try session.query(
            """
            INSERT INTO verifications (id, account_id, method, state, number_hash, sealed, last4, liveness_passed,
                liveness_score, check_ms, check_sla_ms, checked_at)
            VALUES (\(record.id)::uuid, \(record.accountID)::uuid, \(record.method), \(record.state),
                \(PostgresBytes(record.numberHash)), \(PostgresBytes(record.sealed)), \(record.last4),
                \(record.livenessPassed), \(record.livenessScore), \(record.checkMilliseconds),
                \(record.slaMilliseconds), \(record.checkedAt))
            """)
        if let reviewTaskID {
            try session.query(
                "UPDATE review_tasks SET verification_id = \(record.id)::uuid WHERE id = \(reviewTaskID)::uuid")
        }
    }

    /// Other live accounts on which this ID number is verified.
    static func verifiedElsewhere(_ session: borrowing PostgresSession, numberHash: [UInt8], accountID: String) throws
        -> [String]
    {
        try session.query(
            """
            SELECT DISTINCT v.account_id::text AS account_id
            FROM verifications v JOIN accounts a ON a.id = v.account_id
            WHERE v.method = 'id_card' AND v.state = 'verified' AND v.number_hash = \(PostgresBytes(numberHash))
              AND v.account_id <> \(accountID)::uuid AND a.status <> 'deregistered'
            ORDER BY 1
            """
        ).map { try $0.decode("account_id") }
    }

    /// The open `id_conflict` task of this account about this number, if one exists.
    static func openConflict(_ session: borrowing PostgresSession, accountID: String, numberHash: [UInt8]) throws
        -> (taskID: String, dueAt: Date)?
    {
        guard
            let row = try session.query(
                """
                SELECT t.id::text AS id, t.due_at FROM review_tasks t JOIN verifications v ON v.id = t.verification_id
                WHERE t.kind = 'id_conflict' AND t.state = 'open' AND t.account_id = \(accountID)::uuid
                  AND v.number_hash = \(PostgresBytes(numberHash))
                """
            ).first
        else { return nil }
        return (try row.decode("id"), try row.decode("due_at"))
    }

    /// Claims tiers that ended by `now` and were not announced, marking them announced.
    static func claimExpired(_ session: borrowing PostgresSession, now: Date, limit: Int) throws -> [ExpiredTier] {
        try session.query(
            """
            WITH due AS (
                SELECT account_id FROM account_tiers
                WHERE expired_at IS NULL AND expires_at IS NOT NULL AND expires_at <= \(now)
                ORDER BY expires_at LIMIT \(limit)
                FOR UPDATE SKIP LOCKED
            )
            UPDATE account_tiers t SET expired_at = \(now)
            FROM due, accounts a
            WHERE t.account_id = due.account_id AND a.id = t.account_id
            RETURNING t.account_id::text AS account_id, t.tier, t.expires_at, a.status <> 'deregistered' AS active
            """
        ).map {
            ExpiredTier(
                accountID: try $0.decode("account_id"), tier: try $0.decode("tier"),
                expiresAt: try $0.decode("expires_at"), accountActive: try $0.decode("active"))
        }
    }

    /// Open review tasks past their due time, by kind.
    static func overdueReviews(_ session: borrowing PostgresSession, now: Date) throws -> [(String, Int)] {
        try session.query(
            "SELECT kind, count(*) AS n FROM review_tasks WHERE state = 'open' AND due_at < \(now) GROUP BY kind"
        ).map { (try $0.decode("kind"), try $0.decode("n")) }
    }
}
