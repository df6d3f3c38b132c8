import Contract
import Foundation
import Messaging
import Platform
import Postgres

/// The end of the cool-down: a durable scheduler over `requests`. Due requests are claimed with
/// `FOR UPDATE SKIP LOCKED` (two replicas never finalize the same account) and finalized in the
/// transaction that writes `account.deregistered` to the outbox (a crash never skips or repeats one).
enum Finalizer {
    /// The periodic task that finalizes due requests every `deregistration.schedulerInterval`.
    static func task(_ context: DeregistrationContext) -> PeriodicTask {
        let policy = context.policy
        return PeriodicTask(name: "deregistration.finalize", interval: policy.deregistration.schedulerInterval.duration)
        {
            session, now, effects in
            let due = try DeregistrationStore.claimDue(session, now: now)
            let finalization = CooldownRules.finalization(at: now, policy: policy)
            for request in due {
                try DeregistrationStore.finalize(session, requestID: request.id, now: now)
                try DeregistrationStore.audit(
                    session, request.accountId, "finalized", ["requestId": request.id], at: now)
                // This service's own copies (request and status replies, its events' outbox rows)
                // go at finalization; the other services purge theirs on `account.deregistered`.
                try AccountPurge.runtimeCopies(session, accountID: request.accountId, effects: effects)
                try effects.emit(
                    .accountDeregistered, subject: request.accountId,
                    data: AccountDeregistered(
                        accountId: request.accountId, requestId: request.id,
                        deregisteredAt: CloudEvent.timestamp(finalization.deregisteredAt),
                        phoneBlockedUntil: CloudEvent.timestamp(finalization.phoneBlockedUntil),
                        contactsRetainedUntil: CloudEvent.timestamp(finalization.contactsRetainedUntil)))
                try effects.emit(
                    .walletRefundRequested, subject: request.accountId,
                    data: ["accountId": request.accountId, "requestId": request.id])
            }
            return due.count
        }
    }
}
