import Contract
import Foundation
import Messaging
import Platform
import Postgres

/// A stored binding.
struct StoredBinding {
    var provider: String
    var mode: BindingMode
    var scopes: [String]
    var state: String

    var asExisting: ExistingBinding { ExistingBinding(provider: provider, mode: mode, scopes: scopes) }
}

/// A stored migration plan: its counts and how many of its parts arrived.
struct StoredPlan {
    var planId: String
    /// `planned`, or `collecting` while parts are missing.
    var state: String
    var createdAt: Date
    var counts: PlanCounts
    var partsReceived: Int
    var partsTotal: Int
}

/// The binding schema's SQL.
enum BindingStore {
    /// The account's bindings, locked for update.
    static func bindings(_ session: borrowing PostgresSession, _ accountID: String) throws -> [StoredBinding] {
        try session.query(
            """
            SELECT provider, mode, scopes, state FROM bindings WHERE account_id = \(accountID)::uuid
            ORDER BY provider FOR UPDATE
            """
        ).map { row in
            StoredBinding(
                provider: try row.decode("provider"), mode: BindingMode(rawValue: try row.decode("mode")) ?? .secondary,
                scopes: try row.decode("scopes"), state: try row.decode("state"))
        }
    }

    /// The account's bindings with their unexpired grants, for a read (no lock): one row per binding
    /// and grant (or one without a grant).
    static func records(_ session: borrowing PostgresSession, _ accountID: String) throws -> [BindingRecord] {
        var records: [String: BindingRecord] = [:]
        for row in try session.query(
            """
            SELECT b.provider, b.mode, b.state, b.scopes, b.linked_at, b.expires_at,
                   a.scope AS grant_scope, a.expires_at AS grant_expires_at
            FROM bindings b
            LEFT JOIN authorizations a
                   ON a.account_id = b.account_id AND a.provider = b.provider AND a.expired_at IS NULL
            WHERE b.account_id = \(accountID)::uuid
            """)
        {
            let provider: String = try row.decode("provider")
            var record =
                try records[provider]
                ?? BindingRecord(
                    provider: provider, mode: BindingMode(rawValue: try row.decode("mode")) ?? .secondary,
                    state: try row.decode("state"), scopes: try row.decode("scopes"),
                    linkedAt: try row.decode("linked_at"),
                    expiresAt: try row.decode("expires_at"), grantsExpireAt: [:])
            if let scope = try row.decode("grant_scope", as: String?.self) {
                record.grantsExpireAt[scope] = try row.decode("grant_expires_at", as: Date.self)
            }
            records[provider] = record
        }
        return Array(records.values)
    }

    /// The account's latest migration plan (the last one started), if any.
    static func latestPlan(_ session: borrowing PostgresSession, _ accountID: String) throws -> StoredPlan? {
        try plans(session, accountID, limit: 1).first
    }

    /// The account's migration plans, newest first, at most `limit`.
    static func plans(_ session: borrowing PostgresSession, _ accountID: String, limit: Int) throws -> [StoredPlan] {
        try session.query(
            """
            SELECT plan_id::text AS plan_id, state, created_at, counts::text AS counts, parts_total,
                   cardinality(parts_received) AS parts_received
            FROM migration_plans WHERE account_id = \(accountID)::uuid
            ORDER BY created_at DESC, plan_id DESC LIMIT \(limit)
            """
        ).map { row in
            let counts = try JSONDecoder().decode(
                [String: Int].self, from: Data(try row.decode("counts", as: String.self).utf8))
            return StoredPlan(
                planId: try row.decode("plan_id"), state: try row.decode("state"),
                createdAt: try row.decode("created_at"), counts: PlanCounts(byOutcome: counts),
                partsReceived: try row.decode("parts_received"), partsTotal: try row.decode("parts_total"))
        }
    }

    /// The Registrar account an external account is bound to.
    static func owner(_ session: borrowing PostgresSession, provider: String, externalAccountID: String) throws
        -> String?
    {
        try session.query(
            """
            SELECT account_id::text AS account_id FROM bindings
            WHERE provider = \(provider) AND external_account_id = \(externalAccountID)
            """
        ).first?.decode("account_id")
    }

    /// True when the account is frozen (or deregistered).
    static func isFrozen(_ session: borrowing PostgresSession, _ accountID: String) throws -> Bool {
        try session.query("SELECT frozen FROM accounts WHERE account_id = \(accountID)::uuid").first?.decode(
            "frozen") ?? false
    }

    /// Replaces the account's binding of `provider` (if any) with a new one and records the grants
    /// that expire. Returns false when the external account was taken meanwhile (the unique
    /// constraint decides races between accounts).
    static func link(
        _ session: borrowing PostgresSession, accountID: String, request: LinkRequest, externalAccountID: String,
        now: Date, policy: Policy.Binding
    ) throws -> Bool {
        try session.query(
            "DELETE FROM bindings WHERE account_id = \(accountID)::uuid AND provider = \(request.provider)")
        let inserted = try session.query(
            """
            INSERT INTO bindings (account_id, provider, external_account_id, mode, scopes, linked_at, expires_at)
            VALUES (\(accountID)::uuid, \(request.provider), \(externalAccountID), \(request.mode.rawValue),
                    \(request.scopes)::text[], \(now),
                    \(LinkRules.bindingExpiry(mode: request.mode, linkedAt: now, policy: policy)))
            ON CONFLICT ON CONSTRAINT bindings_external_account DO NOTHING
            """)
        guard inserted.affectedRows == 1 else { return false }
        for scope in request.scopes {
            guard let expires = LinkRules.scopeExpiry(scope, grantedAt: now, policy: policy) else { continue }
            try session.query(
                """
                INSERT INTO authorizations (account_id, provider, scope, granted_at, expires_at)
                VALUES (\(accountID)::uuid, \(request.provider), \(scope), \(now), \(expires))
                """)
        }
        return true
    }

    /// Deletes one binding; false when there was none.
    static func unlink(_ session: borrowing PostgresSession, accountID: String, provider: String) throws -> Bool {
        try session.query(
            "DELETE FROM bindings WHERE account_id = \(accountID)::uuid AND provider = \(provider)"
        ).affectedRows == 1
    }

    /// True when the account has an active binding of `provider`.
    static func hasActive(_ session: borrowing PostgresSession, accountID: String, provider: String) throws -> Bool {
        try session.query(
            """
            SELECT 1 AS one FROM bindings
            WHERE account_id = \(accountID)::uuid AND provider = \(provider) AND state = 'active'
            """
        ).count == 1
    }

    /// Stores a plan's counts.
    static func savePlan(
        _ session: borrowing PostgresSession, planID: UUID, accountID: String, counts: PlanCounts,
        freeStorageBytes: Int64, now: Date
    ) throws {
        let json = String(decoding: try JSONEncoder().encode(counts), as: UTF8.self)
        try session.query(
            """
            INSERT INTO migration_plans (plan_id, account_id, items, counts, free_storage_bytes, created_at)
            VALUES (\(planID), \(accountID)::uuid, \(counts.total), \(json)::jsonb, \(freeStorageBytes), \(now))
            """)
    }

    /// Sets the account's frozen flag (creating its row) and suspends or restores its bindings.
    static func setFrozen(_ session: borrowing PostgresSession, accountID: String, frozen: Bool) throws {
        try session.query(
            """
            INSERT INTO accounts (account_id, frozen) VALUES (\(accountID)::uuid, \(frozen))
            ON CONFLICT (account_id) DO UPDATE SET frozen = EXCLUDED.frozen
            """)
        try session.query(
            """
            UPDATE bindings SET state = \(frozen ? "suspended" : "active") WHERE account_id = \(accountID)::uuid
            """)
    }

    /// Marks the account deregistered and deletes its personal data here: bindings (with their
    /// grants), migration plans and known sessions. Returns the providers unbound and whether this
    /// was the first time (a repeated `account.deregistered` deletes nothing more and confirms
    /// nothing again).
    static func deregister(_ session: borrowing PostgresSession, accountID: String, at time: Date) throws -> (
        providers: [String], first: Bool
    ) {
        let already =
            try session.query(
                "SELECT deregistered_at IS NOT NULL AS done FROM accounts WHERE account_id = \(accountID)::uuid FOR UPDATE"
            ).first?.decode("done", as: Bool.self) ?? false
        try session.query(
            """
            INSERT INTO accounts (account_id, frozen, deregistered_at) VALUES (\(accountID)::uuid, true, \(time))
            ON CONFLICT (account_id) DO UPDATE
            SET frozen = true, deregistered_at = COALESCE(accounts.deregistered_at, EXCLUDED.deregistered_at)
            """)
        try session.query("DELETE FROM migration_plans WHERE account_id = \(accountID)::uuid")
        try session.query("DELETE FROM sessions WHERE account_id = \(accountID)::uuid")
        let providers: [String] = try session.query(
            "DELETE FROM bindings WHERE account_id = \(accountID)::uuid RETURNING provider"
        ).map { try $0.decode("provider") }
        return (providers, !already)
    }

    /// Claims the friend_list (and any other expiring) grants due at `now`, marks them expired and
    /// withdraws the scope from its binding. Rows another replica holds are skipped.
    static func expireAuthorizations(_ session: borrowing PostgresSession, now: Date, limit: Int) throws -> [(
        accountID: String, provider: String, scope: String
    )] {
        let expired = try session.query(
            """
            UPDATE authorizations a SET expired_at = \(now)
            FROM (SELECT account_id, provider, scope FROM authorizations
                  WHERE expired_at IS NULL AND expires_at <= \(now)
                  ORDER BY expires_at LIMIT \(limit) FOR UPDATE SKIP LOCKED) due
            WHERE a.account_id = due.account_id AND a.provider = due.provider AND a.scope = due.scope
            RETURNING a.account_id::text AS account_id, a.provider, a.scope
            """
        ).map { row in
            (
                accountID: try row.decode("account_id", as: String.self),
                provider: try row.decode("provider", as: String.self), scope: try row.decode("scope", as: String.self)
            )
        }
        for grant in expired {
            try session.query(
                """
                UPDATE bindings SET scopes = array_remove(scopes, \(grant.scope))
                WHERE account_id = \(grant.accountID)::uuid AND provider = \(grant.provider)
                """)
        }
        return expired
    }

    /// Claims and deletes the temporary bindings due at `now`.
    static func expireTemporary(_ session: borrowing PostgresSession, now: Date, limit: Int) throws -> [(
        accountID: String, provider: String
    )] {
        try session.query(
            """
            DELETE FROM bindings b
            USING (SELECT account_id, provider FROM bindings WHERE expires_at <= \(now)
                   ORDER BY expires_at LIMIT \(limit) FOR UPDATE SKIP LOCKED) due
            WHERE b.account_id = due.account_id AND b.provider = due.provider
            RETURNING b.account_id::text AS account_id, b.provider
            """
        ).map { row in
            (
                accountID: try row.decode("account_id", as: String.self),
                provider: try row.decode("provider", as: String.self)
            )
        }
    }
}
