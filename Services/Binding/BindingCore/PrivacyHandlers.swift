import Contract
import Directory
import Foundation
import Messaging
import Platform
import Postgres

/// `data` of `consent.withdraw` on binding.commands.
struct WithdrawSharing: Decodable, Sendable {
    /// `binding_sharing`.
    var kind: String
    var provider: String
}

/// Binding's part of an export (issue 17): every binding (external account ids are never shown)
/// and the migration plans.
struct BindingExportPart: Encodable, Sendable {
    var bindings: [ListedBinding]
    var migrationPlans: [PlanResult]
    /// True when more plans exist than `privacy.exportListLimit`.
    var truncated: Bool
}

/// Binding's side of issue 17: its part of an export, and the bindings' data-sharing consents
/// (`consents.list`, `consent.withdraw {kind: binding_sharing, provider}` on binding.commands).
enum PrivacyHandlers {
    static func register(_ router: inout Router, policy: Policy) {
        ExportContribution.follow(&router, as: .binding) { session, account, _ in
            let limit = policy.privacy.exportListLimit
            let plans = try BindingStore.plans(session, account, limit: limit + 1)
            let bindings = try BindingStore.records(session, account).sorted { $0.provider < $1.provider }
            return BindingExportPart(
                bindings: bindings.map(ListedBinding.init), migrationPlans: plans.prefix(limit).map(PlanResult.init),
                truncated: plans.count > limit)
        }
        router.command("consents.list", OwnAccount.self) { session, command, _ in
            let account = try BindingHandlers.authorize(session, command, accountID: command.data.accountId)
            let consents = SharingConsents.consents(try BindingStore.records(session, account), now: command.receivedAt)
            return try .ok(
                JSONValue.object([
                    "consents": .array(
                        consents.map { consent in
                            .object([
                                "kind": .string(consent.kind), "provider": .string(consent.provider),
                                "granted": .bool(true), "scopes": .array(consent.scopes.map(JSONValue.string)),
                                "changedAt": .string(CloudEvent.timestamp(consent.grantedAt)),
                            ])
                        })
                ]))
        }
        router.command("consent.withdraw", WithdrawSharing.self) { session, command, effects in
            let account = try BindingHandlers.authorize(session, command, accountID: nil)
            guard command.data.kind == SharingConsents.kind else { throw MalformedMessage.invalid(field: "data.kind") }
            let provider = command.data.provider
            // Withdrawing consent is always possible, also while the account is frozen.
            guard try BindingStore.unlink(session, accountID: account, provider: provider) else {
                return .rejected(.bindingNotFound, "the account has no binding of that provider")
            }
            try effects.emit(
                .bindingUnlinked, subject: account,
                data: Unlinked(accountId: account, provider: provider, reason: "consent_withdrawn"))
            return try .ok(
                JSONValue.object([
                    "kind": .string(SharingConsents.kind), "provider": .string(provider), "granted": .bool(false),
                    "unlinked": .bool(true),
                ]))
        }
    }
}
