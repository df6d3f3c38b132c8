import Dispatch
import Logging

/// Administrative operations (the broker may not create topics on its own).
public enum KafkaAdmin {
    /// Creates `topics`; existing ones are left as they are.
    public static func createTopics(
        _ topics: [String], partitions: Int32, replication: Int32, configuration: KafkaConfiguration, logger: Logger
    ) async throws(KafkaError) {
        let handle = try RDKafkaHandle(kind: .producer, properties: configuration.producerProperties, logger: logger)
        try await onQueue(DispatchQueue(label: "registrar.kafka.admin")) { () throws(KafkaError) in
            try handle.createTopics(topics, partitions: partitions, replication: replication, timeoutMs: 15_000)
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
