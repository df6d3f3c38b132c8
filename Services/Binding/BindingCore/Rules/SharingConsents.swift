import Foundation
import Platform

/// A binding's data-sharing consent as `consents.list` (binding.commands) shows it.
public struct SharingConsent: Sendable, Equatable {
    /// Always `binding_sharing`.
    public var kind: String
    /// The provider the account's data is shared with.
    public var provider: String
    /// What is shared (the binding's live scopes).
    public var scopes: [String]
    /// When it was given (the link).
    public var grantedAt: Date

    /// Creates a value.
    public init(kind: String, provider: String, scopes: [String], grantedAt: Date) {
        self.kind = kind
        self.provider = provider
        self.scopes = scopes
        self.grantedAt = grantedAt
    }
}

/// The pure rules of bindings' data-sharing consents (issue 17). Linking a binding is the consent
/// to share its scopes; withdrawing it unlinks the binding (a binding that shares nothing has no
/// use), so a consent exists exactly as long as its binding.
public enum SharingConsents {
    /// The consent kind binding keeps.
    public static let kind = "binding_sharing"

    /// The account's sharing consents: one per binding live at `now`, by provider.
    public static func consents(_ bindings: [BindingRecord], now: Date) -> [SharingConsent] {
        BindingReads.live(bindings, now: now).map { binding in
            SharingConsent(kind: kind, provider: binding.provider, scopes: binding.scopes, grantedAt: binding.linkedAt)
        }
    }
}
