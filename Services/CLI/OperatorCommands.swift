import ArgumentParser
import Foundation
import Platform
import Postgres

/// `registrar operator …`: review operators, who decide `review.decide` with an operator token.
struct OperatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operator", abstract: "Manage review operators.", subcommands: [Add.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Create an operator and print its token once (only its SHA-256 is stored); the identity service announces it to the others."
        )

        @Option(help: "The operator's name, as shown in the review audit.")
        var name: String

        func run() async throws {
            let name = name.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !name.isEmpty, name.count <= 128 else { throw ValidationError("--name must be 1 to 128 characters") }
            let context = Context()
            // 32 CSPRNG bytes: like session tokens, hashed without a key.
            let token = Sodium.randomBytes(32).hexString
            let hash = Sodium.sha256(Array(token.utf8))
            let id = UUID().uuidString.lowercased()
            try await PostgresConnection(configuration: identityDatabase(context)).run { session in
                try session.query(
                    """
                    INSERT INTO operators (id, name, token_hash, created_at)
                    VALUES (\(id)::uuid, \(name), \(PostgresBytes(hash)), \(Date()))
                    """)
            }
            print("operator: \(id) \(name)")
            print("token: \(token)")
            FileHandle.standardError.write(Data("the token is shown only this once; keep it secret\n".utf8))
        }
    }
}

/// `registrar review list`: the review queue with its due times, for ops.
struct ReviewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "review", abstract: "Look at the review queue.", subcommands: [List.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print open review tasks (oldest due first); --overdue for those past their SLA only.")

        @Flag(help: "Only tasks past their due time.")
        var overdue = false

        func run() async throws {
            let context = Context()
            let onlyOverdue = overdue
            let lines = try await PostgresConnection(configuration: identityDatabase(context)).run { session in
                try session.query(
                    """
                    SELECT id::text AS id, kind, due_at, overdue FROM review_queue
                    WHERE state = 'open' AND (overdue OR NOT \(onlyOverdue))
                    ORDER BY due_at
                    """
                ).map { row -> String in
                    let due: Date = try row.decode("due_at")
                    let late: Bool = try row.decode("overdue")
                    return "\(try row.decode("id", as: String.self))  \(try row.decode("kind", as: String.self))"
                        + "  due \(ISO8601DateFormatter().string(from: due))\(late ? "  OVERDUE" : "")"
                }
            }
            for line in lines { print(line) }
            print("\(lines.count) task(s)")
        }
    }
}

/// The database of REGISTRAR_DATABASE_URL, searching the identity schema.
func identityDatabase(_ context: Context) -> PostgresConfiguration {
    PostgresConfiguration(url: context.configuration.databaseURL, searchPath: ["identity"])
}
