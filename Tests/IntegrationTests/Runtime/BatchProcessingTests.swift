import Contract
import Foundation
import Kafka
import Platform
import Postgres
import TestSupport
import Testing

@testable import Messaging

/// `MessageProcessor` on a batch, against the real broker and database: one transaction for the
/// batch, and every way a message can fail undoing only that message (decisions: "Batches").
@Suite(.enabled(if: TestStack.enabled))
struct BatchProcessingTests {
    struct Note: Codable, Sendable {
        var name: String
    }

    struct HandlerBug: Error {}

    /// A schema with the runtime's tables and a `notes` table the test handlers write.
    func fixture() async throws -> (schema: String, pool: PostgresPool) {
        let schema = "batch_\(UUID().uuidString.prefix(8).lowercased())"
        try await PostgresConnection(configuration: TestStack.postgres()).run { session in
            try session.executeScript(
                """
                CREATE SCHEMA \(schema);
                CREATE TABLE \(schema).inbox (LIKE permissions.inbox INCLUDING ALL);
                CREATE TABLE \(schema).outbox (LIKE permissions.outbox INCLUDING ALL);
                CREATE TABLE \(schema).dead_letters (LIKE permissions.dead_letters INCLUDING ALL);
                CREATE TABLE \(schema).notes (name text PRIMARY KEY);
                """)
        }
        return (schema, PostgresPool(configuration: TestStack.postgres(searchPath: [schema])))
    }

    static func write(_ session: borrowing PostgresSession, _ name: String) throws {
        try session.query("INSERT INTO notes (name) VALUES (\(name))")
    }

    /// Handlers that write a note and then answer, fail, or refuse.
    func router(_ decoder: MessageDecoder) -> Router {
        var router = Router(decoder: decoder)
        router.command("note.write", Note.self) { session, command, _ in
            try Self.write(session, command.data.name)
            return try .ok(["name": command.data.name])
        }
        router.command("note.fail", Note.self) { session, command, _ in
            try Self.write(session, command.data.name)
            throw HandlerBug()
        }
        router.command("note.refuse", Note.self) { session, command, _ in
            try Self.write(session, command.data.name)
            throw Refusal(.rejected(.forbidden, "not this one"))
        }
        return router
    }

    func command(_ id: String, _ type: String, _ data: String) -> [UInt8] {
        Array(#"{"specversion":"1.0","id":"\#(id)","source":"/test","type":"\#(type)","data":\#(data)}"#.utf8)
    }

    @Test func aBatchCommitsInOneTransactionAndEachMessageFailsAlone() async throws {
        let (schema, pool) = try await fixture()
        let topics = Topics(prefix: TestStack.unique("batch") + ".")
        let commands = topics.commands(.permissions)
        try await TestStack.createTopics([commands])
        let run = UUID().uuidString.prefix(8)
        let messages: [(id: String, value: [UInt8])] = [
            ("\(run)-a", command("\(run)-a", "note.write", #"{"name":"a"}"#)),
            ("\(run)-b", command("\(run)-b", "note.fail", #"{"name":"b"}"#)),
            ("\(run)-c", command("\(run)-c", "note.write", #"{"name":"c"}"#)),
            ("\(run)-d", command("\(run)-d", "note.refuse", #"{"name":"d"}"#)),
            ("\(run)-e", command("\(run)-e", "note.write", #"{"nom":"e"}"#)),
            ("-", Array("not json".utf8)),
            ("\(run)-f", command("\(run)-f", "note.write", #"{"name":"f"}"#)),
        ]
        let producer = try KafkaProducer(configuration: TestStack.kafka, logger: TestStack.logger)
        let errors = await producer.send(
            messages.map { KafkaOutgoingMessage(topic: commands, key: Array($0.id.utf8), value: $0.value) })
        #expect(errors.allSatisfy { $0 == nil })

        // The consumer's fetched messages, taken as one batch.
        let consumer = try KafkaConsumer(
            configuration: TestStack.kafka, groupID: TestStack.unique("batch-group"), topics: [commands],
            logger: TestStack.logger)
        var batch: [KafkaMessage] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while batch.count < messages.count && ContinuousClock.now < deadline {
            batch += try await consumer.poll(maxMessages: 50)
        }
        try #require(batch.count == messages.count)

        let policy = Policy()
        let decoder = MessageDecoder(maxBytes: policy.runtime.maxMessageBytes, maxDepth: policy.runtime.maxJSONDepth)
        let environment = HandlerEnvironment(
            policy: policy, clock: SystemClock(), logger: TestStack.logger, topics: topics, service: .permissions)
        let processor = MessageProcessor(
            router: router(decoder), decoder: decoder, pool: pool, consumer: consumer, doorbell: Doorbell(),
            environment: environment)
        #expect(await processor.process(batch))

        // Only the notes of the answered writes; the failing, refused and malformed ones undone.
        func notes() async throws -> [String] {
            try await pool.query("SELECT name FROM notes ORDER BY name").map { try $0.decode("name") }
        }
        #expect(try await notes() == ["a", "c", "f"])
        // Every command with an id claimed, all in one transaction (one `now()`).
        let inbox = try await pool.query("SELECT message_id, received_at::text AS at FROM inbox ORDER BY message_id")
        #expect(
            try inbox.map { try $0.decode("message_id", as: String.self) }
                == ["a", "b", "c", "d", "e", "f"].map { "\(run)-\($0)" })
        #expect(Set(try inbox.map { try $0.decode("at", as: String.self) }).count == 1)
        // Replies in the order of the batch, each with its own outcome.
        func replies() async throws -> [(id: String, code: String)] {
            try await pool.query(
                "SELECT payload FROM outbox WHERE topic = \(topics.replies) ORDER BY seq"
            ).map { row in
                let event = try JSONDecoder().decode(
                    CloudEvent.self, from: Data(try row.decode("payload", as: String.self).utf8))
                return (event.inreplyto ?? "", event.data["code"]?.stringValue ?? "")
            }
        }
        let answered = try await replies()
        #expect(answered.map(\.id) == ["a", "b", "c", "d", "e", "f"].map { "\(run)-\($0)" })
        #expect(answered.map(\.code) == ["OK", "INTERNAL_ERROR", "OK", "FORBIDDEN", "MALFORMED", "OK"])
        // The handler error and the message that is not JSON are dead-lettered.
        let letters = try await pool.query("SELECT reason, message_id FROM dead_letters ORDER BY \"offset\"").map {
            "\(try $0.decode("reason", as: String.self)):\(try $0.decode("message_id", as: String?.self) ?? "-")"
        }
        #expect(letters == ["handler_error:\(run)-b", "missing_field:\(run)-e", "not_json:-"])

        // Redelivered after a crash before the offsets were committed: nothing changes, the
        // commands get their stored replies again.
        #expect(await processor.process(batch))
        #expect(try await notes() == ["a", "c", "f"])
        #expect(try await replies().count == 12)
        #expect(try await pool.query("SELECT count(*) AS n FROM dead_letters").first?.decode("n", as: Int.self) == 3)

        await consumer.close()
        try await pool.query(PostgresQuery(trusted: "DROP SCHEMA \(schema) CASCADE"))
    }
}
