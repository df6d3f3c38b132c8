import Contract
import Directory
import Foundation
import Messaging
import Platform
import Postgres

/// The permissions service: "may this account do this now?", enterprises and admin overrides
/// (contract §4 permissions rows).
public enum PermissionsService {
    /// Registers the service's command and event handlers; returns its periodic tasks.
    public static func configure(router: inout Router, environment: HandlerEnvironment, pool: PostgresPool) throws
        -> [PeriodicTask]
    {
        let policy = environment.policy
        SessionDirectory.follow(&router)
        OperatorDirectory.follow(&router)
        AccountEvents.register(&router, policy: policy, hashKey: try environment.requireHashKey())
        CheckHandler.register(&router, policy: policy.permissions)
        EntitlementsHandler.register(&router, policy: policy.permissions)
        EnterpriseHandlers.register(&router, policy: policy.permissions, locale: policy.notifications.defaultLocale)
        InvitationHandlers.register(&router, policy: policy.permissions, locale: policy.notifications.defaultLocale)
        ExportHandler.register(&router, policy: policy)
        return [
            Retention.contactsTask(policy: policy),
            PeriodicTask(name: "permissions.sweep", interval: policy.permissions.sweepInterval.duration) {
                session, now, effects in
                // Accounts crossing a stage boundary (or losing a tier) with no message arriving.
                let due: [String] = try session.query(
                    """
                    SELECT account_id::text AS account_id FROM accounts
                    WHERE next_change_at <= \(now) AND NOT deregistered
                    ORDER BY next_change_at LIMIT 500 FOR UPDATE SKIP LOCKED
                    """
                ).map { try $0.decode("account_id") }
                for account in due {
                    try PermissionsStore.refresh(
                        session, account, now: now, policy: policy.permissions, effects: &effects)
                }
                return due.count
            },
        ]
    }
}

// MARK: events

/// Feeds the read model from identity's and deregistration's events.
enum AccountEvents {
    static func register(_ router: inout Router, policy: Policy, hashKey: [UInt8]) {
        let identity = RegistrarService.identity.eventTopic
        let deregistration = RegistrarService.deregistration.eventTopic
        let permissions = policy.permissions
        router.event(.accountRegistered, on: identity, AccountRegistered.self) { session, event, effects in
            let data = event.data
            guard UUID(uuidString: data.accountId) != nil, let registered = Date(rfc3339: data.registeredAt) else {
                throw MalformedMessage.invalid(field: "data.registeredAt")
            }
            let tier = try startingTier(data)
            try session.query(
                """
                INSERT INTO accounts (account_id, registered_at, timezone, tier, tier_expires_at, restricted)
                VALUES (\(data.accountId)::uuid, \(registered), \(data.timezone), \(tier.tier.rawValue),
                        \(tier.expiresAt), \(data.restricted)::text[])
                ON CONFLICT (account_id) DO NOTHING
                """)
            try PermissionsStore.refresh(
                session, data.accountId, now: event.receivedAt, policy: permissions, effects: &effects)
        }
        router.event(.accountVerified, on: identity, AccountVerified.self) { session, event, effects in
            guard Tier(rawValue: event.data.tier) != nil else { throw MalformedMessage.invalid(field: "data.tier") }
            try update(session, event.data.accountId, event, &effects, permissions) {
                """
                UPDATE accounts SET tier = \(event.data.tier), tier_expires_at = \(event.data.expiresAt.flatMap(Date.init(rfc3339:))),
                    tier_expired = false
                WHERE account_id = \(event.data.accountId)::uuid
                """
            }
        }
        router.event(.accountVerificationExpired, on: identity, VerificationExpired.self) { session, event, effects in
            try update(session, event.data.accountId, event, &effects, permissions) {
                "UPDATE accounts SET tier_expired = true WHERE account_id = \(event.data.accountId)::uuid"
            }
        }
        router.event(.loginSucceeded, on: identity, DeviceEvent.self) { session, event, effects in
            guard
                let (_, timezone, _, _) = try PermissionsStore.accountInScope(session, event.data.accountId)
            else { return }
            try PermissionsStore.markActive(
                session, accountID: event.data.accountId,
                day: Entitlements.dayNumber(eventTime(event), timezone: timezone, policy: permissions))
            try update(session, event.data.accountId, event, &effects, permissions) {
                "UPDATE accounts SET successful_logins = successful_logins + 1 WHERE account_id = \(event.data.accountId)::uuid"
            }
        }
        router.event(.deviceFingerprintMismatch, on: identity, DeviceEvent.self) { session, event, effects in
            try update(session, event.data.accountId, event, &effects, permissions) {
                "UPDATE accounts SET last_mismatch_at = \(eventTime(event)) WHERE account_id = \(event.data.accountId)::uuid"
            }
        }
        router.event(.accountLocked, on: identity, AccountLocked.self) { session, event, effects in
            // Only the lock that needs support (security questions) withdraws grants; a temporary
            // password lock only stops sign-ins.
            guard event.data.reason == "security_questions" else { return }
            try update(session, event.data.accountId, event, &effects, permissions) {
                "UPDATE accounts SET locked = true WHERE account_id = \(event.data.accountId)::uuid"
            }
        }
        router.event(.accountFrozen, on: deregistration, AccountRef.self) { session, event, effects in
            try update(session, event.data.accountId, event, &effects, permissions) {
                "UPDATE accounts SET frozen = true WHERE account_id = \(event.data.accountId)::uuid"
            }
        }
        router.event(.accountUnfrozen, on: deregistration, AccountRef.self) { session, event, effects in
            try update(session, event.data.accountId, event, &effects, permissions) {
                "UPDATE accounts SET frozen = false WHERE account_id = \(event.data.accountId)::uuid"
            }
        }
        router.event(.accountDeregistered, on: deregistration, AccountDeregistered.self) { session, event, effects in
            // How long memberships are kept is deregistration's decision, published with the event.
            guard let purgeContactsAt = Date(rfc3339: event.data.contactsRetainedUntil) else {
                throw MalformedMessage.invalid(field: "data.contactsRetainedUntil")
            }
            try update(session, event.data.accountId, event, &effects, permissions) {
                "UPDATE accounts SET frozen = true WHERE account_id = \(event.data.accountId)::uuid"
            }
            try Retention.deregistered(
                session, event.data.accountId, now: event.receivedAt, purgeContactsAt: purgeContactsAt,
                hashKey: hashKey, effects: &effects)
        }
    }

    /// Applies `statement` to a known account, then refreshes its grants.
    static func update<T>(
        _ session: borrowing PostgresSession, _ accountID: String, _ event: Command<T>, _ effects: inout MessageEffects,
        _ policy: Policy.Permissions, _ statement: () -> PostgresQuery
    ) throws {
        guard UUID(uuidString: accountID) != nil else { throw MalformedMessage.invalid(field: "data.accountId") }
        try session.query(statement())
        try PermissionsStore.refresh(session, accountID, now: event.receivedAt, policy: policy, effects: &effects)
    }

    /// The tier an account starts at and when it lapses, as identity published them with
    /// `account.registered` (never recomputed here from the policy).
    static func startingTier(_ data: AccountRegistered) throws -> (tier: Tier, expiresAt: Date?) {
        guard let tier = Tier(rawValue: data.tier) else { throw MalformedMessage.invalid(field: "data.tier") }
        let expiresAt = try data.tierExpiresAt.map { text in
            guard let date = Date(rfc3339: text) else { throw MalformedMessage.invalid(field: "data.tierExpiresAt") }
            return date
        }
        return (tier, expiresAt)
    }

    /// When the event happened (its `time`), else when it arrived.
    static func eventTime<T>(_ event: Command<T>) -> Date {
        event.envelope.time.flatMap(Date.init(rfc3339:)) ?? event.receivedAt
    }
}
