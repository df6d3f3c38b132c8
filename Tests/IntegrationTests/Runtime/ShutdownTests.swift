import Contract
import Foundation
import Messaging
import Postgres
import TestSupport
import Testing

@Suite(.enabled(if: TestStack.enabled))
struct ShutdownTests {
    @Test func sigtermFinishesInFlightCommandsAndARestartRedoesNothing() async throws {
        try await ServiceProcess.run(.permissions) { instance, client in
            try await run(instance, client)
        }
    }

    func run(_ instance: ServiceProcess, _ client: RegistrarClient) async throws {
        let ids = (0..<40).map { "shutdown-\($0)-\(UUID().uuidString)" }
        for id in ids {
            let envelope = RegistrarClient.command(type: "system.ping", data: .emptyObject, id: id)
            try await client.sendRaw(
                Array(try JSONEncoder().encode(JSONValue.object(envelope))), topic: "permissions.commands", key: id)
        }
        _ = try await client.reply(to: ids[0], timeout: .seconds(20))
        let stopped = try #require(await instance.stop(signal: SIGTERM), "did not exit after SIGTERM")
        #expect(stopped.status == 0 && !stopped.bySignal, "exit \(stopped)")
        #expect(instance.log.contains("consumer closed"))

        try instance.start()
        for id in ids {
            let reply = try await client.reply(to: id, timeout: .seconds(40))
            #expect(reply.data["code"] == .string("OK"))
        }
        let pool = instance.pool()
        let rows = try await pool.query(
            "SELECT count(*) AS n, count(DISTINCT message_id) AS d FROM inbox WHERE message_id LIKE 'shutdown-%'")
        #expect(try rows.first?.decode("n", as: Int.self) == ids.count)
        #expect(try rows.first?.decode("d", as: Int.self) == ids.count)
        // Every reply was published; none is left in the outbox once the relay has marked what the
        // broker confirmed (a reply can be read before its row is marked).
        try await TestStack.eventually("the outbox is drained", timeout: .seconds(10)) {
            try await pool.query("SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL").first?.decode(
                "n", as: Int.self) == 0
        }
        // The restarted process is up (it answers) before it is stopped: a SIGTERM before its
        // signal handler is installed would simply kill it.
        _ = try await client.request(
            RegistrarClient.command(type: "system.ping", data: .emptyObject), topic: "permissions.commands",
            timeout: .seconds(40))
        let again = try #require(await instance.stop(signal: SIGTERM))
        #expect(again.status == 0)
    }
}

@Suite(.enabled(if: TestStack.enabled))
struct RecreatedTopicTests {
    /// A broker whose topics were recreated hands out offsets that were used before: a new poison
    /// message at an old offset must still be dead-lettered (and a command at one still answered).
    @Test func reusedOffsetsAreNotMistakenForRedeliveries() async throws {
        let instance = try await ServiceProcess(.binding)
        do {
            let pool = instance.pool()
            let topic = instance.topics.commands(.binding)
            for partition in 0..<3 {
                for offset in 0..<5 {
                    try await pool.query(
                        """
                        INSERT INTO dead_letters (topic, partition, "offset", digest, reason)
                        VALUES (\(topic), \(partition), \(Int64(offset)), 'from-an-earlier-life', 'not_json')
                        """)
                }
            }
            try instance.start()
            let client = try instance.client()
            let marker = "poison-\(UUID())"
            try await client.sendRaw(Array(marker.utf8), topic: "binding.commands", key: "k")
            let unknown = try await client.request(
                RegistrarClient.command(type: "no.such.command", data: .emptyObject), topic: "binding.commands",
                timeout: .seconds(40))
            #expect(unknown.data["code"] == .string("MALFORMED"))
            let letters = try await client.read(topic: "registrar.deadletter") { read in
                read.contains { $0.event?.data["original"]?.stringValue == Data(marker.utf8).base64EncodedString() }
            }
            #expect(letters.contains { $0.event?.data["reason"] == .string("not_json") })
        } catch {
            Issue.record("\(error)\n\(instance.log.suffix(3000))")
        }
        try await instance.tearDown()
    }
}
