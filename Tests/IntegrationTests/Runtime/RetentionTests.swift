import Contract
import Foundation
import Kafka
import Messaging
import Platform
import Postgres
import TestSupport
import Testing

/// Retention of runtime data (issue 17): the pruner every service runs, on a private identity
/// instance with short windows whose clock the test moves; and the topic configuration
/// `registrar topics create` asks the broker for.
@Suite(.enabled(if: TestStack.enabled))
struct RetentionTests {
    /// Windows in minutes instead of days; the pruner runs every 200 ms.
    static let policy = """
        {"runtime": {"commandInboxRetention": "10m", "eventInboxRetention": "20m", "sentOutboxRetention": "5m",
                     "deadLetterRetention": "30m", "pruneInterval": "200ms", "pruneBatchSize": 2}}
        """

    /// Every reply on the instance's replies topic to command `id`, once `count` arrived.
    static func replies(to id: String, count: Int, _ client: RegistrarClient) async throws -> [CloudEvent] {
        try await client.read(topic: "registrar.replies", timeout: .seconds(30)) { read in
            read.filter { $0.event?.inreplyto == id }.count >= count
        }.compactMap(\.event).filter { $0.inreplyto == id }
    }

    static func count(_ pool: PostgresPool, _ query: PostgresQuery) async throws -> Int {
        try await pool.query(query).first?.decode("n", as: Int.self) ?? -1
    }

    @Test func runtimeRowsGoAfterTheirWindowsAndAReSentCommandIsAnsweredOnlyInsideIt() async throws {
        try await ServiceProcess.run(.identity, policy: Self.policy) { instance, client in
            let pool = instance.pool()
            let identity = IdentityClient(client: client)
            let phone = IdentityClient.phone()
            let start = RegistrarClient.command(
                type: "registration.start",
                data: .object(["phone": .string(phone), "device": IdentityClient.device(), "ip": IdentityClient.ip()]))
            let startID = try #require(start["id"]?.stringValue)
            let ping = RegistrarClient.command(type: "system.ping", data: .emptyObject)
            let pingID = try #require(ping["id"]?.stringValue)
            func resend(_ envelope: [String: JSONValue]) async throws {
                try await client.sendRaw(
                    Array(try JSONEncoder().encode(JSONValue.object(envelope))), topic: "identity.commands", key: nil)
            }
            func inboxRows(_ id: String) async throws -> Int {
                try await Self.count(pool, "SELECT count(*)::int AS n FROM inbox WHERE message_id = \(id)")
            }
            let registrations = {
                try await Self.count(pool, "SELECT count(*)::int AS n FROM registrations WHERE phone = \(phone)")
            }

            // t0: a registration starts (an effect: a flow and an SMS), a ping is answered, and a
            // command without its data is dead-lettered.
            let first = IdentityClient.Answer(event: try await client.request(start, topic: "identity.commands"))
            #expect(first.code == "OK", "\(first.event.data)")
            _ = try await client.request(ping, topic: "identity.commands")
            let malformed = try await identity.send("registration.start", [:])
            #expect(malformed.code == "MALFORMED")
            #expect(try await Self.count(pool, "SELECT count(*)::int AS n FROM dead_letters") == 1)
            try await TestStack.eventually("every outbox row sent") {
                try await Self.count(pool, "SELECT count(*)::int AS n FROM outbox WHERE sent_at IS NULL") == 0
            }
            let sentAtStart = try await Self.count(pool, "SELECT count(*)::int AS n FROM outbox")
            #expect(sentAtStart >= 4)  // three replies, the SMS, the dead letter, the events

            // t0 + 9 min, inside the command window: the same id gets the kept reply again (the same
            // CloudEvent, id included) and changes nothing. The sent outbox rows are gone (5 min).
            try instance.advanceClock(by: .seconds(9 * 60))
            try await resend(start)
            let twice = try await Self.replies(to: startID, count: 2, client)
            let keptReply = twice.count == 2 && twice[0] == twice[1]
            #expect(keptReply, "\(twice)")
            let flows = try await registrations()
            #expect(flows == 1)
            let fiveMinutesAgo = instance.now.addingTimeInterval(-5 * 60)
            try await TestStack.eventually("sent outbox rows of t0 pruned") {
                try await Self.count(pool, "SELECT count(*)::int AS n FROM outbox WHERE sent_at < \(fiveMinutesAgo)")
                    == 0
            }
            // Only the re-sent reply, written after the clock moved, is left.
            #expect(try await Self.count(pool, "SELECT count(*)::int AS n FROM outbox") == 1)
            #expect(try await inboxRows(startID) == 1)
            #expect(try await inboxRows(pingID) == 1)

            // t0 + 11 min, past the command window: the rows are pruned and the same id is handled as
            // new. For a read (system.ping) that is harmless: a fresh reply with the same content.
            try instance.advanceClock(by: .seconds(2 * 60))
            try await TestStack.eventually("command inbox rows pruned") {
                let rows = try await inboxRows(startID) + inboxRows(pingID)
                return rows == 0
            }
            #expect(try await Self.count(pool, "SELECT count(*)::int AS n FROM dead_letters") == 1)
            try await resend(ping)
            let pings = try await Self.replies(to: pingID, count: 2, client)
            let handledAsNew = pings.count == 2 && pings[0].id != pings[1].id
            #expect(handledAsNew, "\(pings)")
            #expect(pings.map { $0.data["code"] } == [.string("OK"), .string("OK")])
            #expect(try await inboxRows(pingID) == 1)

            // t0 + 31 min, past the dead-letter window: the dead letter goes too.
            try instance.advanceClock(by: .seconds(20 * 60))
            try await TestStack.eventually("dead letter pruned") {
                try await Self.count(pool, "SELECT count(*)::int AS n FROM dead_letters") == 0
            }

            // An unsent row is never pruned, however old: a row the relay cannot publish (larger than
            // the producer's message.max.bytes) stays unsent. A sent row written beside it shows the
            // pruner ran after it.
            let stuck = String(repeating: "x", count: 1_100_000)
            try await pool.query(
                """
                INSERT INTO outbox (message_id, topic, key, payload, created_at)
                VALUES ('stuck', \(client.topics.name("identity.events")), 'stuck', \(stuck), \(instance.now))
                """)
            try instance.advanceClock(by: .seconds(86_400))
            let marker = instance.now.addingTimeInterval(-3600)
            try await pool.query(
                """
                INSERT INTO outbox (message_id, topic, key, payload, created_at, sent_at)
                VALUES ('marker', 'none', NULL, '', \(marker), \(marker))
                """)
            try await TestStack.eventually("the marker pruned") {
                try await Self.count(pool, "SELECT count(*)::int AS n FROM outbox WHERE message_id = 'marker'") == 0
            }
            let unsentKept =
                try await Self.count(
                    pool, "SELECT count(*)::int AS n FROM outbox WHERE message_id = 'stuck' AND sent_at IS NULL") == 1
            #expect(unsentKept)
            #expect(instance.log.contains("runtime rows pruned"))

            let notes = [
                "re-sent registration.start inside the window: \(keptReply ? "kept reply" : "NEW REPLY")",
                "\(flows) registration", "re-sent ping after it: \(handledAsNew ? "new reply" : "NOT ANSWERED ANEW")",
                "dead letter and sent rows pruned", "an unsent row \(unsentKept ? "kept" : "PRUNED")",
            ]
            ReliabilityReport.record(
                ReliabilityRow(
                    test: "retention: inbox/outbox/dead letters pruned",
                    workload:
                        "identity instance, windows 10 min (commands), 5 min (sent outbox), 30 min (dead letters); clock moved 9 min, 11 min, 31 min, 1 day",
                    duplicated: flows - 1, notes: notes.joined(separator: "; "),
                    passed: keptReply && flows == 1 && handledAsNew && unsentKept))
        }
    }

    /// `registrar topics create`'s specifications: each topic with the retention of its kind, set
    /// through the admin API at creation. Tansu (0.6) stores and describes topic configs without
    /// validating or enforcing them, and has no AlterConfigs; Apache Kafka does all three.
    @Test func topicsAreCreatedWithTheRetentionOfTheirKind() async throws {
        let policy = Policy().topics
        let topics = Topics(prefix: TestStack.unique("retention") + "-")
        let specifications = topics.specifications(retention: policy, partitions: 1, replication: 1)
        let configs = Dictionary(uniqueKeysWithValues: specifications.map { ($0.name, $0.config) })
        #expect(configs[topics.commands(.identity)] == ["retention.ms": "86400000", "segment.ms": "3600000"])
        #expect(configs[topics.sms] == ["retention.ms": "86400000", "segment.ms": "3600000"])
        #expect(configs[topics.replies] == ["retention.ms": "3600000", "segment.ms": "600000"])
        #expect(configs[topics.events(.deregistration)] == ["retention.ms": "2592000000", "segment.ms": "86400000"])
        #expect(configs[topics.deadLetter] == ["retention.ms": "604800000", "segment.ms": "3600000"])
        #expect(specifications.count == Topics.all.count)

        let created = try await KafkaAdmin.createTopics(
            specifications, configuration: TestStack.kafka, logger: TestStack.logger)
        #expect(created.isEmpty)
        for specification in specifications {
            let described = try await KafkaAdmin.topicConfig(
                specification.name, configuration: TestStack.kafka, logger: TestStack.logger)
            for (key, value) in specification.config {
                #expect(described.first { $0.name == key }?.value == value, "\(specification.name) \(key)")
            }
        }
        // Created again (the init job after an upgrade): all present, nothing to change.
        let again = try await KafkaAdmin.createTopics(
            specifications, configuration: TestStack.kafka, logger: TestStack.logger)
        #expect(Set(again) == Set(specifications.map(\.name)))
        let replies = try #require(specifications.first { $0.name == topics.replies })
        let same = try await KafkaAdmin.updateTopicConfig(
            replies.name, replies.config, configuration: TestStack.kafka, logger: TestStack.logger)
        #expect(same == .unchanged)
        // A changed policy reaches existing topics where the broker can alter them (not Tansu).
        let changed = try await KafkaAdmin.updateTopicConfig(
            replies.name, ["retention.ms": "7200000"], configuration: TestStack.kafka, logger: TestStack.logger)
        #expect(changed != .unchanged)
        if changed == .updated {
            let described = try await KafkaAdmin.topicConfig(
                replies.name, configuration: TestStack.kafka, logger: TestStack.logger)
            #expect(described.first { $0.name == "retention.ms" }?.value == "7200000")
            #expect(described.first { $0.name == "segment.ms" }?.value == "600000")
        }
    }
}
