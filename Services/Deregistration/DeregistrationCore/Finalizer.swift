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
                // After the purge of the runtime's copies above, which would drop it unsent.
                try effects.notify(
                    request.accountId, .deregistrationCompleted, locale: policy.notifications.defaultLocale,
                    params: [
                        "deregisteredAt": CloudEvent.timestamp(finalization.deregisteredAt),
                        "phoneBlockedUntil": CloudEvent.timestamp(finalization.phoneBlockedUntil),
                    ])
            }
            return due.count
        }
    }

    /// The periodic task that reminds the user `deregistration.reminderBeforeEnd` before the
    /// cool-down ends (issue 18): claims cooling requests not reminded yet, marks each reminded in
    /// the transaction that writes its `push.requested` to the outbox (once per request, across
    /// replicas and restarts); one found only past its end is marked without a reminder.
    static func reminderTask(_ context: DeregistrationContext) -> PeriodicTask {
        let policy = context.policy
        return PeriodicTask(name: "deregistration.remind", interval: policy.deregistration.schedulerInterval.duration) {
            session, now, effects in
            let due = try DeregistrationStore.claimUnreminded(
                session, horizon: CooldownRules.reminderHorizon(now: now, policy: policy))
            var sent = 0
            for request in due {
                try DeregistrationStore.markReminded(session, requestID: request.id, now: now)
                guard
                    CooldownRules.reminderDue(
                        state: .cooling, cooldownEndsAt: request.cooldownEndsAt, remindedAt: nil, now: now,
                        policy: policy)
                else { continue }
                try effects.notify(
                    request.accountId, .deregistrationReminder, locale: policy.notifications.defaultLocale,
                    params: ["cooldownEndsAt": CloudEvent.timestamp(request.cooldownEndsAt)])
                sent += 1
            }
            return sent
        }
    }
}
