import Contract
import Foundation
import Kafka
import Logging
import Messaging
import Platform
import Postgres

/// The running stack the integration tests talk to, from the environment `scripts/test` exports.
///
/// Integration tests are enabled when `REGISTRAR_KAFKA_BROKERS` is set, and always under `CI=true`,
/// where a missing stack makes them fail instead of skipping.
public enum TestStack {
    /// True when integration tests should run.
    public static let enabled: Bool = {
        let environment = ProcessInfo.processInfo.environment
        return environment["REGISTRAR_KAFKA_BROKERS"] != nil || environment["CI"] == "true"
    }()

    /// The stack's configuration.
    public static let configuration = RegistrarConfiguration()

    /// Kafka settings of the stack (short fetch wait, short session timeout).
    public static var kafka: KafkaConfiguration {
        KafkaConfiguration(
            brokers: configuration.kafkaBrokers, clientID: "registrar-tests", fetchWaitMaxMs: 10,
            sessionTimeoutMs: 6000)
    }

    /// The stack's topic names.
    public static var topics: Topics { Topics(prefix: configuration.topicPrefix) }

    /// A database configuration with `searchPath`.
    public static func postgres(searchPath: [String] = ["public"]) -> PostgresConfiguration {
        PostgresConfiguration(
            url: configuration.databaseURL, searchPath: searchPath, applicationName: "registrar-tests")
    }

    /// A quiet logger.
    public static let logger: Logger = {
        var logger = Logger(label: "tests") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .warning
        return logger
    }()

    /// One client shared by the tests of a process (its reply reader is positioned once).
    public static let client: RegistrarClient = {
        do {
            return try RegistrarClient(configuration: kafka, topics: topics, logger: logger)
        } catch {
            fatalError("cannot create the test client: \(error)")
        }
    }()

    /// A name no other run or test uses.
    public static func unique(_ base: String) -> String {
        "\(configuration.topicPrefix)\(base)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Creates fresh single-purpose topics (full names).
    public static func createTopics(_ names: [String], partitions: Int32 = 1) async throws {
        try await KafkaAdmin.createTopics(
            names, partitions: partitions, replication: 1, configuration: kafka, logger: logger)
    }

    /// Polls `condition` until it holds (every 50 ms, up to `timeout`); throws naming `what` when it
    /// never does. Effects travel through topics, so tests wait for them rather than sleep.
    public static func eventually(
        _ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw NeverHappened(what: what)
    }

    /// Runs `attempt` again (every 100 ms, up to `timeout`) while its reply's code is one of `codes`,
    /// and returns the last reply. A session or operator that was just created reaches the other
    /// services through identity's events a moment later, so a command sent at once may meet
    /// `UNAUTHENTICATED`: the tests send it again (a fresh id each time), as a client would.
    public static func retrying(
        while codes: Set<String> = ["UNAUTHENTICATED"], timeout: Duration = .seconds(30),
        _ attempt: () async throws -> IdentityClient.Answer
    ) async throws -> IdentityClient.Answer {
        let deadline = ContinuousClock.now + timeout
        while true {
            let answer = try await attempt()
            if !codes.contains(answer.code ?? "") || ContinuousClock.now > deadline { return answer }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// What `eventually` waited for in vain.
    public struct NeverHappened: Error, CustomStringConvertible {
        /// The awaited condition.
        public var what: String
        /// Logged form.
        public var description: String { "never: \(what)" }
    }
}
