import Dispatch
import Logging
import Synchronization

/// Where and how to connect.
public struct PostgresConfiguration: Sendable {
    /// A `postgresql://` URL, expanded by libpq (never concatenated into a conninfo string).
    public var url: String
    /// Schemas searched for unqualified names; a service sets its own schema. Default: `public`.
    public var searchPath: [String]
    /// `application_name`, visible in `pg_stat_activity`. Default: `registrar`.
    public var applicationName: String
    /// Connections in a pool. Default: 4.
    public var poolSize: Int
    /// Statements each connection keeps prepared (its statement cache); past it a statement runs
    /// unnamed. The services' statement texts are a fixed set of literals, well under it.
    /// Default: 512.
    public var statementCacheSize: Int

    /// Creates a configuration.
    public init(
        url: String, searchPath: [String] = ["public"], applicationName: String = "registrar", poolSize: Int = 4,
        statementCacheSize: Int = 512
    ) {
        self.url = url
        self.searchPath = searchPath
        self.applicationName = applicationName
        self.poolSize = poolSize
        self.statementCacheSize = statementCacheSize
    }

    var options: String {
        // Schema names come from the service's own constants, never from input.
        "-c search_path=\(searchPath.joined(separator: ",")) -c TimeZone=UTC -c client_min_messages=warning"
    }
}

/// Synchronous access to a connection inside `PostgresConnection.run` (on the connection's queue).
public struct PostgresSession: ~Copyable {
    let connection: PQConnection

    /// Runs one parameterized statement: one written in the source (a literal with `$n`
    /// parameters) as a prepared statement from the connection's cache, a `trusted:` one unnamed.
    @discardableResult
    public func query(_ query: PostgresQuery) throws(PostgresError) -> PostgresRows {
        try connection.execute(query.sql, query.binds, cacheable: query.isLiteral)
    }

    /// Runs a trusted multi-statement script (migration files only).
    public func executeScript(_ sql: String) throws(PostgresError) {
        try connection.executeScript(sql)
    }
}

/// Transaction isolation levels.
public enum PostgresIsolation: String, Sendable {
    /// READ COMMITTED (PostgreSQL's default).
    case readCommitted = "READ COMMITTED"
    /// SERIALIZABLE.
    case serializable = "SERIALIZABLE"
}

/// One database connection, confined to its own serial queue so libpq's blocking calls never run
/// on the cooperative thread pool. It reconnects on the next use after the connection broke.
///
/// `@unchecked Sendable`: the libpq connection is touched only on `queue`.
public final class PostgresConnection: @unchecked Sendable {
    private let configuration: PostgresConfiguration
    private let queue: DispatchQueue
    private var connection: PQConnection?

    /// Creates a connection; it connects on first use.
    public init(configuration: PostgresConfiguration) {
        self.configuration = configuration
        self.queue = DispatchQueue(label: "registrar.postgres")
    }

    /// Runs `body` with a live session on the connection's queue.
    @discardableResult
    public func run<T: Sendable>(_ body: @escaping @Sendable (borrowing PostgresSession) throws -> T) async throws -> T
    {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try self.runOnQueue(body) })
            }
        }
    }

    /// Runs `body` in a transaction, again from the start on a serialization failure or deadlock
    /// (up to `retries` times). Other errors roll back and propagate.
    @discardableResult
    public func transaction<T: Sendable>(
        isolation: PostgresIsolation = .readCommitted, retries: Int = 5,
        _ body: @escaping @Sendable (borrowing PostgresSession) throws -> T
    ) async throws -> T {
        try await run { session in
            var attempt = 0
            while true {
                do {
                    try session.query(PostgresQuery(trusted: "BEGIN ISOLATION LEVEL \(isolation.rawValue)"))
                    let value = try body(session)
                    try session.query("COMMIT")
                    return value
                } catch {
                    _ = try? session.query("ROLLBACK")
                    if let pg = error as? PostgresError, pg.isSerializationFailure, attempt < retries {
                        attempt += 1
                        continue
                    }
                    throw error
                }
            }
        }
    }

    private func runOnQueue<T>(_ body: (borrowing PostgresSession) throws -> T) throws -> T {
        if connection?.isBroken ?? true {
            connection = nil
            connection = try PQConnection(
                url: configuration.url, options: configuration.options, applicationName: configuration.applicationName,
                statementCacheSize: configuration.statementCacheSize)
        }
        let session = PostgresSession(connection: connection!)
        do {
            return try body(session)
        } catch let error as PostgresError where error.code == .connection {
            connection = nil
            throw error
        }
    }
}

/// A fixed set of connections handed out one caller at a time.
public final class PostgresPool: Sendable {
    private let connections: [PostgresConnection]
    private let lease: PoolLease

    /// Creates `configuration.poolSize` lazily connecting connections.
    public init(configuration: PostgresConfiguration) {
        connections = (0..<max(1, configuration.poolSize)).map { _ in PostgresConnection(configuration: configuration) }
        lease = PoolLease(count: connections.count)
    }

    /// Runs `body` on a connection of its own.
    public func withConnection<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        let index = await lease.acquire()
        defer { lease.release(index) }
        return try await body(connections[index])
    }

    /// Runs `body` with a session (autocommit).
    @discardableResult
    public func run<T: Sendable>(_ body: @escaping @Sendable (borrowing PostgresSession) throws -> T) async throws -> T
    {
        try await withConnection { try await $0.run(body) }
    }

    /// Runs `body` in a transaction (see `PostgresConnection.transaction`).
    @discardableResult
    public func transaction<T: Sendable>(
        isolation: PostgresIsolation = .readCommitted,
        _ body: @escaping @Sendable (borrowing PostgresSession) throws -> T
    ) async throws -> T {
        try await withConnection { try await $0.transaction(isolation: isolation, body) }
    }

    /// Runs one statement (autocommit).
    @discardableResult
    public func query(_ query: PostgresQuery) async throws -> PostgresRows {
        try await run { try $0.query(query) }
    }
}

/// Free-slot bookkeeping of a pool.
final class PoolLease: Sendable {
    private struct State {
        var free: [Int]
        var waiters: [CheckedContinuation<Int, Never>] = []
    }

    private let state: Mutex<State>

    init(count: Int) { state = Mutex(State(free: Array(0..<count))) }

    func acquire() async -> Int {
        await withCheckedContinuation { continuation in
            let index: Int? = state.withLock { s in
                if let index = s.free.popLast() { return index }
                s.waiters.append(continuation)
                return nil
            }
            if let index { continuation.resume(returning: index) }
        }
    }

    func release(_ index: Int) {
        let waiter: CheckedContinuation<Int, Never>? = state.withLock { s in
            if s.waiters.isEmpty {
                s.free.append(index)
                return nil
            }
            return s.waiters.removeFirst()
        }
        waiter?.resume(returning: index)
    }
}
