import Foundation
import Messaging
import Postgres
import Testing
import TestSupport

@Suite(.enabled(if: TestStack.enabled))
struct ShutdownTests {
    @Test func sigtermFinishesInFlightCommandsAndARestartRedoesNothing() async throws {
        let instance = try await ServiceProcess(.permissions)
        do {
            try await run(instance)
        } catch {
            Issue.record("\(error)\n\(instance.log.suffix(3000))")
        }
        try await instance.tearDown()
    }

    func run(_ instance: ServiceProcess) async throws {
        let client = try instance.client()
        try instance.start()
        // Up once it answers.
        let first = try await client.request(
            RegistrarClient.command(type: "system.ping", data: .emptyObject), topic: "permissions.commands",
            timeout: .seconds(40))
        #expect(first.data["code"] == .string("OK"))

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
        let rows = try await pool.query("SELECT count(*) AS n, count(DISTINCT message_id) AS d FROM inbox WHERE message_id LIKE 'shutdown-%'")
        #expect(try rows.first?.decode("n", as: Int.self) == ids.count)
        #expect(try rows.first?.decode("d", as: Int.self) == ids.count)
        // Every reply was published; none is left in the outbox.
        #expect(try await pool.query("SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL").first?.decode("n", as: Int.self) == 0)
        let again = try #require(await instance.stop(signal: SIGTERM))
        #expect(again.status == 0)
    }
}
