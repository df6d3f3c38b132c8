import Contract
import Directory
import Foundation
import Messaging
import Platform
import Postgres

/// The binding service: linked WeChat / DingTalk / Feishu accounts, expiring authorizations and
/// migration plans (contract §4 binding rows).
public enum BindingService {
    /// Due rows one sweep run takes; the rest wait for the next run.
    static let sweepBatch = 500

    /// Registers the service's command and event handlers; returns its periodic tasks.
    public static func configure(router: inout Router, environment: HandlerEnvironment, pool: PostgresPool) throws
        -> [PeriodicTask]
    {
        let policy = environment.policy.binding
        SessionDirectory.follow(&router)
        OperatorDirectory.follow(&router)
        LifecycleEvents.register(&router)
        BindingHandlers.register(&router, policy: policy)
        ReadHandlers.register(&router)
        PrivacyHandlers.register(&router, policy: environment.policy)
        return [
            PeriodicTask(name: "binding.sweep", interval: policy.sweepInterval.duration) { session, now, effects in
                try sweep(session, now: now, effects: &effects)
            }
        ]
    }

    /// One sweep: friend_list grants past their 90 days (`binding.authorization_expired`), then
    /// temporary bindings past their 24 hours (`binding.unlinked`, reason `expired`). Claimed,
    /// changed and published in one transaction, so each expiry is published once, also when the
    /// process dies in the middle of a run (the run is rolled back and done again).
    static func sweep(_ session: borrowing PostgresSession, now: Date, effects: inout MessageEffects) throws -> Int {
        let grants = try BindingStore.expireAuthorizations(session, now: now, limit: sweepBatch)
        for grant in grants {
            try effects.emit(
                .bindingAuthorizationExpired, subject: grant.accountID,
                data: ["accountId": grant.accountID, "provider": grant.provider, "scope": grant.scope])
        }
        let temporary = try BindingStore.expireTemporary(session, now: now, limit: sweepBatch)
        for binding in temporary {
            try effects.emit(
                .bindingUnlinked, subject: binding.accountID,
                data: Unlinked(accountId: binding.accountID, provider: binding.provider, reason: "expired"))
        }
        return grants.count + temporary.count
    }
}

struct AccountRef: Decodable, Sendable {
    var accountId: String
}

/// Deregistration's lifecycle events: a frozen account's bindings are suspended (and restored when
/// the request is revoked); a deregistered account's bindings, plans and sessions are deleted at
/// once, announced by `binding.unlinked` (reason `deregistered`) and confirmed to the
/// deregistration service by `purge.completed {accountId, service: "binding", category: "personal"}`.
enum LifecycleEvents {
    static func register(_ router: inout Router) {
        let topic = RegistrarService.deregistration.eventTopic
        router.event(.accountFrozen, on: topic, AccountRef.self) { session, event, _ in
            try BindingStore.setFrozen(session, accountID: try accountID(event), frozen: true)
        }
        router.event(.accountUnfrozen, on: topic, AccountRef.self) { session, event, _ in
            try BindingStore.setFrozen(session, accountID: try accountID(event), frozen: false)
        }
        router.event(.accountDeregistered, on: topic, AccountRef.self) { session, event, effects in
            let account = try accountID(event)
            let (providers, first) = try BindingStore.deregister(session, accountID: account, at: event.receivedAt)
            for provider in providers {
                try effects.emit(
                    .bindingUnlinked, subject: account,
                    data: Unlinked(accountId: account, provider: provider, reason: "deregistered"))
            }
            // The deregistration service counts the account as purged once every service confirmed.
            if first {
                // Kept replies (links, lists, plans) and outbox rows of the account go with it.
                try AccountPurge.runtimeCopies(session, accountID: account, effects: effects)
                try effects.emit(
                    .purgeCompleted, subject: account,
                    data: ["accountId": account, "service": "binding", "category": "personal"])
            }
        }
    }

    /// The event's account id, lowercase; `MALFORMED` when it is not a UUID.
    static func accountID(_ event: Command<AccountRef>) throws -> String {
        guard let id = UUID(uuidString: event.data.accountId) else {
            throw MalformedMessage.invalid(field: "data.accountId")
        }
        return id.uuidString.lowercased()
    }
}
