import Foundation
import Platform
import Testing

@testable import PermissionsCore

@Suite struct EnterpriseRulesTests {
    let policy = Policy().permissions
    let now = Date(timeIntervalSince1970: 1_795_680_000)
    let alice = "0b7c4c1e-0000-4000-8000-000000000001"
    let bob = "0b7c4c1e-0000-4000-8000-000000000002"

    @Test func invitationsExpireAfterThePolicyValidity() {
        #expect(EnterpriseRules.invitationExpiry(invitedAt: now, policy: policy) == now + 7 * 86_400)
        let expires = now + 60
        func verdict(_ state: String, caller: String, at time: Date) -> InvitationVerdict {
            EnterpriseRules.invitationVerdict(
                state: state, invitee: alice, caller: caller, expiresAt: expires, now: time)
        }
        #expect(verdict("pending", caller: alice, at: now) == .open)
        #expect(verdict("pending", caller: alice.uppercased(), at: now) == .open)
        #expect(verdict("pending", caller: alice, at: expires) == .expired)
        #expect(verdict("accepted", caller: alice, at: now) == .closed("accepted"))
        #expect(verdict("declined", caller: alice, at: expires + 1) == .closed("declined"))
        // Another account learns nothing of the state.
        #expect(verdict("accepted", caller: bob, at: now) == .notYours)
        #expect(verdict("pending", caller: bob, at: now) == .notYours)
    }

    @Test func theAdminMustTransferBeforeLeaving() {
        #expect(!EnterpriseRules.mayLeave(member: alice, admin: alice.uppercased()))
        #expect(EnterpriseRules.mayLeave(member: bob, admin: alice))
    }

    @Test func eachContextGetsItsOwnEnterprisesPolicy() {
        let strict = EnterpriseScope.Override(enterpriseId: "strict", momentsEnabled: false, maxExternalContacts: 2)
        let loose = EnterpriseScope.Override(enterpriseId: "loose", momentsEnabled: nil, maxExternalContacts: nil)
        func scope(_ id: String?, _ action: Action = .momentsPost) -> EnterpriseScope? {
            EnterpriseRules.checkScope(id, action: action, overrides: [strict, loose])
        }
        let personal = scope(nil)
        #expect(personal?.momentsEnabled == true && personal?.maxExternalContacts == nil)
        #expect(personal?.enterprises == ["strict", "loose"])
        let inStrict = scope("strict")
        #expect(inStrict?.momentsEnabled == false && inStrict?.maxExternalContacts == 2)
        #expect(inStrict?.enterprises == ["strict"])
        let inLoose = scope("loose")
        #expect(inLoose?.momentsEnabled == true && inLoose?.maxExternalContacts == nil)
        #expect(scope("other") == nil)
        // enterprise.app.use keeps its own rule: the personal scope, whose memberships it checks.
        #expect(scope("other", .enterpriseAppUse) == personal)
    }

    @Test func theEnterpriseCapBoundsTheContactsHeld() {
        #expect(!EnterpriseRules.externalContactsFull(held: 100, cap: nil))
        #expect(!EnterpriseRules.externalContactsFull(held: 1, cap: 2))
        #expect(EnterpriseRules.externalContactsFull(held: 2, cap: 2))
        #expect(EnterpriseRules.afterRemoval(held: 2) == 1)
        #expect(EnterpriseRules.afterRemoval(held: 0) == 0)

        // In the rules: a stage-2 member holding 2 of a cap of 2 is refused before the day's quota.
        let registered = now.addingTimeInterval(-10 * 86_400)
        var state = AccountState(
            registeredAt: registered, tier: .bankCard, successfulLogins: 3, activeDays: 20, externalContacts: 2)
        let scope = EnterpriseScope(enterprises: ["e"], maxExternalContacts: 2)
        let full = Entitlements.evaluate(
            .contactExternalAdd, context: CheckContext(enterpriseId: "e"), state: state, scope: scope, now: now,
            policy: policy)
        #expect(full.reason == "enterprise_policy" && full.limits == ["maxExternalContacts": 2, "externalContacts": 2])
        state.externalContacts = 1
        let room = Entitlements.evaluate(
            .contactExternalAdd, context: CheckContext(enterpriseId: "e"), state: state, scope: scope, now: now,
            policy: policy)
        #expect(room.allowed && room.quota?.cap == 2)
    }

    @Test func membersAreToldOnlyWhatChangedForThem() {
        let off = EnterpriseScope.Override(enterpriseId: "e", momentsEnabled: false, maxExternalContacts: nil)
        let same = EnterpriseScope.Override(enterpriseId: "e", momentsEnabled: false, maxExternalContacts: nil)
        let capped = EnterpriseScope.Override(enterpriseId: "e", momentsEnabled: false, maxExternalContacts: 5)
        #expect(!EnterpriseRules.memberPolicyChanged(before: off, after: same))
        #expect(EnterpriseRules.memberPolicyChanged(before: off, after: capped))
        #expect(EnterpriseRules.memberPolicyChanged(before: nil, after: off))
        #expect(
            EnterpriseRules.policyNoticeParams(enterpriseId: "e", after: capped)
                == ["enterpriseId": "e", "momentsEnabled": "off", "maxExternalContacts": "5"])
        #expect(
            EnterpriseRules.policyNoticeParams(enterpriseId: "e", after: nil)
                == ["enterpriseId": "e", "momentsEnabled": "default", "maxExternalContacts": "default"])
    }
}
