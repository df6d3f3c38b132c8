/// A message read from a topic, copied out of librdkafka's buffers.
public struct KafkaMessage: Sendable {
    /// The topic the message was read from (with any prefix).
    public var topic: String
    /// The partition it was read from.
    public var partition: Int32
    /// Its offset in that partition.
    public var offset: Int64
    /// The key, if any.
    public var key: [UInt8]?
    /// The value (payload).
    public var value: [UInt8]
    /// Headers in the order they were sent.
    public var headers: [KafkaHeader]

    /// Creates a message value (used by tests and by the wrapper).
    public init(
        topic: String, partition: Int32, offset: Int64, key: [UInt8]?, value: [UInt8], headers: [KafkaHeader] = []
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
    }

    /// The last header of that name, if any.
    public func header(_ name: String) -> [UInt8]? {
        headers.last(where: { $0.name == name })?.value
    }
}

/// One Kafka record header.
public struct KafkaHeader: Sendable, Equatable {
    /// Header name.
    public var name: String
    /// Header value bytes.
    public var value: [UInt8]

    /// Creates a header.
    public init(name: String, value: [UInt8]) {
        self.name = name
        self.value = value
    }

    /// Creates a header with a UTF-8 string value.
    public init(name: String, string: String) {
        self.init(name: name, value: Array(string.utf8))
    }
}

/// A message to produce.
public struct KafkaOutgoingMessage: Sendable {
    /// Target topic (already prefixed).
    public var topic: String
    /// Partitioning key.
    public var key: [UInt8]?
    /// Payload.
    public var value: [UInt8]
    /// Headers.
    public var headers: [KafkaHeader]

    /// Creates an outgoing message.
    public init(topic: String, key: [UInt8]?, value: [UInt8], headers: [KafkaHeader] = []) {
        self.topic = topic
        self.key = key
        self.value = value
        self.headers = headers
    }
}
