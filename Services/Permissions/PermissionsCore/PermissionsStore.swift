import Contract
import Foundation
import Messaging
import Platform
import Postgres

/// The permissions schema's SQL.
enum PermissionsStore {
    /// An account's state (locked for update), with its time zone; `nil` when unknown or deregistered.
    static func account(_ session: borrowing PostgresSession, _ accountID: String, policy: Policy.Permissions) throws
        -> (state: AccountState, timezone: String, grants: [String])?
    {
        guard UUID(uuidString: accountID) != nil,
            let row = try session.query(
                """
                SELECT registered_at, timezone, tier, tier_expires_at, tier_expired, restricted, frozen, locked,
                       successful_logins, last_mismatch_at, grants,
                       (SELECT count(*) FROM active_days d WHERE d.account_id = a.account_id) AS active_days
                FROM accounts a WHERE account_id = \(accountID)::uuid AND NOT deregistered FOR UPDATE
                """
            ).first
        else { return nil }
        let state = AccountState(
            registeredAt: try row.decode("registered_at"), tier: Tier(rawValue: try row.decode("tier")) ?? .none,
            tierExpiresAt: try row.decode("tier_expires_at"), tierExpired: try row.decode("tier_expired"),
            restricted: try row.decode("restricted"), frozen: try row.decode("frozen"),
            locked: try row.decode("locked"),
            successfulLogins: try row.decode("successful_logins"), activeDays: try row.decode("active_days"),
            lastMismatchAt: try row.decode("last_mismatch_at"))
        return (state, try row.decode("timezone"), try row.decode("grants"))
    }

    /// The account's enterprises and the overrides that apply to it (a member's own override wins
    /// over the enterprise-wide one; across enterprises the strictest wins).
    static func scope(_ session: borrowing PostgresSession, _ accountID: String) throws -> EnterpriseScope {
        var scope = EnterpriseScope()
        for row in try session.query(
            """
            SELECT m.enterprise_id,
                   COALESCE(own.moments_enabled, every.moments_enabled) AS moments_enabled,
                   COALESCE(own.max_external_contacts, every.max_external_contacts) AS max_external_contacts
            FROM enterprise_members m
            LEFT JOIN enterprise_policies own ON own.enterprise_id = m.enterprise_id AND own.member = m.account_id::text
            LEFT JOIN enterprise_policies every ON every.enterprise_id = m.enterprise_id AND every.member = '*'
            WHERE m.account_id = \(accountID)::uuid
            """)
        {
            scope.enterprises.insert(try row.decode("enterprise_id"))
            if try row.decode("moments_enabled", as: Bool?.self) == false { scope.momentsEnabled = false }
            if let cap = try row.decode("max_external_contacts", as: Int?.self) {
                scope.maxExternalContacts = min(scope.maxExternalContacts ?? cap, cap)
            }
        }
        return scope
    }

    /// Takes `use.amount` from today's quota in one statement; the new total, or `nil` when it would
    /// pass the cap (two concurrent checks can never both take the last unit).
    static func takeQuota(_ session: borrowing PostgresSession, accountID: String, use: QuotaUse, day: Int64) throws
        -> Int64?
    {
        try session.query(
            """
            INSERT INTO quota_usage (account_id, kind, day, used)
            SELECT \(accountID)::uuid, \(use.kind), \(day), \(use.amount) WHERE \(use.amount) <= \(use.cap)
            ON CONFLICT (account_id, kind, day) DO UPDATE SET used = quota_usage.used + EXCLUDED.used
            WHERE quota_usage.used + EXCLUDED.used <= \(use.cap)
            RETURNING used
            """
        ).first?.decode("used")
    }

    /// Records an active day.
    static func markActive(_ session: borrowing PostgresSession, accountID: String, day: Int64) throws {
        try session.query(
            "INSERT INTO active_days (account_id, day) VALUES (\(accountID)::uuid, \(day)) ON CONFLICT DO NOTHING")
    }

    /// Recomputes the account's grants and next change; emits `permissions.changed` when they moved.
    static func refresh(
        _ session: borrowing PostgresSession, _ accountID: String, now: Date, policy: Policy.Permissions,
        effects: inout MessageEffects
    ) throws {
        guard let (state, _, before) = try account(session, accountID, policy: policy) else { return }
        let scope = try scope(session, accountID)
        let after = Entitlements.grants(state, scope: scope, now: now, policy: policy)
        try session.query(
            """
            UPDATE accounts SET grants = \(after)::text[],
                next_change_at = \(Entitlements.nextChange(state, now: now, policy: policy))
            WHERE account_id = \(accountID)::uuid
            """)
        if after != before {
            try effects.emit(
                .permissionsChanged, subject: accountID,
                data: PermissionsChanged(accountId: accountID, before: before, after: after))
        }
    }

    /// Members of an enterprise.
    static func members(_ session: borrowing PostgresSession, enterpriseID: String) throws -> [String] {
        try session.query(
            "SELECT account_id::text AS account_id FROM enterprise_members WHERE enterprise_id = \(enterpriseID)"
        ).map { try $0.decode("account_id") }
    }

    /// The caller's role in an enterprise, if a member.
    static func role(_ session: borrowing PostgresSession, enterpriseID: String, accountID: String) throws -> String? {
        // Not an account id at all: no member (as `account` answers for an unknown one).
        guard UUID(uuidString: accountID) != nil else { return nil }
        return try session.query(
            """
            SELECT role FROM enterprise_members WHERE enterprise_id = \(enterpriseID) AND account_id = \(accountID)::uuid
            """
        ).first?.decode("role")
    }
}

struct PermissionsChanged: Encodable {
    var accountId: String
    var before: [String]
    var after: [String]
}
