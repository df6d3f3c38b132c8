import Foundation
import Kafka
import TestSupport
import Testing

@Suite(.enabled(if: TestStack.enabled), .serialized)
struct KafkaIntegrationTests {
    @Test func producedMessagesAreConsumedWithKeysAndHeaders() async throws {
        let topic = TestStack.unique("roundtrip")
        try await TestStack.createTopics([topic], partitions: 2)
        let producer = try KafkaProducer(configuration: TestStack.kafka, logger: TestStack.logger)
        let messages = (0..<20).map { i in
            KafkaOutgoingMessage(
                topic: topic, key: Array("key-\(i % 3)".utf8), value: Array("value-\(i)".utf8),
                headers: [KafkaHeader(name: "content-type", string: "application/cloudevents+json")])
        }
        let results = await producer.send(messages)
        #expect(results.allSatisfy { $0 == nil })

        let reader = try KafkaConsumer(
            configuration: TestStack.kafka, readingFromBeginning: [topic], logger: TestStack.logger)
        var received: [KafkaMessage] = []
        let deadline = ContinuousClock.now + .seconds(60)
        while received.count < 20 && ContinuousClock.now < deadline {
            if let message = try await reader.poll() { received.append(message) }
        }
        await reader.close()
        #expect(Set(received.map { String(decoding: $0.value, as: UTF8.self) }) == Set((0..<20).map { "value-\($0)" }))
        #expect(received.allSatisfy { $0.header("content-type") == Array("application/cloudevents+json".utf8) })
        // Same key, same partition, in send order.
        for key in ["key-0", "key-1", "key-2"] {
            let sameKey = received.filter { $0.key == Array(key.utf8) }
            #expect(Set(sameKey.map(\.partition)).count == 1)
            #expect(sameKey.map(\.offset) == sameKey.map(\.offset).sorted())
        }
    }

    @Test func aGroupResumesFromItsCommittedOffsetAfterRestart() async throws {
        let topic = TestStack.unique("resume")
        let group = TestStack.unique("group")
        try await TestStack.createTopics([topic])
        let producer = try KafkaProducer(configuration: TestStack.kafka, logger: TestStack.logger)
        _ = await producer.send(
            (0..<10).map { KafkaOutgoingMessage(topic: topic, key: nil, value: Array("m\($0)".utf8)) })

        // First member: processes (stores) 4 messages, reads a 5th without storing it, then leaves.
        let first = try KafkaConsumer(
            configuration: TestStack.kafka, groupID: group, topics: [topic], logger: TestStack.logger)
        var seen: [String] = []
        var deadline = ContinuousClock.now + .seconds(30)
        while seen.count < 5 && ContinuousClock.now < deadline {
            guard let message = try await first.poll() else { continue }
            seen.append(String(decoding: message.value, as: UTF8.self))
            if seen.count <= 4 { try first.storeOffset(of: message) }
        }
        await first.close()
        #expect(seen == ["m0", "m1", "m2", "m3", "m4"])

        // Second member of the same group: starts at the first unstored message.
        let second = try KafkaConsumer(
            configuration: TestStack.kafka, groupID: group, topics: [topic], logger: TestStack.logger)
        var resumed: [String] = []
        deadline = ContinuousClock.now + .seconds(30)
        while resumed.count < 6 && ContinuousClock.now < deadline {
            guard let message = try await second.poll() else { continue }
            resumed.append(String(decoding: message.value, as: UTF8.self))
        }
        await second.close()
        #expect(resumed == ["m4", "m5", "m6", "m7", "m8", "m9"])
    }

    @Test func creatingTopicsTwiceIsFineAndPartitionsAreAsAsked() async throws {
        let topic = TestStack.unique("create")
        try await TestStack.createTopics([topic], partitions: 3)
        try await TestStack.createTopics([topic], partitions: 3)
        #expect(
            try await KafkaAdmin.partitionCount(topic, configuration: TestStack.kafka, logger: TestStack.logger) == 3)
    }

    @Test func aSendWithoutABrokerReportsATimeoutWithLibrdkafkasCode() async throws {
        var configuration = TestStack.kafka
        configuration.brokers = "127.0.0.1:1"
        let producer = try KafkaProducer(configuration: configuration, logger: TestStack.logger)
        let results = await producer.send(
            [KafkaOutgoingMessage(topic: TestStack.unique("nowhere"), key: nil, value: [1])], timeout: .seconds(2))
        let error = try #require(results.first ?? nil)
        #expect(error.code == .messageTimedOut && error.name == "_MSG_TIMED_OUT")
        #expect(error.isRetriable)
    }
}
