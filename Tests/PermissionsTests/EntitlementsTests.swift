import Foundation
import Platform
import Testing

@testable import PermissionsCore

@Suite struct EntitlementsTests {
    let policy = Policy().permissions
    let now = Date(timeIntervalSince1970: 1_795_680_000)
    let day = 86_400.0

    func state(ageDays: Double, tier: Tier = .bankCard, logins: Int = 3, activeDays: Int = 20) -> AccountState {
        AccountState(
            registeredAt: now.addingTimeInterval(-ageDays * day), tier: tier, successfulLogins: logins,
            activeDays: activeDays)
    }

    func decide(
        _ action: Action, _ state: AccountState, _ context: CheckContext = CheckContext(),
        scope: EnterpriseScope = .init()
    )
        -> Decision
    {
        Entitlements.evaluate(action, context: context, state: state, scope: scope, now: now, policy: policy)
    }

    @Test func stagesFollowTheTable() {
        #expect(Entitlements.stage(state(ageDays: 0), now: now, policy: policy) == 1)
        #expect(Entitlements.stage(state(ageDays: 7.99), now: now, policy: policy) == 1)
        #expect(Entitlements.stage(state(ageDays: 8), now: now, policy: policy) == 2)
        #expect(Entitlements.stage(state(ageDays: 30.99), now: now, policy: policy) == 2)
        #expect(Entitlements.stage(state(ageDays: 31), now: now, policy: policy) == 3)
    }

    @Test func theFirstFailingRuleIsNamed() {
        var frozen = state(ageDays: 40)
        frozen.frozen = true
        #expect(decide(.chatInternal, frozen).reason == "frozen")
        #expect(decide(.fileSend, state(ageDays: 1), CheckContext(bytes: 10_485_761)).reason == "stage")
        #expect(decide(.fileSend, state(ageDays: 1), CheckContext(bytes: 10_485_760)).allowed)
        #expect(decide(.contactExternalAdd, state(ageDays: 10, tier: .none)).reason == "tier")
        #expect(decide(.contactExternalAdd, state(ageDays: 10, activeDays: 19)).reason == "sensitive_criteria")
        #expect(decide(.contactExternalAdd, state(ageDays: 10, logins: 2)).reason == "sensitive_criteria")
        var mismatched = state(ageDays: 10)
        mismatched.lastMismatchAt = now.addingTimeInterval(-29 * day)
        #expect(decide(.paymentTransfer, mismatched).reason == "sensitive_criteria")
        mismatched.lastMismatchAt = now.addingTimeInterval(-30 * day)
        #expect(decide(.paymentTransfer, mismatched).allowed)
        var restricted = state(ageDays: 10)
        restricted.restricted = ["payment"]
        #expect(decide(.paymentTransfer, restricted).reason == "restricted")
    }

    @Test func tiersCapGroupsAndPayments() {
        #expect(decide(.groupCreate, state(ageDays: 1, tier: .none), CheckContext(size: 51)).reason == "tier")
        #expect(decide(.groupCreate, state(ageDays: 1, tier: .bankCard), CheckContext(size: 200)).allowed)
        #expect(decide(.groupCreate, state(ageDays: 1, tier: .bankCard), CheckContext(size: 201)).reason == "tier")
        #expect(decide(.groupCreate, state(ageDays: 1, tier: .idCard), CheckContext(size: 10_000)).allowed)
        #expect(decide(.paymentTransfer, state(ageDays: 10), CheckContext(amountCNY: 700)).quota?.cap == 5000)
        #expect(decide(.paymentTransfer, state(ageDays: 10, tier: .idCard), CheckContext(amountCNY: 700)).quota == nil)
        var lapsed = state(ageDays: 31, tier: .none)
        lapsed.tierExpiresAt = now.addingTimeInterval(-1)
        #expect(decide(.chatInternal, lapsed).allowed)
        #expect(decide(.momentsPost, lapsed).reason == "tier")
    }

    @Test func enterprisesNarrowPersonalEntitlements() {
        let scope = EnterpriseScope(enterprises: ["acme"], momentsEnabled: false, maxExternalContacts: 2)
        #expect(decide(.momentsPost, state(ageDays: 40), scope: scope).reason == "enterprise_policy")
        #expect(decide(.contactExternalAdd, state(ageDays: 40), scope: scope).quota?.cap == 2)
        #expect(
            decide(.contactExternalAdd, state(ageDays: 10), scope: EnterpriseScope(maxExternalContacts: 80)).quota?.cap
                == 50)
        #expect(decide(.contactExternalAdd, state(ageDays: 40)).quota == nil)
        #expect(decide(.enterpriseAppUse, state(ageDays: 40), CheckContext(enterpriseId: "acme"), scope: scope).allowed)
        #expect(
            decide(.enterpriseAppUse, state(ageDays: 40), CheckContext(enterpriseId: "other"), scope: scope).reason
                == "enterprise_policy")
    }

    @Test func grantsAndTheNextChange() {
        let young = state(ageDays: 1)
        #expect(!Entitlements.grants(young, scope: .init(), now: now, policy: policy).contains("contact.external.add"))
        #expect(
            Entitlements.grants(state(ageDays: 9), scope: .init(), now: now, policy: policy).contains(
                "contact.external.add"))
        #expect(
            Entitlements.nextChange(young, now: now, policy: policy) == young.registeredAt.addingTimeInterval(8 * day))
        #expect(Entitlements.nextChange(state(ageDays: 40), now: now, policy: policy) == nil)
    }

    @Test func daysAreLocal() {
        // 2026-11-26 16:30 UTC is already the 27th in Shanghai.
        let evening = Date(timeIntervalSince1970: 1_795_710_600)
        let shanghai = Entitlements.dayNumber(evening, timezone: "Asia/Shanghai", policy: policy)
        let utc = Entitlements.dayNumber(evening, timezone: "UTC", policy: policy)
        #expect(shanghai == utc + 1)
    }
}
