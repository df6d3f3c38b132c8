import Foundation
import Logging

/// Applies the ordered SQL files of a folder (`0001_name.sql`, `0002_…`) once each.
///
/// Applied versions and their checksums live in `public.schema_migrations`; a session-level
/// advisory lock makes concurrent runners (replicas starting together) wait for each other, so no
/// file is ever applied twice. A file changed after it was applied is an error.
public enum Migrator {
    /// The advisory lock key ("REGI").
    static let lockKey: Int64 = 0x5245_4749

    /// Applies what is missing and returns the versions applied now.
    @discardableResult
    public static func migrate(
        configuration: PostgresConfiguration, directory: String, logger: Logger
    ) async throws -> [String] {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasSuffix(".sql") }.sorted()
        let scripts = try files.map { name -> (String, String) in
            (name, try String(contentsOfFile: directory + "/" + name, encoding: .utf8))
        }
        let connection = PostgresConnection(configuration: configuration)
        return try await connection.run { session in
            try session.query("SELECT pg_advisory_lock(\(lockKey))")
            defer { _ = try? session.query("SELECT pg_advisory_unlock(\(lockKey))") }
            try session.query(
                """
                CREATE TABLE IF NOT EXISTS public.schema_migrations (
                    version text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                """)
            var known: [String: String] = [:]
            for row in try session.query("SELECT version, checksum FROM public.schema_migrations") {
                known[try row.decode("version")] = try row.decode("checksum", as: String.self)
            }
            var applied: [String] = []
            for (name, sql) in scripts {
                let sum = checksum(sql)
                if let existing = known[name] {
                    guard existing == sum else {
                        throw PostgresError(.migration, reason: "\(name) changed after it was applied")
                    }
                    continue
                }
                logger.info("applying migration", metadata: ["pg.migration": "\(name)"])
                try session.query("BEGIN")
                do {
                    try session.executeScript(sql)
                    try session.query(
                        "INSERT INTO public.schema_migrations (version, checksum) VALUES (\(name), \(sum))")
                    try session.query("COMMIT")
                } catch {
                    _ = try? session.query("ROLLBACK")
                    // Migration files are trusted constant SQL (no bound values): the server's own
                    // message is what the operator needs to fix the file.
                    throw PostgresError(.migration, reason: "\(name): \(String(reflecting: error))")
                }
                applied.append(name)
            }
            return applied
        }
    }

    /// FNV-1a 64 of the file's bytes, hex: enough to notice an edited file.
    static func checksum(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}
