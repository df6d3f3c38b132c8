import Contract
import Foundation
import Kafka
import Logging
import Synchronization

/// A client of Registrar's topics, as any client team would write one: it sends CloudEvents
/// commands and reads `registrar.replies` (and other topics) from the beginning, matching replies
/// by `inreplyto`. Used by the `registrar` CLI and the integration tests.
public final class RegistrarClient: Sendable {
    /// A command not answered in time.
    public struct Timeout: Error, CustomStringConvertible {
        /// The command id.
        public var commandID: String
        /// Logged form.
        public var description: String { "no reply to \(commandID) in time" }
    }

    private let producer: KafkaProducer
    private let replies: KafkaConsumer
    private let received = Mutex<[String: CloudEvent]>([:])
    private let configuration: KafkaConfiguration
    private let followed = Mutex<[String: KafkaConsumer]>([:])
    private let events = Mutex<[String: [CloudEvent]]>([:])
    /// Topic names.
    public let topics: Topics

    /// Connects to the brokers of `configuration`.
    public init(configuration: KafkaConfiguration, topics: Topics, logger: Logger) throws(KafkaError) {
        self.topics = topics
        self.configuration = configuration
        producer = try KafkaProducer(configuration: configuration, logger: logger)
        replies = try KafkaConsumer(
            configuration: configuration, readingFromBeginning: [topics.replies], logger: logger)
    }

    /// A command envelope with a fresh id.
    public static func command(
        type: String, data: JSONValue, id: String = UUID().uuidString.lowercased(), sessionToken: String? = nil,
        operatorToken: String? = nil, correlationID: String? = nil
    ) -> [String: JSONValue] {
        var envelope: [String: JSONValue] = [
            "specversion": .string("1.0"), "id": .string(id), "source": .string("/clients/registrar-cli"),
            "type": .string(type), "time": .string(CloudEvent.timestamp(Date())),
            "datacontenttype": .string("application/json"), "schemaversion": .int(1), "data": data,
        ]
        if let sessionToken { envelope["sessiontoken"] = .string(sessionToken) }
        if let operatorToken { envelope["operatortoken"] = .string(operatorToken) }
        if let correlationID { envelope["correlationid"] = .string(correlationID) }
        return envelope
    }

    /// Sends raw bytes to a topic (base name), keyed by `key`.
    public func sendRaw(_ bytes: [UInt8], topic: String, key: String?) async throws(KafkaError) {
        try await producer.send(
            KafkaOutgoingMessage(
                topic: topics.name(topic), key: key.map { Array($0.utf8) }, value: bytes,
                headers: [KafkaHeader(name: "content-type", string: cloudEventsContentType)]))
    }

    /// Sends `envelope` to `topic` (base name) and waits for its reply.
    public func request(_ envelope: [String: JSONValue], topic: String, timeout: Duration = .seconds(30)) async throws
        -> CloudEvent
    {
        let id = envelope["id"]?.stringValue ?? ""
        let data = envelope["data"]
        let key = data?["accountId"]?.stringValue ?? data?["registrationId"]?.stringValue ?? data?["phone"]?.stringValue
        try await sendRaw(Array(try JSONEncoder().encode(JSONValue.object(envelope))), topic: topic, key: key)
        return try await reply(to: id, timeout: timeout)
    }

    /// Waits for the reply to command `id`.
    public func reply(to id: String, timeout: Duration = .seconds(30)) async throws -> CloudEvent {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let reply = received.withLock({ $0[id] }) { return reply }
            let events = try await replies.poll(maxMessages: Self.batch, timeout: .milliseconds(50)).compactMap {
                try? JSONDecoder().decode(CloudEvent.self, from: Data($0.value))
            }
            received.withLock { received in
                for event in events {
                    if let target = event.inreplyto { received[target] = received[target] ?? event }
                }
            }
        }
        throw Timeout(commandID: id)
    }

    /// The first event on `topic` (base name) matching `predicate`, from a reader kept open per topic
    /// (so repeated waits do not re-read the topic).
    public func event(
        on topic: String, timeout: Duration = .seconds(20), where predicate: @Sendable (CloudEvent) -> Bool
    ) async throws -> CloudEvent {
        let reader = try followed.withLock { readers -> KafkaConsumer in
            if let reader = readers[topic] { return reader }
            let reader = try KafkaConsumer(
                configuration: configuration, readingFromBeginning: [topics.name(topic)],
                logger: Logger(label: "reader"))
            readers[topic] = reader
            return reader
        }
        let deadline = ContinuousClock.now + timeout
        while true {
            if let found = events.withLock({ $0[topic, default: []].first(where: predicate) }) { return found }
            guard ContinuousClock.now < deadline else { throw Timeout(commandID: "event on \(topic)") }
            let read = try await reader.poll(maxMessages: Self.batch, timeout: .milliseconds(50)).compactMap {
                try? JSONDecoder().decode(CloudEvent.self, from: Data($0.value))
            }
            if !read.isEmpty { events.withLock { $0[topic, default: []].append(contentsOf: read) } }
        }
    }

    /// Events seen so far on followed topics (see `event(on:where:)`), in arrival order.
    public func seenEvents(on topic: String) -> [CloudEvent] {
        events.withLock { $0[topic, default: []] }
    }

    /// Reads `topic` (base name) from the beginning until `done` holds for what was read (or the
    /// timeout passes) and returns the decoded events, with their Kafka coordinates.
    public func read(
        topic: String, timeout: Duration = .seconds(20), until done: ([ReadEvent]) -> Bool
    ) async throws -> [ReadEvent] {
        let reader = try KafkaConsumer(
            configuration: configuration, readingFromBeginning: [topics.name(topic)], logger: Logger(label: "reader"))
        var found: [ReadEvent] = []
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline && !done(found) {
            for message in try await reader.poll(maxMessages: Self.batch, timeout: .milliseconds(50)) {
                let event = try? JSONDecoder().decode(CloudEvent.self, from: Data(message.value))
                found.append(ReadEvent(message: message, event: event))
            }
        }
        await reader.close()
        return found
    }

    /// Messages taken per poll: whatever is already fetched, up to this many, in one hop.
    static let batch = 500

    /// A message read from a topic and, when it is one, its CloudEvent.
    public struct ReadEvent: Sendable {
        /// The Kafka message.
        public var message: KafkaMessage
        /// The decoded event, `nil` when the bytes are not a CloudEvent.
        public var event: CloudEvent?
    }
}
