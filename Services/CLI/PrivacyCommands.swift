import ArgumentParser
import Contract
import Foundation
import Messaging

/// `registrar export …`: a copy of your own data (issue 17).
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Ask for a copy of your data (account.export) and read it (account.export.get).",
        subcommands: [Request.self, Get.self])

    struct Request: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "account.export: starts an export; prints its exportId and when it expires.")
        @OptionGroup var options: SessionOptions
        func run() async throws { try await options.call("account.export", [:]) }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "account.export.get: reads every part of an export (waiting while it is pending) and prints the bundle.",
            discussion: "With --part, prints that part's reply only.")
        @Argument(help: "The exportId `registrar export request` printed.") var exportId: String
        @Option(help: "Read only this part (from 0).") var part: Int?
        @Option(help: "Write the bundle to this file instead of standard output.") var out: String?
        @OptionGroup var options: SessionOptions

        func run() async throws {
            if let part {
                try await options.call(
                    "account.export.get", ["exportId": .string(exportId), "part": .int(Int64(part))])
                return
            }
            let deadline = Date().addingTimeInterval(TimeInterval(options.timeout))
            var texts: [String] = []
            var index = 0
            var total = 1
            while index < total {
                let reply = try await options.read(
                    "account.export.get", topic: "identity.commands",
                    ["exportId": .string(exportId), "part": .int(Int64(index))])
                let result = reply.data["result"]
                guard result?["state"]?.stringValue == "ready", case .int(let parts)? = result?["parts"],
                    let text = result?["data"]?.stringValue
                else {
                    guard Date() < deadline else {
                        Output.error("TIMEOUT: the export is still pending (\(Fields.text(result?["waitingFor"])))")
                        throw ExitCode(1)
                    }
                    try await Task.sleep(for: .milliseconds(500))
                    continue
                }
                total = Int(parts)
                texts.append(text)
                index += 1
            }
            let bundle = texts.joined()
            if let out {
                try Data(bundle.utf8).write(to: URL(fileURLWithPath: out))
                print("\(total) part(s), \(bundle.utf8.count) bytes written to \(out)")
            } else {
                print(bundle)
            }
        }
    }
}

/// `registrar consents …`: your consents (issue 17): identity's, and each binding's data sharing.
struct ConsentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consents",
        abstract: "List, withdraw and give consents (consents.list, consent.withdraw, consent.grant).",
        subcommands: [List.self, Withdraw.self, Grant.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "consents.list on identity.commands and binding.commands: one line per consent.")
        @OptionGroup var options: SessionOptions
        func run() async throws {
            for topic in ["identity.commands", "binding.commands"] {
                let reply = try await options.read("consents.list", topic: topic)
                guard !options.json, case .array(let consents)? = reply.data["result"]?["consents"] else { continue }
                for consent in consents {
                    let name = [consent["kind"], consent["provider"]].compactMap { $0?.stringValue }.joined(
                        separator: " ")
                    let granted = consent["granted"] == .bool(true) ? "given" : "withdrawn"
                    let details = Fields.members(consent).filter { !["kind", "provider", "granted"].contains($0.0) }
                        .map { "\($0.0) \(Fields.text($0.1))" }.joined(separator: ", ")
                    print("\(name)  \(granted)  \(details)")
                }
            }
        }
    }

    struct Withdraw: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "consent.withdraw: id_number, biometric, device_identifiers (identity) or binding_sharing --provider P (binding).",
            discussion: "privacy_policy cannot be withdrawn (CONSENT_NOT_WITHDRAWABLE): deregister instead.")
        @Argument(help: "The consent kind.") var kind: String
        @Option(help: "The binding's provider (binding_sharing only).") var provider: String?
        @OptionGroup var options: SessionOptions
        func run() async throws {
            var data: [String: JSONValue] = ["kind": .string(kind)]
            var topic = "identity.commands"
            if kind == "binding_sharing" {
                guard let provider else { throw ValidationError("binding_sharing needs --provider") }
                data["provider"] = .string(provider)
                topic = "binding.commands"
            }
            try await options.call("consent.withdraw", data, topic: topic)
        }
    }

    struct Grant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "consent.grant: gives an identity consent again (privacy_policy: accepts the version in force).")
        @Argument(help: "The consent kind.") var kind: String
        @OptionGroup var options: SessionOptions
        func run() async throws { try await options.call("consent.grant", ["kind": .string(kind)]) }
    }
}
