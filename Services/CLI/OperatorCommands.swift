import ArgumentParser
import Contract
import Foundation
import Messaging
import Platform
import Postgres

/// The operator token and output flags of the operator commands.
struct OperatorOptions: ParsableArguments {
    @Option(help: "The operator's token; default REGISTRAR_OPERATOR_TOKEN.")
    var operatorToken: String?

    @Option(help: "Seconds to wait for the reply.")
    var timeout: Int = 30

    @Flag(help: "Print the reply event as JSON.")
    var json = false

    @OptionGroup var connection: ConnectionOptions

    /// Sends an operator command and returns its reply; `--json` prints it, a rejection is one line
    /// on stderr and exit 1.
    func send(_ type: String, topic: String, _ data: [String: JSONValue]) async throws -> CloudEvent {
        guard let token = operatorToken ?? ProcessInfo.processInfo.environment["REGISTRAR_OPERATOR_TOKEN"] else {
            throw ValidationError("--operator-token is required")
        }
        let context = Context(connection)
        let envelope = RegistrarClient.command(type: type, data: .object(data), operatorToken: token)
        let reply = try await Output.request(
            envelope, topic: topic, client: context.client(), timeout: .seconds(timeout))
        if json { Output.printJSON(try JSONValue(encoding: reply), pretty: false) }
        try Output.failIfRejected(reply, step: type)
        return reply
    }
}

/// `registrar operator …`: operators and their roles (issue 17). `bootstrap` writes the first admin
/// into identity's table once; every other change goes through identity's `operator.*` commands
/// with an admin's token.
struct OperatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operator", abstract: "Manage operators (support, reviewer, admin).",
        subcommands: [Bootstrap.self, Add.self, Disable.self, RotateToken.self])

    struct Bootstrap: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Create the first admin and print its token once (only its SHA-256 is stored); refused once an enabled admin exists."
        )

        @Option(help: "The admin's name, as shown in the audit trail.")
        var name: String

        func run() async throws {
            let name = name.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !name.isEmpty, name.count <= 128 else { throw ValidationError("--name must be 1 to 128 characters") }
            let context = Context()
            // 32 CSPRNG bytes: like session tokens, hashed without a key.
            let token = Sodium.randomBytes(32).hexString
            let hash = Sodium.sha256(Array(token.utf8))
            let id = UUID().uuidString.lowercased()
            // One statement: two bootstraps racing cannot both see "no admin" (the advisory lock
            // orders them; the second finds the first's row).
            let created = try await PostgresConnection(configuration: identityDatabase(context)).run { session in
                try session.query("BEGIN")
                try session.query("SELECT pg_advisory_xact_lock(hashtextextended('operator-bootstrap', 0))")
                let rows = try session.query(
                    """
                    INSERT INTO operators (id, name, role, token_hash, created_at)
                    SELECT \(id)::uuid, \(name), 'admin', \(PostgresBytes(hash)), \(Date())
                    WHERE NOT EXISTS (SELECT FROM operators WHERE role = 'admin' AND disabled_at IS NULL)
                    RETURNING id
                    """)
                try session.query("COMMIT")
                return rows.count > 0
            }
            guard created else {
                throw ValidationError(
                    "an enabled admin exists: add operators with `registrar operator add` and an admin's token")
            }
            print("operator: \(id) \(name) admin")
            print("token: \(token)")
            FileHandle.standardError.write(Data("the token is shown only this once; keep it secret\n".utf8))
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an operator (operator.add, admin) and print its token once.")

        @Option(help: "The operator's name, as shown in the audit trail.")
        var name: String

        @Option(help: "support, reviewer or admin.")
        var role: String

        @OptionGroup var options: OperatorOptions

        func run() async throws {
            let reply = try await options.send(
                "operator.add", topic: "identity.commands", ["name": .string(name), "role": .string(role)])
            guard !options.json else { return }
            print("operator: \(Output.result(reply, "operatorId") ?? "?") \(name) \(role)")
            print("token: \(Output.result(reply, "token") ?? "?")")
            FileHandle.standardError.write(Data("the token is shown only this once; keep it secret\n".utf8))
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Disable an operator (operator.disable, admin): its token is refused from now on.")

        @Option(help: "The operator's id.")
        var id: String

        @Option(help: "Why, kept in the audit trail.")
        var reason: String

        @OptionGroup var options: OperatorOptions

        func run() async throws {
            _ = try await options.send(
                "operator.disable", topic: "identity.commands", ["operatorId": .string(id), "reason": .string(reason)])
            if !options.json { print("operator \(id): disabled") }
        }
    }

    struct RotateToken: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-token",
            abstract:
                "Replace an operator's token (operator.rotate_token: an admin, or the operator itself) and print the new one once."
        )

        @Option(help: "The operator's id.")
        var id: String

        @OptionGroup var options: OperatorOptions

        func run() async throws {
            let reply = try await options.send(
                "operator.rotate_token", topic: "identity.commands", ["operatorId": .string(id)])
            guard !options.json else { return }
            print("token: \(Output.result(reply, "token") ?? "?")")
            FileHandle.standardError.write(Data("the old token is refused from now on\n".utf8))
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

        @OptionGroup var options: OperatorOptions

        func validate() throws {
            guard approve != reject else { throw ValidationError("pass exactly one of --approve and --reject") }
        }

        func run() async throws {
            let reply = try await options.send(
                "review.decide", topic: "identity.commands",
                ["taskId": .string(task), "decision": .string(approve ? "approve" : "reject"), "note": .string(note)])
            if !options.json { print("task \(task): \(approve ? "approved" : "rejected") (\(Output.line(reply)))") }
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
