import CRdKafka

/// The one owner of an `rd_kafka_topic_partition_list_t`.
final class RDKafkaTopicPartitionList {
    private let pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

    init(capacity: Int = 1) {
        pointer = rd_kafka_topic_partition_list_new(Int32(capacity))
    }

    deinit {
        rd_kafka_topic_partition_list_destroy(pointer)
    }

    /// Adds `topic`/`partition` at `offset`.
    func add(topic: String, partition: Int32, offset: Int64) {
        let element = rd_kafka_topic_partition_list_add(pointer, topic, partition)
        element?.pointee.offset = offset
    }

    /// Scoped access to the raw list.
    func withList<T, E: Error>(
        _ body: (UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) throws(E) -> T
    ) throws(E) -> T {
        try body(pointer)
    }

    /// `topic[partition]` names of a list librdkafka owns, for logs.
    static func describe(_ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> String {
        (0..<Int(list.pointee.cnt)).map { i in
            let element = list.pointee.elems[i]
            return "\(String(cString: element.topic))[\(element.partition)]"
        }.joined(separator: ",")
    }
}
