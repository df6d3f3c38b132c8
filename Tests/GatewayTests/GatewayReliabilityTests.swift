import Foundation
import Messaging
import Synchronization
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A gateway replica killed under load loses no command: clients retry with the same
/// Idempotency-Key (on the other replica, or on the restarted one) and every command has exactly
/// one effect.
@Suite(.enabled(if: TestStack.enabled)) struct GatewayReliabilityTests {
    /// One gateway process on a port of its own, against the test stack's topics.
    final class Replica: @unchecked Sendable {
        // @unchecked: touched only by the test that owns it, one call at a time.
        let port: Int
        private var process: Process?

        init(port: Int) { self.port = port }

        var url: String { "http://127.0.0.1:\(port)" }

        func start() async throws {
            let binary = try #require(ProcessInfo.processInfo.environment["REGISTRAR_BIN"]) + "/registrar-gateway"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            var environment = ProcessInfo.processInfo.environment
            environment["REGISTRAR_GATEWAY_PORT"] = String(port)
            environment["REGISTRAR_LOG_LEVEL"] = "warning"
            process.environment = environment
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            self.process = process
            let curl = Curl(base: url)
            let deadline = ContinuousClock.now + .seconds(90)
            while ContinuousClock.now < deadline {
                if (try? await curl.request("GET", "/v1/ping", timeoutSeconds: 2))?.status == 200 { return }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw Curl.Failure(description: "replica on \(port) did not answer /v1/ping")
        }

        func kill9() {
            guard let process else { return }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            self.process = nil
        }

        func stop() {
            guard let process, process.isRunning else { return }
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// What the clients saw.
    final class Tally: Sendable {
        let answers = Mutex<[String: Set<String>]>([:])
        let attempts = Mutex(0)
        let done = Mutex(0)
    }

    @Test func killingAReplicaUnderLoadLosesNoCommandAndDuplicatesNone() async throws {
        let base = 18_200 + Int.random(in: 0..<400) * 2
        let replicas = [Replica(port: base), Replica(port: base + 1)]
        for replica in replicas { try await replica.start() }
        defer { for replica in replicas { replica.stop() } }

        let commands = 60
        let keys = (0..<commands).map { _ in UUID().uuidString.lowercased() }
        let tally = Tally()

        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<6 {
                group.addTask {
                    for index in stride(from: worker, to: commands, by: 6) {
                        let key = keys[index]
                        let body = JSONValue.object([
                            "phone": .string(IdentityClient.phone()), "device": IdentityClient.device(),
                        ])
                        let address = "100.64.\(index / 200).\(index % 200 + 1)"
                        var replica = index % 2
                        let deadline = ContinuousClock.now + .seconds(60)
                        while ContinuousClock.now < deadline {
                            tally.attempts.withLock { $0 += 1 }
                            let curl = Curl(base: replicas[replica].url)
                            let answer = try? await curl.request(
                                "POST", "/v1/registration/start", json: body, idempotencyKey: key,
                                forwardedFor: address, timeoutSeconds: 15)
                            if let answer, answer.status == 200, let id = answer.result("registrationId") {
                                tally.answers.withLock { _ = $0[key, default: []].insert(id) }
                                break
                            }
                            // Connection refused, reset or 5xx: the same key on the other replica.
                            replica = 1 - replica
                            try await Task.sleep(for: .milliseconds(100))
                        }
                        tally.done.withLock { $0 += 1 }
                    }
                }
            }
            group.addTask {
                // Kill replica 0 while commands are in flight, restart it a second later.
                while tally.done.withLock({ $0 }) < commands / 3 { try await Task.sleep(for: .milliseconds(20)) }
                replicas[0].kill9()
                try await Task.sleep(for: .seconds(1))
                try await replicas[0].start()
            }
            try await group.waitForAll()
        }

        let answered = tally.answers.withLock { $0 }
        let lost = keys.filter { answered[$0] == nil }.count
        let inconsistent = answered.values.filter { $0.count > 1 }.count
        // Effects: exactly one registration.started per command id (its causationid).
        let wanted = Set(keys)
        let events = try await TestStack.client.read(topic: "identity.events", timeout: .seconds(30)) { read in
            Set(read.compactMap { $0.event?.type == "registration.started" ? $0.event?.causationid : nil })
                .isSuperset(of: wanted)
        }
        var effects: [String: Int] = [:]
        for event in events.compactMap(\.event) where event.type == "registration.started" {
            if let cause = event.causationid, wanted.contains(cause) { effects[cause, default: 0] += 1 }
        }
        let missingEffects = keys.filter { effects[$0] == nil }.count
        let duplicated = effects.values.filter { $0 > 1 }.count + inconsistent
        let passed = lost == 0 && missingEffects == 0 && duplicated == 0
        ReliabilityReport.record(
            ReliabilityRow(
                test: "gateway replica killed under load",
                workload: "\(commands) registration.start over HTTP, 6 clients, 2 gateway replicas",
                faults:
                    "kill -9 of one replica at 1/3, restarted 1 s later; clients retry with the same Idempotency-Key",
                lost: lost + missingEffects, duplicated: duplicated, stalls: 0,
                notes: "\(tally.attempts.withLock { $0 }) HTTP attempts for \(commands) commands", passed: passed))
        #expect(lost == 0, "commands never answered 200")
        #expect(missingEffects == 0, "commands without a registration.started")
        #expect(duplicated == 0, "commands with two effects or two different replies")
    }
}
