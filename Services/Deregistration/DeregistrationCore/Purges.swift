import Contract
import Foundation
import Messaging
import Postgres

struct PurgeCompleted: Decodable, Sendable {
    var accountId: String
    var service: String
    var category: String
}

/// Collects the services' `purge.completed` confirmations; `account.purged` follows, once, when
/// every expected one has arrived.
enum Purges {
    /// Every (service, category) that must confirm before an account counts as purged.
    static let expected: Set<String> = [
        "identity:personal", "permissions:personal", "permissions:financial", "permissions:contacts",
        "binding:personal",
    ]

    static func register(_ router: inout Router) {
        for service in [RegistrarService.identity, .permissions, .binding] {
            router.event(.purgeCompleted, on: service.eventTopic, PurgeCompleted.self) { session, event, effects in
                let data = event.data
                guard UUID(uuidString: data.accountId) != nil else {
                    throw MalformedMessage.invalid(field: "data.accountId")
                }
                let now = event.receivedAt
                let inserted = try session.query(
                    """
                    INSERT INTO purges (account_id, service, category, confirmed_at)
                    VALUES (\(data.accountId)::uuid, \(data.service), \(data.category), \(now)) ON CONFLICT DO NOTHING
                    """)
                guard inserted.affectedRows == 1 else { return }
                try audit(session, data.accountId, "purged:\(data.service):\(data.category)", at: now)
                let confirmed = Set(
                    try session.query(
                        "SELECT service || ':' || category AS k FROM purges WHERE account_id = \(data.accountId)::uuid"
                    ).map { try $0.decode("k", as: String.self) })
                guard expected.isSubset(of: confirmed) else { return }
                let marked = try session.query(
                    """
                    UPDATE requests SET purged_at = \(now)
                    WHERE account_id = \(data.accountId)::uuid AND state = 'finalized' AND purged_at IS NULL
                    """)
                guard marked.affectedRows > 0 else { return }
                try audit(session, data.accountId, "purged", at: now)
                try effects.emit(.accountPurged, subject: data.accountId, data: ["accountId": data.accountId])
            }
        }
    }
}
