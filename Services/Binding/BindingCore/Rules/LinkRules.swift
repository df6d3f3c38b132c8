import Foundation
import Platform

/// How a binding is held (contract §4 `binding.link`).
public enum BindingMode: String, Codable, Sendable, CaseIterable {
    /// The core platform: one at a time.
    case primary
    /// Any number.
    case secondary
    /// Expires after `binding.temporaryValidity` (24 h by default); never conflicts.
    case temporary
}

/// A binding the account already has, as the rules see it.
public struct ExistingBinding: Sendable, Equatable {
    /// Provider name (a key of the capability matrix).
    public var provider: String
    /// Its mode.
    public var mode: BindingMode
    /// Scopes it holds now.
    public var scopes: [String]

    /// Creates a value.
    public init(provider: String, mode: BindingMode, scopes: [String]) {
        self.provider = provider
        self.mode = mode
        self.scopes = scopes
    }
}

/// A `binding.link` request.
public struct LinkRequest: Sendable, Equatable {
    /// Provider name.
    public var provider: String
    /// Its mode.
    public var mode: BindingMode
    /// Requested scopes.
    public var scopes: [String]

    /// Creates a value.
    public init(provider: String, mode: BindingMode, scopes: [String]) {
        self.provider = provider
        self.mode = mode
        self.scopes = scopes
    }
}

/// What `LinkRules.decide` says about a link.
public enum LinkDecision: Sendable, Equatable {
    /// The provider is not in the capability matrix (`PROVIDER_UNSUPPORTED`).
    case providerUnsupported
    /// Scopes the provider does not offer (`SCOPE_UNSUPPORTED`), in request order.
    case scopeUnsupported([String])
    /// The external account is bound to another Registrar account (`EXTERNAL_ACCOUNT_TAKEN`).
    case externalAccountTaken
    /// Another provider is the primary binding (`PRIMARY_EXISTS`).
    case primaryExists(provider: String)
    /// A non-temporary binding of another provider holds an exclusive scope (`BINDING_CONFLICT`).
    case conflict(with: String, scope: String)
    /// Linked; `warnings` for the reply.
    case linked(warnings: [String])
}

/// The rules of `binding.link`, pure over the request, the account's bindings and the policy.
///
/// Providers are data: what a provider may be granted is `Policy.Binding.capabilities`, so a new
/// provider is a policy entry. The two cross-provider rules are stated over scopes, not provider
/// names, so they hold for a new provider too:
/// - an *exclusive* scope (`calendar`) may be held by one non-temporary binding only — with the
///   contract's matrix that is exactly "calendar on both dingtalk and feishu while neither is
///   temporary" → `BINDING_CONFLICT`;
/// - a scope that duplicates Registrar's own pushes (`notifications`, wechat's) is granted with the
///   warning `DUPLICATE_NOTIFICATIONS`.
///
/// Linking a provider the account has already bound replaces that binding (a re-authorization:
/// new external account, mode, scopes and grant times), so the existing binding of the same
/// provider never conflicts with the request.
public enum LinkRules {
    /// Scopes only one non-temporary binding of an account may hold at a time.
    public static let exclusiveScopes: Set<String> = ["calendar"]
    /// Scopes whose grant duplicates Registrar's own notifications (warning, not refusal).
    public static let duplicateNotificationScopes: Set<String> = ["notifications"]
    /// The warning for `duplicateNotificationScopes`.
    public static let duplicateNotificationsWarning = "DUPLICATE_NOTIFICATIONS"

    /// Decides a link. `externalOwner` is the Registrar account the external account is bound to
    /// now, if any; `accountID` the caller's.
    public static func decide(
        _ request: LinkRequest, accountID: String, externalOwner: String?, existing: [ExistingBinding],
        policy: Policy.Binding
    ) -> LinkDecision {
        guard let offered = policy.capabilities[request.provider] else { return .providerUnsupported }
        let unsupported = request.scopes.filter { !offered.contains($0) }
        if !unsupported.isEmpty { return .scopeUnsupported(unsupported) }
        if let externalOwner, externalOwner != accountID { return .externalAccountTaken }
        let others = existing.filter { $0.provider != request.provider }
        if request.mode == .primary, let primary = others.first(where: { $0.mode == .primary }) {
            return .primaryExists(provider: primary.provider)
        }
        if request.mode != .temporary {
            for scope in request.scopes where exclusiveScopes.contains(scope) {
                if let holder = others.first(where: { $0.mode != .temporary && $0.scopes.contains(scope) }) {
                    return .conflict(with: holder.provider, scope: scope)
                }
            }
        }
        let duplicates = request.scopes.contains { duplicateNotificationScopes.contains($0) }
        return .linked(warnings: duplicates ? [duplicateNotificationsWarning] : [])
    }

    /// When a temporary binding linked at `linkedAt` ends; `nil` for other modes.
    public static func bindingExpiry(mode: BindingMode, linkedAt: Date, policy: Policy.Binding) -> Date? {
        mode == .temporary ? linkedAt.addingTimeInterval(policy.temporaryValidity.timeInterval) : nil
    }

    /// When a grant of `scope` made at `grantedAt` expires; `nil` when it does not (only
    /// `friend_list` expires, after `binding.friendListValidity`, 90 days by default).
    public static func scopeExpiry(_ scope: String, grantedAt: Date, policy: Policy.Binding) -> Date? {
        scope == "friend_list" ? grantedAt.addingTimeInterval(policy.friendListValidity.timeInterval) : nil
    }

    /// The scopes in request order without repeats.
    public static func normalized(_ scopes: [String]) -> [String] {
        var seen: Set<String> = []
        return scopes.filter { seen.insert($0).inserted }
    }
}
