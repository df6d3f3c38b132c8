import Contract
import Foundation
import Messaging
import Platform
import Postgres

/// The permissions schema's SQL.
enum PermissionsStore {
    /// An account's state (locked for update unless `locking` is false, for a read that changes
    /// nothing), time zone and grants, and its enterprises with the overrides that apply to it, in one
    /// statement: one row per membership (or one without); `nil` when the account is unknown or
    /// deregistered. The overrides are merged by `EnterpriseScope.merge`.
    static func accountInScope(_ session: borrowing PostgresSession, _ accountID: String, locking: Bool = true) throws
        -> (state: AccountState, timezone: String, grants: [String], scope: EnterpriseScope)?
    {
        guard UUID(uuidString: accountID) != nil else { return nil }
        let rows = try session.query(
            """
            SELECT a.registered_at, a.timezone, a.tier, a.tier_expires_at, a.tier_expired, a.restricted, a.frozen,
                   a.locked, a.successful_logins, a.last_mismatch_at, a.grants, a.external_contacts,
                   (SELECT count(*) FROM active_days d WHERE d.account_id = a.account_id) AS active_days,
                   m.enterprise_id,
                   COALESCE(own.moments_enabled, every.moments_enabled) AS moments_enabled,
                   COALESCE(own.max_external_contacts, every.max_external_contacts) AS max_external_contacts
            FROM accounts a
            LEFT JOIN enterprise_members m ON m.account_id = a.account_id
            LEFT JOIN enterprise_policies own ON own.enterprise_id = m.enterprise_id AND own.member = m.account_id::text
            LEFT JOIN enterprise_policies every ON every.enterprise_id = m.enterprise_id AND every.member = '*'
            WHERE a.account_id = \(accountID)::uuid AND NOT a.deregistered
            \(subquery: locking ? "FOR UPDATE OF a" : "")
            """)
        guard let row = rows.first else { return nil }
        let state = AccountState(
            registeredAt: try row.decode("registered_at"), tier: Tier(rawValue: try row.decode("tier")) ?? .none,
            tierExpiresAt: try row.decode("tier_expires_at"), tierExpired: try row.decode("tier_expired"),
            restricted: try row.decode("restricted"), frozen: try row.decode("frozen"),
            locked: try row.decode("locked"),
            successfulLogins: try row.decode("successful_logins"), activeDays: try row.decode("active_days"),
            lastMismatchAt: try row.decode("last_mismatch_at"), externalContacts: try row.decode("external_contacts"))
        let overrides = try rows.compactMap { row -> EnterpriseScope.Override? in
            guard let enterprise = try row.decode("enterprise_id", as: String?.self) else { return nil }
            return EnterpriseScope.Override(
                enterpriseId: enterprise, momentsEnabled: try row.decode("moments_enabled"),
                maxExternalContacts: try row.decode("max_external_contacts"))
        }
        return (state, try row.decode("timezone"), try row.decode("grants"), EnterpriseScope.merge(overrides))
    }

    /// Takes `use.amount` from today's quota and, when it could, records today as an active day, in
    /// one statement; the new total, or `nil` when it would pass the cap (two concurrent checks can
    /// never both take the last unit).
    static func takeQuota(_ session: borrowing PostgresSession, accountID: String, use: QuotaUse, day: Int64) throws
        -> Int64?
    {
        try session.query(
            """
            WITH taken AS (
                INSERT INTO quota_usage (account_id, kind, day, used)
                SELECT \(accountID)::uuid, \(use.kind), \(day), \(use.amount) WHERE \(use.amount) <= \(use.cap)
                ON CONFLICT (account_id, kind, day) DO UPDATE SET used = quota_usage.used + EXCLUDED.used
                WHERE quota_usage.used + EXCLUDED.used <= \(use.cap)
                RETURNING used
            ), active AS (
                INSERT INTO active_days (account_id, day) SELECT \(accountID)::uuid, \(day) FROM taken
                ON CONFLICT DO NOTHING
            )
            SELECT used FROM taken
            """
        ).first?.decode("used")
    }

    /// What the account has taken of each daily quota on `day`, by kind (kinds not used that day are
    /// absent).
    static func quotaUsed(_ session: borrowing PostgresSession, accountID: String, day: Int64) throws
        -> [String: Int64]
    {
        var used: [String: Int64] = [:]
        for row in try session.query(
            "SELECT kind, used FROM quota_usage WHERE account_id = \(accountID)::uuid AND day = \(day)")
        {
            used[try row.decode("kind")] = try row.decode("used")
        }
        return used
    }

    /// Counts one more external contact held (an allowed `contact.external.add`).
    static func addExternalContact(_ session: borrowing PostgresSession, accountID: String) throws {
        try session.query(
            "UPDATE accounts SET external_contacts = external_contacts + 1 WHERE account_id = \(accountID)::uuid")
    }

    /// Sets the external contacts held (after a `contact.external.removed`, `EnterpriseRules.afterRemoval`).
    static func setExternalContacts(_ session: borrowing PostgresSession, accountID: String, to held: Int) throws {
        try session.query("UPDATE accounts SET external_contacts = \(held) WHERE account_id = \(accountID)::uuid")
    }

    /// What each member of the enterprise has in force (its own override, else the enterprise-wide
    /// one), by account id; members with neither map to an empty override.
    static func effectiveOverrides(_ session: borrowing PostgresSession, enterpriseID: String) throws
        -> [String: EnterpriseScope.Override]
    {
        var result: [String: EnterpriseScope.Override] = [:]
        for row in try session.query(
            """
            SELECT m.account_id::text AS account_id,
                   COALESCE(own.moments_enabled, every.moments_enabled) AS moments_enabled,
                   COALESCE(own.max_external_contacts, every.max_external_contacts) AS max_external_contacts
            FROM enterprise_members m
            LEFT JOIN enterprise_policies own ON own.enterprise_id = m.enterprise_id AND own.member = m.account_id::text
            LEFT JOIN enterprise_policies every ON every.enterprise_id = m.enterprise_id AND every.member = '*'
            WHERE m.enterprise_id = \(enterpriseID)
            """)
        {
            let account: String = try row.decode("account_id")
            result[account] = EnterpriseScope.Override(
                enterpriseId: enterpriseID, momentsEnabled: try row.decode("moments_enabled"),
                maxExternalContacts: try row.decode("max_external_contacts"))
        }
        return result
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
        guard let (state, _, before, scope) = try accountInScope(session, accountID) else { return }
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

    /// One page of an enterprise's members in account-id order, after `after` (exclusive; `nil`: from
    /// the first), each with its own policy override if it has one.
    static func memberPage(
        _ session: borrowing PostgresSession, enterpriseID: String, after: String?, limit: Int
    ) throws -> [EnterpriseMember] {
        try session.query(
            """
            SELECT m.account_id::text AS account_id, m.role, m.joined_at, p.member IS NOT NULL AS overridden,
                   p.moments_enabled, p.max_external_contacts
            FROM enterprise_members m
            LEFT JOIN enterprise_policies p ON p.enterprise_id = m.enterprise_id AND p.member = m.account_id::text
            WHERE m.enterprise_id = \(enterpriseID) AND (\(after)::uuid IS NULL OR m.account_id > \(after)::uuid)
            ORDER BY m.account_id LIMIT \(limit)
            """
        ).map { row in
            EnterpriseMember(
                accountId: try row.decode("account_id"), role: try row.decode("role"),
                joinedAt: try row.decode("joined_at"),
                overrides: try row.decode("overridden")
                    ? MemberPolicy.Overrides(
                        momentsEnabled: try row.decode("moments_enabled"),
                        maxExternalContacts: try row.decode("max_external_contacts")) : nil)
        }
    }

    /// The enterprise-wide (`"*"`) override, if the admin set one.
    static func enterpriseWideOverride(_ session: borrowing PostgresSession, enterpriseID: String) throws
        -> MemberPolicy.Overrides?
    {
        try session.query(
            """
            SELECT moments_enabled, max_external_contacts FROM enterprise_policies
            WHERE enterprise_id = \(enterpriseID) AND member = '*'
            """
        ).first.map { row in
            MemberPolicy.Overrides(
                momentsEnabled: try row.decode("moments_enabled"),
                maxExternalContacts: try row.decode("max_external_contacts"))
        }
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
