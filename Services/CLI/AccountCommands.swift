import ArgumentParser
import Contract
import Foundation
import Messaging

extension SessionOptions {
    /// Sends `type` to `topic` (default identity.commands; with the session unless `signedIn` is false), prints the
    /// reply (its result as indented JSON, or the whole event with --json); a rejection is one line
    /// and exit 1.
    @discardableResult
    func call(
        _ type: String, _ data: [String: JSONValue], signedIn: Bool = true, client: RegistrarClient? = nil,
        topic: String = "identity.commands"
    ) async throws -> CloudEvent {
        let envelope = RegistrarClient.command(
            type: type, data: .object(data), sessionToken: signedIn ? try token() : nil)
        let reply = try await Output.request(
            envelope, topic: topic, client: client ?? Context(connection).client(),
            timeout: .seconds(timeout))
        if json { Output.printJSON(try JSONValue(encoding: reply), pretty: false) }
        try Output.failIfRejected(reply, step: type)
        if !json { Output.printJSON(reply.data["result"] ?? .emptyObject, pretty: true) }
        return reply
    }

    /// `given`, else the code last sent to `phone` for `purpose` since `since`, read from
    /// notifications.sms (the local stack only; elsewhere the user types it).
    func smsCode(_ given: String?, _ client: RegistrarClient, phone: String, purpose: String, since: Date) async throws
        -> String
    {
        if let given { return given }
        do {
            return try await client.event(on: "notifications.sms", timeout: .seconds(timeout)) { event in
                event.data["phone"]?.stringValue == phone && event.data["purpose"]?.stringValue == purpose
                    && (Date(rfc3339: event.time) ?? .distantPast) >= since
            }.data["code"]?.stringValue ?? ""
        } catch {
            Output.error("TIMEOUT: no \(purpose) code for \(phone) on notifications.sms; pass it as a flag")
            throw ExitCode(1)
        }
    }
}

/// `registrar account …`: the signed-in user's own account (issue 16).
struct AccountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "account", abstract: "Read and edit your own account (account.get, devices.list, profile).",
        subcommands: [Show.self, Devices.self, BiometricOff.self, Profile.self, SecurityQuestions.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "account.get: status, tier and expiry, restrictions, locks, cool-down, device count.")
        @OptionGroup var options: SessionOptions
        func run() async throws { try await options.call("account.get", [:]) }
    }

    struct Devices: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "devices.list: bound devices, identifiers masked.")
        @OptionGroup var options: SessionOptions
        func run() async throws { try await options.call("devices.list", [:]) }
    }

    struct BiometricOff: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "biometric-off",
            abstract:
                "device.key.remove: turn biometric sign-in off for a device (default: the session's own), e.g. a lost phone."
        )
        @Option(help: "The device (see `registrar account devices`); default: the session's own.") var device: String?
        @OptionGroup var options: SessionOptions
        func run() async throws {
            try await options.call("device.key.remove", device.map { ["deviceId": .string($0)] } ?? [:])
        }
    }

    struct Profile: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "profile.update: display name and avatar.")
        @Option(help: "The new display name.") var name: String?
        @Option(help: "The new avatar reference.") var avatar: String?
        @OptionGroup var options: SessionOptions
        func run() async throws {
            var data: [String: JSONValue] = [:]
            if let name { data["displayName"] = .string(name) }
            if let avatar { data["avatarRef"] = .string(avatar) }
            guard !data.isEmpty else { throw ValidationError("pass --name or --avatar") }
            try await options.call("profile.update", data)
        }
    }

    struct SecurityQuestions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "security-questions",
            abstract: "security_questions.set: three questions and answers, with the current password.")
        @Option(help: "A question (three times).") var question: [String] = []
        @Option(help: "Its answer (three times, in the same order).") var answer: [String] = []
        @Option(help: "The current password (prompted when missing).") var password: String?
        @OptionGroup var options: SessionOptions
        func run() async throws {
            guard question.count == answer.count else { throw ValidationError("one --answer per --question") }
            let current = try password ?? promptPassword("Current password: ")
            try await options.call(
                "security_questions.set",
                [
                    "currentPassword": .string(current),
                    "securityQuestions": .array(
                        zip(question, answer).map { .object(["question": .string($0), "answer": .string($1)]) }),
                ])
        }
    }
}

/// `registrar password …` (issue 16).
struct PasswordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "password", abstract: "Reset a forgotten password, or change it.",
        subcommands: [Reset.self, Change.self])

    struct Reset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "password.reset.start, then password.reset.complete with the code sent by SMS.",
            discussion: "The code is read from notifications.sms on the local stack; elsewhere pass --code.")
        @Option(help: "The phone number, E.164.") var phone: String
        @Option(help: "The SMS code, when it cannot be read from notifications.sms.") var code: String?
        @Option(help: "The new password (prompted when missing).") var newPassword: String?
        @OptionGroup var device: DeviceOptions
        @OptionGroup var options: SessionOptions
        func run() async throws {
            let client = try Context(options.connection).client()
            let since = Date().addingTimeInterval(-2)
            let common: [String: JSONValue] = [
                "phone": .string(phone), "device": try device.device(), "ip": device.network(),
            ]
            try await options.call("password.reset.start", common, signedIn: false, client: client)
            let sms = try await options.smsCode(code, client, phone: phone, purpose: "password_reset", since: since)
            var complete = common
            complete["code"] = .string(sms)
            complete["newPassword"] = .string(try newPassword ?? promptPassword("New password: "))
            try await options.call("password.reset.complete", complete, signedIn: false, client: client)
        }
    }

    struct Change: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "password.change with the current password.")
        @Option(help: "The account id.") var account: String
        @Option(help: "The current password (prompted when missing).") var current: String?
        @Option(help: "The new password (prompted when missing).") var new: String?
        @OptionGroup var options: SessionOptions
        func run() async throws {
            try await options.call(
                "password.change",
                [
                    "accountId": .string(account),
                    "currentPassword": .string(try current ?? promptPassword("Current password: ")),
                    "newPassword": .string(try new ?? promptPassword("New password: ")),
                ])
        }
    }
}

/// `registrar session …` (issue 16).
struct SessionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "session", abstract: "Refresh, list, revoke and end sessions.",
        subcommands: [Refresh.self, Logout.self, List.self, Revoke.self])

    struct Refresh: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "session.refresh: new access and refresh tokens.")
        @Option(help: "The refresh token.") var refreshToken: String
        @OptionGroup var options: SessionOptions
        func run() async throws {
            try await options.call("session.refresh", ["refreshToken": .string(refreshToken)], signedIn: false)
        }
    }

    struct Logout: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "logout: end the session of --session.")
        @OptionGroup var options: SessionOptions
        func run() async throws { try await options.call("logout", [:]) }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "sessions.list: the account's live sessions.")
        @OptionGroup var options: SessionOptions
        func run() async throws { try await options.call("sessions.list", [:]) }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "sessions.revoke: a session id, all_others or all.")
        @Argument(help: "A session id, all_others or all.") var target: String
        @OptionGroup var options: SessionOptions
        func run() async throws { try await options.call("sessions.revoke", ["sessionId": .string(target)]) }
    }
}

/// `registrar phone …` (issue 16).
struct PhoneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "phone", abstract: "Move the account to a new phone number.",
        subcommands: [Change.self, ByReview.self])

    struct Change: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "phone.change.start, then phone.change.complete with the codes sent to both numbers.",
            discussion: "The codes are read from notifications.sms on the local stack; elsewhere pass them.")
        @Option(help: "The new phone number, E.164.") var newPhone: String
        @Option(help: "The current phone number (to read its code from notifications.sms).") var oldPhone: String?
        @Option(help: "The code sent to the current number.") var oldCode: String?
        @Option(help: "The code sent to the new number.") var newCode: String?
        @OptionGroup var options: SessionOptions
        func run() async throws {
            let client = try Context(options.connection).client()
            let since = Date().addingTimeInterval(-2)
            try await options.call("phone.change.start", ["newPhone": .string(newPhone)], client: client)
            guard oldCode != nil || oldPhone != nil else {
                throw ValidationError("pass --old-code, or --old-phone to read it from notifications.sms")
            }
            let old = try await options.smsCode(
                oldCode, client, phone: oldPhone ?? "", purpose: "phone_change_old", since: since)
            let new =
                try await options.smsCode(newCode, client, phone: newPhone, purpose: "phone_change_new", since: since)
            try await options.call(
                "phone.change.complete", ["oldCode": .string(old), "newCode": .string(new)], client: client)
        }
    }

    struct ByReview: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "by-review",
            abstract: "phone.change.start, then phone.change.by_review (the old number is lost): a reviewer decides.")
        @Option(help: "The new phone number, E.164.") var newPhone: String
        @Option(help: "The code sent to the new number.") var newCode: String?
        @Option(help: "Reference of the handheld-ID photo.") var photo: String
        @Option(help: "Why the old number cannot receive a code.") var statement: String
        @OptionGroup var options: SessionOptions
        func run() async throws {
            let client = try Context(options.connection).client()
            let since = Date().addingTimeInterval(-2)
            try await options.call("phone.change.start", ["newPhone": .string(newPhone)], client: client)
            let new =
                try await options.smsCode(newCode, client, phone: newPhone, purpose: "phone_change_new", since: since)
            try await options.call(
                "phone.change.by_review",
                [
                    "newPhone": .string(newPhone), "newCode": .string(new), "handheldPhotoRef": .string(photo),
                    "statement": .string(statement),
                ], client: client)
        }
    }
}
