import Contract
import Foundation
import Messaging
import Postgres

/// Collects the services' `purge.completed` confirmations; `account.purged` follows, once, when
/// every expected one has arrived (`PurgeRules`).
enum Purges {
    /// Follows `purge.completed` on every other service's event topic.
    static func register(_ router: inout Router) {
        for service in [RegistrarService.identity, .permissions, .binding] {
            router.event(.purgeCompleted, on: service.eventTopic, PurgeCompleted.self) { session, event, effects in
                let purge = event.data
                guard UUID(uuidString: purge.accountId) != nil else {
                    throw MalformedMessage.invalid(field: "data.accountId")
                }
                let now = event.receivedAt
                // A repeated confirmation changes nothing.
                guard try DeregistrationStore.recordPurge(session, purge, now: now) else { return }
                let key = PurgeRules.key(service: purge.service, category: purge.category)
                try DeregistrationStore.audit(session, purge.accountId, "purged:\(key)", at: now)
                let confirmed = try DeregistrationStore.confirmedPurges(session, purge.accountId)
                guard PurgeRules.isComplete(confirmed: confirmed),
                    try DeregistrationStore.markPurged(session, purge.accountId, now: now)
                else { return }
                try DeregistrationStore.audit(session, purge.accountId, "purged", at: now)
                // The last rows that named the account beside the audit: its (revoked) sessions.
                try DeregistrationStore.deleteSessions(session, purge.accountId)
                try effects.emit(.accountPurged, subject: purge.accountId, data: AccountRef(accountId: purge.accountId))
            }
        }
    }
}
