import Foundation
import Platform

/// Where an invitation stands for the account presenting it (`EnterpriseRules.invitationVerdict`).
public enum InvitationVerdict: Sendable, Equatable {
    /// Open, and the caller's: it may be accepted or declined.
    case open
    /// Another account's invitation (`FORBIDDEN`).
    case notYours
    /// Accepted or declined already (`INVITATION_CLOSED`, with the state).
    case closed(String)
    /// Open, but its validity ran out (`INVITATION_EXPIRED`).
    case expired
}

/// The enterprise rules of issue 18 (invitations, identity switching, the total external-contact
/// cap, what tells a member its policy changed), pure over values and the policy.
public enum EnterpriseRules {
    /// When an invitation made at `now` stops being acceptable (`permissions.invitationValidity`).
    public static func invitationExpiry(invitedAt now: Date, policy: Policy.Permissions) -> Date {
        now.addingTimeInterval(policy.invitationValidity.timeInterval)
    }

    /// Whether `caller` may act on an invitation addressed to `invitee` in `state` (`pending`,
    /// `accepted`, `declined`) that expires at `expiresAt`. The owner is checked first: another
    /// account learns nothing about the invitation's state.
    public static func invitationVerdict(
        state: String, invitee: String, caller: String, expiresAt: Date, now: Date
    ) -> InvitationVerdict {
        guard invitee.lowercased() == caller.lowercased() else { return .notYours }
        guard state == "pending" else { return .closed(state) }
        return now >= expiresAt ? .expired : .open
    }

    /// Why a member may not leave: the enterprise's admin must hand the rights over first (the
    /// article: an admin leaving without a transfer leaves the directory unmanaged).
    public static func mayLeave(member: String, admin: String) -> Bool {
        member.lowercased() != admin.lowercased()
    }

    /// The scope a check decides in (identity switching, issue 18): with `enterpriseId`, that
    /// enterprise's policy for the member alone (`nil` when the account is not a member of it);
    /// without, the personal identity: personal entitlements only, no enterprise override (the
    /// memberships stay known, for `enterprise.app.use`, which names its enterprise).
    /// `enterprise.app.use` names the app's enterprise in the same field: it keeps its own rule (stage
    /// first, then membership, `enterprise_policy`), so it is decided in the personal scope.
    public static func checkScope(
        _ enterpriseId: String?, action: Action, overrides: [EnterpriseScope.Override]
    ) -> EnterpriseScope? {
        guard let enterpriseId, action != .enterpriseAppUse else {
            return EnterpriseScope(enterprises: Set(overrides.map(\.enterpriseId)))
        }
        guard let own = overrides.first(where: { $0.enterpriseId == enterpriseId }) else { return nil }
        return EnterpriseScope.merge([own])
    }

    /// The total external-contact cap (issue 18): with `held` contacts and an enterprise cap, a new
    /// contact is refused once `held` reaches the cap (a removal frees a slot). `nil`: not capped.
    public static func externalContactsFull(held: Int, cap: Int?) -> Bool {
        guard let cap else { return false }
        return held >= cap
    }

    /// Contacts held after a `contact.external.removed`: one fewer, never below zero.
    public static func afterRemoval(held: Int) -> Int { max(0, held - 1) }

    /// Whether the member must be told its enterprise policy changed: what applies to it (its own
    /// override, else the enterprise-wide one) differs before and after the admin's change.
    public static func memberPolicyChanged(before: EnterpriseScope.Override?, after: EnterpriseScope.Override?)
        -> Bool
    {
        before?.momentsEnabled != after?.momentsEnabled
            || before?.maxExternalContacts != after?.maxExternalContacts
    }

    /// The parameters of `enterprise.policy_changed` for the member: the values now in force
    /// (`on`/`off`, a number, or `default` where the enterprise sets nothing).
    public static func policyNoticeParams(enterpriseId: String, after: EnterpriseScope.Override?) -> [String: String] {
        [
            "enterpriseId": enterpriseId,
            "momentsEnabled": after?.momentsEnabled.map { $0 ? "on" : "off" } ?? "default",
            "maxExternalContacts": after?.maxExternalContacts.map(String.init) ?? "default",
        ]
    }
}
