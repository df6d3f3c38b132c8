import Foundation
import Platform

/// A refresh token's standing, as loaded for `session.refresh`.
public enum PresentedRefreshToken: Sendable, Equatable {
    /// The current refresh token of a session.
    case current(expiresAt: Date, revoked: Bool)
    /// A refresh token its session already exchanged.
    case rotated(sessionRevoked: Bool)
    /// No session ever issued it.
    case unknown
}

/// What `session.refresh` does with a presented refresh token.
public enum RefreshVerdict: Sendable, Equatable {
    /// Issue new access and refresh tokens; the presented one becomes rotated.
    case rotate
    /// A rotated token came back: someone holds a copy. The whole session is revoked
    /// (`session.revoked`, reason `refresh_reuse`), and the caller is refused.
    case revokeFamily
    /// Expired, revoked or unknown: refused, nothing changes.
    case refuse
}

/// Which sessions `sessions.revoke` ends.
public enum SessionRevocation: Sendable, Equatable {
    /// One session of the caller's account.
    case one(sessionId: String)
    /// Every session but the caller's own.
    case allOthers
    /// Every session, the caller's own too.
    case all
}

/// Sessions (issue 16): token lifetimes, refresh-token rotation with reuse detection (RFC 9700,
/// the OAuth 2.0 security BCP, §4.14.2), and the targets of a revocation.
public enum SessionRules {
    /// When the access and refresh tokens issued at `now` end.
    public static func expiries(now: Date, policy: Policy.Login) -> (access: Date, refresh: Date) {
        (
            now.addingTimeInterval(policy.accessTokenValidity.timeInterval),
            now.addingTimeInterval(policy.refreshTokenValidity.timeInterval)
        )
    }

    /// The verdict on a presented refresh token. A rotated token revokes its session unless the
    /// session is revoked already (nothing left to revoke, and no second event).
    public static func refresh(_ presented: PresentedRefreshToken, now: Date) -> RefreshVerdict {
        switch presented {
        case .current(let expiresAt, let revoked):
            return !revoked && now < expiresAt ? .rotate : .refuse
        case .rotated(let sessionRevoked):
            return sessionRevoked ? .refuse : .revokeFamily
        case .unknown:
            return .refuse
        }
    }

    /// The target named by `sessions.revoke`'s `sessionId` field: a session id, `all_others` or
    /// `all`; `nil` when it is none of these (`MALFORMED`).
    public static func revocation(_ target: String) -> SessionRevocation? {
        switch target {
        case "all_others": return .allOthers
        case "all": return .all
        default:
            guard UUID(uuidString: target) != nil else { return nil }
            return .one(sessionId: target.lowercased())
        }
    }
}
