import Dispatch
import Logging

/// A topic to create: name, partitions, replication and its topic-level configuration
/// (`retention.ms`, `segment.ms`, …), which the broker validates.
public struct KafkaTopicSpecification: Sendable, Equatable {
    /// The topic's name.
    public var name: String
    /// Number of partitions.
    public var partitions: Int32
    /// Replication factor.
    public var replication: Int32
    /// Topic-level configuration.
    public var config: [String: String]

    /// Creates a specification.
    public init(name: String, partitions: Int32, replication: Int32, config: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.replication = replication
        self.config = config
    }
}

/// One entry of a topic's configuration, as the broker describes it.
public struct KafkaConfigEntry: Sendable, Equatable {
    /// The key, e.g. `retention.ms`.
    public var name: String
    /// The value (`nil` for sensitive entries).
    public var value: String?
    /// Whether the value is the broker's default.
    public var isDefault: Bool
    /// Whether the value was set for this topic (a dynamic topic config).
    public var isTopicOverride: Bool
}

/// Administrative operations (the broker may not create topics on its own).
public enum KafkaAdmin {
    /// Creates `topics`; existing ones are left as they are.
    public static func createTopics(
        _ topics: [String], partitions: Int32, replication: Int32, configuration: KafkaConfiguration, logger: Logger
    ) async throws(KafkaError) {
        _ = try await createTopics(
            topics.map { KafkaTopicSpecification(name: $0, partitions: partitions, replication: replication) },
            configuration: configuration, logger: logger)
    }

    /// Creates the topics with their configuration; returns the names of those that existed already
    /// (left as they are).
    public static func createTopics(
        _ specifications: [KafkaTopicSpecification], configuration: KafkaConfiguration, logger: Logger
    ) async throws(KafkaError) -> [String] {
        let handle = try RDKafkaHandle(kind: .producer, properties: configuration.producerProperties, logger: logger)
        return try await onQueue(DispatchQueue(label: "registrar.kafka.admin")) { () throws(KafkaError) -> [String] in
            try handle.createTopics(specifications, timeoutMs: 15_000)
        }
    }

    /// The configuration of `topic` (every key the broker reports, defaults included).
    public static func topicConfig(_ topic: String, configuration: KafkaConfiguration, logger: Logger)
        async throws(KafkaError) -> [KafkaConfigEntry]
    {
        let handle = try RDKafkaHandle(kind: .producer, properties: configuration.producerProperties, logger: logger)
        return try await onQueue(DispatchQueue(label: "registrar.kafka.admin")) {
            () throws(KafkaError) -> [KafkaConfigEntry] in
            try handle.describeTopicConfig(topic, timeoutMs: 10_000)
        }
    }

    /// What `updateTopicConfig` did.
    public enum TopicConfigUpdate: Sendable, Equatable {
        /// The topic had these values already.
        case unchanged
        /// The values were set.
        case updated
        /// The broker cannot alter topic configuration (Tansu has no AlterConfigs).
        case notSupported
    }

    /// Sets `config` on an existing topic, keeping the other keys set for it: its topic-level
    /// overrides are read first, because the request (AlterConfigs, the one librdkafka 2.0 offers)
    /// replaces them all.
    public static func updateTopicConfig(
        _ topic: String, _ config: [String: String], configuration: KafkaConfiguration, logger: Logger
    ) async throws(KafkaError) -> TopicConfigUpdate {
        let handle = try RDKafkaHandle(kind: .producer, properties: configuration.producerProperties, logger: logger)
        return try await onQueue(DispatchQueue(label: "registrar.kafka.admin")) {
            () throws(KafkaError) -> TopicConfigUpdate in
            let current = try handle.describeTopicConfig(topic, timeoutMs: 10_000)
            if config.allSatisfy({ key, value in current.contains { $0.name == key && $0.value == value } }) {
                return .unchanged
            }
            var merged: [String: String] = [:]
            for entry in current where entry.isTopicOverride { merged[entry.name] = entry.value }
            merged.merge(config) { $1 }
            do throws(KafkaError) {
                try handle.replaceTopicConfig(topic, merged, timeoutMs: 10_000)
            } catch {
                if error.code == .unsupportedFeature { return .notSupported }
                throw error
            }
            return .updated
        }
    }

    /// The number of partitions of `topic`.
    public static func partitionCount(_ topic: String, configuration: KafkaConfiguration, logger: Logger)
        async throws(KafkaError) -> Int32
    {
        let handle = try RDKafkaHandle(kind: .producer, properties: configuration.producerProperties, logger: logger)
        return try await onQueue(DispatchQueue(label: "registrar.kafka.admin")) { () throws(KafkaError) -> Int32 in
            try handle.partitionCount(topic, timeoutMs: 10_000)
        }
    }
}
