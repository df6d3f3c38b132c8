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

    /// The reply kept for a message claimed before (`nil` for events, or when none was kept), with
    /// the account it is filed under.
    static func storedReply(_ session: borrowing PostgresSession, consumer: String, messageID: String) throws
        -> KeptReply?
    {
        guard
            let row = try session.query(
                """
                SELECT reply, account_id::text AS account_id FROM inbox
                WHERE consumer = \(consumer) AND message_id = \(messageID)
                """
            ).first,
            let reply = try row.decode("reply", as: String?.self)
        else { return nil }
        return KeptReply(
            consumer: consumer, messageID: messageID, reply: reply, account: try row.decode("account_id"))
    }

    /// Appends messages to the outbox, in order, and keeps replies in the inbox rows of the
    /// messages they answer: one statement (one round trip), however many rows.
    static func enqueue(
        _ session: borrowing PostgresSession, _ rows: [OutboxRow], keeping replies: [KeptReply] = []
    ) throws {
        let insert: PostgresQuery = """
            INSERT INTO outbox (message_id, topic, key, payload, sensitive, account_id)
            SELECT m, t, k, p, s, a
            FROM unnest(\(rows.map(\.messageID))::text[], \(rows.map(\.topic))::text[], \(rows.map(\.key))::text[],
                        \(rows.map(\.payload))::text[], \(rows.map(\.sensitive))::bool[], \(rows.map(\.account))::uuid[])
                 WITH ORDINALITY AS r(m, t, k, p, s, a, n)
            ORDER BY n
            """
        let statement: PostgresQuery
        if !replies.isEmpty {
            statement = """
                WITH queued AS (\(subquery: insert))
                UPDATE inbox SET reply = kept.reply, account_id = kept.account_id
                FROM unnest(\(replies.map(\.consumer))::text[], \(replies.map(\.messageID))::text[],
                            \(replies.map(\.reply))::text[], \(replies.map(\.account))::uuid[])
                     AS kept(consumer, message_id, reply, account_id)
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
        try enqueue(session, messages.map { OutboxRow($0) })
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

    /// Removes the runtime's copies of an account's data, in the purge's transaction: the replies
    /// kept for its commands become `neutralReply` (a template whose `inreplyto` and `id` are set per
    /// row; the row stays, so a re-sent command is still one already handled) and lose their filing;
    /// its sent outbox rows go; its unsent replies and notifications go (addressed to the person:
    /// never published), its unsent events stay, to be published and then blanked like sensitive
    /// rows (facts other services must apply, which carry no raw numbers). Returns the rows touched.
    static func purgeAccount(
        _ session: borrowing PostgresSession, accountID: String, eventTopics: [String], neutralReply: String
    ) throws -> (replies: Int, outbox: Int) {
        let replies = try session.query(
            """
            UPDATE inbox SET account_id = NULL,
                reply = CASE WHEN reply IS NULL THEN NULL ELSE (
                    jsonb_set(jsonb_set(\(neutralReply)::jsonb, '{inreplyto}', to_jsonb(message_id)),
                              '{id}', to_jsonb(gen_random_uuid()::text))
                    -- The correlation id is echoed as before (it is the client's, not the person's);
                    -- a sealed reply's cannot be read here and is left out.
                    || jsonb_strip_nulls(jsonb_build_object('correlationid',
                           CASE WHEN reply LIKE 'sealed:%' THEN NULL ELSE reply::jsonb -> 'correlationid' END))
                    )::text END
            WHERE account_id = \(accountID)::uuid
            """
        ).affectedRows
        let removed = try session.query(
            """
            DELETE FROM outbox WHERE account_id = \(accountID)::uuid
                AND (sent_at IS NOT NULL OR NOT (topic = ANY(\(eventTopics)::text[])))
            """
        ).affectedRows
        let kept = try session.query(
            """
            UPDATE outbox SET sensitive = true, account_id = NULL
            WHERE account_id = \(accountID)::uuid AND sent_at IS NULL
            """
        ).affectedRows
        return (replies, removed + kept)
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
        /// The account the row concerns (a lowercase UUID), for the purge (`purgeAccount`).
        var account: String?

        init(
            topic: String, key: String?, messageID: String, payload: [UInt8], sensitive: Bool = false,
            account: String? = nil
        ) {
            self.topic = topic
            self.key = key
            self.messageID = messageID
            self.payload = String(decoding: payload, as: UTF8.self)
            self.sensitive = sensitive
            self.account = account
        }

        /// An event is filed under its subject when that is an account id; other rows under
        /// `account` (the command's).
        init(_ message: OutboxMessage, account: String? = nil) {
            self.init(
                topic: message.topic, key: message.key, messageID: message.event.id, payload: message.event.encoded(),
                sensitive: message.sensitive, account: AccountFiling.accountID(message.event.subject) ?? account)
        }
    }

    /// A reply kept in the inbox row of the command it answers, for re-sent commands.
    struct KeptReply {
        var consumer: String
        var messageID: String
        var reply: String
        /// The account it concerns, for the purge.
        var account: String?
    }

    struct PendingMessage: Sendable {
        var seq: Int64
        var topic: String
        var key: String?
        var payload: String
    }
}
