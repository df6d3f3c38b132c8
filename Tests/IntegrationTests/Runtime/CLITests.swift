import Contract
import Foundation
import Kafka
import Messaging
import TestSupport
import Testing

/// The built `registrar` binary against the running stack.
@Suite(.enabled(if: TestStack.enabled))
struct CLITests {
    /// What a run of the CLI printed.
    struct Run {
        var status: Int32
        var out: String
        var err: String
        var lines: [String] { out.split(separator: "\n").map(String.init) }
    }

    /// Runs `registrar arguments…` with the stack's environment (plus `environment`).
    static func registrar(_ arguments: [String], environment: [String: String] = [:]) throws -> Run {
        let processEnvironment = ProcessInfo.processInfo.environment
        guard let bin = processEnvironment["REGISTRAR_BIN"] else { throw Missing() }
        let folder = FileManager.default.temporaryDirectory
        let id = UUID().uuidString
        let outURL = folder.appendingPathComponent("registrar-cli-\(id).out")
        let errURL = folder.appendingPathComponent("registrar-cli-\(id).err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: bin).appendingPathComponent("registrar")
        process.arguments = arguments
        process.environment = processEnvironment.merging(environment) { _, new in new }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus, out: try String(contentsOf: outURL, encoding: .utf8),
            err: try String(contentsOf: errURL, encoding: .utf8))
    }

    struct Missing: Error, CustomStringConvertible {
        var description: String { "REGISTRAR_BIN is not set (run the tests through scripts/test)" }
    }

    @Test func registerThenLoginFromTheSameDevice() throws {
        let phone = IdentityClient.phone()
        let device = "cli-test-\(UUID().uuidString)"
        let registered = try Self.registrar([
            "register", "--phone", phone, "--platform", "android", "--device-id", device, "--password", "Sunflower-42",
            "--name", "CLI Tester",
        ])
        #expect(registered.status == 0, "\(registered.out)\(registered.err)")
        let account = registered.lines.first { $0.hasPrefix("accountId: ") }.map { String($0.dropFirst(11)) }
        #expect(account.map { UUID(uuidString: $0) != nil } == true, "\(registered.out)")
        #expect(registered.lines.contains { $0.hasPrefix("sessionToken: ") && $0.count > 30 })
        #expect(registered.out.contains("1/5 registration.start"))
        #expect(registered.out.contains("5/5 registration.security_check OK"))

        let login = try Self.registrar([
            "login", "--phone", phone, "--platform", "android", "--device-id", device, "--password", "Sunflower-42",
        ])
        #expect(login.status == 0, "\(login.out)\(login.err)")
        #expect(login.lines.contains("accountId: \(account ?? "-")"))

        // A wrong password: exit 1, one line on stderr with the contract code, nothing on stdout.
        let wrong = try Self.registrar([
            "login", "--phone", phone, "--device-id", device, "--password", "Not-the-password-1",
        ])
        #expect(wrong.status == 1)
        let errorLines = wrong.err.split(separator: "\n")
        #expect(errorLines.count == 1 && errorLines[0].contains("INVALID_CREDENTIALS"), "\(wrong.err)")
        #expect(wrong.out.isEmpty)
    }

    @Test func selfServiceVerbsReadRefreshResetAndSignOut() throws {
        let phone = IdentityClient.phone()
        let device = "cli-self-\(UUID().uuidString)"
        let registered = try Self.registrar([
            "register", "--phone", phone, "--device-id", device, "--password", "Sunflower-42", "--name", "Self",
        ])
        #expect(registered.status == 0, "\(registered.err)")
        let login = try Self.registrar(["login", "--phone", phone, "--device-id", device, "--password", "Sunflower-42"])
        func value(_ run: Run, _ key: String) -> String? {
            run.lines.first { $0.hasPrefix(key + ": ") }.map { String($0.dropFirst(key.count + 2)) }
        }
        let token = try #require(value(login, "sessionToken"))
        let refresh = try #require(value(login, "refreshToken"))

        let shown = try Self.registrar(["account", "show", "--session", token])
        #expect(shown.status == 0, "\(shown.err)")
        #expect(
            shown.out.contains("\"status\" : \"active\"") && shown.out.contains("\"deviceCount\" : 1"), "\(shown.out)")
        let devices = try Self.registrar(["account", "devices", "--session", token])
        #expect(devices.status == 0 && devices.out.contains("\"current\" : true"), "\(devices.out)\(devices.err)")

        let refreshed = try Self.registrar(["session", "refresh", "--refresh-token", refresh, "--json"])
        #expect(refreshed.status == 0, "\(refreshed.err)")
        let reply = try JSONDecoder().decode(CloudEvent.self, from: Data(refreshed.out.utf8))
        let newToken = try #require(reply.data["result"]?["sessionToken"]?.stringValue)
        let old = try Self.registrar(["account", "show", "--session", token])
        #expect(old.status == 1 && old.err.contains("UNAUTHENTICATED"), "\(old.err)")

        let reset = try Self.registrar([
            "password", "reset", "--phone", phone, "--device-id", device, "--new-password", "Moonflower-77",
        ])
        #expect(reset.status == 0, "\(reset.out)\(reset.err)")
        let signedOut = try Self.registrar(["session", "list", "--session", newToken])
        #expect(signedOut.status == 1 && signedOut.err.contains("UNAUTHENTICATED"), "\(signedOut.err)")
        let again = try Self.registrar([
            "login", "--phone", phone, "--device-id", device, "--password", "Moonflower-77",
        ])
        #expect(again.status == 0, "\(again.err)")
        let logout = try Self.registrar(["session", "logout", "--session", try #require(value(again, "sessionToken"))])
        #expect(logout.status == 0, "\(logout.err)")
    }

    @Test func readVerbsPrintTheSessionsOwnAccount() async throws {
        let phone = IdentityClient.phone()
        let registered = try Self.registrar([
            "register", "--phone", phone, "--device-id", "cli-reads-\(UUID().uuidString)", "--password",
            "Sunflower-42", "--name", "CLI Reader",
        ])
        #expect(registered.status == 0, "\(registered.out)\(registered.err)")
        let account = try #require(
            registered.lines.first { $0.hasPrefix("accountId: ") }.map { String($0.dropFirst(11)) })
        let token = try #require(
            registered.lines.first { $0.hasPrefix("sessionToken: ") }.map { String($0.dropFirst(14)) })
        /// Runs a read until the session and the account have reached its service (a moment after
        /// the registration).
        func read(_ arguments: [String]) async throws -> Run {
            var run = try Self.registrar(arguments + ["--session-token", token])
            let deadline = ContinuousClock.now + .seconds(30)
            while run.err.contains("UNAUTHENTICATED") || run.err.contains("ACCOUNT_NOT_FOUND"),
                ContinuousClock.now < deadline
            {
                try await Task.sleep(for: .milliseconds(200))
                run = try Self.registrar(arguments + ["--session-token", token])
            }
            return run
        }

        let entitlements = try await read(["entitlements"])
        #expect(entitlements.status == 0, "\(entitlements.out)\(entitlements.err)")
        #expect(entitlements.lines.first?.hasPrefix("account \(account): stage 1, stage 2 from ") == true)
        #expect(entitlements.lines.first?.contains("tier none until ") == true, "\(entitlements.out)")
        #expect(entitlements.lines.contains { $0.hasPrefix("chat.internal") && $0.contains("allowed") })
        #expect(entitlements.lines.contains { $0.hasPrefix("payment.transfer") && $0.contains("denied   stage") })

        let bindings = try await read(["bindings"])
        #expect(bindings.status == 0 && bindings.lines == ["0 binding(s)"], "\(bindings.out)\(bindings.err)")
        let migration = try await read(["migration-status"])
        #expect(migration.status == 0 && migration.lines == ["no migration plan"], "\(migration.out)")
        let status = try await read(["deregistration-status"])
        #expect(status.status == 0 && status.lines == ["status: none"], "\(status.out)\(status.err)")
        let json = try await read(["deregistration-status", "--json"])
        let reply = try JSONDecoder().decode(CloudEvent.self, from: Data(json.out.utf8))
        #expect(reply.data["result"]?["accountId"] == .string(account))

        // A forged token: one line with the code, exit 1.
        let forged = try Self.registrar(["bindings", "--session", String(repeating: "0", count: 64)])
        #expect(forged.status == 1 && forged.out.isEmpty)
        #expect(forged.err.split(separator: "\n").count == 1 && forged.err.contains("UNAUTHENTICATED"), "\(forged.err)")
        // Not the admin of an enterprise that does not exist.
        let members = try Self.registrar(["enterprise", "members", "no-such-enterprise", "--session", token])
        #expect(members.status == 1 && members.err.contains("ENTERPRISE_NOT_FOUND"), "\(members.err)")
    }

    @Test func aRejectedCommandIsOneLineWithItsCode() throws {
        let run = try Self.registrar(["send", "identity.commands", "no.such.command"])
        #expect(run.status == 1)
        let lines = run.err.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("MALFORMED") && lines[0].contains("type"), "\(run.err)")
    }

    @Test func jsonPrintsTheRawReply() throws {
        let run = try Self.registrar(["send", "identity.commands", "system.ping", "--json"])
        #expect(run.status == 0, "\(run.err)")
        let reply = try JSONDecoder().decode(CloudEvent.self, from: Data(run.out.utf8))
        #expect(reply.type == "registrar.reply")
        #expect(reply.data["code"]?.stringValue == "OK")

        let rejected = try Self.registrar(["send", "identity.commands", "no.such.command", "--json"])
        #expect(rejected.status == 1)
        let event = try JSONDecoder().decode(CloudEvent.self, from: Data(rejected.out.utf8))
        #expect(event.data["code"]?.stringValue == "MALFORMED")
    }

    @Test func dlqListShowsAPoisonMessageAndReplaySendsItAgain() async throws {
        let poison = Array("not json \(UUID().uuidString)".utf8)
        let original = Data(poison).base64EncodedString()
        try await TestStack.client.sendRaw(poison, topic: "identity.commands", key: "poison")
        func ours() throws -> [CloudEvent] {
            let run = try Self.registrar(["dlq", "list", "--json", "--idle", "2"])
            return run.lines.compactMap { try? JSONDecoder().decode(CloudEvent.self, from: Data($0.utf8)) }
                .filter { $0.data["original"]?.stringValue == original }
        }
        var found: [CloudEvent] = []
        let deadline = ContinuousClock.now + .seconds(40)
        while found.isEmpty && ContinuousClock.now < deadline { found = try ours() }
        let letter = try #require(found.first)
        let partition = try #require(
            letter.data["partition"].flatMap { value -> Int64? in
                if case .int(let number) = value { return number }
                return nil
            })
        let offset = try #require(
            letter.data["offset"].flatMap { value -> Int64? in
                if case .int(let number) = value { return number }
                return nil
            })
        let listed = try Self.registrar(["dlq", "list", "--idle", "2"])
        #expect(listed.status == 0)
        let line = listed.lines.first { $0.contains("partition \(partition)  offset \(offset)  \(poison.count) bytes") }
        #expect(line?.contains("identity.commands") == true, "\(listed.out.suffix(2000))")
        #expect(listed.lines.last?.hasSuffix("dead letter(s)") == true)

        let replay = try Self.registrar([
            "dlq", "replay", "--offset", "\(offset)", "--partition", "\(partition)", "--topic", "identity.commands",
            "--idle", "2",
        ])
        #expect(replay.status == 0, "\(replay.err)")
        #expect(replay.out.contains("replayed \(poison.count) bytes"))
        // Still poison: it is dead-lettered a second time, at a new offset.
        var again: [CloudEvent] = []
        let second = ContinuousClock.now + .seconds(40)
        while again.count < 2 && ContinuousClock.now < second { again = try ours() }
        #expect(again.count >= 2)

        let missing = try Self.registrar(["dlq", "replay", "--offset", "999999999", "--idle", "1"])
        #expect(missing.status == 1 && missing.err.contains("NOT_FOUND"))
    }

    @Test func tailPrintsOneLinePerMessageAndExits() async throws {
        // The full name (with the run's prefix) for the CLI; the shared client adds the prefix itself.
        let base = "cli-tail-\(UUID().uuidString.prefix(8).lowercased())"
        let topic = TestStack.topics.name(base)
        try await TestStack.createTopics([topic])
        let raw = TestStack.client
        let reply = CloudEvent(
            source: "/registrar/identity", type: "registrar.reply", time: Date(), inreplyto: "cmd-1",
            data: .object(["status": .string("rejected"), "code": .string("RATE_LIMITED")]))
        let event = CloudEvent(
            source: "/registrar/identity", type: "account.registered", time: Date(), subject: "acct-1",
            data: .object(["accountId": .string("acct-1")]))
        try await raw.sendRaw(reply.encoded(), topic: base, key: "cmd-1")
        try await raw.sendRaw(event.encoded(), topic: base, key: "acct-1")
        try await raw.sendRaw(Array("garbage".utf8), topic: base, key: "k")
        let run = try Self.registrar(["tail", topic, "--idle", "3"], environment: ["REGISTRAR_TOPIC_PREFIX": ""])
        #expect(run.status == 0, "\(run.err)")
        #expect(run.lines.count == 3, "\(run.out)")
        if run.lines.count == 3 {
            #expect(run.lines[0].contains("registrar.reply") && run.lines[0].contains("cmd-1"))
            #expect(run.lines[0].contains("RATE_LIMITED") && run.lines[0].contains(reply.time))
            #expect(run.lines[1].contains("account.registered") && run.lines[1].contains("acct-1"))
            #expect(run.lines[2].contains("not a CloudEvent"))
            // Not a terminal: no colour codes.
            #expect(!run.out.contains("\u{1B}["))
        }
        let json = try Self.registrar(
            ["tail", topic, "--idle", "3", "--json"], environment: ["REGISTRAR_TOPIC_PREFIX": ""])
        #expect(json.lines.first.flatMap { try? JSONDecoder().decode(CloudEvent.self, from: Data($0.utf8)) } == reply)
    }
}
