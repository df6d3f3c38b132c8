import Contract
import Foundation
import Messaging
import Platform
import Postgres

/// The end of the cool-down: a durable scheduler over `requests`. Due requests are claimed with
/// `FOR UPDATE SKIP LOCKED` (two replicas never finalize the same account) and finalized in the
/// transaction that writes `account.deregistered` to the outbox (a crash never skips or repeats one).
enum Finalizer {
    static func task(_ context: DeregistrationContext) -> PeriodicTask {
        let policy = context.policy
        return PeriodicTask(name: "deregistration.finalize", interval: policy.deregistration.schedulerInterval.duration)
        {
            session, now, effects in
            let due = try session.query(
                """
                SELECT id::text AS id, account_id::text AS account_id FROM requests
                WHERE state = 'cooling' AND cooldown_ends_at <= \(now)
                ORDER BY cooldown_ends_at LIMIT 100 FOR UPDATE SKIP LOCKED
                """)
            for row in due {
                let requestID: String = try row.decode("id")
                let accountID: String = try row.decode("account_id")
                try session.query(
                    "UPDATE requests SET state = 'finalized', closed_at = \(now), revoke_code_hash = NULL WHERE id = \(requestID)::uuid"
                )
                try audit(session, accountID, "finalized", ["requestId": requestID], at: now)
                let contactsUntil = now.addingTimeInterval(policy.deregistration.contactRetention.timeInterval)
                let phoneFreeAt = now.addingTimeInterval(policy.registration.phoneReuseCooldown.timeInterval)
                try effects.emit(
                    .accountDeregistered, subject: accountID,
                    data: [
                        "accountId": accountID, "requestId": requestID, "deregisteredAt": CloudEvent.timestamp(now),
                        "contactsRetainedUntil": CloudEvent.timestamp(contactsUntil),
                        "phoneBlockedUntil": CloudEvent.timestamp(phoneFreeAt),
                    ])
                try effects.emit(
                    .walletRefundRequested, subject: accountID,
                    data: ["accountId": accountID, "requestId": requestID])
            }
            return due.count
        }
    }
}
