import ArgumentParser
import Contract
import Foundation
import Kafka
import Logging
import Messaging
import Platform
import Postgres

/// `registrar`: operate and try out a Registrar stack. Connection facts come from the environment
/// (REGISTRAR_KAFKA_BROKERS, REGISTRAR_DATABASE_URL, REGISTRAR_TOPIC_PREFIX), else from the env file
/// of the local stack (REGISTRAR_ENV_FILE, default `.stack/env`), and the client commands take
/// `--brokers`, `--database-url` and `--topic-prefix` over both.
@main
struct Registrar: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Operate and try out a Registrar stack.",
        subcommands: [
            Migrate.self, Topics.self, Ping.self, Send.self, PolicyCommand.self, OperatorCommand.self,
            ReviewCommand.self, Register.self, Login.self, EntitlementsCommand.self, EnterpriseCommand.self,
            BindingsCommand.self, MigrationStatusCommand.self, DeregistrationStatusCommand.self, Tail.self,
            DeadLetterCommand.self,
            // Issue 16: self-service.
            AccountCommand.self, PasswordCommand.self, SessionCommand.self, PhoneCommand.self,
            // Issue 17: support and audit.
            SupportCommand.self, AuditCommand.self,
            // Issue 17: data export and consents.
            ExportCommand.self, ConsentsCommand.self,
        ])
}

/// Shared set-up of the subcommands.
struct Context {
    let configuration: RegistrarConfiguration
    let logger: Logger

    /// The environment over the stack's env file, with `connection`'s flags over both.
    init(_ connection: ConnectionOptions? = nil) {
        let environment = ProcessInfo.processInfo.environment
        var merged = Self.envFile(connection?.envFile ?? environment["REGISTRAR_ENV_FILE"] ?? ".stack/env")
        merged.merge(environment) { _, process in process }
        if let brokers = connection?.brokers { merged["REGISTRAR_KAFKA_BROKERS"] = brokers }
        if let url = connection?.databaseURL { merged["REGISTRAR_DATABASE_URL"] = url }
        if let prefix = connection?.topicPrefix { merged["REGISTRAR_TOPIC_PREFIX"] = prefix }
        configuration = RegistrarConfiguration(environment: merged)
        var logger = Logger(label: "registrar") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .warning
        self.logger = logger
    }

    /// The `export NAME=value` lines of a stack env file (missing file: none).
    static func envFile(_ path: String) -> [String: String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            var entry = line.trimmingCharacters(in: .whitespaces)
            guard entry.hasPrefix("export ") else { continue }
            entry.removeFirst("export ".count)
            guard let equals = entry.firstIndex(of: "=") else { continue }
            var value = String(entry[entry.index(after: equals)...])
            if value.count >= 2, value.first == "'" || value.first == "\"", value.last == value.first {
                value = String(value.dropFirst().dropLast())
            }
            values[String(entry[..<equals])] = value
        }
        return values
    }

    var kafka: KafkaConfiguration {
        KafkaConfiguration(
            brokers: configuration.kafkaBrokers, clientID: "registrar-cli",
            fetchWaitMaxMs: configuration.fetchWaitMaxMs,
            sessionTimeoutMs: configuration.sessionTimeoutMs)
    }

    var topics: Contract.Topics { Contract.Topics(prefix: configuration.topicPrefix) }

    func client() throws -> RegistrarClient {
        try RegistrarClient(configuration: kafka, topics: topics, logger: logger)
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply the migrations of REGISTRAR_MIGRATIONS (default deploy/migrations) to the database.")

    func run() async throws {
        let context = Context()
        let applied = try await Migrator.migrate(
            configuration: PostgresConfiguration(url: context.configuration.databaseURL),
            directory: context.configuration.migrationsPath, logger: context.logger)
        print(applied.isEmpty ? "migrations: up to date" : "migrations: applied \(applied.joined(separator: ", "))")
    }
}

struct Topics: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage topics.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create every topic of the contract (with REGISTRAR_TOPIC_PREFIX); existing ones are kept.")

        func run() async throws {
            let context = Context()
            let policy = try Policy.load(path: context.configuration.policyPath)
            let specifications = context.topics.specifications(
                retention: policy.topics, partitions: Int32(context.configuration.topicPartitions),
                replication: Int32(context.configuration.topicReplication))
            let existing = try await KafkaAdmin.createTopics(
                specifications, configuration: context.kafka, logger: context.logger)
            let created = specifications.count - existing.count
            let partitions = context.configuration.topicPartitions
            print("topics: \(specifications.count) present (\(partitions) partitions each, \(created) created)")
            // Topics created before retention was configured (or with other values) get the policy's.
            var updated = 0
            for specification in specifications where existing.contains(specification.name) {
                let outcome = try await KafkaAdmin.updateTopicConfig(
                    specification.name, specification.config, configuration: context.kafka, logger: context.logger)
                if outcome == .notSupported {
                    print("topics: the broker cannot alter topic configuration; existing topics keep theirs")
                    break
                }
                if outcome == .updated { updated += 1 }
            }
            if updated > 0 { print("topics: retention updated on \(updated) existing topics") }
            let kept: [(String, Policy.TopicWindow)] = [
                ("commands", policy.topics.commands), ("events", policy.topics.events),
                ("replies", policy.topics.replies), ("notifications.sms", policy.topics.sms),
                ("notifications.push", policy.topics.push), ("deadletter", policy.topics.deadLetter),
            ]
            let retention = kept.map { name, window in "\(name) \(window.retention)" }.joined(separator: ", ")
            print("topics: retention \(retention)")
        }
    }
}

struct Ping: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send system.ping to services and wait for their OK replies.")

    @Option(help: "identity, permissions, binding or deregistration.")
    var service: [String] = []

    @Flag(help: "Ping all four services.")
    var all = false

    @Option(help: "Seconds to keep trying.")
    var timeout: Int = 30

    func run() async throws {
        let context = Context()
        let names = all || service.isEmpty ? RegistrarService.allCases.map(\.rawValue) : service
        let services = try names.map { name in
            guard let service = RegistrarService(rawValue: name) else {
                throw ValidationError("unknown service \(name)")
            }
            return service
        }
        let client = try context.client()
        let deadline = ContinuousClock.now + .seconds(timeout)
        var pending = services
        while !pending.isEmpty {
            var still: [RegistrarService] = []
            for service in pending {
                let envelope = RegistrarClient.command(type: "system.ping", data: .emptyObject)
                do {
                    let reply = try await client.request(envelope, topic: service.commandTopic, timeout: .seconds(5))
                    print("\(service.rawValue): \(reply.data["code"]?.stringValue ?? "?")")
                } catch {
                    still.append(service)
                }
            }
            pending = still
            if !pending.isEmpty && ContinuousClock.now >= deadline {
                FileHandle.standardError.write(
                    Data("no answer from \(pending.map(\.rawValue).joined(separator: ", ")) within \(timeout)s\n".utf8))
                throw ExitCode(1)
            }
        }
    }
}

struct Send: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send one command and print its reply; exits 1 when the reply is rejected.")

    @Argument(help: "Command topic, e.g. identity.commands.")
    var topic: String

    @Argument(help: "Command type, e.g. system.ping.")
    var type: String

    @Option(help: "The command's data as JSON.")
    var payload: String?

    @Option(help: "A file holding the command's data as JSON.")
    var file: String?

    @Option(help: "The session token to send.")
    var sessionToken: String?

    @Option(help: "The operator token to send.")
    var operatorToken: String?

    @Option(help: "Seconds to wait for the reply.")
    var timeout: Int = 30

    @Flag(help: "Print the whole reply event as JSON.")
    var json = false

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let context = Context(connection)
        let text = try file.map { try String(contentsOfFile: $0, encoding: .utf8) } ?? payload ?? "{}"
        guard let data = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
            throw ValidationError("the payload is not JSON")
        }
        let envelope = RegistrarClient.command(
            type: type, data: data, sessionToken: sessionToken, operatorToken: operatorToken)
        let reply = try await Output.request(
            envelope, topic: topic, client: context.client(), timeout: .seconds(timeout))
        if json {
            Output.printJSON(try JSONValue(encoding: reply), pretty: false)
        } else if !Output.isRejected(reply) {
            Output.printJSON(reply.data, pretty: true)
        }
        try Output.failIfRejected(reply)
    }
}

struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "Print the policy in force (REGISTRAR_POLICY merged over the defaults).")

    @Flag(help: "Print the contract's defaults only.")
    var defaults = false

    func run() async throws {
        let context = Context()
        let policy = defaults ? Policy() : try Policy.load(path: context.configuration.policyPath)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(policy), as: UTF8.self))
    }
}
