import Contract
import Foundation
import Messaging
import Platform
import Postgres

struct Check: Decodable, Sendable {
    var accountId: String
    var action: Action
    var context: CheckContext?
}

/// `permissions.check`: a service-to-service query (no token; its topic is closed by ACLs in
/// production). A denial is still an `OK` reply: `allowed: false` with the deciding rule; a check in
/// the context of an enterprise the account does not belong to is `allowed: false`, `not_a_member`.
enum CheckHandler {
    static func register(_ router: inout Router, policy: Policy.Permissions) {
        router.command("permissions.check", Check.self) { session, command, effects in
            // The reply names no account: filed under the one checked, for its purge.
            effects.concerns(command.data.accountId)
            return try .ok(check(session, command.data, now: command.receivedAt, policy: policy))
        }
    }

    static func check(_ session: borrowing PostgresSession, _ data: Check, now: Date, policy: Policy.Permissions) throws
        -> CheckResult
    {
        guard let (state, timezone, _, memberships) = try PermissionsStore.accountInScope(session, data.accountId)
        else {
            return CheckResult(allowed: false, reason: "unknown_account", limits: [:], riskLevel: nil)
        }
        let riskLevel = Entitlements.riskLevel(stage: Entitlements.stage(state, now: now, policy: policy))
        // Identity switching (issue 18): an enterprise's context applies its policy alone; none, the
        // personal identity.
        guard
            let scope = EnterpriseRules.checkScope(
                data.context?.enterpriseId, action: data.action, overrides: memberships.overrides)
        else {
            return CheckResult(allowed: false, reason: "not_a_member", limits: [:], riskLevel: riskLevel)
        }
        var decision = Entitlements.evaluate(
            data.action, context: data.context ?? CheckContext(), state: state, scope: scope, now: now, policy: policy)
        guard decision.allowed else {
            return CheckResult(allowed: false, reason: decision.reason, limits: decision.limits, riskLevel: riskLevel)
        }
        let day = Entitlements.dayNumber(now, timezone: timezone, policy: policy)
        if let use = decision.quota {
            guard let used = try PermissionsStore.takeQuota(session, accountID: data.accountId, use: use, day: day)
            else {
                return CheckResult(
                    allowed: false, reason: "quota", limits: decision.limits.merging(["remainingToday": 0]) { $1 },
                    riskLevel: riskLevel)
            }
            decision.limits["remainingToday"] = use.cap - used  // Today is marked active with the quota.
        } else {
            try PermissionsStore.markActive(session, accountID: data.accountId, day: day)
        }
        // Every allowed add is a contact held, whatever the context: the total cap counts them all.
        if data.action == .contactExternalAdd {
            try PermissionsStore.addExternalContact(session, accountID: data.accountId)
        }
        return CheckResult(allowed: true, reason: "ok", limits: decision.limits, riskLevel: riskLevel)
    }
}

struct CheckResult: Encodable {
    var allowed: Bool
    var reason: String
    var limits: [String: Int64]
    /// The account's stage risk level (issue 18); absent for an unknown account.
    var riskLevel: String?
}
