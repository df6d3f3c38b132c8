import Contract
import Foundation
import Messaging
import Platform
import Postgres

/// A service executable started by a test against a database and topic prefix of its own, so it
/// can be stopped, killed and restarted without disturbing the shared stack.
public final class ServiceProcess: @unchecked Sendable {
    // @unchecked: the processes are only touched by the test that owns this value.
    private var processes: [RegistrarService: Process] = [:]
    /// The service under test (stopped and restarted by `stop` and `start`).
    public let service: RegistrarService
    /// Services started beside it on the same database and topics (left running by `stop`).
    public let companions: [RegistrarService]
    /// Its private topic names.
    public let topics: Topics
    /// Its private database URL.
    public let databaseURL: String
    /// Where its output goes.
    public let logPath: String
    /// The file holding the instance's clock offset (`REGISTRAR_TEST_CLOCK`): every service of the
    /// instance runs on the same movable clock, which `advanceClock(by:)` moves.
    public let clockPath: String
    private let database: String
    private let serverURL: String
    private let environment: [String: String]

    private let policyPath: String?

    /// Creates a database (migrated) and topics for a private instance of `service`, optionally
    /// with a policy (JSON merged over the defaults), a PostgreSQL server (`postgresql://user@host:port`,
    /// default the stack's) and environment variables of its own.
    public init(
        _ service: RegistrarService, policy: String? = nil, with companions: [RegistrarService] = [],
        server: String? = nil, environment: [String: String] = [:]
    ) async throws {
        self.service = service
        self.companions = companions
        self.environment = environment
        let suffix = UUID().uuidString.prefix(8).lowercased()
        database = "registrar_\(suffix)"
        topics = Topics(prefix: "\(TestStack.configuration.topicPrefix)p\(suffix)-")
        let base = TestStack.configuration.databaseURL
        serverURL = server ?? String(base[..<(base.lastIndex(of: "/") ?? base.endIndex)])
        databaseURL = serverURL + "/" + database
        logPath =
            FileManager.default.temporaryDirectory.appendingPathComponent("\(service.processName)-\(suffix).log").path
        clockPath = FileManager.default.temporaryDirectory.appendingPathComponent("clock-\(suffix)").path
        try "0".write(toFile: clockPath, atomically: true, encoding: .utf8)
        if let policy {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("policy-\(suffix).json").path
            try policy.write(toFile: path, atomically: true, encoding: .utf8)
            policyPath = path
        } else {
            policyPath = nil
        }
        let name = database
        // The database name is generated above, never input.
        try await PostgresConnection(configuration: administration).run { session in
            try session.query(PostgresQuery(trusted: "CREATE DATABASE \(name)"))
        }
        try await Migrator.migrate(
            configuration: PostgresConfiguration(url: databaseURL), directory: TestStack.configuration.migrationsPath,
            logger: TestStack.logger)
        try await TestStack.createTopics(topics.allNames, partitions: 3)
    }

    /// The server's maintenance database, where databases are created and dropped.
    private var administration: PostgresConfiguration {
        PostgresConfiguration(url: serverURL + "/postgres", applicationName: "registrar-tests")
    }

    /// A pool on the instance's database, searching the schema of `schemaOf` (default: the service
    /// under test).
    public func pool(_ schemaOf: RegistrarService? = nil) -> PostgresPool {
        PostgresPool(
            configuration: PostgresConfiguration(url: databaseURL, searchPath: [(schemaOf ?? service).schema]))
    }

    /// A client of the instance's topics.
    public func client() throws -> RegistrarClient {
        try RegistrarClient(configuration: TestStack.kafka, topics: topics, logger: TestStack.logger)
    }

    /// Starts the executable (from `REGISTRAR_BIN`, which `scripts/stack` exports), and the
    /// companions that are not running yet.
    public func start() throws {
        processes[service] = try launch(service)
        for companion in companions where processes[companion] == nil {
            processes[companion] = try launch(companion)
        }
    }

    /// Starts one of the instance's services again (after `kill`), with extra environment
    /// variables for this run only (a crash point, say).
    public func start(_ service: RegistrarService, environment extra: [String: String] = [:]) throws {
        processes[service] = try launch(service, extra: extra)
    }

    /// Whether `service` runs (false once it exited or was killed).
    public func isRunning(_ service: RegistrarService) -> Bool { processes[service]?.isRunning == true }

    /// Sends `signal` to one of the instance's services and waits until it exited; returns whether
    /// it exited on its own with status 0 (a graceful stop), `nil` if it was not running.
    @discardableResult
    public func kill(_ service: RegistrarService, signal: Int32 = SIGKILL) -> Bool? {
        guard let process = processes.removeValue(forKey: service) else { return nil }
        Foundation.kill(process.processIdentifier, signal)
        process.waitUntilExit()
        return process.terminationReason == .exit && process.terminationStatus == 0
    }

    /// The CPU time (user + system) `service` has used so far, from /proc.
    public func cpuSeconds(_ service: RegistrarService) -> Double? {
        guard let pid = processes[service]?.processIdentifier,
            let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    private func launch(_ service: RegistrarService, extra: [String: String] = [:]) throws -> Process {
        let environment = ProcessInfo.processInfo.environment
        guard let bin = environment["REGISTRAR_BIN"] else { throw Missing(what: "REGISTRAR_BIN") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: bin).appendingPathComponent(service.processName)
        var childEnvironment = environment
        childEnvironment["REGISTRAR_TOPIC_PREFIX"] = topics.prefix
        childEnvironment["REGISTRAR_DATABASE_URL"] = databaseURL
        childEnvironment["REGISTRAR_KAFKA_FETCH_WAIT_MS"] = "10"
        childEnvironment["REGISTRAR_KAFKA_SESSION_TIMEOUT_MS"] = "6000"
        childEnvironment["REGISTRAR_KAFKA_MAX_POLL_INTERVAL_MS"] = "20000"
        if let policyPath { childEnvironment["REGISTRAR_POLICY"] = policyPath }
        childEnvironment[RegistrarClocks.testClockVariable] = clockPath
        childEnvironment.merge(self.environment) { $1 }
        childEnvironment.merge(extra) { $1 }
        process.environment = childEnvironment
        // O_APPEND: the instance's services share the log, and each write lands at its end.
        let descriptor = open(logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard descriptor >= 0 else { throw Missing(what: "a writable log at \(logPath)") }
        let log = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        process.standardOutput = log
        process.standardError = log
        try process.run()
        return process
    }

    /// Sends `signal` and waits for the exit; returns the exit status (or the signal number when
    /// killed by one), `nil` if it did not exit within `timeout`.
    public func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(20)) async -> (
        status: Int32, bySignal: Bool
    )? {
        guard let process = processes[service] else { return nil }
        Foundation.kill(process.processIdentifier, signal)
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        guard !process.isRunning else { return nil }
        processes[service] = nil
        return (process.terminationStatus, process.terminationReason == .uncaughtSignal)
    }

    #if DEBUG
        // The movable clock exists in debug builds only (the tests' build); a release build of the
        // package (the bench's) has no use for these.

        /// Moves the instance's time forward by `interval` at once: every service of the instance sees
        /// it on its next reading of the clock (a command's receipt, a periodic task's tick).
        public func advanceClock(by interval: Duration) throws {
            let seconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
            try MovableClock.advance(at: clockPath, by: seconds)
        }

        /// The instance's time now.
        public var now: Date { MovableClock(path: clockPath).now() }
    #endif

    /// Stops the processes if running and drops the database.
    public func tearDown() async throws {
        for running in Array(processes.keys) { kill(running) }
        try? FileManager.default.removeItem(atPath: clockPath)
        let name = database
        try await PostgresConnection(configuration: administration).run { session in
            try session.query(PostgresQuery(trusted: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"))
        }
    }

    /// Creates a private instance, starts it, waits until it answers `system.ping`, runs `body`
    /// with a client of its topics and tears it down; an error from `body` comes back with the
    /// instance's log.
    public static func run(
        _ service: RegistrarService, policy: String? = nil, with companions: [RegistrarService] = [],
        server: String? = nil, environment: [String: String] = [:],
        _ body: (ServiceProcess, RegistrarClient) async throws -> Void
    ) async throws {
        let instance = try await ServiceProcess(
            service, policy: policy, with: companions, server: server, environment: environment)
        var failure: (any Error)?
        do {
            try instance.start()
            let client = try instance.client()
            for started in [service] + companions {
                _ = try await client.request(
                    RegistrarClient.command(type: "system.ping", data: .emptyObject), topic: started.commandTopic,
                    timeout: .seconds(40))
            }
            try await body(instance, client)
        } catch {
            failure = error
        }
        let log = instance.log
        try await instance.tearDown()
        if let failure { throw Failed(error: failure, log: String(log.suffix(3000))) }
    }

    /// An instance test's error with the instance's log.
    public struct Failed: Error, CustomStringConvertible {
        /// The error.
        public var error: any Error
        /// The end of the instance's log.
        public var log: String
        /// Both.
        public var description: String { "\(error)\n--- instance log ---\n\(log)" }
    }

    /// The instance's log so far.
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    struct Missing: Error, CustomStringConvertible {
        var what: String
        var description: String { "\(what) is not set (run the tests through scripts/test)" }
    }
}
