import Contract
import Directory
import Foundation
import Messaging
import Platform
import Postgres

struct RefreshSession: Decodable, Sendable {
    var refreshToken: String
}

struct RevokeSessions: Decodable, Sendable {
    /// A session id, `all_others` or `all`.
    var sessionId: String
}

/// `session.refresh`, `logout`, `sessions.list` and `sessions.revoke` (issue 16).
enum SessionHandlers {
    static func register(_ router: inout Router, _ context: IdentityContext) {
        router.command("session.refresh", RefreshSession.self, sensitive: true) { session, command, effects in
            try refresh(session, command, &effects, context)
        }
        router.command("logout", EmptyPayload.self) { session, command, effects in
            let caller = try LoginHandlers.signedIn(session, command.envelope, now: command.receivedAt)
            try SessionStore.revoke(
                session, accountID: caller.accountID, .session(caller.id), reason: "logout", now: command.receivedAt,
                effects: &effects)
            return try .ok(["sessionId": caller.id])
        }
        router.command("sessions.list", EmptyPayload.self) { session, command, effects in
            let now = command.receivedAt
            let caller = try LoginHandlers.signedIn(session, command.envelope, now: now)
            effects.concerns(caller.accountID)  // The reply names no account: filed for the purge.
            return try .ok(
                ["sessions": try SessionStore.list(session, accountID: caller.accountID, current: caller.id, now: now)])
        }
        router.command("sessions.revoke", RevokeSessions.self) { session, command, effects in
            try revoke(session, command, &effects)
        }
    }

    /// Rotates both tokens; a rotated refresh token presented again revokes its session.
    static func refresh(
        _ session: borrowing PostgresSession, _ command: Command<RefreshSession>, _ effects: inout MessageEffects,
        _ context: IdentityContext
    ) throws -> Reply {
        let now = command.receivedAt
        let refused = Reply.rejected(.unauthenticated, "the refresh token is not valid; sign in again")
        let hash = SecretCodes.tokenHash(command.data.refreshToken)
        guard let found = try SessionStore.byRefreshToken(session, hash: hash) else { return refused }
        switch SessionRules.refresh(found.presented, now: now) {
        case .refuse:
            return refused
        case .revokeFamily:
            try SessionStore.revoke(
                session, accountID: found.accountID, .session(found.id), reason: "refresh_reuse", now: now,
                effects: &effects)
            return .rejected(
                .unauthenticated, "the refresh token was already used; the session is ended, sign in again")
        case .rotate:
            // A frozen or deregistered account's sessions are revoked with it; this is a guard.
            let issued = try SessionStore.rotate(
                session, found, presentedHash: hash, now: now, policy: context.policy.login, effects: &effects)
            return try .ok(
                [
                    "sessionId": issued.id, "sessionToken": issued.accessToken,
                    "expiresAt": CloudEvent.timestamp(issued.accessExpiresAt), "refreshToken": issued.refreshToken,
                    "refreshExpiresAt": CloudEvent.timestamp(issued.refreshExpiresAt),
                ])
        }
    }

    static func revoke(
        _ session: borrowing PostgresSession, _ command: Command<RevokeSessions>, _ effects: inout MessageEffects
    ) throws -> Reply {
        let now = command.receivedAt
        let caller = try LoginHandlers.signedIn(session, command.envelope, now: now)
        guard let target = SessionRules.revocation(command.data.sessionId) else {
            throw MalformedMessage.invalid(field: "data.sessionId")
        }
        let scope: SessionStore.Scope
        switch target {
        case .one(let id):
            // Another account's session and no session at all look alike: nothing to revoke.
            scope = .session(id)
        case .allOthers: scope = .allExcept(caller.id)
        case .all: scope = .all
        }
        let count = try SessionStore.revoke(
            session, accountID: caller.accountID, scope, reason: "user", now: now, effects: &effects)
        if case .one = target, count == 0 {
            return .rejected(.sessionNotFound, "no live session with that id on this account")
        }
        return try .ok(["revoked": count])
    }
}
