import ArgumentParser
import Contract
import Foundation
import Messaging

/// The session and output flags of the read commands.
struct SessionOptions: ParsableArguments {
    @Option(
        name: [.customLong("session-token"), .customLong("session")],
        help: "The session token (`registrar login`); default REGISTRAR_SESSION_TOKEN.")
    var sessionToken: String?

    @Option(help: "Seconds to wait for the reply.")
    var timeout: Int = 30

    @Flag(help: "Print the reply event as JSON.")
    var json = false

    @OptionGroup var connection: ConnectionOptions

    /// The token from the flag, else the environment.
    func token() throws -> String {
        guard let token = sessionToken ?? ProcessInfo.processInfo.environment["REGISTRAR_SESSION_TOKEN"] else {
            throw ValidationError("--session-token is required")
        }
        return token
    }

    /// Sends a read command with the session and returns its reply; `--json` prints it, a rejection
    /// is one line on stderr and exit 1.
    func read(_ type: String, topic: String, _ data: [String: JSONValue] = [:]) async throws -> CloudEvent {
        let context = Context(connection)
        let envelope = RegistrarClient.command(type: type, data: .object(data), sessionToken: try token())
        let reply = try await Output.request(
            envelope, topic: topic, client: context.client(), timeout: .seconds(timeout))
        if json { Output.printJSON(try JSONValue(encoding: reply), pretty: false) }
        try Output.failIfRejected(reply, step: type)
        return reply
    }
}

/// Printing the values of a read's `result`.
enum Fields {
    /// A JSON value as one short word or list (`true`, `42`, `a, b`, `-` for null).
    static func text(_ value: JSONValue?) -> String {
        switch value ?? .null {
        case .null: "-"
        case .bool(let flag): flag ? "true" : "false"
        case .int(let number): "\(number)"
        case .double(let number): "\(number)"
        case .string(let string): string
        case .array(let list): list.map { text($0) }.joined(separator: ", ")
        case .object(let members): members.keys.sorted().map { "\($0) \(text(members[$0]))" }.joined(separator: ", ")
        }
    }

    /// The members of an object, by name (empty for anything else).
    static func members(_ value: JSONValue?) -> [(String, JSONValue)] {
        guard case .object(let members) = value ?? .null else { return [] }
        return members.keys.sorted().map { ($0, members[$0] ?? .null) }
    }

    /// The elements of an array (empty for anything else).
    static func elements(_ value: JSONValue?) -> [JSONValue] {
        guard case .array(let list) = value ?? .null else { return [] }
        return list
    }

    /// `text` padded to `width`.
    static func padded(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}

/// `registrar entitlements`.
struct EntitlementsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "entitlements",
        abstract:
            "Print the session's account's stage, tier, every action's answer and today's quotas (entitlements.get)."
    )

    @OptionGroup var session: SessionOptions

    func run() async throws {
        let reply = try await session.read("entitlements.get", topic: "permissions.commands")
        guard !session.json, let result = reply.data["result"] else { return }
        let next = result["nextStageAt"]?.stringValue.map { ", stage \(Fields.text(result["stage"]).next) from \($0)" }
        let tierEnd = result["tierExpiresAt"]?.stringValue.map { " until \($0)" } ?? ""
        let lapsed = result["tierInForce"] == .bool(false) ? " (lapsed)" : ""
        print(
            "account \(Fields.text(result["accountId"])): stage \(Fields.text(result["stage"]))\(next ?? "")"
                + "; tier \(Fields.text(result["tier"]))\(tierEnd)\(lapsed)")
        for (action, answer) in Fields.members(result["actions"]) {
            let allowed = answer["allowed"] == .bool(true)
            let reason = allowed ? "" : "  \(Fields.text(answer["reason"]))"
            let limits = Fields.members(answer["limits"]).isEmpty ? "" : "  \(Fields.text(answer["limits"]))"
            print("\(Fields.padded(action, 22))\(allowed ? "allowed" : "denied ")\(reason)\(limits)")
        }
        for (kind, quota) in Fields.members(result["quotas"]) {
            print(
                "quota \(kind): \(Fields.text(quota["used"])) of \(Fields.text(quota["limit"])) used,"
                    + " \(Fields.text(quota["remaining"])) left, resets \(Fields.text(quota["resetsAt"]))")
        }
    }
}

extension String {
    /// The stage after this one (`"2"` → `"3"`).
    fileprivate var next: String { Int(self).map { "\($0 + 1)" } ?? "?" }
}

/// `registrar bindings`.
struct BindingsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bindings",
        abstract: "Print the session's account's live third-party bindings with their expiries (bindings.list).")

    @OptionGroup var session: SessionOptions

    func run() async throws {
        let reply = try await session.read("bindings.list", topic: "binding.commands")
        guard !session.json else { return }
        let bindings = Fields.elements(reply.data["result"]?["bindings"])
        for binding in bindings {
            var line = [
                Fields.padded(Fields.text(binding["provider"]), 9), Fields.padded(Fields.text(binding["mode"]), 10),
                Fields.padded(Fields.text(binding["state"]), 10), Fields.text(binding["scopes"]),
                "linked \(Fields.text(binding["linkedAt"]))",
            ]
            if let ends = binding["expiresAt"]?.stringValue { line.append("expires \(ends)") }
            for (scope, ends) in Fields.members(binding["authorizationsExpireAt"]) {
                line.append("\(scope) until \(Fields.text(ends))")
            }
            print(line.joined(separator: "  "))
        }
        print("\(bindings.count) binding(s)")
    }
}

/// `registrar migration-status`.
struct MigrationStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migration-status",
        abstract: "Print the session's account's latest migration plan and its counts (migration.get).")

    @OptionGroup var session: SessionOptions

    func run() async throws {
        let reply = try await session.read("migration.get", topic: "binding.commands")
        guard !session.json else { return }
        guard let plan = reply.data["result"]?["plan"], plan != .null else {
            print("no migration plan")
            return
        }
        print(
            "plan \(Fields.text(plan["planId"]))  \(Fields.text(plan["state"]))  \(Fields.text(plan["createdAt"]))"
                + "  \(Fields.text(plan["items"])) items (parts \(Fields.text(plan["partsReceived"]))"
                + "/\(Fields.text(plan["partsTotal"])))")
        print("  \(Fields.text(plan["counts"]))")
    }
}

/// `registrar deregistration-status`.
struct DeregistrationStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deregistration-status",
        abstract: "Print where the session's account's deregistration stands (deregistration.status).")

    @OptionGroup var session: SessionOptions

    func run() async throws {
        let reply = try await session.read("deregistration.status", topic: "deregistration.commands")
        guard !session.json, let result = reply.data["result"] else { return }
        var line = ["status: \(Fields.text(result["status"]))"]
        for (key, label) in [
            ("requestedAt", "requested"), ("cooldownEndsAt", "cool-down ends"), ("revokedAt", "revoked"),
            ("deregisteredAt", "deregistered"),
        ] {
            if let time = result[key]?.stringValue { line.append("\(label) \(time)") }
        }
        if let revocable = result["revocable"] {
            line.append(revocable == .bool(true) ? "(revocable)" : "(not revocable)")
        }
        print(line.joined(separator: "  "))
    }
}

/// `registrar enterprise …`.
struct EnterpriseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enterprise", abstract: "Look at an enterprise as its admin; invitations, leaving (issue 18).",
        subcommands: [
            Members.self, Invite.self, Accept.self, Decline.self, Remove.self, Leave.self, ContactRemoved.self,
        ])

    struct Invite: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "enterprise.invite: invite an account (the admin's session); prints the invitation.")
        @Argument(help: "The enterprise id.") var enterprise: String
        @Option(help: "The account to invite.") var account: String
        @OptionGroup var session: SessionOptions
        func run() async throws {
            try await session.call(
                "enterprise.invite", ["enterpriseId": .string(enterprise), "accountId": .string(account)],
                topic: "permissions.commands")
        }
    }

    struct Accept: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "enterprise.invitation.accept: join the enterprise (the invitee's session).")
        @Argument(help: "The invitation id.") var invitation: String
        @OptionGroup var session: SessionOptions
        func run() async throws {
            try await session.call(
                "enterprise.invitation.accept", ["invitationId": .string(invitation)], topic: "permissions.commands")
        }
    }

    struct Decline: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "enterprise.invitation.decline: turn the invitation down (the invitee's session).")
        @Argument(help: "The invitation id.") var invitation: String
        @OptionGroup var session: SessionOptions
        func run() async throws {
            try await session.call(
                "enterprise.invitation.decline", ["invitationId": .string(invitation)], topic: "permissions.commands")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "enterprise.remove_member: remove a member (the admin's session).")
        @Argument(help: "The enterprise id.") var enterprise: String
        @Option(help: "The member to remove.") var account: String
        @OptionGroup var session: SessionOptions
        func run() async throws {
            try await session.call(
                "enterprise.remove_member", ["enterpriseId": .string(enterprise), "accountId": .string(account)],
                topic: "permissions.commands")
        }
    }

    struct Leave: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "enterprise.leave: leave the enterprise (a member's session; an admin transfers first).")
        @Argument(help: "The enterprise id.") var enterprise: String
        @OptionGroup var session: SessionOptions
        func run() async throws {
            try await session.call(
                "enterprise.leave", ["enterpriseId": .string(enterprise)], topic: "permissions.commands")
        }
    }

    struct ContactRemoved: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "contact-removed",
            abstract: "contact.external.removed: one external contact fewer (frees a slot of the enterprise's cap).")
        @Option(help: "Your own account id.") var account: String
        @OptionGroup var session: SessionOptions
        func run() async throws {
            try await session.call(
                "contact.external.removed", ["accountId": .string(account)], topic: "permissions.commands")
        }
    }

    struct Members: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Print an enterprise's members with role, joining time and overrides (enterprise.members.list, every page)."
        )

        @Argument(help: "The enterprise id.")
        var enterprise: String

        @OptionGroup var session: SessionOptions

        func run() async throws {
            var after: String?
            var count = 0
            repeat {
                var data: [String: JSONValue] = ["enterpriseId": .string(enterprise)]
                if let after { data["after"] = .string(after) }
                let reply = try await session.read("enterprise.members.list", topic: "permissions.commands", data)
                let result = reply.data["result"]
                if !session.json {
                    if after == nil, let everyone = result?["everyone"], everyone != .null {
                        print("everyone: \(Fields.text(everyone))")
                    }
                    for member in Fields.elements(result?["members"]) {
                        let overrides = member["overrides"].flatMap { $0 == .null ? nil : Fields.text($0) }
                        print(
                            "\(Fields.text(member["accountId"]))  \(Fields.padded(Fields.text(member["role"]), 6))"
                                + "  joined \(Fields.text(member["joinedAt"]))"
                                + (overrides.map { "  overrides \($0)" } ?? ""))
                    }
                }
                count += Fields.elements(result?["members"]).count
                after = result?["nextAfter"]?.stringValue
            } while after != nil
            if !session.json { print("\(count) member(s)") }
        }
    }
}
