import Dispatch
import Logging

/// An idempotent producer (`enable.idempotence=true`, `acks=all`) whose sends complete with the
/// broker's delivery report.
public final class KafkaProducer: Sendable {
    private let handle: RDKafkaHandle
    private let queue: DispatchQueue

    /// Creates a producer; nothing is sent until `send`.
    public init(configuration: KafkaConfiguration, logger: Logger) throws(KafkaError) {
        handle = try RDKafkaHandle(kind: .producer, properties: configuration.producerProperties, logger: logger)
        queue = DispatchQueue(label: "registrar.kafka.producer")
    }

    /// Sends `messages` in order and returns each one's delivery outcome (`nil` = persisted).
    ///
    /// A message whose report did not arrive within `timeout` reports `_MSG_TIMED_OUT`: it may
    /// still be written, so callers that retry must tolerate duplicates.
    public func send(_ messages: [KafkaOutgoingMessage], timeout: Duration = .seconds(30)) async -> [KafkaError?] {
        if messages.isEmpty { return [] }
        let handle = self.handle
        let ms = Int32(
            clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        return await onQueue(queue) { () -> [KafkaError?] in handle.produceAndFlush(messages, timeoutMs: ms) }
    }

    /// Sends one message; throws its delivery error.
    public func send(_ message: KafkaOutgoingMessage, timeout: Duration = .seconds(30)) async throws(KafkaError) {
        if let error = await send([message], timeout: timeout).first ?? nil { throw error }
    }
}
