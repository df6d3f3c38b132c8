import Contract
import Directory
import Foundation
import Messaging
import Platform
import Postgres

struct CreateEnterprise: Decodable, Sendable {
    var enterpriseId: String
    var name: String
    var adminAccountId: String
}

struct AddMember: Decodable, Sendable {
    var enterpriseId: String
    var accountId: String
    var role: String?
}

struct MemberPolicy: Decodable, Sendable {
    struct Overrides: Codable, Sendable {
        var momentsEnabled: Bool?
        var maxExternalContacts: Int?
    }
    var enterpriseId: String
    var accountId: String
    var overrides: Overrides
}

struct TransferAdmin: Decodable, Sendable {
    var enterpriseId: String
    var toAccountId: String
}

/// `data` of `enterprise.members.list`: a page of members after `after` (an account id; absent:
/// the first page), at most `limit` (1…`EnterpriseHandlers.memberPageLimit`, the default).
struct ListMembers: Decodable, Sendable {
    var enterpriseId: String
    var after: String?
    var limit: Int?
}

/// Enterprises: created by operators, run by their admin.
enum EnterpriseHandlers {
    /// The most members one `enterprise.members.list` reply carries (about 150 bytes each, so a page
    /// stays far below the broker's message size whatever the enterprise's size).
    static let memberPageLimit = 500

    static func register(_ router: inout Router, policy: Policy.Permissions, locale: String) {
        router.command("enterprise.create", CreateEnterprise.self) { session, command, effects in
            let data = command.data
            _ = try OperatorDirectory.authorize(
                session, command.envelope, for: .administration, now: command.receivedAt, effects: &effects)
            guard try PermissionsStore.accountInScope(session, data.adminAccountId) != nil else {
                return .rejected(.accountNotFound, "the admin account is not known")
            }
            let created = try session.query(
                """
                INSERT INTO enterprises (enterprise_id, name, admin_account_id, created_at)
                VALUES (\(data.enterpriseId), \(data.name), \(data.adminAccountId)::uuid, \(command.receivedAt))
                ON CONFLICT DO NOTHING
                """)
            guard created.affectedRows == 1 else { return .rejected(.enterpriseExists, "that enterprise exists") }
            try addMember(session, data.enterpriseId, data.adminAccountId, role: "admin", command, &effects, policy)
            try effects.emit(
                .enterpriseCreated, subject: data.adminAccountId,
                data: ["enterpriseId": data.enterpriseId, "adminAccountId": data.adminAccountId])
            return try .ok(["enterpriseId": data.enterpriseId])
        }
        router.command("enterprise.add_member", AddMember.self) { session, command, effects in
            let data = command.data
            effects.actingAccount = try requireAdmin(session, data.enterpriseId, command)
            guard try PermissionsStore.accountInScope(session, data.accountId) != nil else {
                return .rejected(.accountNotFound, "the account is not known")
            }
            let role = data.role == "admin" ? "admin" : "member"
            try addMember(session, data.enterpriseId, data.accountId, role: role, command, &effects, policy)
            return try .ok(["enterpriseId": data.enterpriseId, "accountId": data.accountId, "role": role])
        }
        router.command("enterprise.set_member_policy", MemberPolicy.self) { session, command, effects in
            let data = command.data
            effects.actingAccount = try requireAdmin(session, data.enterpriseId, command)
            let affected: [String]
            if data.accountId == "*" {
                affected = try PermissionsStore.members(session, enterpriseID: data.enterpriseId)
            } else {
                guard
                    try PermissionsStore.role(session, enterpriseID: data.enterpriseId, accountID: data.accountId)
                        != nil
                else { return .rejected(.notAMember, "the account is not a member") }
                affected = [data.accountId]
            }
            let before = try PermissionsStore.effectiveOverrides(session, enterpriseID: data.enterpriseId)
            try session.query(
                """
                INSERT INTO enterprise_policies (enterprise_id, member, moments_enabled, max_external_contacts)
                VALUES (\(data.enterpriseId), \(data.accountId), \(data.overrides.momentsEnabled),
                        \(data.overrides.maxExternalContacts))
                ON CONFLICT (enterprise_id, member) DO UPDATE
                SET moments_enabled = EXCLUDED.moments_enabled, max_external_contacts = EXCLUDED.max_external_contacts
                """)
            try effects.emit(
                .enterprisePolicyChanged, subject: data.enterpriseId,
                data: PolicyChanged(enterpriseId: data.enterpriseId, member: data.accountId, overrides: data.overrides))
            let after = try PermissionsStore.effectiveOverrides(session, enterpriseID: data.enterpriseId)
            for account in affected {
                try PermissionsStore.refresh(
                    session, account, now: command.receivedAt, policy: policy, effects: &effects)
                // The member is told what now applies to it, once, when that changed (issue 18).
                let member = account.lowercased()
                if EnterpriseRules.memberPolicyChanged(before: before[member], after: after[member]) {
                    try effects.notify(
                        member, .enterprisePolicyChanged, locale: locale,
                        params: EnterpriseRules.policyNoticeParams(
                            enterpriseId: data.enterpriseId, after: after[member]))
                }
            }
            return try .ok(["enterpriseId": data.enterpriseId, "member": data.accountId])
        }
        router.command("enterprise.transfer_admin", TransferAdmin.self) { session, command, effects in
            let data = command.data
            let admin = try requireAdmin(session, data.enterpriseId, command)
            effects.actingAccount = admin
            guard
                try PermissionsStore.role(session, enterpriseID: data.enterpriseId, accountID: data.toAccountId) != nil
            else { return .rejected(.notAMember, "admin rights go to a member of the enterprise") }
            try session.query(
                """
                UPDATE enterprise_members SET role = CASE WHEN account_id = \(data.toAccountId)::uuid THEN 'admin' ELSE 'member' END
                WHERE enterprise_id = \(data.enterpriseId) AND account_id IN (\(admin)::uuid, \(data.toAccountId)::uuid)
                """)
            try session.query(
                "UPDATE enterprises SET admin_account_id = \(data.toAccountId)::uuid WHERE enterprise_id = \(data.enterpriseId)"
            )
            try effects.emit(
                .enterpriseAdminTransferred, subject: data.enterpriseId,
                data: ["enterpriseId": data.enterpriseId, "fromAccountId": admin, "toAccountId": data.toAccountId])
            return try .ok(["enterpriseId": data.enterpriseId, "adminAccountId": data.toAccountId])
        }
        router.command("enterprise.members.list", ListMembers.self) { session, command, _ in
            let data = command.data
            try requireAdmin(session, data.enterpriseId, command)
            let limit = data.limit ?? memberPageLimit
            guard (1...memberPageLimit).contains(limit) else { throw MalformedMessage.invalid(field: "data.limit") }
            if let after = data.after, UUID(uuidString: after) == nil {
                throw MalformedMessage.invalid(field: "data.after")
            }
            // One more than the page: whether another page follows.
            let rows = try PermissionsStore.memberPage(
                session, enterpriseID: data.enterpriseId, after: data.after?.lowercased(), limit: limit + 1)
            let page = Array(rows.prefix(limit))
            return try .ok(
                MemberList(
                    enterpriseId: data.enterpriseId,
                    everyone: try PermissionsStore.enterpriseWideOverride(session, enterpriseID: data.enterpriseId),
                    members: page, nextAfter: rows.count > limit ? page.last?.accountId : nil))
        }
    }

    /// The calling admin's account id; refuses a missing session, a non-admin or an unknown enterprise.
    @discardableResult
    static func requireAdmin<T>(_ session: borrowing PostgresSession, _ enterpriseID: String, _ command: Command<T>)
        throws
        -> String
    {
        guard
            let caller = try SessionDirectory.authenticate(
                session, token: command.envelope.sessiontoken, now: command.receivedAt)
        else { throw Refusal(.rejected(.unauthenticated, "a valid session token is required")) }
        guard
            let admin = try session.query(
                "SELECT admin_account_id::text AS admin FROM enterprises WHERE enterprise_id = \(enterpriseID)"
            ).first?.decode("admin", as: String.self)
        else { throw Refusal(.rejected(.enterpriseNotFound, "no such enterprise")) }
        guard admin == caller.accountId else {
            throw Refusal(.rejected(.forbidden, "only the enterprise's admin can do this"))
        }
        return admin
    }

    static func addMember<T>(
        _ session: borrowing PostgresSession, _ enterpriseID: String, _ accountID: String, role: String,
        _ command: Command<T>, _ effects: inout MessageEffects, _ policy: Policy.Permissions
    ) throws {
        try session.query(
            """
            INSERT INTO enterprise_members (enterprise_id, account_id, role, joined_at)
            VALUES (\(enterpriseID), \(accountID)::uuid, \(role), \(command.receivedAt))
            ON CONFLICT (enterprise_id, account_id) DO UPDATE SET role = EXCLUDED.role
            """)
        try effects.emit(
            .enterpriseMemberAdded, subject: accountID,
            data: ["enterpriseId": enterpriseID, "accountId": accountID, "role": role])
        try PermissionsStore.refresh(session, accountID, now: command.receivedAt, policy: policy, effects: &effects)
    }
}

struct PolicyChanged: Encodable {
    var enterpriseId: String
    var member: String
    var overrides: MemberPolicy.Overrides
}

/// One member of an enterprise as its admin sees it.
struct EnterpriseMember: Encodable {
    var accountId: String
    var role: String
    var joinedAt: Date
    /// The member's own override; `nil` when it has none (the enterprise-wide one applies).
    var overrides: MemberPolicy.Overrides?

    private enum CodingKeys: String, CodingKey { case accountId, role, joinedAt, overrides }

    /// Encodes every key (`overrides: null` when none), `joinedAt` as an RFC 3339 time.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(accountId, forKey: .accountId)
        try container.encode(role, forKey: .role)
        try container.encode(CloudEvent.timestamp(joinedAt), forKey: .joinedAt)
        try container.encode(overrides, forKey: .overrides)
    }
}

/// `result` of `enterprise.members.list`.
struct MemberList: Encodable {
    var enterpriseId: String
    /// The enterprise-wide (`"*"`) override; `nil` when none was set.
    var everyone: MemberPolicy.Overrides?
    var members: [EnterpriseMember]
    /// The `after` of the next page; `nil` on the last page.
    var nextAfter: String?

    private enum CodingKeys: String, CodingKey { case enterpriseId, everyone, members, nextAfter }

    /// Encodes every key, absent values as `null`.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(enterpriseId, forKey: .enterpriseId)
        try container.encode(everyone, forKey: .everyone)
        try container.encode(members, forKey: .members)
        try container.encode(nextAfter, forKey: .nextAfter)
    }
}
