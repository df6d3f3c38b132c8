import Contract
import Directory
import Foundation
import Messaging
import Platform
import Postgres

/// `data` of `entitlements.get`: the account is the session's own; `accountId`, when sent, must be it.
struct EntitlementsQuery: Decodable, Sendable {
    var accountId: String?
}

/// `entitlements.get`: the caller's own entitlements, as `permissions.check` would decide them now
/// (`Entitlements.overview` over the same state, scope and rules), with today's quota use. A read:
/// it takes no lock and writes nothing (not even the active day a check records).
enum EntitlementsHandler {
    static func register(_ router: inout Router, policy: Policy.Permissions) {
        router.command("entitlements.get", EntitlementsQuery.self) { session, command, _ in
            let account = try authorizeOwn(session, command, accountID: command.data.accountId)
            guard let result = try entitlements(session, account, now: command.receivedAt, policy: policy) else {
                return .rejected(.accountNotFound, "the account is not known")
            }
            return try .ok(result)
        }
        // Permissions' part of a support lookup (issue 17): the entitlements and the memberships.
        router.command("support.permissions.lookup", SupportQuery.self) { session, command, effects in
            let account = try OperatorDirectory.supportLookup(session, command, effects: &effects)
            guard let result = try entitlements(session, account, now: command.receivedAt, policy: policy) else {
                return .rejected(.accountNotFound, "the account is not known")
            }
            let memberships = try session.query(
                """
                SELECT enterprise_id, role, joined_at FROM enterprise_members
                WHERE account_id = \(account)::uuid ORDER BY joined_at, enterprise_id
                """
            ).map { row in
                Membership(
                    enterpriseId: try row.decode("enterprise_id"), role: try row.decode("role"),
                    joinedAt: CloudEvent.timestamp(try row.decode("joined_at")))
            }
            return try .ok(SupportPermissionsView(entitlements: result, memberships: memberships))
        }
    }

    /// The account's entitlements now, as `permissions.check` would decide them; `nil` when the
    /// account is not known (or out of scope).
    static func entitlements(
        _ session: borrowing PostgresSession, _ account: String, now: Date, policy: Policy.Permissions
    ) throws -> EntitlementsResult? {
        guard let (state, timezone, _, scope) = try PermissionsStore.accountInScope(session, account, locking: false)
        else { return nil }
        let used = try PermissionsStore.quotaUsed(
            session, accountID: account, day: Entitlements.dayNumber(now, timezone: timezone, policy: policy))
        let overview = Entitlements.overview(
            state, scope: scope, timezone: timezone, usedToday: used, now: now, policy: policy)
        return EntitlementsResult(accountId: account, overview)
    }

    /// The caller's account id: `UNAUTHENTICATED` without a live session, `FORBIDDEN` when
    /// `accountID` is sent and names another account (compared as UUIDs).
    static func authorizeOwn<T>(_ session: borrowing PostgresSession, _ command: Command<T>, accountID: String?)
        throws -> String
    {
        guard
            let caller = try SessionDirectory.authenticate(
                session, token: command.envelope.sessiontoken, now: command.receivedAt)
        else { throw Refusal(.rejected(.unauthenticated, "a valid session token is required")) }
        if let accountID, UUID(uuidString: accountID)?.uuidString.lowercased() != caller.accountId {
            throw Refusal(.rejected(.forbidden, "a session reads only its own account"))
        }
        return caller.accountId
    }
}

/// One enterprise membership, in a support lookup.
struct Membership: Encodable {
    var enterpriseId: String
    var role: String
    var joinedAt: String
}

/// `result` of `support.permissions.lookup`.
struct SupportPermissionsView: Encodable {
    var entitlements: EntitlementsResult
    var memberships: [Membership]
}

/// `result` of `entitlements.get`.
struct EntitlementsResult: Encodable {
    /// One action's answer, as `permissions.check` shapes it.
    struct ActionResult: Encodable {
        var allowed: Bool
        var reason: String
        var limits: [String: Int64]
    }

    /// One daily quota.
    struct QuotaResult: Encodable {
        var used: Int64
        var limit: Int64
        var remaining: Int64
        var resetsAt: String
    }

    var accountId: String
    var stage: Int
    var riskLevel: String
    var nextStageAt: String?
    var tier: String
    var tierExpiresAt: String?
    var tierInForce: Bool
    var actions: [String: ActionResult]
    var quotas: [String: QuotaResult]

    init(accountId: String, _ overview: Overview) {
        self.accountId = accountId
        stage = overview.stage
        riskLevel = overview.riskLevel
        nextStageAt = overview.nextStageAt.map(CloudEvent.timestamp)
        tier = overview.tier.rawValue
        tierExpiresAt = overview.tierExpiresAt.map(CloudEvent.timestamp)
        tierInForce = overview.tierInForce
        actions = Dictionary(
            uniqueKeysWithValues: overview.actions.map { action, decision in
                (
                    action.rawValue,
                    ActionResult(allowed: decision.allowed, reason: decision.reason, limits: decision.limits)
                )
            })
        quotas = overview.quotas.mapValues { quota in
            QuotaResult(
                used: quota.used, limit: quota.limit, remaining: quota.remaining,
                resetsAt: CloudEvent.timestamp(quota.resetsAt))
        }
    }

    private enum CodingKeys: String, CodingKey {
        case accountId, stage, riskLevel, nextStageAt, tier, tierExpiresAt, tierInForce, actions, quotas
    }

    /// Encodes every key; `nextStageAt` and `tierExpiresAt` as `null` when absent (last stage,
    /// permanent tier), so clients need no defaults.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(accountId, forKey: .accountId)
        try container.encode(stage, forKey: .stage)
        try container.encode(riskLevel, forKey: .riskLevel)
        try container.encode(nextStageAt, forKey: .nextStageAt)
        try container.encode(tier, forKey: .tier)
        try container.encode(tierExpiresAt, forKey: .tierExpiresAt)
        try container.encode(tierInForce, forKey: .tierInForce)
        try container.encode(actions, forKey: .actions)
        try container.encode(quotas, forKey: .quotas)
    }
}
