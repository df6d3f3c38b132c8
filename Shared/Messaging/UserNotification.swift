import Contract
import Foundation

extension MessageEffects {
    /// Tells the account's user `template` with `params` (issue 18): a `push.requested` on
    /// `notifications.push`, keyed by the account, written to the outbox with the cause (so it goes
    /// exactly once per cause: a re-sent command gets its kept reply and no second push; a periodic
    /// task marks what it notified in the same transaction). Filed under the account, so a purge
    /// drops one not yet sent. `params` hold ids, dates and masked values only.
    public mutating func notify(
        _ accountID: String, _ template: NotificationTemplate, locale: String, params: [String: String] = [:]
    ) throws {
        let payload = PushRequested(accountId: accountID, template: template.rawValue, locale: locale, params: params)
        let event = CloudEvent(
            source: service.source, type: EventType.pushRequested.rawValue, time: now, subject: accountID,
            correlationid: causation.correlationid ?? causation.id, causationid: causation.id,
            data: try JSONValue(encoding: payload))
        outgoing.append(OutboxMessage(topic: topics.push, key: accountID, event: event))
    }
}
