import Contract
import Directory
import Foundation
import Messaging
import Platform
import Postgres

/// `data` of `bindings.list` and `migration.get`: the account is the session's own; `accountId`,
/// when sent, must be it.
struct OwnAccount: Decodable, Sendable {
    var accountId: String?
}

/// `bindings.list` and `migration.get`: the caller's own bindings and latest migration plan. Reads:
/// no lock, no write; allowed while the account is frozen (its bindings then show `suspended`).
enum ReadHandlers {
    static func register(_ router: inout Router) {
        router.command("bindings.list", OwnAccount.self) { session, command, _ in
            let account = try BindingHandlers.authorize(session, command, accountID: command.data.accountId)
            let live = BindingReads.live(try BindingStore.records(session, account), now: command.receivedAt)
            return try .ok(BindingList(accountId: account, bindings: live.map(ListedBinding.init)))
        }
        // Binding's part of a support lookup (issue 17): the live bindings and the latest plan.
        router.command("support.binding.lookup", SupportQuery.self) { session, command, effects in
            let account = try OperatorDirectory.supportLookup(session, command, effects: &effects)
            let live = BindingReads.live(try BindingStore.records(session, account), now: command.receivedAt)
            return try .ok(
                SupportBindingView(
                    accountId: account, bindings: live.map(ListedBinding.init),
                    migration: try BindingStore.latestPlan(session, account).map(PlanResult.init)))
        }
        router.command("migration.get", OwnAccount.self) { session, command, _ in
            let account = try BindingHandlers.authorize(session, command, accountID: command.data.accountId)
            return try .ok(
                LatestPlan(accountId: account, plan: try BindingStore.latestPlan(session, account).map(PlanResult.init))
            )
        }
    }
}

/// One binding in `bindings.list` (the external account id is not shown: no reply or event carries it).
struct ListedBinding: Encodable {
    var provider: String
    var mode: String
    var state: String
    var scopes: [String]
    var linkedAt: String
    /// When a temporary binding ends; `null` for the other modes.
    var expiresAt: String?
    /// Scopes whose grant expires, with when (`friend_list`), as `binding.link` answers them.
    var authorizationsExpireAt: [String: String]

    init(_ record: BindingRecord) {
        provider = record.provider
        mode = record.mode.rawValue
        state = record.state
        scopes = record.scopes
        linkedAt = CloudEvent.timestamp(record.linkedAt)
        expiresAt = record.expiresAt.map(CloudEvent.timestamp)
        authorizationsExpireAt = record.grantsExpireAt.mapValues(CloudEvent.timestamp)
    }

    private enum CodingKeys: String, CodingKey {
        case provider, mode, state, scopes, linkedAt, expiresAt, authorizationsExpireAt
    }

    /// Encodes every key, `expiresAt` as `null` when the binding does not expire.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(provider, forKey: .provider)
        try container.encode(mode, forKey: .mode)
        try container.encode(state, forKey: .state)
        try container.encode(scopes, forKey: .scopes)
        try container.encode(linkedAt, forKey: .linkedAt)
        try container.encode(expiresAt, forKey: .expiresAt)
        try container.encode(authorizationsExpireAt, forKey: .authorizationsExpireAt)
    }
}

/// `result` of `support.binding.lookup`: `migration` is `null` when the account never started one.
struct SupportBindingView: Encodable {
    var accountId: String
    var bindings: [ListedBinding]
    var migration: PlanResult?

    private enum CodingKeys: String, CodingKey { case accountId, bindings, migration }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(accountId, forKey: .accountId)
        try container.encode(bindings, forKey: .bindings)
        try container.encode(migration, forKey: .migration)
    }
}

/// `result` of `bindings.list`.
struct BindingList: Encodable {
    var accountId: String
    var bindings: [ListedBinding]
}

/// The plan in `migration.get`, named as `migration.planned` names it (`counts` per outcome).
struct PlanResult: Encodable {
    var planId: String
    var state: String
    var createdAt: String
    var items: Int
    var counts: PlanCounts
    var partsReceived: Int
    var partsTotal: Int
    var complete: Bool

    init(_ plan: StoredPlan) {
        planId = plan.planId
        state = plan.state
        createdAt = CloudEvent.timestamp(plan.createdAt)
        items = plan.counts.total
        counts = plan.counts
        partsReceived = plan.partsReceived
        partsTotal = plan.partsTotal
        complete = plan.state == "planned"
    }
}

/// `result` of `migration.get`: `plan` is `null` when the account never started a migration.
struct LatestPlan: Encodable {
    var accountId: String
    var plan: PlanResult?

    private enum CodingKeys: String, CodingKey { case accountId, plan }

    /// Encodes `plan` as `null` when there is none.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(accountId, forKey: .accountId)
        try container.encode(plan, forKey: .plan)
    }
}
