import Contract
import Foundation
import Kafka
import Postgres
import TestSupport
import Testing

@testable import Messaging

@Suite(.enabled(if: TestStack.enabled))
struct OutboxRelayTests {
    /// A schema holding an outbox like a service's, and a topic for it.
    func fixture() async throws -> (schema: String, topic: String) {
        let schema = "relay_\(UUID().uuidString.prefix(8).lowercased())"
        let topic = TestStack.unique("relay")
        try await TestStack.createTopics([topic])
        try await PostgresConnection(configuration: TestStack.postgres()).run { session in
            try session.executeScript(
                """
                CREATE SCHEMA \(schema);
                CREATE TABLE \(schema).outbox (seq bigserial PRIMARY KEY, message_id text NOT NULL, topic text NOT NULL,
                  key text, payload text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), sent_at timestamptz,
                  sensitive boolean NOT NULL DEFAULT false, account_id uuid);
                """)
        }
        return (schema, topic)
    }

    func relay(_ schema: String, connection: PostgresConnection? = nil) throws -> OutboxRelay {
        OutboxRelay(
            connection: connection ?? PostgresConnection(configuration: TestStack.postgres(searchPath: [schema])),
            producer: try KafkaProducer(configuration: TestStack.kafka, logger: TestStack.logger), doorbell: Doorbell(),
            schema: schema, batchSize: 3, idlePoll: .seconds(1), logger: TestStack.logger)
    }

    func published(_ topic: String, atLeast count: Int) async throws -> [String] {
        let reader = try KafkaConsumer(
            configuration: TestStack.kafka, readingFromBeginning: [topic], logger: TestStack.logger)
        var values: [String] = []
        // Read until `count` arrived, then a little longer to catch duplicates.
        var deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if let message = try await reader.poll() { values.append(String(decoding: message.value, as: UTF8.self)) }
            if values.count >= count && deadline - ContinuousClock.now > .seconds(1) { deadline = .now + .seconds(1) }
        }
        await reader.close()
        return values
    }

    @Test func rowsCommittedBeforeACrashArePublishedOnceInOrderAfterRestart() async throws {
        let (schema, topic) = try await fixture()
        let pool = PostgresPool(configuration: TestStack.postgres(searchPath: [schema]))
        // The effect and its outbox rows committed; the process died before its relay ran.
        try await pool.transaction { session in
            for i in 0..<7 {
                try MessageStore.enqueue(
                    session,
                    [
                        MessageStore.OutboxRow(
                            topic: topic, key: "k", messageID: "m\(i)", payload: Array("event-\(i)".utf8))
                    ])
            }
        }
        // A new process's relay starts and drains (in batches of 3).
        try await relay(schema).drain()
        try await relay(schema).drain()  // and again: nothing is sent twice
        #expect(try await published(topic, atLeast: 7) == (0..<7).map { "event-\($0)" })
        #expect(
            try await pool.query("SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL").first?.decode(
                "n", as: Int.self) == 0)
        try await pool.query(PostgresQuery(trusted: "DROP SCHEMA \(schema) CASCADE"))
    }

    @Test func onlyOneRelayPublishesASchemasOutbox() async throws {
        let (schema, topic) = try await fixture()
        let pool = PostgresPool(configuration: TestStack.postgres(searchPath: [schema]))
        try await pool.transaction { session in
            try MessageStore.enqueue(
                session, [MessageStore.OutboxRow(topic: topic, key: nil, messageID: "m", payload: Array("only".utf8))])
        }
        // Another replica holds the relay lock: this relay must not publish.
        let leader = PostgresConnection(configuration: TestStack.postgres(searchPath: [schema]))
        #expect(
            try await leader.run {
                try $0.query("SELECT pg_try_advisory_lock(hashtext('relay:' || \(schema))) AS locked").first?.decode(
                    "locked", as: Bool.self) ?? false
            })
        try await relay(schema).drain()
        #expect(
            try await pool.query("SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL").first?.decode(
                "n", as: Int.self) == 1)
        // The leader publishes it.
        try await relay(schema, connection: leader).drain()
        #expect(try await published(topic, atLeast: 1) == ["only"])
        try await pool.query(PostgresQuery(trusted: "DROP SCHEMA \(schema) CASCADE"))
    }
}
