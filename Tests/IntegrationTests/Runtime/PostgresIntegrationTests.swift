import Foundation
import Postgres
import TestSupport
import Testing

@Suite(.enabled(if: TestStack.enabled))
struct PostgresIntegrationTests {
    /// A fresh schema with one table, dropped by the caller.
    func scratch() async throws -> (PostgresPool, String) {
        let schema = "scratch_\(UUID().uuidString.prefix(8).lowercased())"
        let admin = PostgresConnection(configuration: TestStack.postgres())
        try await admin.run { session in
            // The schema name is generated above, never input.
            try session.executeScript(
                "CREATE SCHEMA \(schema); CREATE TABLE \(schema).items (id bigserial PRIMARY KEY, name text NOT NULL, n int NOT NULL DEFAULT 0, at timestamptz, data bytea)"
            )
        }
        return (PostgresPool(configuration: TestStack.postgres(searchPath: [schema])), schema)
    }

    func drop(_ schema: String) async throws {
        try await PostgresConnection(configuration: TestStack.postgres()).run { session in
            try session.executeScript("DROP SCHEMA \(schema) CASCADE")
        }
    }

    @Test func injectionTextIsStoredVerbatim() async throws {
        let (pool, schema) = try await scratch()
        let hostile = "'); DROP TABLE items; --"
        let at = Date(timeIntervalSince1970: 1_795_680_000.123_456)
        try await pool.query(
            "INSERT INTO items (name, at, data) VALUES (\(hostile), \(at), \(PostgresBytes([0, 1, 255])))")
        let row = try #require(try await pool.query("SELECT name, at, data FROM items WHERE name = \(hostile)").first)
        #expect(try row.decode("name", as: String.self) == hostile)
        #expect(abs(try row.decode("at", as: Date.self).timeIntervalSince(at)) < 0.000_01)
        #expect(try row.decode("data", as: PostgresBytes.self) == PostgresBytes([0, 1, 255]))
        #expect(try await pool.query("SELECT count(*) AS n FROM items").first?.decode("n", as: Int.self) == 1)
        try await drop(schema)
    }

    @Test func aFailingTransactionLeavesNothing() async throws {
        let (pool, schema) = try await scratch()
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await pool.transaction { session in
                try session.query("INSERT INTO items (name) VALUES (\("half"))")
                throw Boom()
            }
        }
        #expect(try await pool.query("SELECT count(*) AS n FROM items").first?.decode("n", as: Int.self) == 0)
        let error = await #expect(throws: PostgresError.self) {
            try await pool.query("INSERT INTO items (name) VALUES (\(Optional<String>.none))")
        }
        #expect(error?.sqlState == "23502")
        #expect(error?.isRetriable == false)
        // A value the server quotes back stays out of the loggable description.
        let echoed = await #expect(throws: PostgresError.self) {
            try await pool.query("SELECT \("secret-value-17")::uuid")
        }
        #expect(echoed?.description.contains("secret-value-17") == false)
        #expect(echoed?.debugDescription.contains("secret-value-17") == true)
        try await drop(schema)
    }

    @Test func serializationFailuresAreRetriedUntilEveryIncrementLands() async throws {
        let (pool, schema) = try await scratch()
        try await pool.query("INSERT INTO items (name, n) VALUES ('counter', 0)")
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    _ = try? await pool.transaction(isolation: .serializable) { session in
                        let n = try session.query("SELECT n FROM items WHERE name = 'counter'").first!.decode(
                            "n", as: Int.self)
                        try session.query("UPDATE items SET n = \(n + 1) WHERE name = 'counter'")
                    }
                }
            }
        }
        #expect(try await pool.query("SELECT n FROM items").first?.decode("n", as: Int.self) == 8)
        try await drop(schema)
    }

    @Test func migrationsApplyOnceEvenWhenRunTogether() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let schema = "mig_\(UUID().uuidString.prefix(8).lowercased())"
        try "CREATE SCHEMA \(schema); CREATE TABLE \(schema).t (id int);".write(
            toFile: "\(directory)/0001_\(schema).sql", atomically: true, encoding: .utf8)
        try "INSERT INTO \(schema).t VALUES (1);".write(
            toFile: "\(directory)/0002_\(schema).sql", atomically: true, encoding: .utf8)
        let results = try await withThrowingTaskGroup(of: [String].self) { group in
            for _ in 0..<3 {
                group.addTask {
                    try await Migrator.migrate(
                        configuration: TestStack.postgres(), directory: directory, logger: TestStack.logger)
                }
            }
            return try await group.reduce(into: [[String]]()) { $0.append($1) }
        }
        #expect(results.flatMap { $0 }.sorted() == ["0001_\(schema).sql", "0002_\(schema).sql"])
        let pool = PostgresPool(configuration: TestStack.postgres(searchPath: [schema]))
        #expect(try await pool.query("SELECT count(*) AS n FROM t").first?.decode("n", as: Int.self) == 1)

        // An applied file that changed is refused.
        try "INSERT INTO \(schema).t VALUES (2);".write(
            toFile: "\(directory)/0002_\(schema).sql", atomically: true, encoding: .utf8)
        await #expect(throws: PostgresError.self) {
            try await Migrator.migrate(
                configuration: TestStack.postgres(), directory: directory, logger: TestStack.logger)
        }
        try await PostgresConnection(configuration: TestStack.postgres()).run { session in
            try session.executeScript("DROP SCHEMA \(schema) CASCADE")
            try session.query("DELETE FROM public.schema_migrations WHERE version LIKE \("%" + schema + "%")")
        }
    }

    @Test func literalStatementsArePreparedOnceAndStaleOnesPreparedAgain() async throws {
        let (_, schema) = try await scratch()
        let application = "prepared-\(schema)"
        var configuration = TestStack.postgres(searchPath: [schema])
        configuration.applicationName = application
        let connection = PostgresConnection(configuration: configuration)
        /// The prepared statements of the connection's session whose text mentions `items`.
        func preparedOnItems() async throws -> [String] {
            try await connection.run { session in
                try session.query(
                    PostgresQuery(
                        trusted: "SELECT statement FROM pg_prepared_statements WHERE statement LIKE '%items%'")
                ).map { try $0.decode("statement", as: String.self) }
            }
        }
        for name in ["a", "b", "c"] {
            try await connection.run { try $0.query("INSERT INTO items (name) VALUES (\(name))") }
        }
        // One literal text, prepared once and run three times; trusted text is never prepared.
        #expect(try await preparedOnItems() == ["INSERT INTO items (name) VALUES ($1)"])
        try await connection.run { try $0.query(PostgresQuery(trusted: "SELECT count(*) FROM items")) }
        let planned: PostgresQuery = "SELECT count(*) FROM items WHERE name = \("a")"
        try await connection.run { try $0.query(planned.plannedEachTime) }
        #expect(try await preparedOnItems().count == 1)

        // DEALLOCATE drops them: the next use prepares again, without an error.
        try await connection.run { try $0.query(PostgresQuery(trusted: "DEALLOCATE ALL")) }
        try await connection.run { try $0.query("INSERT INTO items (name) VALUES (\("d"))") }
        #expect(try await preparedOnItems().count == 1)

        // A table changed under a proven statement: one retriable error, then it runs prepared anew.
        let read: PostgresQuery = "SELECT * FROM items WHERE name = \("a")"
        _ = try await connection.run { try $0.query(read) }
        try await connection.run { try $0.executeScript("ALTER TABLE items ADD COLUMN extra int") }
        let stale = await #expect(throws: PostgresError.self) { try await connection.run { try $0.query(read) } }
        #expect(stale?.isStalePreparedStatement == true && stale?.isRetriable == true)
        let again = try await connection.run { try $0.query(read) }
        #expect(again.count == 1)

        // A new connection (here: the old one killed) starts with an empty cache and prepares again.
        try await PostgresConnection(configuration: TestStack.postgres()).run { session in
            try session.query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = \(application)")
        }
        _ = try? await connection.run { try $0.query(read) }  // May meet the dead connection first.
        #expect(try await connection.run { try $0.query(read) }.count == 1)
        #expect(try await preparedOnItems().count == 1)
        try await drop(schema)
    }
}
