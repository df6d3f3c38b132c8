import Contract
import Foundation
import Platform

/// Verification tiers (contract §4).
public enum Tier: String, Codable, Sendable {
    case none
    case bankCard = "bank_card"
    case idCard = "id_card"
}

/// The actions `permissions.check` answers for.
public enum Action: String, Codable, Sendable, CaseIterable {
    case chatInternal = "chat.internal"
    case fileSend = "file.send"
    case contactExternalAdd = "contact.external.add"
    case paymentTransfer = "payment.transfer"
    case groupCreate = "group.create"
    case momentsPost = "moments.post"
    case enterpriseAppUse = "enterprise.app.use"
}

/// What permissions knows of an account, from identity's and deregistration's events.
public struct AccountState: Sendable, Equatable {
    public var registeredAt: Date
    public var tier: Tier
    /// When the tier lapses (`nil`: permanent).
    public var tierExpiresAt: Date?
    /// Identity said the tier expired (`account.verification_expired`).
    public var tierExpired: Bool
    public var restricted: [String]
    public var frozen: Bool
    public var locked: Bool
    public var successfulLogins: Int
    public var activeDays: Int
    public var lastMismatchAt: Date?
    /// External contacts the account holds (issue 18): allowed `contact.external.add` checks less
    /// `contact.external.removed` commands; what an enterprise's total cap counts.
    public var externalContacts: Int

    public init(
        registeredAt: Date, tier: Tier = .none, tierExpiresAt: Date? = nil, tierExpired: Bool = false,
        restricted: [String] = [], frozen: Bool = false, locked: Bool = false, successfulLogins: Int = 0,
        activeDays: Int = 0, lastMismatchAt: Date? = nil, externalContacts: Int = 0
    ) {
        self.externalContacts = externalContacts
        self.registeredAt = registeredAt
        self.tier = tier
        self.tierExpiresAt = tierExpiresAt
        self.tierExpired = tierExpired
        self.restricted = restricted
        self.frozen = frozen
        self.locked = locked
        self.successfulLogins = successfulLogins
        self.activeDays = activeDays
        self.lastMismatchAt = lastMismatchAt
    }
}

/// The enterprise side: memberships and the overrides that apply to the account.
public struct EnterpriseScope: Sendable, Equatable {
    /// Enterprises the account belongs to.
    public var enterprises: Set<String>
    /// False when any enterprise of the account disables moments for it.
    public var momentsEnabled: Bool
    /// The smallest external-contact cap any enterprise sets for it.
    public var maxExternalContacts: Int?
    /// What each enterprise sets for the account, one per membership (`EnterpriseRules.checkScope`
    /// picks one for a check in an enterprise's context).
    public var overrides: [Override]

    public init(
        enterprises: Set<String> = [], momentsEnabled: Bool = true, maxExternalContacts: Int? = nil,
        overrides: [Override] = []
    ) {
        self.enterprises = enterprises
        self.momentsEnabled = momentsEnabled
        self.maxExternalContacts = maxExternalContacts
        self.overrides = overrides
    }

    /// What one enterprise sets for the account: its member override where it has one, else the
    /// enterprise-wide (`"*"`) one; `nil` where neither says anything.
    public struct Override: Sendable, Equatable {
        /// The enterprise.
        public var enterpriseId: String
        /// Moments allowed or not.
        public var momentsEnabled: Bool?
        /// The external-contact cap.
        public var maxExternalContacts: Int?

        /// Creates an override.
        public init(enterpriseId: String, momentsEnabled: Bool?, maxExternalContacts: Int?) {
            self.enterpriseId = enterpriseId
            self.momentsEnabled = momentsEnabled
            self.maxExternalContacts = maxExternalContacts
        }
    }

    /// The enterprise policy across every enterprise of the account: the strictest wins (any
    /// enterprise disabling moments disables them; the smallest cap applies).
    public static func merge(_ overrides: [Override]) -> EnterpriseScope {
        var scope = EnterpriseScope(overrides: overrides)
        for override in overrides {
            scope.enterprises.insert(override.enterpriseId)
            if override.momentsEnabled == false { scope.momentsEnabled = false }
            if let cap = override.maxExternalContacts {
                scope.maxExternalContacts = min(scope.maxExternalContacts ?? cap, cap)
            }
        }
        return scope
    }
}

/// A check's context (contract: `file.send {bytes}`, `payment.transfer {amountCNY}`, …).
public struct CheckContext: Codable, Sendable, Equatable {
    public var bytes: Int64?
    public var amountCNY: Int64?
    public var size: Int?
    public var enterpriseId: String?

    public init(bytes: Int64? = nil, amountCNY: Int64? = nil, size: Int? = nil, enterpriseId: String? = nil) {
        self.bytes = bytes
        self.amountCNY = amountCNY
        self.size = size
        self.enterpriseId = enterpriseId
    }
}

/// A daily quota an allowed check consumes.
public struct QuotaUse: Sendable, Equatable {
    /// `contact.external.add` or `payment.transfer`.
    public var kind: String
    /// Units taken (1 contact, or CNY).
    public var amount: Int64
    /// The most allowed per day.
    public var cap: Int64
}

/// The answer before quotas: allowed or not, the rule that decided, the limits that apply.
public struct Decision: Sendable, Equatable {
    public var allowed: Bool
    /// `ok`, or the rule that denied: `frozen`, `locked`, `stage`, `tier`, `restricted`,
    /// `sensitive_criteria`, `enterprise_policy` (and `quota` once the quota is consulted).
    public var reason: String
    public var limits: [String: Int64]
    /// The quota to consume when allowed.
    public var quota: QuotaUse?

    static func deny(_ reason: String, _ limits: [String: Int64] = [:]) -> Decision {
        Decision(allowed: false, reason: reason, limits: limits, quota: nil)
    }
}

/// The entitlement rules of the contract (§4 permissions), pure over state, context and policy.
public enum Entitlements {
    /// Stage 1 (days 0…stageOneLastDay), 2 (…stageTwoLastDay) or 3.
    /// The boundary rule is `AccountStage.stage`, which identity uses too (issue 18).
    public static func stage(_ state: AccountState, now: Date, policy: Policy.Permissions) -> Int {
        AccountStage.stage(
            registeredAt: state.registeredAt, now: now, dayLength: policy.dayLength.timeInterval,
            stageOneLastDay: policy.stageOneLastDay, stageTwoLastDay: policy.stageTwoLastDay)
    }

    /// The stage's risk level (the article's stage table, issue 18): stage 1 (days
    /// 0…stageOneLastDay) `high`, stage 2 `medium`, stage 3 `low`.
    public static func riskLevel(stage: Int) -> String {
        AccountStage.riskLevel(stage: stage).rawValue
    }

    /// The tier in force: a lapsed tier counts as an expired `none`.
    public static func tierInForce(_ state: AccountState, now: Date) -> Tier? {
        if state.tierExpired { return nil }
        if let expires = state.tierExpiresAt, now >= expires { return nil }
        return state.tier
    }

    /// Whether the sensitive-feature criteria hold (active days, logins, no recent mismatch).
    public static func sensitiveCriteriaMet(_ state: AccountState, now: Date, policy: Policy.Permissions) -> Bool {
        if state.activeDays < policy.sensitiveMinActiveDays { return false }
        if state.successfulLogins < policy.sensitiveMinLogins { return false }
        if let mismatch = state.lastMismatchAt,
            now.timeIntervalSince(mismatch) < policy.fingerprintMismatchWindow.timeInterval
        {
            return false
        }
        return true
    }

    /// Decides `action` for the account (before consulting the daily quota).
    public static func evaluate(
        _ action: Action, context: CheckContext, state: AccountState, scope: EnterpriseScope, now: Date,
        policy: Policy.Permissions
    ) -> Decision {
        if state.frozen { return .deny("frozen") }
        if state.locked { return .deny("locked") }
        let ok = Decision(allowed: true, reason: "ok", limits: [:], quota: nil)
        if action == .chatInternal { return ok }
        // Once the tier lapsed (none after 30 days, bank card after a year) only chat is left.
        guard let tier = tierInForce(state, now: now) else { return .deny("tier") }
        let stage = stage(state, now: now, policy: policy)
        switch action {
        case .chatInternal:
            return ok
        case .momentsPost:
            return scope.momentsEnabled ? ok : .deny("enterprise_policy")
        case .groupCreate:
            let cap: Int64? =
                switch tier {
                case .none: Int64(policy.unverifiedMaxGroupSize)
                case .bankCard: Int64(policy.bankCardMaxGroupSize)
                case .idCard: nil
                }
            guard let cap else { return ok }
            if Int64(context.size ?? 1) > cap { return .deny("tier", ["maxGroupSize": cap]) }
            return Decision(allowed: true, reason: "ok", limits: ["maxGroupSize": cap], quota: nil)
        case .fileSend:
            guard stage == 1 else { return ok }
            let cap = Int64(policy.stageOneFileCapBytes)
            if (context.bytes ?? 0) > cap { return .deny("stage", ["maxFileBytes": cap]) }
            return Decision(allowed: true, reason: "ok", limits: ["maxFileBytes": cap], quota: nil)
        case .contactExternalAdd:
            if stage < 2 { return .deny("stage") }
            if tier == .none { return .deny("tier") }
            if !sensitiveCriteriaMet(state, now: now, policy: policy) { return .deny("sensitive_criteria") }
            var cap: Int64? = stage == 2 ? Int64(policy.stageTwoExternalAddsPerDay) : nil
            if let enterprise = scope.maxExternalContacts { cap = min(cap ?? Int64(enterprise), Int64(enterprise)) }
            guard let cap else { return ok }
            if cap <= 0 { return .deny("enterprise_policy", ["maxExternalContactsPerDay": cap]) }
            // The enterprise's cap bounds the contacts held too, not only the day's adds (issue 18).
            if EnterpriseRules.externalContactsFull(held: state.externalContacts, cap: scope.maxExternalContacts) {
                return .deny(
                    "enterprise_policy",
                    [
                        "maxExternalContacts": Int64(scope.maxExternalContacts ?? 0),
                        "externalContacts": Int64(state.externalContacts),
                    ])
            }
            return Decision(
                allowed: true, reason: "ok", limits: ["maxExternalContactsPerDay": cap],
                quota: QuotaUse(kind: action.rawValue, amount: 1, cap: cap))
        case .paymentTransfer:
            if stage < 2 { return .deny("stage") }
            if state.restricted.contains("payment") { return .deny("restricted") }
            if tier == .none { return .deny("tier") }
            if !sensitiveCriteriaMet(state, now: now, policy: policy) { return .deny("sensitive_criteria") }
            guard tier == .bankCard else { return ok }
            let cap = Int64(policy.bankCardPaymentPerDayCNY)
            let amount = max(0, context.amountCNY ?? 0)
            return Decision(
                allowed: true, reason: "ok", limits: ["maxPaymentPerDayCNY": cap],
                quota: QuotaUse(kind: action.rawValue, amount: amount, cap: cap))
        case .enterpriseAppUse:
            if stage < 3 { return .deny("stage") }
            guard let enterprise = context.enterpriseId, scope.enterprises.contains(enterprise) else {
                return .deny("enterprise_policy")
            }
            return ok
        }
    }

    /// `action` decided "in principle": with the smallest request (an empty file, no amount, a
    /// group of one, the account's first enterprise), so quotas and sizes aside. What `grants`
    /// reports and what `entitlements.get` shows per action.
    public static func inPrinciple(
        _ action: Action, state: AccountState, scope: EnterpriseScope, now: Date, policy: Policy.Permissions
    ) -> Decision {
        let context = CheckContext(bytes: 0, amountCNY: 0, size: 1, enterpriseId: scope.enterprises.sorted().first)
        return evaluate(action, context: context, state: state, scope: scope, now: now, policy: policy)
    }

    /// The actions allowed in principle now (quotas and sizes aside), sorted: what
    /// `permissions.changed` reports before and after.
    public static func grants(_ state: AccountState, scope: EnterpriseScope, now: Date, policy: Policy.Permissions)
        -> [String]
    {
        Action.allCases.filter { action in
            inPrinciple(action, state: state, scope: scope, now: now, policy: policy).allowed
        }.map(\.rawValue).sorted()
    }

    /// When stage 2 and stage 3 begin for the account (`stageOneLastDay + 1` and `stageTwoLastDay + 1`
    /// days after registration).
    public static func stageStarts(_ state: AccountState, policy: Policy.Permissions) -> (two: Date, three: Date) {
        let day = policy.dayLength.timeInterval
        return (
            state.registeredAt.addingTimeInterval(Double(policy.stageOneLastDay + 1) * day),
            state.registeredAt.addingTimeInterval(Double(policy.stageTwoLastDay + 1) * day)
        )
    }

    /// When the account's next stage begins; `nil` in the last stage.
    public static func nextStageAt(_ state: AccountState, now: Date, policy: Policy.Permissions) -> Date? {
        let starts = stageStarts(state, policy: policy)
        switch stage(state, now: now, policy: policy) {
        case 1: return starts.two
        case 2: return starts.three
        default: return nil
        }
    }

    /// The next moment the grants may change with no message arriving (a stage boundary, the tier
    /// lapsing, a fingerprint mismatch leaving its window), if any.
    public static func nextChange(_ state: AccountState, now: Date, policy: Policy.Permissions) -> Date? {
        let starts = stageStarts(state, policy: policy)
        var moments = [starts.two, starts.three]
        if let expires = state.tierExpiresAt { moments.append(expires) }
        if let mismatch = state.lastMismatchAt {
            moments.append(mismatch.addingTimeInterval(policy.fingerprintMismatchWindow.timeInterval))
        }
        return moments.filter { $0 > now }.min()
    }

    /// The day number (in `dayLength` units, local to `timezone`) that `date` falls in: active days
    /// and daily quotas count per such day.
    public static func dayNumber(_ date: Date, timezone: String, policy: Policy.Permissions) -> Int64 {
        let offset = Double(zone(timezone).secondsFromGMT(for: date))
        return Int64(((date.timeIntervalSince1970 + offset) / policy.dayLength.timeInterval).rounded(.down))
    }

    /// The first instant of day `day` (as `dayNumber` counts days in `timezone`): when the daily
    /// quotas of the day before reset.
    public static func dayStart(_ day: Int64, timezone: String, policy: Policy.Permissions) -> Date {
        let zone = zone(timezone)
        let local = Double(day) * policy.dayLength.timeInterval
        // The offset in force at the start itself (it differs from a guess's across a DST change).
        let guess = Date(
            timeIntervalSince1970: local - Double(zone.secondsFromGMT(for: Date(timeIntervalSince1970: local))))
        return Date(timeIntervalSince1970: local - Double(zone.secondsFromGMT(for: guess)))
    }

    /// The account's time zone; an unknown name counts as Asia/Shanghai.
    static func zone(_ timezone: String) -> TimeZone {
        TimeZone(identifier: timezone) ?? TimeZone(identifier: "Asia/Shanghai")!
    }

    /// A decision with today's use of its daily quota: `remainingToday` among the limits, and a
    /// denial for `quota` once nothing is left (a check of any positive amount would be refused).
    /// Decisions without a quota come back unchanged.
    public static func withQuota(_ decision: Decision, usedToday: Int64) -> Decision {
        guard decision.allowed, let quota = decision.quota else { return decision }
        let remaining = max(0, quota.cap - usedToday)
        var limits = decision.limits
        limits["remainingToday"] = remaining
        return remaining > 0
            ? Decision(allowed: true, reason: "ok", limits: limits, quota: quota)
            : .deny("quota", limits)
    }

    /// What `entitlements.get` answers for an account at `now`, given today's quota use by quota
    /// kind (`usedToday`): its stage and when the next begins, its tier, every action decided in
    /// principle with today's quota applied, and each daily quota in force with when it resets.
    public static func overview(
        _ state: AccountState, scope: EnterpriseScope, timezone: String, usedToday: [String: Int64], now: Date,
        policy: Policy.Permissions
    ) -> Overview {
        let resetsAt = dayStart(
            dayNumber(now, timezone: timezone, policy: policy) + 1, timezone: timezone, policy: policy)
        var actions: [Action: Decision] = [:]
        var quotas: [String: QuotaStatus] = [:]
        for action in Action.allCases {
            let decision = inPrinciple(action, state: state, scope: scope, now: now, policy: policy)
            if decision.allowed, let quota = decision.quota {
                let used = usedToday[quota.kind] ?? 0
                quotas[quota.kind] = QuotaStatus(
                    used: used, limit: quota.cap, remaining: max(0, quota.cap - used), resetsAt: resetsAt)
            }
            actions[action] = withQuota(decision, usedToday: usedToday[decision.quota?.kind ?? ""] ?? 0)
        }
        let stage = stage(state, now: now, policy: policy)
        return Overview(
            stage: stage, riskLevel: riskLevel(stage: stage), nextStageAt: nextStageAt(state, now: now, policy: policy),
            tier: state.tier, tierExpiresAt: state.tierExpiresAt, tierInForce: tierInForce(state, now: now) != nil,
            actions: actions, quotas: quotas)
    }
}

/// One daily quota in force today.
public struct QuotaStatus: Sendable, Equatable {
    /// Units taken today (contacts added, or CNY paid).
    public var used: Int64
    /// The most allowed today.
    public var limit: Int64
    /// What is left today (`limit - used`, never below 0).
    public var remaining: Int64
    /// When the account's day ends and the quota starts again from 0.
    public var resetsAt: Date
}

/// An account's entitlements as `entitlements.get` shows them (`Entitlements.overview`).
public struct Overview: Sendable, Equatable {
    /// 1, 2 or 3.
    public var stage: Int
    /// The stage's risk level (`Entitlements.riskLevel`).
    public var riskLevel: String
    /// When the next stage begins; `nil` in the last stage.
    public var nextStageAt: Date?
    /// The verification tier on record.
    public var tier: Tier
    /// When it lapses; `nil` when permanent.
    public var tierExpiresAt: Date?
    /// False once the tier lapsed (then only `chat.internal` is left).
    public var tierInForce: Bool
    /// Every action, decided in principle with today's quota applied.
    public var actions: [Action: Decision]
    /// The daily quotas in force, by kind (the action that consumes it).
    public var quotas: [String: QuotaStatus]
}
