import Foundation
import Platform

/// A binding as stored, with the grants of it that expire (`binding.link`'s `LinkRules.scopeExpiry`).
public struct BindingRecord: Sendable, Equatable {
    /// Provider name.
    public var provider: String
    /// Its mode.
    public var mode: BindingMode
    /// `active`, or `suspended` while a deregistration request holds the account.
    public var state: String
    /// Scopes held as stored (the sweep removes an expired grant's scope, a moment late).
    public var scopes: [String]
    /// When it was linked.
    public var linkedAt: Date
    /// When a temporary binding ends (`nil` for other modes).
    public var expiresAt: Date?
    /// When each expiring grant (scope) ends.
    public var grantsExpireAt: [String: Date]

    /// Creates a value.
    public init(
        provider: String, mode: BindingMode, state: String, scopes: [String], linkedAt: Date, expiresAt: Date?,
        grantsExpireAt: [String: Date]
    ) {
        self.provider = provider
        self.mode = mode
        self.state = state
        self.scopes = scopes
        self.linkedAt = linkedAt
        self.expiresAt = expiresAt
        self.grantsExpireAt = grantsExpireAt
    }
}

/// What `bindings.list` shows of the account's bindings.
public enum BindingReads {
    /// The bindings live at `now`, by provider: a temporary binding whose 24 h have run out and a
    /// grant whose 90 days have run out are gone at their instant (`expiresAt <= now`, as the sweep
    /// decides them), even if the sweep has not removed them yet; the remaining grants keep their
    /// expiry.
    public static func live(_ bindings: [BindingRecord], now: Date) -> [BindingRecord] {
        bindings.compactMap { binding in
            if let ends = binding.expiresAt, ends <= now { return nil }
            var live = binding
            live.grantsExpireAt = binding.grantsExpireAt.filter { scope, ends in
                ends > now && binding.scopes.contains(scope)
            }
            live.scopes = binding.scopes.filter { scope in
                guard let ends = binding.grantsExpireAt[scope] else { return true }
                return ends > now
            }
            return live
        }.sorted { $0.provider < $1.provider }
    }
}
