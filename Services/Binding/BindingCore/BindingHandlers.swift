import Contract
import Directory
import Foundation
import Messaging
import Platform
import Postgres

struct Link: Decodable, Sendable {
    var accountId: String
    var provider: String
    var externalAccountId: String
    var mode: BindingMode
    var scopes: [String]
}

struct Unlink: Decodable, Sendable {
    var accountId: String
    var provider: String
}

struct MigrationStart: Decodable, Sendable {
    struct Manifest: Decodable, Sendable {
        var freeStorageBytes: Int64
        var items: [ManifestItem]
        /// Not in the contract: a manifest larger than one message comes in `total` parts; part 0
        /// opens the plan (its reply names `planId`), the others carry that `planId`.
        var part: Part?
    }
    struct Part: Decodable, Sendable {
        var index: Int
        var total: Int
        var planId: String?
    }
    var accountId: String
    var manifest: Manifest
}

/// `data` of `binding.linked`.
struct Linked: Encodable {
    var accountId: String
    var provider: String
    var mode: String
    var scopes: [String]
    var expiresAt: String?
}

/// `data` of `binding.unlinked`; `reason` is `user`, `expired` or `deregistered`.
struct Unlinked: Encodable {
    var accountId: String
    var provider: String
    var reason: String
}

/// `data` of `migration.planned`.
struct Planned: Encodable {
    var accountId: String
    var planId: String
    var items: Int
    var counts: PlanCounts
}

/// `binding.link`, `binding.unlink` and `migration.start` (contract §4 binding rows). Each acts on
/// `data.accountId` and needs that account's session.
enum BindingHandlers {
    static func register(_ router: inout Router, policy: Policy.Binding) {
        router.command("binding.link", Link.self) { session, command, effects in
            let data = command.data
            let account = try authorize(session, command, accountID: data.accountId)
            try refuseFrozen(session, account)
            guard !data.externalAccountId.isEmpty, data.externalAccountId.count <= policy.maxExternalAccountIdLength
            else {
                throw MalformedMessage.invalid(field: "data.externalAccountId")
            }
            let request = LinkRequest(
                provider: data.provider, mode: data.mode, scopes: LinkRules.normalized(data.scopes))
            guard !request.scopes.isEmpty else { throw MalformedMessage.invalid(field: "data.scopes") }
            let existing = try BindingStore.bindings(session, account).map(\.asExisting)
            let owner = try BindingStore.owner(
                session, provider: request.provider, externalAccountID: data.externalAccountId)
            let warnings: [String]
            switch LinkRules.decide(
                request, accountID: account, externalOwner: owner, existing: existing, policy: policy)
            {
            case .providerUnsupported:
                return .rejected(
                    .providerUnsupported, "the provider is not offered",
                    result: .object(["providers": .array(policy.capabilities.keys.sorted().map(JSONValue.string))]))
            case .scopeUnsupported(let scopes):
                return .rejected(
                    .scopeUnsupported, "the provider does not offer these scopes",
                    result: .object([
                        "unsupported": .array(scopes.map(JSONValue.string)),
                        "supported": .array((policy.capabilities[request.provider] ?? []).map(JSONValue.string)),
                    ]))
            case .externalAccountTaken:
                return .rejected(.externalAccountTaken, "the external account is bound to another account")
            case .primaryExists(let provider):
                return .rejected(
                    .primaryExists, "another provider is the primary binding",
                    result: .object(["primary": .string(provider)]))
            case .conflict(let provider, let scope):
                return .rejected(
                    .bindingConflict, "another binding holds \(scope)",
                    result: .object(["conflictsWith": .string(provider), "scope": .string(scope)]))
            case .linked(let list):
                warnings = list
            }
            guard
                try BindingStore.link(
                    session, accountID: account, request: request, externalAccountID: data.externalAccountId,
                    now: command.receivedAt, policy: policy)
            else { throw Refusal(.rejected(.externalAccountTaken, "the external account is bound to another account")) }
            let expiresAt = LinkRules.bindingExpiry(mode: request.mode, linkedAt: command.receivedAt, policy: policy)
                .map(CloudEvent.timestamp)
            try effects.emit(
                .bindingLinked, subject: account,
                data: Linked(
                    accountId: account, provider: request.provider, mode: request.mode.rawValue,
                    scopes: request.scopes, expiresAt: expiresAt))
            var authorizations: [String: String] = [:]
            for scope in request.scopes {
                if let expiry = LinkRules.scopeExpiry(scope, grantedAt: command.receivedAt, policy: policy) {
                    authorizations[scope] = CloudEvent.timestamp(expiry)
                }
            }
            return try .ok(
                LinkResult(
                    accountId: account, provider: request.provider, mode: request.mode.rawValue,
                    scopes: request.scopes, expiresAt: expiresAt, authorizationsExpireAt: authorizations),
                warnings: warnings)
        }
        router.command("binding.unlink", Unlink.self) { session, command, effects in
            let account = try authorize(session, command, accountID: command.data.accountId)
            let provider = command.data.provider
            // Withdrawing consent is always possible, also while the account is frozen.
            guard try BindingStore.unlink(session, accountID: account, provider: provider) else {
                return .rejected(.bindingNotFound, "the account has no binding of that provider")
            }
            try effects.emit(
                .bindingUnlinked, subject: account,
                data: Unlinked(accountId: account, provider: provider, reason: "user"))
            return try .ok(["accountId": account, "provider": provider])
        }
        router.command("migration.start", MigrationStart.self) { session, command, effects in
            let data = command.data
            let account = try authorize(session, command, accountID: data.accountId)
            try refuseFrozen(session, account)
            // A later part of a manifest continues a plan whose first part passed the checks.
            let continuing = data.manifest.part.map { $0.index > 0 || $0.planId != nil } ?? false
            if !continuing {
                let source = try BindingStore.hasActive(
                    session, accountID: account, provider: MigrationRules.sourceProvider)
                switch MigrationRules.decide(
                    hasSourceBinding: source, freeStorageBytes: data.manifest.freeStorageBytes, policy: policy)
                {
                case .bindingRequired:
                    return .rejected(.bindingRequired, "migration needs a wechat binding")
                case .insufficientStorage(let required):
                    return .rejected(
                        .insufficientStorage, "not enough free storage",
                        result: .object([
                            "requiredBytes": .int(required), "freeStorageBytes": .int(data.manifest.freeStorageBytes),
                        ]))
                case .plan:
                    break
                }
            }
            let counts = MigrationRules.count(data.manifest.items, now: command.receivedAt, policy: policy)
            if let part = data.manifest.part {
                return try MigrationParts.receive(session, part, counts: counts, account: account, command, &effects)
            }
            let planID = UUID()
            try BindingStore.savePlan(
                session, planID: planID, accountID: account, counts: counts,
                freeStorageBytes: data.manifest.freeStorageBytes, now: command.receivedAt)
            let planned = Planned(
                accountId: account, planId: planID.uuidString.lowercased(), items: counts.total, counts: counts)
            try effects.emit(.migrationPlanned, subject: account, data: planned)
            return try .ok(MigrationResult(planId: planned.planId, items: counts.total, plan: counts))
        }
    }

    /// The caller's account id (lowercase), which must be `accountID`: `UNAUTHENTICATED` without a
    /// live session, `FORBIDDEN` for another account's session. A read that names no account
    /// (`accountID` nil) acts on the caller's own.
    static func authorize<T>(_ session: borrowing PostgresSession, _ command: Command<T>, accountID: String?) throws
        -> String
    {
        guard
            let caller = try SessionDirectory.authenticate(
                session, token: command.envelope.sessiontoken, now: command.receivedAt)
        else { throw Refusal(.rejected(.unauthenticated, "a valid session token is required")) }
        guard let accountID else { return caller.accountId }
        guard UUID(uuidString: accountID)?.uuidString.lowercased() == caller.accountId else {
            throw Refusal(.rejected(.forbidden, "a session acts only on its own account"))
        }
        return caller.accountId
    }

    /// `ACCOUNT_FROZEN` while a deregistration request holds the account.
    static func refuseFrozen(_ session: borrowing PostgresSession, _ accountID: String) throws {
        if try BindingStore.isFrozen(session, accountID) {
            throw Refusal(.rejected(.accountFrozen, "the account is frozen; its bindings are suspended"))
        }
    }
}

/// `result` of `binding.link`.
struct LinkResult: Encodable {
    var accountId: String
    var provider: String
    var mode: String
    var scopes: [String]
    var expiresAt: String?
    /// Scopes whose grant expires, with when (`friend_list`).
    var authorizationsExpireAt: [String: String]
}

/// `result` of `migration.start`: `plan` is the counts per outcome (the contract's name).
struct MigrationResult: Encodable {
    var planId: String
    var items: Int
    var plan: PlanCounts
}
