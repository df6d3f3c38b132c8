/// An error from the Kafka client, carrying librdkafka's error code.
///
/// `description` is safe to log: it never contains message payloads.
public struct KafkaError: Error, CustomStringConvertible, Sendable, Equatable {
    /// librdkafka's `rd_kafka_resp_err_t` value (negative: client-side, positive: broker); match it
    /// against the `Code` constants.
    public var code: Code
    /// librdkafka's symbolic name of the code, e.g. `_MSG_TIMED_OUT`, `UNKNOWN_TOPIC_OR_PART`.
    public var name: String
    /// What went wrong, in words.
    public var reason: String
    /// True when retrying the same operation later may succeed.
    public var isRetriable: Bool
    /// True when the client instance is unusable and must be recreated.
    public var isFatal: Bool
    /// Where the error was raised.
    public var file: String
    /// Where the error was raised.
    public var line: Int

    /// Creates an error.
    public init(
        code: Code, name: String, reason: String, isRetriable: Bool = false, isFatal: Bool = false,
        file: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.name = name
        self.reason = reason
        self.isRetriable = isRetriable
        self.isFatal = isFatal
        self.file = file
        self.line = line
    }

    /// A configuration or usage error raised by the wrapper itself.
    public static func invalid(_ reason: String, file: String = #fileID, line: Int = #line) -> KafkaError {
        KafkaError(code: .invalidArgument, name: "_INVALID_ARG", reason: reason, file: file, line: line)
    }

    /// Logged form: name, code and reason.
    public var description: String { "KafkaError(\(name) [\(code.rawValue)]: \(reason))" }

    public static func == (lhs: KafkaError, rhs: KafkaError) -> Bool {
        lhs.code == rhs.code && lhs.reason == rhs.reason
    }
}

extension KafkaError {
    /// A librdkafka response code, matchable without importing the C module (the values are
    /// librdkafka's `rd_kafka_resp_err_t`; a unit test checks each against the C header).
    public struct Code: RawRepresentable, Hashable, Sendable {
        /// The C value.
        public let rawValue: Int32
        /// Wraps a C value.
        public init(rawValue: Int32) { self.rawValue = rawValue }

        /// `_TRANSPORT`: the broker connection failed.
        public static let transport = Code(rawValue: -195)
        /// `_MSG_TIMED_OUT`: a produced message was not acknowledged within `message.timeout.ms`.
        public static let messageTimedOut = Code(rawValue: -192)
        /// `_PARTITION_EOF`: the consumer reached the end of a partition.
        public static let partitionEOF = Code(rawValue: -191)
        /// `_ALL_BROKERS_DOWN`: no broker is reachable.
        public static let allBrokersDown = Code(rawValue: -187)
        /// `_INVALID_ARG`: a configuration or usage error.
        public static let invalidArgument = Code(rawValue: -186)
        /// `_TIMED_OUT`: a client-side operation timed out.
        public static let timedOut = Code(rawValue: -185)
        /// `_QUEUE_FULL`: the producer queue is full.
        public static let queueFull = Code(rawValue: -184)
        /// `_UNSUPPORTED_FEATURE`: the broker does not offer the request (e.g. Tansu and AlterConfigs).
        public static let unsupportedFeature = Code(rawValue: -165)
        /// `_NO_OFFSET`: no offset to commit.
        public static let noOffset = Code(rawValue: -168)
        /// `_FATAL`: the client instance is unusable.
        public static let fatal = Code(rawValue: -150)
        /// `UNKNOWN_TOPIC_OR_PART`: the broker does not know the topic or partition.
        public static let unknownTopicOrPartition = Code(rawValue: 3)
        /// `LEADER_NOT_AVAILABLE`: a leader election is under way.
        public static let leaderNotAvailable = Code(rawValue: 5)
        /// `NOT_LEADER_FOR_PARTITION`: the partition moved.
        public static let notLeaderForPartition = Code(rawValue: 6)
        /// `REQUEST_TIMED_OUT`: the broker timed out.
        public static let requestTimedOut = Code(rawValue: 7)
        /// `NOT_ENOUGH_REPLICAS`: too few in-sync replicas.
        public static let notEnoughReplicas = Code(rawValue: 19)
        /// `TOPIC_ALREADY_EXISTS`: topic creation found the topic.
        public static let topicAlreadyExists = Code(rawValue: 36)
    }
}
