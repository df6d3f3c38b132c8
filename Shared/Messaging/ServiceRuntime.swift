import Contract
import Kafka
import Logging
import Platform
import Postgres
import ServiceLifecycle

/// The release of the services, reported by `system.ping`.
public let registrarVersion = "0.1.0"

/// Starts a service process: configuration from the environment, policy, database pool, producer,
/// outbox relay, the command loop with the built-in `system.ping`, the runtime's pruner, and graceful
/// shutdown on SIGTERM (stop taking messages, finish the batch in flight, commit offsets, publish the
/// outbox, exit 0).
public enum ServiceRuntime {
    /// Runs `service` on `clock` until SIGTERM or SIGINT. `configure` registers the service's
    /// handlers and returns its periodic tasks (sweeps, expiries).
    public static func run(
        _ service: RegistrarService, clock: any RegistrarClock,
        configure: (inout Router, HandlerEnvironment, PostgresPool) throws -> [PeriodicTask] = { _, _, _ in [] }
    ) async throws {
        let configuration = RegistrarConfiguration()
        let logger = RegistrarLogging.bootstrap(label: service.processName, level: configuration.logLevel)
        let policy = try Policy.load(path: configuration.policyPath)
        let topics = Topics(prefix: configuration.topicPrefix)
        let environment = HandlerEnvironment(
            policy: policy, clock: clock, logger: logger, topics: topics, service: service,
            hashKey: configuration.hashKey, piiKey: configuration.piiKey)
        let postgres = PostgresConfiguration(
            url: configuration.databaseURL, searchPath: [service.schema], applicationName: service.processName,
            poolSize: configuration.databasePoolSize)
        let kafka = KafkaConfiguration(
            brokers: configuration.kafkaBrokers, clientID: service.processName,
            fetchWaitMaxMs: configuration.fetchWaitMaxMs, sessionTimeoutMs: configuration.sessionTimeoutMs,
            maxPollIntervalMs: configuration.maxPollIntervalMs)

        let pool = PostgresPool(configuration: postgres)
        let decoder = MessageDecoder(maxBytes: policy.runtime.maxMessageBytes, maxDepth: policy.runtime.maxJSONDepth)
        var router = Router(decoder: decoder)
        router.command("system.ping", EmptyPayload.self) { _, _, _ in
            try Reply.ok(["service": service.rawValue, "version": registrarVersion])
        }
        let tasks = try configure(&router, environment, pool)

        let doorbell = Doorbell()
        let producer = try KafkaProducer(configuration: kafka, logger: logger)
        let consumer = try KafkaConsumer(
            configuration: kafka, groupID: topics.name(service.processName),
            topics: [topics.commands(service)] + router.eventTopics.sorted().map(topics.name), logger: logger)
        let relay = OutboxRelay(
            connection: PostgresConnection(configuration: postgres), producer: producer, doorbell: doorbell,
            schema: service.schema, batchSize: policy.runtime.relayBatchSize,
            idlePoll: policy.runtime.relayIdlePoll.duration, clock: clock, logger: logger)
        let pruner = RuntimePruner(
            pool: pool, clock: clock, policy: policy.runtime, commandTopics: [topics.commands(service)],
            eventTopics: router.eventTopics.sorted().map(topics.name), logger: logger)
        let processor = MessageProcessor(
            router: router, decoder: decoder, pool: pool, consumer: consumer, doorbell: doorbell,
            environment: environment)

        logger.info(
            "starting",
            metadata: [
                "service": "\(service.rawValue)", "version": "\(registrarVersion)",
                "kafka.brokers": "\(configuration.kafkaBrokers)", "topic.prefix": "\(configuration.topicPrefix)",
            ])
        for shortfall in policy.retentionShortfalls {
            // A test policy may shorten windows on purpose; in production this is a mistake.
            logger.warning("retention window shorter than the redelivery horizon", metadata: ["policy": "\(shortfall)"])
        }
        // Graceful shutdown runs in reverse order: the pruner and schedulers, then the command loop,
        // then the relay (which publishes whatever the others left in the outbox).
        let group = ServiceGroup(
            services: [relay, processor]
                + tasks.map { PeriodicService(task: $0, pool: pool, doorbell: doorbell, environment: environment) }
                + [pruner],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
        logger.info("stopped")
    }
}
