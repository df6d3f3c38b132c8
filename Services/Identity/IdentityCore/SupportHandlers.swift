import Contract
import Directory
import Foundation
import Messaging
import Platform
import Postgres

struct SupportLookup: Decodable, Sendable {
    var phone: String?
    var accountId: String?
}

struct SupportAccountAction: Decodable, Sendable {
    var accountId: String
    var lock: String?
    var reason: String
}

/// What support sees of an account in identity: the owner's view, the devices (identifiers
/// masked), live sessions and the lock counters.
struct SupportAccountView: Encodable {
    var account: AccountView
    var devices: [DeviceView]
    var liveSessions: Int
    var loginFailures: Int
    var lockouts: Int
    var wrongSecurityAnswers: Int
}

/// Identity's support commands (issue 17), for operators of the `support` (or `admin`) role; each
/// is audited with its operator and, where it changes something, its mandatory `reason`.
/// `support.account.lookup` is identity's part of an account lookup and the only one that takes a
/// phone: it answers the account id the other services' `support.<service>.lookup` take.
enum SupportHandlers {
    static func register(_ router: inout Router, _ context: IdentityContext) {
        router.command("support.account.lookup", SupportLookup.self) { session, command, effects in
            let now = command.receivedAt
            _ = try OperatorDirectory.authorize(session, command.envelope, for: .support, now: now, effects: &effects)
            let accountID: String?
            switch (command.data.phone, command.data.accountId) {
            case (let phone?, nil):
                guard let parsed = PhoneNumber.parse(phone) else { throw MalformedMessage.invalid(field: "data.phone") }
                accountID = try AccountStore.accountOfPhone(session, phone: parsed.e164)?.id
            case (nil, let id?):
                accountID = UUID(uuidString: id) != nil ? id.lowercased() : nil
            default:
                throw MalformedMessage.invalid(field: "data.accountId")
            }
            guard let accountID, let view = try AccountStore.view(session, accountID: accountID, now: now) else {
                return .rejected(.accountNotFound, "no live or frozen account matches")
            }
            effects.audit("support.lookup", subject: accountID)
            let counters = try session.query(
                """
                SELECT failed_logins, lockouts, wrong_answers,
                       (SELECT count(*) FROM sessions s WHERE s.account_id = a.id AND s.revoked_at IS NULL
                          AND s.refresh_expires_at > \(now)) AS live_sessions
                FROM accounts a WHERE a.id = \(accountID)::uuid
                """
            ).first
            return try .ok(
                SupportAccountView(
                    account: view, devices: try AccountStore.devices(session, accountID: accountID, current: nil),
                    liveSessions: try counters?.decode("live_sessions") ?? 0,
                    loginFailures: try counters?.decode("failed_logins") ?? 0,
                    lockouts: try counters?.decode("lockouts") ?? 0,
                    wrongSecurityAnswers: try counters?.decode("wrong_answers") ?? 0))
        }
        router.command("support.account.unlock", SupportAccountAction.self) { session, command, effects in
            let (accountID, _) = try authorizeAction(session, command, &effects)
            let lock = command.data.lock ?? ""
            let cleared: Int
            switch lock {
            case "login":
                // The wrong-password lock, its window and its escalation start over.
                cleared = try session.query(
                    """
                    UPDATE accounts SET failed_logins = 0, failure_window_start = NULL, lockouts = 0, locked_until = NULL
                    WHERE id = \(accountID)::uuid RETURNING id
                    """
                ).count
            case "security_questions":
                cleared = try session.query(
                    """
                    UPDATE accounts SET wrong_answers = 0, locked = false WHERE id = \(accountID)::uuid RETURNING id
                    """
                ).count
            default:
                throw MalformedMessage.invalid(field: "data.lock")
            }
            guard cleared > 0 else { return .rejected(.accountNotFound, "no such account") }
            try effects.emit(.accountUnlocked, subject: accountID, data: AccountUnlocked(lock: lock))
            return try .ok(["accountId": accountID, "lock": lock])
        }
        router.command("support.sessions.revoke_all", SupportAccountAction.self) { session, command, effects in
            let (accountID, now) = try authorizeAction(session, command, &effects)
            guard try AccountStore.phone(session, accountID: accountID) != nil else {
                return .rejected(.accountNotFound, "no such account")
            }
            let revoked = try SessionStore.revoke(
                session, accountID: accountID, .all, reason: "support", now: now, effects: &effects)
            // "Stolen phone": a device key would sign the thief back in (issue 18).
            try DeviceKeyStore.remove(session, accountID: accountID, .all, reason: "support", effects: &effects)
            if revoked == 0 { effects.audit("support.sessions.revoke_all", subject: accountID) }
            return try .ok(JSONValue.object(["accountId": .string(accountID), "revoked": .int(Int64(revoked))]))
        }
    }

    /// The support operator and reason of an action on an account; the account id, validated.
    private static func authorizeAction(
        _ session: borrowing PostgresSession, _ command: Command<SupportAccountAction>,
        _ effects: inout MessageEffects
    ) throws -> (accountID: String, now: Date) {
        let now = command.receivedAt
        _ = try OperatorDirectory.authorize(session, command.envelope, for: .support, now: now, effects: &effects)
        _ = try OperatorDirectory.reason(command.data.reason, effects: &effects)
        guard UUID(uuidString: command.data.accountId) != nil else {
            throw MalformedMessage.invalid(field: "data.accountId")
        }
        return (command.data.accountId.lowercased(), now)
    }
}
