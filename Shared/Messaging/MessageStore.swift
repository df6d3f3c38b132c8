import Foundation
import Postgres

/// The runtime's tables in the service's own schema (found through `search_path`): `inbox`,
/// `outbox` and `dead_letters` (created by `deploy/migrations`).
enum MessageStore {
    /// Claims `messageID` for `consumer`. Returns `nil` when new, else the stored reply (which may
    /// itself be `nil` for events).
    static func claim(
        _ session: borrowing PostgresSession, consumer: String, messageID: String, topic: String, partition: Int32,
        offset: Int64
    ) throws -> StoredOutcome? {
        let inserted = try session.query(
            """
            INSERT INTO inbox (consumer, message_id, topic, partition, "offset")
            VALUES (\(consumer), \(messageID), \(topic), \(partition), \(offset))
            ON CONFLICT DO NOTHING
            """)
        if inserted.affectedRows == 1 { return nil }
        let row = try session.query(
            "SELECT reply FROM inbox WHERE consumer = \(consumer) AND message_id = \(messageID)"
        ).first
        return StoredOutcome(reply: try row?.decode("reply", as: String?.self))
    }

    /// Stores the reply sent for a claimed message.
    static func storeReply(_ session: borrowing PostgresSession, consumer: String, messageID: String, reply: String)
        throws
    {
        try session.query(
            "UPDATE inbox SET reply = \(reply) WHERE consumer = \(consumer) AND message_id = \(messageID)")
    }

    /// Appends messages to the outbox.
    static func enqueue(_ session: borrowing PostgresSession, _ messages: [OutboxMessage]) throws {
        for message in messages {
            try enqueue(
                session, topic: message.topic, key: message.key, messageID: message.event.id,
                payload: message.event.encoded(), sensitive: message.sensitive)
        }
    }

    /// Appends one serialized message to the outbox.
    static func enqueue(
        _ session: borrowing PostgresSession, topic: String, key: String?, messageID: String, payload: [UInt8],
        sensitive: Bool = false
    ) throws {
        try session.query(
            """
            INSERT INTO outbox (message_id, topic, key, payload, sensitive)
            VALUES (\(messageID), \(topic), \(key), \(String(decoding: payload, as: UTF8.self)), \(sensitive))
            """)
    }

    /// Records a dead letter once per topic/partition/offset and content digest (a redelivery);
    /// false when it was recorded before.
    static func recordDeadLetter(
        _ session: borrowing PostgresSession, topic: String, partition: Int32, offset: Int64, digest: String,
        reason: String, field: String?, messageID: String?
    ) throws -> Bool {
        try session.query(
            """
            INSERT INTO dead_letters (topic, partition, "offset", digest, reason, field, message_id)
            VALUES (\(topic), \(partition), \(offset), \(digest), \(reason), \(field), \(messageID))
            ON CONFLICT DO NOTHING
            """
        ).affectedRows == 1
    }

    /// The oldest unsent outbox rows.
    static func unsent(_ session: borrowing PostgresSession, limit: Int) throws -> [PendingMessage] {
        try session.query(
            "SELECT seq, topic, key, payload FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT \(limit)"
        ).map { row in
            PendingMessage(
                seq: try row.decode("seq"), topic: try row.decode("topic"), key: try row.decode("key"),
                payload: try row.decode("payload"))
        }
    }

    /// Marks rows as published, blanking the payload and key of sensitive ones (an SMS
    /// notification is keyed by the raw phone).
    static func markSent(_ session: borrowing PostgresSession, _ seqs: [Int64]) throws {
        try session.query(
            """
            UPDATE outbox SET sent_at = now(), payload = CASE WHEN sensitive THEN '' ELSE payload END,
                key = CASE WHEN sensitive THEN NULL ELSE key END
            WHERE seq = ANY(\(seqs)::bigint[])
            """)
    }

    /// Tries to become this schema's relay (a session-level advisory lock, released with the
    /// connection), so replicas of a service never publish the same rows side by side.
    static func tryRelayLeadership(_ session: borrowing PostgresSession, schema: String) throws -> Bool {
        try session.query("SELECT pg_try_advisory_lock(hashtext('relay:' || \(schema))) AS locked").first?
            .decode("locked", as: Bool.self) ?? false
    }

    struct StoredOutcome {
        var reply: String?
    }

    struct PendingMessage: Sendable {
        var seq: Int64
        var topic: String
        var key: String?
        var payload: String
    }
}
