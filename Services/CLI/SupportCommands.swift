import ArgumentParser
import Contract
import Foundation
import Messaging
import Platform
import Postgres

/// `registrar support …`: what support does for a user (issue 17), with a support or admin token.
struct SupportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "support", abstract: "Look an account up and lift its locks (support operators).",
        subcommands: [Lookup.self, Unlock.self, DeviceUnlock.self, RevokeSessions.self])

    struct Lookup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Print an account as every service knows it: identity (support.account.lookup, by phone or id), then permissions, binding and deregistration (support.<service>.lookup)."
        )

        @Option(help: "The account's phone number.")
        var phone: String?

        @Option(help: "The account id.")
        var account: String?

        @OptionGroup var options: OperatorOptions

        func validate() throws {
            guard (phone == nil) != (account == nil) else {
                throw ValidationError("pass exactly one of --phone and --account")
            }
        }

        func run() async throws {
            var query: [String: JSONValue] = [:]
            if let phone { query["phone"] = .string(phone) }
            if let account { query["accountId"] = .string(account) }
            let identity = try await options.send("support.account.lookup", topic: "identity.commands", query)
            guard let id = identity.data["result"]?["account"]?["accountId"]?.stringValue else {
                throw ValidationError("identity answered no account id")
            }
            var parts: [(String, CloudEvent)] = [("identity", identity)]
            for service in ["permissions", "binding", "deregistration"] {
                parts.append(
                    (
                        service,
                        try await options.send(
                            "support.\(service).lookup", topic: "\(service).commands", ["accountId": .string(id)])
                    ))
            }
            guard !options.json else { return }
            for (service, reply) in parts {
                print("== \(service) ==")
                Output.printJSON(reply.data["result"] ?? .null, pretty: true)
            }
        }
    }

    struct Unlock: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Lift an account's wrong-password lock (--lock login) or security-question lock (--lock security_questions)."
        )

        @Option(help: "The account id.")
        var account: String

        @Option(help: "login or security_questions.")
        var lock: String

        @Option(help: "Why, kept in the audit trail.")
        var reason: String

        @OptionGroup var options: OperatorOptions

        func run() async throws {
            _ = try await options.send(
                "support.account.unlock", topic: "identity.commands",
                ["accountId": .string(account), "lock": .string(lock), "reason": .string(reason)])
            if !options.json { print("account \(account): \(lock) lock lifted") }
        }
    }

    struct DeviceUnlock: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "device-unlock",
            abstract:
                "Lift a device's deregistration lock (support.device.unlock; the device id from `support lookup`).")

        @Option(help: "The device id (deregistration's, from the lookup's requests).")
        var device: String

        @Option(help: "Why, kept in the audit trail.")
        var reason: String

        @OptionGroup var options: OperatorOptions

        func run() async throws {
            _ = try await options.send(
                "support.device.unlock", topic: "deregistration.commands",
                ["deviceId": .string(device), "reason": .string(reason)])
            if !options.json { print("device \(device): deregistration lock lifted") }
        }
    }

    struct RevokeSessions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke-sessions", abstract: "Sign an account out everywhere (support.sessions.revoke_all).")

        @Option(help: "The account id.")
        var account: String

        @Option(help: "Why, kept in the audit trail.")
        var reason: String

        @OptionGroup var options: OperatorOptions

        func run() async throws {
            let reply = try await options.send(
                "support.sessions.revoke_all", topic: "identity.commands",
                ["accountId": .string(account), "reason": .string(reason)])
            if !options.json {
                print("account \(account): \(Fields.text(reply.data["result"]?["revoked"])) session(s) revoked")
            }
        }
    }
}

/// `registrar audit`: one account's or one operator's timeline across the four services' audit
/// trails (`ops.audit`), oldest first.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Print the audit timeline of an account (--account) or an operator (--operator).")

    @Option(help: "An account id (or any subject: a device, a task, an operator).")
    var account: String?

    @Option(name: .customLong("operator"), help: "An operator id: what the operator did.")
    var operatorID: String?

    @Option(help: "Only the last N hours.")
    var hours: Int?

    func validate() throws {
        guard (account == nil) != (operatorID == nil) else {
            throw ValidationError("pass exactly one of --account and --operator")
        }
    }

    func run() async throws {
        let context = Context()
        let (subject, actor) = (account?.lowercased(), operatorID?.lowercased())
        let since = hours.map { Date().addingTimeInterval(-Double($0) * 3600) } ?? Date(timeIntervalSince1970: 0)
        let lines = try await PostgresConnection(
            configuration: PostgresConfiguration(url: context.configuration.databaseURL)
        )
        .run { session in
            try session.query(
                """
                SELECT at, service, actor_kind, coalesce(actor_id, '') AS actor_id, action, subject,
                       coalesce(reason, '') AS reason, coalesce(correlation_id, '') AS correlation_id
                FROM ops.audit
                WHERE (\(subject)::text IS NULL OR subject = \(subject))
                  AND (\(actor)::text IS NULL OR (actor_kind = 'operator' AND actor_id = \(actor)))
                  AND at >= \(since)
                ORDER BY at, service, id
                """
            ).map { row -> String in
                let at: Date = try row.decode("at")
                let who = [try row.decode("actor_kind", as: String.self), try row.decode("actor_id", as: String.self)]
                    .filter { !$0.isEmpty }.joined(separator: ":")
                let reason: String = try row.decode("reason")
                return [
                    CloudEvent.timestamp(at), Fields.padded(try row.decode("service"), 14),
                    Fields.padded(try row.decode("action"), 26), "by \(who)",
                    "on \(try row.decode("subject", as: String.self))",
                    reason.isEmpty ? "" : "(\(reason))", "corr \(try row.decode("correlation_id", as: String.self))",
                ].filter { !$0.isEmpty }.joined(separator: "  ")
            }
        }
        for line in lines { print(line) }
        print("\(lines.count) entr\(lines.count == 1 ? "y" : "ies")")
    }
}
