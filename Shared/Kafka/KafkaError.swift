/// An error from the Kafka client, carrying librdkafka's error code.
///
/// `description` is safe to log: it never contains message payloads.
public struct KafkaError: Error, CustomStringConvertible, Sendable, Equatable {
    /// librdkafka's `rd_kafka_resp_err_t` value (negative: client-side, positive: broker).
    public var code: Int32
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
        code: Int32, name: String, reason: String, isRetriable: Bool = false, isFatal: Bool = false,
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
        KafkaError(code: -186, name: "_INVALID_ARG", reason: reason, file: file, line: line)
    }

    /// Logged form: name, code and reason.
    public var description: String { "KafkaError(\(name) [\(code)]: \(reason))" }

    public static func == (lhs: KafkaError, rhs: KafkaError) -> Bool {
        lhs.code == rhs.code && lhs.reason == rhs.reason
    }
}
