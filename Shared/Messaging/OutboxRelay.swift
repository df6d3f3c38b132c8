import Kafka
import Logging
import Platform
import Postgres
import ServiceLifecycle

/// Publishes the service's outbox in order: reads unsent rows, sends them with the idempotent
/// producer, marks as sent only what the broker confirmed (a prefix, so order holds). A crash
/// between send and mark re-sends those rows; consumers' inboxes make that harmless.
final class OutboxRelay: Service {
    private let connection: PostgresConnection
    private let producer: KafkaProducer
    private let doorbell: Doorbell
    private let schema: String
    private let batchSize: Int
    private let idlePoll: Duration
    private let clock: any RegistrarClock
    private let logger: Logger

    init(
        connection: PostgresConnection, producer: KafkaProducer, doorbell: Doorbell, schema: String, batchSize: Int,
        idlePoll: Duration, clock: any RegistrarClock = SystemClock(), logger: Logger
    ) {
        self.clock = clock
        self.connection = connection
        self.producer = producer
        self.doorbell = doorbell
        self.schema = schema
        self.batchSize = batchSize
        self.idlePoll = idlePoll
        self.logger = logger
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            while !Task.isShuttingDownGracefully {
                await drainLogged()
                await doorbell.wait(timeout: idlePoll)
            }
        } onGracefulShutdown: {
            self.doorbell.ring()
        }
        // The command loop stopped before the relay (service order): publish what it left.
        await drainLogged()
        logger.info("relay stopped")
    }

    /// Errors are logged and retried at the next wake-up.
    private func drainLogged() async {
        do {
            try await drain()
        } catch {
            logger.warning("outbox relay failed, will retry", metadata: ["error": "\(error)"])
        }
    }

    /// Publishes until the outbox has no unsent rows.
    func drain() async throws {
        let schema = self.schema
        let limit = batchSize
        while true {
            let rows = try await connection.run { session in
                try MessageStore.unsent(session, schema: schema, limit: limit)
            }
            if rows.isEmpty { return }
            let messages = rows.map { row in
                KafkaOutgoingMessage(
                    topic: row.topic, key: row.key.map { Array($0.utf8) }, value: Array(row.payload.utf8),
                    headers: [KafkaHeader(name: "content-type", string: cloudEventsContentType)])
            }
            let results = await producer.send(messages)
            let delivered = results.prefix { $0 == nil }.count
            if delivered > 0 {
                FaultInjection.process.reached(.afterPublish)
                let seqs = rows.prefix(delivered).map(\.seq)
                // The service's clock, as the pruner's `sentOutboxRetention` is measured on it.
                let now = clock.now()
                try await connection.run { session in try MessageStore.markSent(session, seqs, at: now) }
            }
            if delivered < rows.count, let error = results[delivered] {
                throw error
            }
        }
    }
}
