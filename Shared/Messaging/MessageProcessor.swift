import Contract
import Foundation
import Kafka
import Logging
import Metrics
import Platform
import Postgres
import ServiceLifecycle

/// The command-handling loop of a service. It takes what the consumer has fetched, up to
/// `runtime.consumeBatchSize` messages, and handles them in offset order in one PostgreSQL
/// transaction: per message the inbox claim, the handler inside its own savepoint (a refusal, a
/// malformed verdict or a handler error undoes only that message's writes), the reply and events
/// into the outbox. Offsets are stored only after that transaction committed, and the relay is
/// woken once per batch. Malformed messages are dead-lettered, answered when an id can be read, and
/// never stall the partition.
final class MessageProcessor: Service {
    private let service: RegistrarService
    private let router: Router
    private let decoder: MessageDecoder
    private let pool: PostgresPool
    private let consumer: KafkaConsumer
    private let doorbell: Doorbell
    private let environment: HandlerEnvironment
    private let consumerName: String
    /// Seals stored replies of sensitive commands: derived from `REGISTRAR_HASH_KEY`.
    private let replyKey: [UInt8]?

    init(
        router: Router, decoder: MessageDecoder, pool: PostgresPool, consumer: KafkaConsumer, doorbell: Doorbell,
        environment: HandlerEnvironment
    ) {
        self.replyKey = environment.hashKey.map {
            Sodium.hmacSHA256(key: $0, message: Array("registrar inbox replies".utf8))
        }
        self.service = environment.service
        self.router = router
        self.decoder = decoder
        self.pool = pool
        self.consumer = consumer
        self.doorbell = doorbell
        self.environment = environment
        self.consumerName = environment.service.rawValue
    }

    func run() async throws {
        environment.logger.info("consuming", metadata: ["service": "\(service.rawValue)"])
        let batchSize = environment.policy.runtime.consumeBatchSize
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let batch = try await consumer.poll(maxMessages: batchSize)
            if !batch.isEmpty { await process(batch) }
        }
        // In-flight work is done: commit what was stored and leave the group.
        await consumer.close()
        environment.logger.info("consumer closed")
    }

    /// Processes `batch` until its outcome is committed, waiting out database outages; false when
    /// it stopped without storing the offsets (a shutdown: nothing was committed; or the offset
    /// store failed: everything was). A batch whose transaction fails for another reason is taken
    /// apart: each message alone, in order.
    @discardableResult
    func process(_ batch: [KafkaMessage]) async -> Bool {
        var backoff = Duration.milliseconds(50)
        let start = ContinuousClock.now
        let incoming = await prepare(batch)
        while true {
            do {
                let outcomes = try await handle(incoming)
                for _ in batch { FaultInjection.process.reached(.afterDatabaseCommit) }
                for message in batch { try consumer.storeOffset(of: message) }
                if outcomes.contains(where: \.wroteOutbox) { doorbell.ring() }
                record(outcomes, of: batch, since: start)
                return true
            } catch let error as PostgresError where error.isRetriable {
                environment.logger.warning(
                    "database unavailable, will retry",
                    metadata: [
                        "pg.error": "\(error)", "kafka.topic": "\(batch[0].topic)",
                        "kafka.offset": "\(batch[0].offset)", "messages": "\(batch.count)",
                    ])
            } catch let error as KafkaError {
                environment.logger.error("offset store failed", metadata: ["kafka.error": "\(error)"])
                return false
            } catch  where batch.count > 1 {
                environment.logger.warning(
                    "batch failed, handling its messages one by one",
                    metadata: ["error": "\(error)", "messages": "\(batch.count)"])
                for message in batch {
                    // A message whose offset could not be stored was still committed: go on. Only
                    // a shutdown stops here (the rest is redelivered after the restart).
                    if await !process([message]) && Task.isShuttingDownGracefully { return false }
                }
                return true
            } catch {
                let message = batch[0]
                environment.logger.error(
                    "handler failed", metadata: ["error": "\(error)", "kafka.offset": "\(message.offset)"])
                do {
                    try await failed(message, error: error)
                    try consumer.storeOffset(of: message)
                    doorbell.ring()
                    return true
                } catch {
                    environment.logger.error("dead-lettering failed, will retry", metadata: ["error": "\(error)"])
                }
            }
            if Task.isShuttingDownGracefully { return false }  // Not stored: redelivered after restart.
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, environment.policy.runtime.retryBackoffMax.duration)
        }
    }

    struct Outcome {
        var type: String
        var label: String
        var wroteOutbox: Bool
        /// The message's own handling time: its `prepare` step and its handler, without the time
        /// the batch's other messages and commit took.
        var duration: Duration = .zero
    }

    /// Counts each message by outcome and records its own handling time; the batch's whole time
    /// (commit included) and size are recorded once per batch.
    private func record(_ outcomes: [Outcome], of batch: [KafkaMessage], since start: ContinuousClock.Instant) {
        func nanoseconds(_ duration: Duration) -> Int64 {
            duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
        }
        for (message, outcome) in zip(batch, outcomes) {
            Counter(
                label: "registrar_messages_total",
                dimensions: [("topic", message.topic), ("type", outcome.type), ("outcome", outcome.label)]
            ).increment()
            Metrics.Timer(label: "registrar_message_duration", dimensions: [("type", outcome.type)])
                .recordNanoseconds(nanoseconds(outcome.duration))
        }
        Metrics.Timer(label: "registrar_batch_duration").recordNanoseconds(nanoseconds(ContinuousClock.now - start))
        Recorder(label: "registrar_batch_size").record(batch.count)
    }

    /// A consumed message with what is known of it before the batch's transaction.
    struct Incoming: Sendable {
        var message: KafkaMessage
        var isCommand: Bool
        var envelope: Result<IncomingEnvelope, MalformedMessage>
        /// Its handler: the envelope is good and the type known.
        var handler: Router.Erased?
        /// What its `prepare` step returned.
        var prepared: (any Sendable)?
        /// How long its `prepare` step took.
        var preparation: Duration = .zero
    }

    /// Decodes the batch's envelopes and runs the `prepare` steps of its commands side by side
    /// (Argon2id on `ComputeLanes`).
    private func prepare(_ batch: [KafkaMessage]) async -> [Incoming] {
        let commands = environment.topics.commands(service)
        var incoming = batch.map { message in
            let isCommand = message.topic == commands
            let envelope = decoder.envelope(message.value)
            let handler = (try? envelope.get()).flatMap { (isCommand ? router.commands : router.events)[$0.type] }
            return Incoming(message: message, isCommand: isCommand, envelope: envelope, handler: handler)
        }
        guard !router.preparations.isEmpty else { return incoming }
        await withTaskGroup(of: (Int, (any Sendable)?, Duration).self) { group in
            for (index, item) in incoming.enumerated() where item.isCommand {
                guard case .success(let envelope) = item.envelope, let preparation = router.preparations[envelope.type]
                else { continue }
                let now = environment.clock.now()
                group.addTask {
                    let started = ContinuousClock.now
                    let value = await preparation(item.message.value, envelope, now)
                    return (index, value, ContinuousClock.now - started)
                }
            }
            for await (index, value, took) in group {
                incoming[index].prepared = value
                incoming[index].preparation = took
            }
        }
        return incoming
    }

    /// Handles the batch in one transaction, in order. The ids of the messages that have a handler
    /// are claimed in the inbox first, in one statement; those not claimed now were seen before.
    private func handle(_ batch: [Incoming]) async throws -> [Outcome] {
        let now = environment.clock.now()
        return try await pool.transaction { session in
            let claims = batch.compactMap { item -> MessageStore.Claim? in
                guard item.handler != nil, case .success(let envelope) = item.envelope else { return nil }
                return MessageStore.Claim(
                    messageID: envelope.id, topic: item.message.topic, partition: item.message.partition,
                    offset: item.message.offset)
            }
            var fresh = try MessageStore.claim(session, consumer: self.consumerName, claims, at: now)
            var writes = Writes(now: now)
            var outcomes: [Outcome] = []
            outcomes.reserveCapacity(batch.count)
            for item in batch {
                let started = ContinuousClock.now
                var outcome = try self.handle(item, fresh: &fresh, into: &writes, in: session)
                outcome.duration = item.preparation + (ContinuousClock.now - started)
                outcomes.append(outcome)
            }
            try writes.flush(session)
            return outcomes
        }
    }

    /// The outbox rows and kept replies of a batch, in order, written in one statement before its
    /// commit. Writing them last changes nothing a savepoint could undo: a message's rows are
    /// decided once its handler returned.
    struct Writes {
        /// The batch's time (the service's clock): when its claims and dead letters are recorded.
        var now: Date
        var rows: [MessageStore.OutboxRow] = []
        var replies: [MessageStore.KeptReply] = []
        var audit: [AuditEntry] = []

        /// The reply this batch kept for `id` (a command re-sent within the same batch).
        func kept(_ id: String) -> MessageStore.KeptReply? { replies.last { $0.messageID == id } }

        func flush(_ session: borrowing PostgresSession) throws {
            try MessageStore.enqueue(session, rows, keeping: replies)
            try MessageStore.appendAudit(session, audit)
        }
    }

    /// Handles one message of the batch; `fresh` holds the ids claimed for the batch and not yet
    /// handled (an id twice in a batch is new the first time only).
    private func handle(
        _ item: Incoming, fresh: inout Set<String>, into writes: inout Writes, in session: borrowing PostgresSession
    ) throws -> Outcome {
        let (message, isCommand) = (item.message, item.isCommand)
        let envelope: IncomingEnvelope
        switch item.envelope {
        case .failure(let malformed):
            return try deadLetter(session, message, malformed, reply: isCommand, into: &writes)
        case .success(let value):
            envelope = value
        }
        guard let handler = item.handler else {
            guard isCommand else { return Outcome(type: envelope.type, label: "ignored", wroteOutbox: false) }
            return try deadLetter(
                session, message,
                MalformedMessage(
                    code: .malformed, reason: "unknown_type", field: "type", messageID: envelope.id,
                    correlationID: envelope.correlationid),
                reply: true, into: &writes)
        }
        let now = environment.clock.now()
        let context = MessageEffects(
            service: service, topics: environment.topics, now: now, causation: envelope, isCommand: isCommand)
        if fresh.remove(envelope.id) == nil {
            // Seen before: change nothing; a command gets its stored reply again.
            guard isCommand,
                let stored = try writes.kept(envelope.id)
                    ?? MessageStore.storedReply(session, consumer: consumerName, messageID: envelope.id),
                let payload = unsealReply(stored.reply, id: envelope.id)
            else {
                return Outcome(type: envelope.type, label: "duplicate", wroteOutbox: false)
            }
            writes.rows.append(
                MessageStore.OutboxRow(
                    topic: context.topics.replies, key: envelope.id, messageID: envelope.id + ":reply",
                    payload: payload, sensitive: stored.reply.hasPrefix(Self.sealedPrefix), account: stored.account))
            return Outcome(type: envelope.type, label: "duplicate", wroteOutbox: true)
        }
        var effects = context
        // Undoes this message's writes alone on a refusal, a malformed verdict or an error. The
        // savepoints of a batch nest (one per message, never released): `ROLLBACK TO` names the
        // innermost, and a batch stays under PostgreSQL's 64 cached subtransactions per backend.
        try session.query("SAVEPOINT handler")
        let verdict: Router.HandlerOutcome
        do {
            verdict = try handler(session, message.value, envelope, now, item.prepared, &effects)
        } catch let error as PostgresError where error.isRetriable {
            throw error  // The whole batch is retried.
        } catch {
            // A bug or a state the handler did not foresee: dead-lettered, answered INTERNAL_ERROR,
            // and the batch goes on.
            try session.query("ROLLBACK TO SAVEPOINT handler")
            environment.logger.error(
                "handler failed", metadata: ["error": "\(error)", "kafka.offset": "\(message.offset)"])
            try recordDeadLetter(session, message, .handlerError(envelope), into: &writes)
            if isCommand { try reply(.handlerError, to: envelope, now: now, into: &writes) }
            return Outcome(type: envelope.type, label: "handler_error", wroteOutbox: true)
        }
        switch verdict {
        case .refused(let reply):
            try session.query("ROLLBACK TO SAVEPOINT handler")
            let account = AccountFiling.account(of: reply, effects: effects)
            try self.reply(reply, to: envelope, now: now, account: account, into: &writes)
            return Outcome(type: envelope.type, label: reply.code.rawValue, wroteOutbox: true)
        case .none:
            let account = AccountFiling.account(of: nil, effects: effects)
            writes.rows += effects.outgoing.map { MessageStore.OutboxRow($0, account: account) }
            writes.audit += effects.auditEntries
            return Outcome(type: envelope.type, label: "ok", wroteOutbox: !effects.outgoing.isEmpty)
        case .reply(let reply):
            // Filed under the account it concerns, for the purge at deregistration.
            let account = AccountFiling.account(of: reply, effects: effects)
            writes.rows += effects.outgoing.map { MessageStore.OutboxRow($0, account: account) }
            writes.audit += effects.auditEntries
            try self.reply(reply, to: envelope, now: now, account: account, into: &writes)
            return Outcome(type: envelope.type, label: reply.code.rawValue, wroteOutbox: true)
        case .malformed(let malformed):
            try session.query("ROLLBACK TO SAVEPOINT handler")
            try recordDeadLetter(session, message, malformed, into: &writes)
            if isCommand { try reply(malformed.reply, to: envelope, now: now, into: &writes) }
            return Outcome(type: envelope.type, label: "malformed", wroteOutbox: true)
        }
    }

    /// Queues the reply for the outbox and keeps it for the inbox (re-sent commands). The reply of
    /// a sensitive command (it may carry a session token) is kept sealed, and its outbox copy is
    /// blanked once sent. Both are filed under `account`, the account the reply concerns.
    private func reply(
        _ reply: Reply, to envelope: IncomingEnvelope, now: Date, account: String? = nil, into writes: inout Writes
    ) throws {
        let event = CloudEvent(
            source: service.source, type: "registrar.reply", time: now, inreplyto: envelope.id,
            correlationid: envelope.correlationid, data: try JSONValue(encoding: reply))
        let payload = event.encoded()
        let sensitive = router.sensitiveCommands.contains(envelope.type)
        writes.rows.append(
            MessageStore.OutboxRow(
                topic: environment.topics.replies, key: envelope.id, messageID: event.id, payload: payload,
                sensitive: sensitive, account: account))
        let stored: String?
        if !sensitive {
            stored = String(decoding: payload, as: UTF8.self)
        } else if let key = replyKey {
            stored =
                Self.sealedPrefix
                + Data(Sodium.seal(payload, key: key, associatedData: Array(envelope.id.utf8)))
                .base64EncodedString()
        } else {
            stored = nil  // Without a key the reply is not kept: a re-send is ignored instead of answered.
        }
        if let stored {
            writes.replies.append(
                MessageStore.KeptReply(consumer: consumerName, messageID: envelope.id, reply: stored, account: account))
        }
    }

    /// Marks a sealed stored reply.
    static let sealedPrefix = "sealed:"

    /// A stored reply's bytes, unsealed when it was sealed.
    private func unsealReply(_ stored: String, id: String) -> [UInt8]? {
        guard stored.hasPrefix(Self.sealedPrefix) else { return Array(stored.utf8) }
        guard let key = replyKey, let sealed = Data(base64Encoded: String(stored.dropFirst(Self.sealedPrefix.count)))
        else { return nil }
        return Sodium.open(Array(sealed), key: key, associatedData: Array(id.utf8))
    }

    /// Dead-letters a message refused before any handler, answering it when an id could be read.
    private func deadLetter(
        _ session: borrowing PostgresSession, _ message: KafkaMessage, _ malformed: MalformedMessage, reply: Bool,
        into writes: inout Writes
    ) throws -> Outcome {
        environment.logger.notice(
            "message dead-lettered",
            metadata: [
                "kafka.topic": "\(message.topic)", "kafka.partition": "\(message.partition)",
                "kafka.offset": "\(message.offset)", "reason": "\(malformed.reason)",
                "field": "\(malformed.field ?? "")",
            ])
        guard try recordDeadLetter(session, message, malformed, into: &writes) else {
            return Outcome(type: "malformed", label: "duplicate", wroteOutbox: false)
        }
        if reply, let id = malformed.messageID, try claim(session, id, of: message, at: writes.now) {
            let envelope = IncomingEnvelope(
                specversion: "1.0", id: id, source: "", type: "", correlationid: malformed.correlationID)
            try self.reply(malformed.reply, to: envelope, now: environment.clock.now(), into: &writes)
        }
        return Outcome(type: "malformed", label: malformed.reason, wroteOutbox: true)
    }

    /// Claims one message's id outside a batch's claim; true when it was new.
    private func claim(_ session: borrowing PostgresSession, _ id: String, of message: KafkaMessage, at now: Date)
        throws -> Bool
    {
        try MessageStore.claim(
            session, consumer: consumerName,
            [
                MessageStore.Claim(
                    messageID: id, topic: message.topic, partition: message.partition, offset: message.offset)
            ], at: now
        ).contains(id)
    }

    /// Dead-letters a well-formed message whose batch failed for good even alone (its own
    /// transaction), answering `INTERNAL_ERROR`.
    private func failed(_ message: KafkaMessage, error: any Error) async throws {
        let isCommand = message.topic == environment.topics.commands(service)
        guard case .success(let envelope) = decoder.envelope(message.value) else { return }
        let now = environment.clock.now()
        try await pool.transaction { session in
            var writes = Writes(now: now)
            guard try self.recordDeadLetter(session, message, .handlerError(envelope), into: &writes) else { return }
            if isCommand, try self.claim(session, envelope.id, of: message, at: now) {
                try self.reply(.handlerError, to: envelope, now: now, into: &writes)
            }
            try writes.flush(session)
        }
    }

    /// Records the dead letter and queues its `registrar.deadletter` event; false if recorded before.
    @discardableResult
    private func recordDeadLetter(
        _ session: borrowing PostgresSession, _ message: KafkaMessage, _ malformed: MalformedMessage,
        into writes: inout Writes
    ) throws -> Bool {
        guard
            try MessageStore.recordDeadLetter(
                session, topic: message.topic, partition: message.partition, offset: message.offset,
                digest: Sodium.sha256(message.value).hexString, reason: malformed.reason, field: malformed.field,
                messageID: malformed.messageID, at: writes.now)
        else { return false }
        let reason = malformed.field.map { "\(malformed.reason): \($0)" } ?? malformed.reason
        let letter = DeadLetter(
            reason: reason, topic: message.topic, partition: message.partition, offset: message.offset,
            original: Data(message.value.prefix(decoder.maxBytes)).base64EncodedString(),
            originalBytes: message.value.count, truncated: message.value.count > decoder.maxBytes)
        let event = CloudEvent(
            source: service.source, type: "registrar.deadletter", time: environment.clock.now(),
            data: try JSONValue(encoding: letter))
        writes.rows.append(
            MessageStore.OutboxRow(
                topic: environment.topics.deadLetter, key: message.key.map { String(decoding: $0, as: UTF8.self) },
                messageID: event.id, payload: event.encoded(),
                // The original may hold anything a client sent (a password, a card number): the
                // dead-letter topic keeps it, the outbox does not once it is sent.
                sensitive: true))
        return true
    }
}

extension IncomingEnvelope {
    init(specversion: String, id: String, source: String, type: String, correlationid: String?) {
        self.specversion = specversion
        self.id = id
        self.source = source
        self.type = type
        self.correlationid = correlationid
    }
}

extension MalformedMessage {
    /// A handler failed on a well-formed message.
    fileprivate static func handlerError(_ envelope: IncomingEnvelope) -> MalformedMessage {
        MalformedMessage(
            code: .internalError, reason: "handler_error", messageID: envelope.id, correlationID: envelope.correlationid
        )
    }
}

extension Reply {
    /// The answer to a command whose handler failed.
    fileprivate static let handlerError = Reply.rejected(.internalError, "the service could not process this command")
}
