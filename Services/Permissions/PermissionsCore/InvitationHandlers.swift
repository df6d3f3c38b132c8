import Contract
import Directory
import Foundation
import Messaging
import Platform
import Postgres

/// `data` of `enterprise.invite`: the account to invite (permissions knows no phones: a client that
/// has only a phone resolves it to an account first, through identity).
struct Invite: Decodable, Sendable {
    var enterpriseId: String
    var accountId: String
    /// `member` (the default, and the only role offered: admin rights move by
    /// `enterprise.transfer_admin`).
    var role: String?
}

/// `data` of `enterprise.invitation.accept` and `enterprise.invitation.decline`.
struct InvitationRef: Decodable, Sendable {
    var invitationId: String
}

/// `data` of `enterprise.remove_member`.
struct RemoveMember: Decodable, Sendable {
    var enterpriseId: String
    var accountId: String
}

/// `data` of `enterprise.leave`.
struct Leave: Decodable, Sendable {
    var enterpriseId: String
}

/// `data` of `contact.external.removed`.
struct ContactRemoved: Decodable, Sendable {
    var accountId: String
}

/// `enterprise.member_invited`.
struct MemberInvited: Encodable {
    var enterpriseId: String
    var invitationId: String
    var accountId: String
    var expiresAt: String
}

/// `enterprise.member_removed`: `by` is `admin` (`enterprise.remove_member`) or `self` (`enterprise.leave`).
struct MemberRemoved: Encodable {
    var enterpriseId: String
    var accountId: String
    var by: String
}

/// Issue 18: invitations (the invitee agrees before joining), leaving and removal, and the contact
/// removals that free a slot of the enterprise's total external-contact cap.
enum InvitationHandlers {
    static func register(_ router: inout Router, policy: Policy.Permissions, locale: String) {
        router.command("enterprise.invite", Invite.self) { session, command, effects in
            let data = command.data
            let now = command.receivedAt
            effects.actingAccount = try EnterpriseHandlers.requireAdmin(session, data.enterpriseId, command)
            guard data.role == nil || data.role == "member" else { throw MalformedMessage.invalid(field: "data.role") }
            guard try PermissionsStore.accountInScope(session, data.accountId, locking: false) != nil else {
                return .rejected(.accountNotFound, "the account is not known")
            }
            let account = data.accountId.lowercased()
            if try PermissionsStore.role(session, enterpriseID: data.enterpriseId, accountID: account) != nil {
                return .rejected(.alreadyAMember, "the account is a member already")
            }
            let id = UUID().uuidString.lowercased()
            let expires = EnterpriseRules.invitationExpiry(invitedAt: now, policy: policy)
            // An open invitation that ran out is closed first, so the account can be invited again.
            try session.query(
                """
                UPDATE enterprise_invitations SET state = 'expired', closed_at = \(now)
                WHERE enterprise_id = \(data.enterpriseId) AND account_id = \(account)::uuid AND state = 'pending'
                  AND expires_at <= \(now)
                """)
            let created = try session.query(
                """
                INSERT INTO enterprise_invitations (invitation_id, enterprise_id, account_id, role, invited_at, expires_at)
                VALUES (\(id)::uuid, \(data.enterpriseId), \(account)::uuid, 'member', \(now), \(expires))
                ON CONFLICT DO NOTHING
                """)
            guard created.affectedRows == 1 else {
                let open = try session.query(
                    """
                    SELECT invitation_id::text AS id, expires_at FROM enterprise_invitations
                    WHERE enterprise_id = \(data.enterpriseId) AND account_id = \(account)::uuid AND state = 'pending'
                    """
                ).first
                return .rejected(
                    .invitationPending, "the account has an open invitation to this enterprise",
                    result: .object([
                        "invitationId": .string(try open?.decode("id", as: String.self) ?? ""),
                        "expiresAt": .string(
                            CloudEvent.timestamp(try open?.decode("expires_at", as: Date.self) ?? expires)),
                    ]))
            }
            let expiresAt = CloudEvent.timestamp(expires)
            try effects.emit(
                .enterpriseMemberInvited, subject: account,
                data: MemberInvited(
                    enterpriseId: data.enterpriseId, invitationId: id, accountId: account, expiresAt: expiresAt))
            try effects.notify(
                account, .enterpriseInvitation, locale: locale,
                params: ["enterpriseId": data.enterpriseId, "invitationId": id, "expiresAt": expiresAt])
            return try .ok([
                "invitationId": id, "enterpriseId": data.enterpriseId, "accountId": account, "expiresAt": expiresAt,
            ])
        }
        router.command("enterprise.invitation.accept", InvitationRef.self) { session, command, effects in
            let (invitation, caller) = try openInvitation(session, command)
            try EnterpriseHandlers.addMember(
                session, invitation.enterpriseId, caller, role: invitation.role, command, &effects, policy)
            try session.query(
                """
                UPDATE enterprise_invitations SET state = 'accepted', closed_at = \(command.receivedAt)
                WHERE invitation_id = \(invitation.id)::uuid
                """)
            return try .ok([
                "invitationId": invitation.id, "enterpriseId": invitation.enterpriseId, "accountId": caller,
                "role": invitation.role,
            ])
        }
        router.command("enterprise.invitation.decline", InvitationRef.self) { session, command, effects in
            let (invitation, caller) = try openInvitation(session, command)
            try session.query(
                """
                UPDATE enterprise_invitations SET state = 'declined', closed_at = \(command.receivedAt)
                WHERE invitation_id = \(invitation.id)::uuid
                """)
            try effects.emit(
                .enterpriseInvitationDeclined, subject: caller,
                data: [
                    "enterpriseId": invitation.enterpriseId, "invitationId": invitation.id, "accountId": caller,
                ])
            return try .ok([
                "invitationId": invitation.id, "enterpriseId": invitation.enterpriseId, "state": "declined",
            ])
        }
        router.command("enterprise.remove_member", RemoveMember.self) { session, command, effects in
            let data = command.data
            let admin = try EnterpriseHandlers.requireAdmin(session, data.enterpriseId, command)
            effects.actingAccount = admin
            guard try PermissionsStore.role(session, enterpriseID: data.enterpriseId, accountID: data.accountId) != nil
            else { return .rejected(.notAMember, "the account is not a member") }
            guard EnterpriseRules.mayLeave(member: data.accountId, admin: admin) else {
                return .rejected(
                    .adminTransferRequired, "hand the admin rights to another member first",
                    result: .object(["enterpriseIds": .array([.string(data.enterpriseId)])]))
            }
            let account = data.accountId.lowercased()
            try removeMember(session, data.enterpriseId, account, by: "admin", command, &effects, policy)
            try effects.notify(
                account, .enterpriseMemberRemoved, locale: locale, params: ["enterpriseId": data.enterpriseId])
            return try .ok(["enterpriseId": data.enterpriseId, "accountId": account])
        }
        router.command("enterprise.leave", Leave.self) { session, command, effects in
            let data = command.data
            let caller = try authenticated(session, command)
            guard try PermissionsStore.role(session, enterpriseID: data.enterpriseId, accountID: caller) != nil else {
                return .rejected(.notAMember, "the account is not a member")
            }
            let admin: String? = try session.query(
                "SELECT admin_account_id::text AS admin FROM enterprises WHERE enterprise_id = \(data.enterpriseId)"
            ).first?.decode("admin")
            guard EnterpriseRules.mayLeave(member: caller, admin: admin ?? "") else {
                return .rejected(
                    .adminTransferRequired, "hand the admin rights to another member first",
                    result: .object(["enterpriseIds": .array([.string(data.enterpriseId)])]))
            }
            try removeMember(session, data.enterpriseId, caller, by: "self", command, &effects, policy)
            return try .ok(["enterpriseId": data.enterpriseId, "accountId": caller])
        }
        router.command("contact.external.removed", ContactRemoved.self) { session, command, effects in
            let data = command.data
            let caller = try authenticated(session, command)
            guard caller == data.accountId.lowercased() else {
                return .rejected(.forbidden, "a session reports only its own contacts")
            }
            guard let (state, _, _, _) = try PermissionsStore.accountInScope(session, caller) else {
                return .rejected(.accountNotFound, "the account is not known")
            }
            let held = EnterpriseRules.afterRemoval(held: state.externalContacts)
            try PermissionsStore.setExternalContacts(session, accountID: caller, to: held)
            try PermissionsStore.refresh(session, caller, now: command.receivedAt, policy: policy, effects: &effects)
            return try .ok(["accountId": .string(caller), "externalContacts": JSONValue.int(Int64(held))])
        }
    }

    /// The session's account (lowercase); `UNAUTHENTICATED` without a valid one.
    static func authenticated<T>(_ session: borrowing PostgresSession, _ command: Command<T>) throws -> String {
        guard
            let caller = try SessionDirectory.authenticate(
                session, token: command.envelope.sessiontoken, now: command.receivedAt)
        else { throw Refusal(.rejected(.unauthenticated, "a valid session token is required")) }
        return caller.accountId.lowercased()
    }

    /// An open invitation of the session's account, locked; refuses by `EnterpriseRules.invitationVerdict`.
    static func openInvitation(_ session: borrowing PostgresSession, _ command: Command<InvitationRef>) throws
        -> (invitation: (id: String, enterpriseId: String, role: String), caller: String)
    {
        let caller = try authenticated(session, command)
        let id = command.data.invitationId.lowercased()
        guard UUID(uuidString: id) != nil,
            let row = try session.query(
                """
                SELECT enterprise_id, account_id::text AS account_id, role, state, expires_at
                FROM enterprise_invitations WHERE invitation_id = \(id)::uuid FOR UPDATE
                """
            ).first
        else { throw Refusal(.rejected(.invitationNotFound, "no such invitation")) }
        let expires: Date = try row.decode("expires_at")
        switch EnterpriseRules.invitationVerdict(
            state: try row.decode("state"), invitee: try row.decode("account_id"), caller: caller, expiresAt: expires,
            now: command.receivedAt)
        {
        case .notYours:
            throw Refusal(.rejected(.forbidden, "the invitation is another account's"))
        case .closed(let state):
            throw Refusal(
                .rejected(
                    .invitationClosed, "the invitation was answered already", result: .object(["state": .string(state)])
                ))
        case .expired:
            throw Refusal(
                .rejected(
                    .invitationExpired, "the invitation expired; ask the admin for a new one",
                    result: .object(["expiresAt": .string(CloudEvent.timestamp(expires))])))
        case .open:
            return ((id, try row.decode("enterprise_id"), try row.decode("role")), caller)
        }
    }

    /// Ends a membership: the member's own override goes with it, its grants are recomputed, and
    /// `enterprise.member_removed` tells who did it.
    static func removeMember<T>(
        _ session: borrowing PostgresSession, _ enterpriseID: String, _ accountID: String, by: String,
        _ command: Command<T>, _ effects: inout MessageEffects, _ policy: Policy.Permissions
    ) throws {
        try session.query(
            "DELETE FROM enterprise_members WHERE enterprise_id = \(enterpriseID) AND account_id = \(accountID)::uuid")
        try session.query(
            "DELETE FROM enterprise_policies WHERE enterprise_id = \(enterpriseID) AND member = \(accountID)")
        try effects.emit(
            .enterpriseMemberRemoved, subject: accountID,
            data: MemberRemoved(enterpriseId: enterpriseID, accountId: accountID, by: by))
        try PermissionsStore.refresh(session, accountID, now: command.receivedAt, policy: policy, effects: &effects)
    }
}
