import Contract
import Directory
import Foundation
import Messaging
import Platform
import Postgres

/// One enterprise membership in the export.
struct ExportedMembership: Encodable, Sendable {
    var enterpriseId: String
    var role: String
    var joinedAt: String
}

/// Permissions' part of an export (issue 17): the entitlements as `entitlements.get` shows them
/// (stage, tier, actions, today's quotas), the activity they rest on, and the memberships.
struct PermissionsExportPart: Encodable, Sendable {
    /// `null` when permissions does not know the account (or it is deregistered).
    var entitlements: EntitlementsResult?
    var successfulLogins: Int?
    var activeDays: Int?
    var memberships: [ExportedMembership]
    /// True when more memberships exist than `privacy.exportListLimit`.
    var truncated: Bool
}

/// Answers identity's `account.export_requested` with `account.export_part`, and follows
/// `account.verification_withdrawn` (a withdrawn consent took the tier away).
enum ExportHandler {
    static func register(_ router: inout Router, policy: Policy) {
        let identity = RegistrarService.identity.eventTopic
        ExportContribution.follow(&router, as: .permissions) { session, account, now in
            try build(session, account: account, now: now, policy: policy)
        }
        router.event(.accountVerificationWithdrawn, on: identity, VerificationWithdrawn.self) {
            session, event, effects in
            let data = event.data
            guard Tier(rawValue: data.tier) != nil else { throw MalformedMessage.invalid(field: "data.tier") }
            let expires = try data.expiresAt.map { text in
                guard let date = Date(rfc3339: text) else { throw MalformedMessage.invalid(field: "data.expiresAt") }
                return date
            }
            try AccountEvents.update(session, data.accountId, event, &effects, policy.permissions) {
                """
                UPDATE accounts SET tier = \(data.tier), tier_expires_at = \(expires), tier_expired = false
                WHERE account_id = \(data.accountId)::uuid
                """
            }
        }
    }

    static func build(_ session: borrowing PostgresSession, account: String, now: Date, policy: Policy) throws
        -> PermissionsExportPart
    {
        let limit = policy.privacy.exportListLimit
        let rows = try session.query(
            """
            SELECT enterprise_id, role, joined_at FROM enterprise_members WHERE account_id = \(account)::uuid
            ORDER BY joined_at DESC, enterprise_id LIMIT \(limit + 1)
            """)
        let memberships = try rows.prefix(limit).map { row in
            ExportedMembership(
                enterpriseId: try row.decode("enterprise_id"), role: try row.decode("role"),
                joinedAt: CloudEvent.timestamp(try row.decode("joined_at")))
        }
        guard let (state, timezone, _, scope) = try PermissionsStore.accountInScope(session, account, locking: false)
        else {
            return PermissionsExportPart(
                entitlements: nil, successfulLogins: nil, activeDays: nil, memberships: memberships,
                truncated: rows.count > limit)
        }
        let used = try PermissionsStore.quotaUsed(
            session, accountID: account,
            day: Entitlements.dayNumber(now, timezone: timezone, policy: policy.permissions))
        let overview = Entitlements.overview(
            state, scope: scope, timezone: timezone, usedToday: used, now: now, policy: policy.permissions)
        return PermissionsExportPart(
            entitlements: EntitlementsResult(accountId: account, overview), successfulLogins: state.successfulLogins,
            activeDays: state.activeDays, memberships: memberships, truncated: rows.count > limit)
    }
}
