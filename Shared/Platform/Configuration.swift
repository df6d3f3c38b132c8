import Foundation
import Logging

/// What a Registrar process reads from its environment. Read once in `main`, then passed down.
public struct RegistrarConfiguration: Sendable {
    /// `REGISTRAR_KAFKA_BROKERS`. Default: `127.0.0.1:19092`.
    public var kafkaBrokers: String
    /// `REGISTRAR_DATABASE_URL`. Default: `postgresql://registrar@127.0.0.1:55432/registrar`.
    public var databaseURL: String
    /// `REGISTRAR_TOPIC_PREFIX`, prepended to every topic and group id. Default: empty.
    public var topicPrefix: String
    /// `REGISTRAR_POLICY`: path of the policy file; unset means the contract's defaults.
    public var policyPath: String?
    /// `REGISTRAR_KAFKA_FETCH_WAIT_MS`. Default: 500 (the local stack sets 10 for Tansu).
    public var fetchWaitMaxMs: Int
    /// `REGISTRAR_KAFKA_SESSION_TIMEOUT_MS`. Default: 45000 (tests use 6000).
    public var sessionTimeoutMs: Int
    /// `REGISTRAR_KAFKA_MAX_POLL_INTERVAL_MS`. Default: 600000 (the local stack and tests use 20000).
    public var maxPollIntervalMs: Int
    /// `REGISTRAR_TOPIC_PARTITIONS`, used when creating topics. Default: 3.
    public var topicPartitions: Int
    /// `REGISTRAR_TOPIC_REPLICATION`, used when creating topics. Default: 1.
    public var topicReplication: Int
    /// `REGISTRAR_MIGRATIONS`: folder of migration files. Default: `deploy/migrations`.
    public var migrationsPath: String
    /// `REGISTRAR_LOG_LEVEL`. Default: `info`.
    public var logLevel: Logger.Level
    /// `REGISTRAR_DB_POOL_SIZE`: connections per service. Default: 4.
    public var databasePoolSize: Int
    /// `REGISTRAR_HASH_KEY` (64 hex characters): the key of keyed hashes (SMS codes, security
    /// answers, look-up hashes, risk draws). No default: services that need it refuse to start.
    public var hashKey: [UInt8]?
    /// `REGISTRAR_PII_KEY` (64 hex characters): the key that encrypts ID and card numbers at rest.
    public var piiKey: [UInt8]?

    /// Reads the configuration from `environment`.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        func int(_ key: String, _ fallback: Int) -> Int { environment[key].flatMap { Int($0) } ?? fallback }
        kafkaBrokers = environment["REGISTRAR_KAFKA_BROKERS"] ?? "127.0.0.1:19092"
        databaseURL = environment["REGISTRAR_DATABASE_URL"] ?? "postgresql://registrar@127.0.0.1:55432/registrar"
        topicPrefix = environment["REGISTRAR_TOPIC_PREFIX"] ?? ""
        policyPath = environment["REGISTRAR_POLICY"].flatMap { $0.isEmpty ? nil : $0 }
        fetchWaitMaxMs = int("REGISTRAR_KAFKA_FETCH_WAIT_MS", 500)
        sessionTimeoutMs = int("REGISTRAR_KAFKA_SESSION_TIMEOUT_MS", 45_000)
        maxPollIntervalMs = int("REGISTRAR_KAFKA_MAX_POLL_INTERVAL_MS", 600_000)
        topicPartitions = int("REGISTRAR_TOPIC_PARTITIONS", 3)
        topicReplication = int("REGISTRAR_TOPIC_REPLICATION", 1)
        migrationsPath = environment["REGISTRAR_MIGRATIONS"] ?? "deploy/migrations"
        logLevel = environment["REGISTRAR_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .info
        databasePoolSize = int("REGISTRAR_DB_POOL_SIZE", 4)
        hashKey = environment["REGISTRAR_HASH_KEY"].flatMap(Self.key)
        piiKey = environment["REGISTRAR_PII_KEY"].flatMap(Self.key)
    }

    /// 32 bytes from 64 hex characters, else `nil`.
    static func key(_ hex: String) -> [UInt8]? {
        guard let bytes = [UInt8](hex: hex), bytes.count == 32 else { return nil }
        return bytes
    }
}

/// Process-wide logging set-up: one line per message on standard error, at the configured level.
public enum RegistrarLogging {
    /// Bootstraps swift-log once per process and returns a logger labelled `label`.
    public static func bootstrap(label: String, level: Logger.Level) -> Logger {
        LoggingSystem.bootstrap { name in
            var handler = StreamLogHandler.standardError(label: name)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}
