import Foundation
import Platform
import Postgres

/// The global SMS send budget of one service (`sms.globalSendsPerWindow` in a sliding
/// `sms.globalWindow`), kept in the service's own `sms_sends` table.
///
/// Every service that sends SMS (identity, deregistration) has its own schema and so its own
/// budget. Checking and counting happen under one transaction-scoped advisory lock per service, so
/// parallel commands never send more than the budget; a refused or rolled-back command counts
/// nothing.
public enum SMSBudget {
    /// Takes the service's budget lock (held to the end of the transaction) and tells whether
    /// another SMS may be sent at `now`; forgets sends older than the window.
    public static func available(_ session: borrowing PostgresSession, service: String, policy: Policy.SMS, now: Date)
        throws -> Bool
    {
        try session.query("SELECT pg_advisory_xact_lock(hashtextextended(\("sms-budget:" + service), 0))")
        let since = now.addingTimeInterval(-policy.globalWindow.timeInterval)
        try session.query("DELETE FROM sms_sends WHERE sent_at <= \(since)")
        let sent =
            try session.query("SELECT count(*) AS n FROM sms_sends").first?.decode("n", as: Int.self) ?? 0
        return sent < policy.globalSendsPerWindow
    }

    /// Counts one SMS sent at `now`; call after `available` said yes, in the same transaction.
    public static func spend(_ session: borrowing PostgresSession, now: Date) throws {
        try session.query("INSERT INTO sms_sends (sent_at) VALUES (\(now))")
    }
}
