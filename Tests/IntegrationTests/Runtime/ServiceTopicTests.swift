import Contract
import Foundation
import Kafka
import Messaging
import Platform
import Postgres
import TestSupport
import Testing

/// Drives the running services through their topics, exactly as a client would.
@Suite(.enabled(if: TestStack.enabled))
struct ServiceTopicTests {
    let client = TestStack.client

    func ping(_ service: RegistrarService, id: String = UUID().uuidString.lowercased()) async throws -> CloudEvent {
        try await client.request(
            RegistrarClient.command(type: "system.ping", data: .emptyObject, id: id), topic: service.commandTopic)
    }

    @Test(arguments: RegistrarService.allCases)
    func everyServiceAnswersPing(service: RegistrarService) async throws {
        let reply = try await ping(service, id: "ping-\(UUID().uuidString)")
        #expect(reply.type == "registrar.reply")
        #expect(reply.source == "/registrar/\(service.rawValue)")
        #expect(reply.data["status"] == .string("ok"))
        #expect(reply.data["code"] == .string("OK"))
        #expect(reply.data["result"]?["service"] == .string(service.rawValue))
        #expect(reply.data["result"]?["version"] == .string(registrarVersion))
    }

    @Test func aResentCommandGetsTheSameReplyAndIsProcessedOnce() async throws {
        let id = "resend-\(UUID().uuidString)"
        let first = try await ping(.binding, id: id)
        let envelope = RegistrarClient.command(type: "system.ping", data: .emptyObject, id: id)
        try await client.sendRaw(
            Array(try JSONEncoder().encode(JSONValue.object(envelope))), topic: "binding.commands", key: nil)
        let replies = try await client.read(topic: "registrar.replies", timeout: .seconds(20)) { read in
            read.filter { $0.event?.inreplyto == id }.count >= 2
        }.compactMap(\.event).filter { $0.inreplyto == id }
        #expect(replies.count == 2)
        #expect(replies.allSatisfy { $0 == first })
        let pool = PostgresPool(configuration: TestStack.postgres(searchPath: ["binding"]))
        #expect(
            try await pool.query("SELECT count(*) AS n FROM inbox WHERE message_id = \(id)").first?.decode(
                "n", as: Int.self) == 1)
    }

    @Test func aCommandMissingAnAttributeIsMalformedAndNamesIt() async throws {
        for (missing, field) in [("source", "source"), ("data", "data"), ("type", "type")] {
            var envelope = RegistrarClient.command(type: "system.ping", data: .emptyObject)
            envelope[missing] = nil
            let reply = try await client.request(envelope, topic: "permissions.commands")
            #expect(reply.data["status"] == .string("rejected"))
            #expect(reply.data["code"] == .string("MALFORMED"))
            #expect(reply.data["result"]?["field"] == .string(field))
        }
    }

    @Test func unknownTypesAndVersionsAreRefusedWithTheirCodes() async throws {
        let unknown = try await client.request(
            RegistrarClient.command(type: "no.such.command", data: .emptyObject), topic: "deregistration.commands")
        #expect(unknown.data["code"] == .string("MALFORMED"))
        #expect(unknown.data["result"]?["field"] == .string("type"))
        var future = RegistrarClient.command(type: "system.ping", data: .emptyObject)
        future["schemaversion"] = .int(2)
        let version = try await client.request(future, topic: "deregistration.commands")
        #expect(version.data["code"] == .string("UNSUPPORTED_VERSION"))
    }

    @Test func nonJSONOnEveryCommandTopicLandsOnTheDeadLetterTopic() async throws {
        let marker = "not json \(UUID())"
        for service in RegistrarService.allCases {
            try await client.sendRaw(Array(marker.utf8), topic: service.commandTopic, key: marker)
        }
        let letters = try await client.read(topic: "registrar.deadletter", timeout: .seconds(20)) { read in
            read.filter { $0.message.key == Array(marker.utf8) }.count >= 4
        }.filter { $0.message.key == Array(marker.utf8) }.compactMap(\.event)
        #expect(Set(letters.map(\.source)) == Set(RegistrarService.allCases.map(\.source)))
        #expect(letters.allSatisfy { $0.data["reason"] == .string("not_json") })
    }
}

/// Poison messages (issue 8): each dead-lettered once with its reason and offset, and the
/// partition keeps flowing.
@Suite(.enabled(if: TestStack.enabled))
struct PoisonReliabilityTests {
    /// On a private identity, so that the 5-second bound measures the poison, not the backlog the
    /// parallel suite leaves on the shared service.
    @Test func poisonIsDeadLetteredOnceAndThePartitionKeepsFlowing() async throws {
        try await ServiceProcess.run(.identity) { instance, client in
            try await poison(client, commands: instance.topics.commands(.identity))
        }
    }

    func poison(_ client: RegistrarClient, commands: String) async throws {
        let key = "poison-\(UUID().uuidString)"
        let bigID = "big-\(UUID().uuidString.lowercased())"
        let valid = #"{"specversion":"1.0","id":"ID","source":"/t","type":"system.ping","data":{}}"#
        var invalidUTF8 = Array(valid.replacingOccurrences(of: "ID", with: UUID().uuidString).utf8)
        invalidUTF8.insert(0xc3, at: 10)
        let poison: [(String, [UInt8])] = [
            ("not_json", Array(#"{"specversion":"1.0","id":"x","#.utf8)),
            ("invalid_utf8", invalidUTF8),
            (
                "nul_character",
                Array(
                    #"{"specversion":"1.0","id":"n\#(UUID())","source":"/t","type":"system.ping","data":{"a":"\u0000"}}"#
                        .utf8)
            ),
            ("too_deep", Array((String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)).utf8)),
            (
                "too_large",
                Array(
                    (#"{"id":"\#(bigID)","correlationid":"c-big","data":""# + String(repeating: "a", count: 65_536 + 1)
                        + #""}"#).utf8)
            ),
            (
                "invalid_field",
                Array(#"{"specversion":"1.0","id":17,"source":"/t","type":"system.ping","data":{}}"#.utf8)
            ),
            (
                "unsupported_version",
                Array(
                    #"{"specversion":"1.0","id":"v\#(UUID())","source":"/t","type":"system.ping","schemaversion":9,"data":{}}"#
                        .utf8)
            ),
        ]
        for (_, bytes) in poison {
            try await client.sendRaw(bytes, topic: "identity.commands", key: key)
        }
        // The next good command on the same partition is answered within 5 seconds of being sent, by
        // the reply's own `time` (when the service answered).
        let sent = Date()
        let id = UUID().uuidString.lowercased()
        let ping = RegistrarClient.command(type: "system.ping", data: .emptyObject, id: id)
        try await client.sendRaw(
            Array(try JSONEncoder().encode(JSONValue.object(ping))), topic: "identity.commands", key: key)
        let reply = try await client.reply(to: id)
        #expect(reply.data["code"] == .string("OK"))
        // An oversized command is answered too: its id is read from the start of the bytes.
        let big = try await client.reply(to: bigID)
        #expect(big.data["code"] == .string("MALFORMED") && big.data["result"]?["reason"] == .string("too_large"))
        #expect(big.correlationid == "c-big")
        let answered = try #require(Date(rfc3339: reply.time))
        #expect(answered.timeIntervalSince(sent) < 5, "answered \(answered.timeIntervalSince(sent)) s after sending")

        let letters = try await client.read(topic: "registrar.deadletter", timeout: .seconds(20)) { read in
            read.filter { $0.message.key == Array(key.utf8) }.count >= poison.count
        }.filter { $0.message.key == Array(key.utf8) }
        #expect(letters.count == poison.count)
        for (reason, bytes) in poison {
            let original = Data(bytes.prefix(65_536)).base64EncodedString()
            let matching = letters.filter { $0.event?.data["original"]?.stringValue == original }
            #expect(matching.count == 1, "\(reason)")
            let letter = try #require(matching.first?.event)
            #expect(letter.type == "registrar.deadletter")
            #expect(letter.data["reason"]?.stringValue?.hasPrefix(reason) == true, "\(reason)")
            #expect(letter.data["topic"] == .string(commands))
            #expect(letter.data["offset"] != nil && letter.data["partition"] != nil)
            #expect(letter.data["originalBytes"] == .int(Int64(bytes.count)))
            #expect(letter.data["truncated"] == .bool(bytes.count > 65_536))
        }
        let found = poison.map { _, bytes in
            let original = Data(bytes.prefix(65_536)).base64EncodedString()
            return letters.count(where: { $0.event?.data["original"]?.stringValue == original })
        }
        let delay = answered.timeIntervalSince(sent)
        ReliabilityReport.record(
            ReliabilityRow(
                test: "poison messages",
                workload:
                    "7 poison kinds (\(poison.map(\.0).joined(separator: ", "))) then a good command, one partition",
                faults: "malformed input", lost: found.count(where: { $0 == 0 }),
                duplicated: found.reduce(0) { $0 + max(0, $1 - 1) }, stalls: delay < 5 ? 0 : 1,
                notes: String(format: "next command answered %.2f s after sending", delay),
                passed: found.allSatisfy { $0 == 1 } && delay < 5 && reply.data["code"] == .string("OK")))
    }

}
