import ArgumentParser
import Foundation
import Kafka
import Logging
import Messaging
import Platform
import Postgres

/// `registrar`: operate and try out a Registrar stack. Connection facts come from the environment
/// (`source .stack/env` for the local stack): REGISTRAR_KAFKA_BROKERS, REGISTRAR_DATABASE_URL,
/// REGISTRAR_TOPIC_PREFIX.
@main
struct Registrar: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Operate and try out a Registrar stack.",
        subcommands: [
            Migrate.self, Topics.self, Ping.self, Send.self, PolicyCommand.self, OperatorCommand.self,
            ReviewCommand.self,
        ])
}

/// Shared set-up of the subcommands.
struct Context {
    let configuration = RegistrarConfiguration()
    let logger: Logger

    init() {
        var logger = Logger(label: "registrar") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .warning
        self.logger = logger
    }

    var kafka: KafkaConfiguration {
        KafkaConfiguration(
            brokers: configuration.kafkaBrokers, clientID: "registrar-cli",
            fetchWaitMaxMs: configuration.fetchWaitMaxMs,
            sessionTimeoutMs: configuration.sessionTimeoutMs)
    }

    var topics: Messaging.Topics { Messaging.Topics(prefix: configuration.topicPrefix) }

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
            let names = context.topics.allNames
            try await KafkaAdmin.createTopics(
                names, partitions: Int32(context.configuration.topicPartitions),
                replication: Int32(context.configuration.topicReplication), configuration: context.kafka,
                logger: context.logger)
            print("topics: \(names.count) present (\(context.configuration.topicPartitions) partitions each)")
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

    func run() async throws {
        let context = Context()
        let text = try file.map { try String(contentsOfFile: $0, encoding: .utf8) } ?? payload ?? "{}"
        guard let data = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
            throw ValidationError("the payload is not JSON")
        }
        let envelope = RegistrarClient.command(
            type: type, data: data, sessionToken: sessionToken, operatorToken: operatorToken)
        let reply = try await context.client().request(envelope, topic: topic, timeout: .seconds(timeout))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let shown: JSONValue = json ? try JSONValue(encoding: reply) : reply.data
        print(String(decoding: try encoder.encode(shown), as: UTF8.self))
        if reply.data["status"]?.stringValue == "rejected" {
            throw ExitCode(1)
        }
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
