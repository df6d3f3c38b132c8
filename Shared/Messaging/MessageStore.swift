import Foundation
import Postgres

/// The runtime's tables in the service's own schema (found through `search_path`): `inbox`,
/// `outbox` and `dead_letters` (created by `deploy/migrations`).
enum MessageStore {
    /// Claims the messages' ids for `consumer` in one statement, received at `now` (the service's
    /// clock, which the pruner's windows are measured on); returns the ids that were new.
    static func claim(_ session: borrowing PostgresSession, consumer: String, _ claims: [Claim], at now: Date) throws
        -> Set<String>
    {
        if claims.isEmpty { return [] }
        let rows = try session.query(
            """
            INSERT INTO inbox (consumer, message_id, topic, partition, "offset", received_at)
            SELECT \(consumer), m, t, p, o, \(now)::timestamptz
            FROM unnest(\(claims.map(\.messageID))::text[], \(claims.map(\.topic))::text[],
                        \(claims.map(\.partition))::int[], \(claims.map(\.offset))::bigint[]) AS r(m, t, p, o)
            ON CONFLICT DO NOTHING
            RETURNING message_id
            """)
        return Set(try rows.map { try $0.decode("message_id", as: String.self) })
    }

    /// The reply kept for a message claimed before (`nil` for events, or when none was kept).
    static func storedReply(_ session: borrowing PostgresSession, consumer: String, messageID: String) throws
        -> String?
    {
        try session.query("SELECT reply FROM inbox WHERE consumer = \(consumer) AND message_id = \(messageID)")
            .first?.decode("reply", as: String?.self)
    }

    /// Appends messages to the outbox, in order, and keeps replies in the inbox rows of the
    /// messages they answer: one statement (one round trip), however many rows.
    static func enqueue(
        _ session: borrowing PostgresSession, _ rows: [OutboxRow], keeping replies: [KeptReply] = []
    ) throws {
        let insert: PostgresQuery = """
            INSERT INTO outbox (message_id, topic, key, payload, sensitive)
            SELECT m, t, k, p, s
            FROM unnest(\(rows.map(\.messageID))::text[], \(rows.map(\.topic))::text[], \(rows.map(\.key))::text[],
                        \(rows.map(\.payload))::text[], \(rows.map(\.sensitive))::bool[])
                 WITH ORDINALITY AS r(m, t, k, p, s, n)
            ORDER BY n
            """
        let statement: PostgresQuery
        if !replies.isEmpty {
            statement = """
                WITH queued AS (\(subquery: insert))
                UPDATE inbox SET reply = kept.reply
                FROM unnest(\(replies.map(\.consumer))::text[], \(replies.map(\.messageID))::text[],
                            \(replies.map(\.reply))::text[]) AS kept(consumer, message_id, reply)
                WHERE inbox.consumer = kept.consumer AND inbox.message_id = kept.message_id
                """
        } else if rows.isEmpty {
            return
        } else {
            statement = insert
        }
        try session.query(statement)
    }

    /// Appends rows to the service's audit trail (append-only: no statement ever changes them).
    static func appendAudit(_ session: borrowing PostgresSession, _ entries: [AuditEntry]) throws {
        guard !entries.isEmpty else { return }
        try session.query(
            """
            INSERT INTO audit_trail (at, actor_kind, actor_id, action, subject, correlation_id, message_id, reason)
            SELECT at, k, i, a, s, c, m, r
            FROM unnest(\(entries.map(\.at))::timestamptz[], \(entries.map(\.actor.kind))::text[],
                        \(entries.map(\.actor.id))::text[], \(entries.map(\.action))::text[],
                        \(entries.map(\.subject))::text[], \(entries.map(\.correlationID))::text[],
                        \(entries.map(\.messageID))::text[], \(entries.map(\.reason))::text[])
                 WITH ORDINALITY AS e(at, k, i, a, s, c, m, r, n)
            ORDER BY n
            """)
    }

    /// Appends handler effects to the outbox.
    static func enqueue(_ session: borrowing PostgresSession, _ messages: [OutboxMessage]) throws {
        try enqueue(session, messages.map(OutboxRow.init))
    }

    /// Records a dead letter once per topic/partition/offset and content digest (a redelivery);
    /// false when it was recorded before.
    static func recordDeadLetter(
        _ session: borrowing PostgresSession, topic: String, partition: Int32, offset: Int64, digest: String,
        reason: String, field: String?, messageID: String?, at now: Date
    ) throws -> Bool {
        try session.query(
            """
            INSERT INTO dead_letters (topic, partition, "offset", digest, reason, field, message_id, received_at)
            VALUES (\(topic), \(partition), \(offset), \(digest), \(reason), \(field), \(messageID), \(now))
            ON CONFLICT DO NOTHING
            """
        ).affectedRows == 1
    }

    /// The oldest unsent outbox rows, if this session is the schema's relay: it tries to become
    /// that (a session-level advisory lock, released with the connection) in the same statement,
    /// so replicas of a service never publish the same rows side by side.
    static func unsent(_ session: borrowing PostgresSession, schema: String, limit: Int) throws -> [PendingMessage] {
        try session.query(
            """
            WITH relay AS (SELECT pg_try_advisory_lock(hashtext('relay:' || \(schema))) AS leader)
            SELECT seq, topic, key, payload FROM outbox, relay
            WHERE relay.leader AND sent_at IS NULL ORDER BY seq LIMIT \(limit)
            """
        ).map { row in
            PendingMessage(
                seq: try row.decode("seq"), topic: try row.decode("topic"), key: try row.decode("key"),
                payload: try row.decode("payload"))
        }
    }

    /// Marks rows as published at `now` (the service's clock), blanking the payload and key of
    /// sensitive ones (an SMS notification is keyed by the raw phone).
    static func markSent(_ session: borrowing PostgresSession, _ seqs: [Int64], at now: Date) throws {
        try session.query(
            """
            UPDATE outbox SET sent_at = \(now), payload = CASE WHEN sensitive THEN '' ELSE payload END,
                key = CASE WHEN sensitive THEN NULL ELSE key END
            WHERE seq = ANY(\(seqs)::bigint[])
            """)
    }

    /// Deletes at most `limit` inbox rows of `topics` received before `cutoff`; returns how many.
    /// Rows another session holds (a replica's pruner) are skipped, not waited for.
    static func pruneInbox(_ session: borrowing PostgresSession, topics: [String], before cutoff: Date, limit: Int)
        throws -> Int
    {
        try session.query(
            """
            DELETE FROM inbox WHERE (consumer, message_id) IN (
                SELECT consumer, message_id FROM inbox
                WHERE topic = ANY(\(topics)::text[]) AND received_at < \(cutoff)
                LIMIT \(limit) FOR UPDATE SKIP LOCKED)
            """
        ).affectedRows
    }

    /// Deletes at most `limit` outbox rows the broker confirmed before `cutoff` (never an unsent
    /// row: `sent_at` is null until the confirmation); returns how many.
    static func pruneSentOutbox(_ session: borrowing PostgresSession, before cutoff: Date, limit: Int) throws -> Int {
        try session.query(
            """
            DELETE FROM outbox WHERE seq IN (
                SELECT seq FROM outbox WHERE sent_at IS NOT NULL AND sent_at < \(cutoff)
                LIMIT \(limit) FOR UPDATE SKIP LOCKED)
            """
        ).affectedRows
    }

    /// Deletes at most `limit` dead-letter rows recorded before `cutoff`; returns how many.
    static func pruneDeadLetters(_ session: borrowing PostgresSession, before cutoff: Date, limit: Int) throws -> Int {
        try session.query(
            """
            DELETE FROM dead_letters WHERE id IN (
                SELECT id FROM dead_letters WHERE received_at < \(cutoff)
                LIMIT \(limit) FOR UPDATE SKIP LOCKED)
            """
        ).affectedRows
    }

    /// A message id to claim, with where the message was read.
    struct Claim {
        var messageID: String
        var topic: String
        var partition: Int32
        var offset: Int64
    }

    /// One serialized outbox row.
    struct OutboxRow {
        var topic: String
        var key: String?
        var messageID: String
        var payload: String
        var sensitive = false

        init(topic: String, key: String?, messageID: String, payload: [UInt8], sensitive: Bool = false) {
            self.topic = topic
            self.key = key
            self.messageID = messageID
            self.payload = String(decoding: payload, as: UTF8.self)
            self.sensitive = sensitive
        }

        init(_ message: OutboxMessage) {
            self.init(
                topic: message.topic, key: message.key, messageID: message.event.id, payload: message.event.encoded(),
                sensitive: message.sensitive)
        }
    }

    /// A reply kept in the inbox row of the command it answers, for re-sent commands.
    struct KeptReply {
        var consumer: String
        var messageID: String
        var reply: String
    }

    struct PendingMessage: Sendable {
        var seq: Int64
        var topic: String
        var key: String?
        var payload: String
    }
}
