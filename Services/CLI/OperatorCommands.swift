import ArgumentParser
import Contract
import Foundation
import Messaging
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
        commandName: "review", abstract: "Look at the review queue and decide tasks.",
        subcommands: [List.self, Decide.self])

    struct Decide: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Approve or reject a review task (review.decide) with an operator token.")

        @Option(help: "The task id (see `registrar review list`).")
        var task: String

        @Flag(help: "Approve the task.")
        var approve = false

        @Flag(help: "Reject the task.")
        var reject = false

        @Option(help: "The note kept in the review audit.")
        var note: String

        @Option(help: "The operator's token (`registrar operator add`); default REGISTRAR_OPERATOR_TOKEN.")
        var operatorToken: String?

        @Option(help: "Seconds to wait for the reply.")
        var timeout: Int = 30

        @Flag(help: "Print the reply event as JSON.")
        var json = false

        @OptionGroup var connection: ConnectionOptions

        func validate() throws {
            guard approve != reject else { throw ValidationError("pass exactly one of --approve and --reject") }
        }

        func run() async throws {
            let context = Context(connection)
            guard let token = operatorToken ?? ProcessInfo.processInfo.environment["REGISTRAR_OPERATOR_TOKEN"] else {
                throw ValidationError("--operator-token is required")
            }
            let envelope = RegistrarClient.command(
                type: "review.decide",
                data: .object([
                    "taskId": .string(task), "decision": .string(approve ? "approve" : "reject"), "note": .string(note),
                ]), operatorToken: token)
            let reply = try await Output.request(
                envelope, topic: "identity.commands", client: context.client(), timeout: .seconds(timeout))
            if json { Output.printJSON(try JSONValue(encoding: reply), pretty: false) }
            try Output.failIfRejected(reply, step: "review.decide")
            if !json { print("task \(task): \(approve ? "approved" : "rejected") (\(Output.line(reply)))") }
        }
    }

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
