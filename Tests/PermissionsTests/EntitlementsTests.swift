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

    @Test func eachStageHasItsRiskLevel() {
        #expect(
            Entitlements.riskLevel(stage: Entitlements.stage(state(ageDays: 0), now: now, policy: policy)) == "high")
        #expect(
            Entitlements.riskLevel(stage: Entitlements.stage(state(ageDays: 7.9), now: now, policy: policy)) == "high")
        #expect(
            Entitlements.riskLevel(stage: Entitlements.stage(state(ageDays: 8), now: now, policy: policy)) == "medium")
        #expect(
            Entitlements.riskLevel(stage: Entitlements.stage(state(ageDays: 30.9), now: now, policy: policy))
                == "medium")
        #expect(
            Entitlements.riskLevel(stage: Entitlements.stage(state(ageDays: 31), now: now, policy: policy)) == "low")
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

    @Test func theNextStageBeginsWhereTheStageChanges() {
        let young = state(ageDays: 1)
        let two = young.registeredAt.addingTimeInterval(8 * day)
        #expect(Entitlements.nextStageAt(young, now: now, policy: policy) == two)
        #expect(Entitlements.stage(young, now: two - 0.001, policy: policy) == 1)
        #expect(Entitlements.stage(young, now: two, policy: policy) == 2)
        let middle = state(ageDays: 10)
        let three = middle.registeredAt.addingTimeInterval(31 * day)
        #expect(Entitlements.nextStageAt(middle, now: now, policy: policy) == three)
        #expect(Entitlements.stage(middle, now: three, policy: policy) == 3)
        #expect(Entitlements.nextStageAt(state(ageDays: 31), now: now, policy: policy) == nil)
    }

    @Test func aDayStartsWhereTheDayNumberChanges() {
        var short = policy
        short.dayLength = .seconds(1)
        // New York crosses a DST change on 2026-11-01; Kathmandu has a quarter-hour offset.
        for zone in ["Asia/Shanghai", "UTC", "America/New_York", "Asia/Kathmandu", "No/Such_Zone"] {
            for moment in [now, Date(timeIntervalSince1970: 1_793_505_600), Date(timeIntervalSince1970: 1_793_530_000)]
            {
                for days in [policy, short] {
                    let today = Entitlements.dayNumber(moment, timezone: zone, policy: days)
                    let next = Entitlements.dayStart(today + 1, timezone: zone, policy: days)
                    #expect(next > moment)
                    #expect(Entitlements.dayNumber(next, timezone: zone, policy: days) == today + 1)
                    #expect(Entitlements.dayNumber(next - 0.001, timezone: zone, policy: days) == today)
                }
            }
        }
    }

    @Test func todaysQuotaUseIsAppliedToTheDecision() {
        let add = decide(.contactExternalAdd, state(ageDays: 10))
        let oneLeft = Entitlements.withQuota(add, usedToday: 49)
        #expect(oneLeft.allowed && oneLeft.limits == ["maxExternalContactsPerDay": 50, "remainingToday": 1])
        let spent = Entitlements.withQuota(add, usedToday: 50)
        #expect(!spent.allowed && spent.reason == "quota" && spent.limits["remainingToday"] == 0)
        #expect(Entitlements.withQuota(add, usedToday: 70).limits["remainingToday"] == 0)
        // No quota, or denied anyway: unchanged.
        let chat = decide(.chatInternal, state(ageDays: 10))
        #expect(Entitlements.withQuota(chat, usedToday: 1000) == chat)
        let early = decide(.contactExternalAdd, state(ageDays: 1))
        #expect(Entitlements.withQuota(early, usedToday: 1000) == early)
    }

    @Test func theOverviewDecidesEveryActionAsACheckWould() {
        let account = state(ageDays: 10)
        let fresh = Entitlements.overview(
            account, scope: .init(), timezone: "Asia/Shanghai", usedToday: [:], now: now, policy: policy)
        #expect(fresh.stage == 2)
        #expect(fresh.nextStageAt == account.registeredAt.addingTimeInterval(31 * day))
        #expect(fresh.tier == .bankCard && fresh.tierInForce)
        #expect(fresh.actions.count == Action.allCases.count)
        let granted = Entitlements.grants(account, scope: .init(), now: now, policy: policy)
        for (action, decision) in fresh.actions {
            #expect(decision.allowed == granted.contains(action.rawValue), "\(action)")
            #expect(
                decision.reason
                    == Entitlements.inPrinciple(action, state: account, scope: .init(), now: now, policy: policy).reason
            )
        }
        let resets = Entitlements.dayStart(
            Entitlements.dayNumber(now, timezone: "Asia/Shanghai", policy: policy) + 1, timezone: "Asia/Shanghai",
            policy: policy)
        #expect(
            fresh.quotas == [
                "contact.external.add": QuotaStatus(used: 0, limit: 50, remaining: 50, resetsAt: resets),
                "payment.transfer": QuotaStatus(used: 0, limit: 5000, remaining: 5000, resetsAt: resets),
            ])

        // Today's payments used up: payment is refused for the quota until the day ends.
        let paid = Entitlements.overview(
            account, scope: .init(), timezone: "Asia/Shanghai", usedToday: ["payment.transfer": 5000], now: now,
            policy: policy)
        #expect(paid.actions[.paymentTransfer]?.reason == "quota")
        #expect(paid.quotas["payment.transfer"]?.remaining == 0)
        #expect(paid.actions[.contactExternalAdd]?.limits["remainingToday"] == 50)

        // Stage 3 with an ID card: no caps, no quotas, no next stage; a lapsed tier leaves chat only.
        let veteran = Entitlements.overview(
            state(ageDays: 40, tier: .idCard), scope: .init(), timezone: "UTC", usedToday: [:], now: now,
            policy: policy)
        #expect(veteran.stage == 3 && veteran.nextStageAt == nil && veteran.quotas.isEmpty)
        var lapsed = state(ageDays: 40, tier: .none)
        lapsed.tierExpiresAt = now.addingTimeInterval(-1)
        let expired = Entitlements.overview(
            lapsed, scope: .init(), timezone: "UTC", usedToday: [:], now: now, policy: policy)
        #expect(!expired.tierInForce && expired.tierExpiresAt == lapsed.tierExpiresAt)
        #expect(expired.actions.filter { $0.value.allowed }.map(\.key) == [.chatInternal])
    }
}
