import ArgumentParser
import Contract
import Foundation
import Kafka
import Messaging
import Platform

#if canImport(Glibc)
    import Glibc
#endif

/// Connection flags of the client commands (over the environment and the stack's env file).
struct ConnectionOptions: ParsableArguments {
    @Option(help: "Kafka brokers (default: REGISTRAR_KAFKA_BROKERS, else the stack's env file).")
    var brokers: String?

    @Option(help: "PostgreSQL URL (default: REGISTRAR_DATABASE_URL, else the stack's env file).")
    var databaseURL: String?

    @Option(help: "Topic prefix (default: REGISTRAR_TOPIC_PREFIX, else the stack's env file).")
    var topicPrefix: String?

    @Option(
        help: "The local stack's env file, read under the environment (default REGISTRAR_ENV_FILE, else .stack/env).")
    var envFile: String?
}

/// Printing replies and events, and the one-line errors.
enum Output {
    /// Whether stdout is a terminal (colours on).
    static let colour = isatty(STDOUT_FILENO) != 0

    static func paint(_ text: String, _ code: String) -> String {
        colour ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    static func printJSON(_ value: JSONValue, pretty: Bool) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys]
        print(String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self))
    }

    static func isRejected(_ reply: CloudEvent) -> Bool {
        reply.data["status"]?.stringValue == "rejected"
    }

    /// `CODE: message (field …)`.
    static func line(_ reply: CloudEvent) -> String {
        let code = reply.data["code"]?.stringValue ?? "?"
        let message = reply.data["message"]?.stringValue ?? ""
        let field = reply.data["result"]?["field"]?.stringValue.map { " (field \($0))" } ?? ""
        return "\(code): \(message)\(field)"
    }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data("error: \(text)\n".utf8))
    }

    /// Prints the one-line error of a rejected reply and exits 1.
    static func failIfRejected(_ reply: CloudEvent, step: String? = nil) throws {
        guard isRejected(reply) else { return }
        error((step.map { "\($0): " } ?? "") + line(reply))
        throw ExitCode(1)
    }

    /// Sends a command and waits for the reply; a timeout is one line and exit 1.
    static func request(
        _ envelope: [String: JSONValue], topic: String, client: RegistrarClient, timeout: Duration = .seconds(30)
    ) async throws -> CloudEvent {
        do {
            return try await client.request(envelope, topic: topic, timeout: timeout)
        } catch let timedOut as RegistrarClient.Timeout {
            error("TIMEOUT: no reply on registrar.replies to \(timedOut.commandID) (is the service running?)")
            throw ExitCode(1)
        }
    }

    /// `result.<key>` of a reply.
    static func result(_ reply: CloudEvent, _ key: String) -> String? {
        reply.data["result"]?[key]?.stringValue
    }
}

/// The device and network flags of `register` and `login`.
struct DeviceOptions: ParsableArguments {
    @Option(help: "android, ios, harmonyos, windows, macos or web.")
    var platform: String = "android"

    @Option(help: "The OS version (default: a current one for the platform).")
    var osVersion: String?

    @Option(help: "The device model (default: one for the platform).")
    var model: String?

    @Option(
        help:
            "Seed of the device's fingerprint (default: this machine's hostname): the same id is the same device, so use it again for login."
    )
    var deviceId: String?

    @Option(help: "The client's IP address (default: a private address picked per run).")
    var ip: String?

    @Option(help: "The IP's time zone.")
    var timezone: String = "Asia/Shanghai"

    @Option(help: "The IP's country.")
    var country: String = "CN"

    @Flag(help: "Report the IP as a proxy.")
    var proxy = false

    /// A plausible device for the platform, with 22 fingerprint attributes derived from the device id.
    func device() throws -> JSONValue {
        let defaults: [String: (os: String, model: String, chip: String, ram: Int64)] = [
            "android": ("12", "Pixel 6", "Snapdragon 660", 4096), "ios": ("17.2", "iPhone 13", "A15", 4096),
            "harmonyos": ("3.0", "Mate 40", "Kirin 980", 8192), "windows": ("11", "Surface Laptop", "Core i7", 16384),
            "macos": ("14.2", "MacBook Air", "Apple M2", 16384), "web": ("n/a", "Browser", "n/a", 8192),
        ]
        guard let base = defaults[platform] else {
            throw ValidationError("--platform must be one of android, ios, harmonyos, windows, macos, web")
        }
        let seed = deviceId ?? ProcessInfo.processInfo.hostName
        var fingerprint: [String: JSONValue] = [:]
        for name in [
            "cpuSerial", "basebandVersion", "boardId", "imeiHash", "serialHash", "screen", "kernel", "bootloader",
            "wifiMac", "bluetoothMac", "buildId", "locale", "timezone", "fonts", "gpu", "sensorSet", "storage",
            "cameraIds", "abi", "vendor", "radio", "hardware",
        ] {
            let digest = Sodium.sha256(Array("registrar-cli/\(seed)/\(name)".utf8)).hexString
            fingerprint[name] = .string(String(digest.prefix(16)))
        }
        return .object([
            "platform": .string(platform), "osVersion": .string(osVersion ?? base.os),
            "model": .string(model ?? base.model), "chip": .string(base.chip), "ramMB": .int(base.ram),
            "emulator": .bool(false), "rooted": .bool(false), "customRom": .null, "pushWhitelisted": .bool(true),
            "fingerprint": .object(fingerprint),
        ])
    }

    func network() -> JSONValue {
        let address = ip ?? "10.\(Int.random(in: 0...255)).\(Int.random(in: 0...255)).\(Int.random(in: 1...254))"
        return .object([
            "address": .string(address), "proxy": .bool(proxy), "country": .string(country),
            "timezone": .string(timezone),
        ])
    }
}

/// Reads a password from the terminal without echo (or a line of stdin when it is not a terminal).
func promptPassword(_ prompt: String) throws -> String {
    if isatty(STDIN_FILENO) != 0, let entered = getpass(prompt) {
        return String(cString: entered)
    }
    guard let line = readLine(strippingNewline: true), !line.isEmpty else {
        throw ValidationError("no password: pass --password or type it")
    }
    return line
}

/// `registrar register`: a whole registration, step by step, as a person would do it in the app.
struct Register: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Register an account step by step and print its accountId and session token.",
        discussion: """
            start → verify_sms → set_password → complete_profile → security_check. The SMS code is read \
            from notifications.sms, which only the local stack exposes (in production an SMS gateway \
            consumes it): elsewhere pass --code. The step-up sends behaviour scores and a passed liveness \
            result as the demo app would; the flags below override them. Windows and macOS need a \
            --scan-ticket issued to a signed-in phone (desktop.scan_ticket.issue).
            """)

    @Option(help: "The phone number, E.164 (+8613800138000).")
    var phone: String

    @OptionGroup var device: DeviceOptions

    @Option(help: "The password (prompted when missing).")
    var password: String?

    @Option(help: "The display name.")
    var name: String = "Registrar user"

    @Option(help: "The SMS code, when it cannot be read from notifications.sms.")
    var code: String?

    @Option(help: "Scan ticket (windows and macos).")
    var scanTicket: String?

    @Option(help: "Typing rhythm score sent at the security check.")
    var typingScore: Double = 0.9

    @Option(help: "Swipe score sent at the security check.")
    var swipeScore: Double = 0.9

    @Option(help: "Liveness score sent at the security check.")
    var livenessScore: Double = 0.97

    @Flag(help: "Send a failed liveness result.")
    var livenessFailed = false

    @Option(help: "International numbers: the document type to submit for review.")
    var documentType: String = "passport"

    @Option(help: "International numbers: the document reference to submit for review.")
    var documentRef: String?

    @Option(help: "Seconds to wait for each reply and for the SMS code.")
    var timeout: Int = 30

    @Flag(help: "Print the last reply event as JSON (progress goes to stderr).")
    var json = false

    @OptionGroup var connection: ConnectionOptions

    func progress(_ text: String) {
        if json {
            FileHandle.standardError.write(Data("\(text)\n".utf8))
        } else {
            print(text)
        }
    }

    func run() async throws {
        let context = Context(connection)
        let client = try context.client()
        let wait = Duration.seconds(timeout)
        func send(_ type: String, _ data: [String: JSONValue]) async throws -> CloudEvent {
            let reply = try await Output.request(
                RegistrarClient.command(type: type, data: .object(data)), topic: "identity.commands", client: client,
                timeout: wait)
            if json && Output.isRejected(reply) { Output.printJSON(try JSONValue(encoding: reply), pretty: false) }
            try Output.failIfRejected(reply, step: type)
            return reply
        }
        var start: [String: JSONValue] = [
            "phone": .string(phone), "device": try device.device(), "ip": device.network(),
        ]
        if let scanTicket { start["scanTicket"] = .string(scanTicket) }
        let startedAt = Date().addingTimeInterval(-2)
        let started = try await send("registration.start", start)
        guard let registrationId = Output.result(started, "registrationId") else {
            Output.error("registration.start: no registrationId in the reply")
            throw ExitCode(1)
        }
        progress("1/5 registration.start      OK  registrationId \(registrationId)")
        if case .array(let warnings) = started.data["warnings"] ?? .null {
            for warning in warnings { progress("    warning: \(warning.stringValue ?? "?")") }
        }
        let smsCode: String
        if let code {
            smsCode = code
        } else {
            let phone = phone
            let sms: CloudEvent
            do {
                sms = try await client.event(on: "notifications.sms", timeout: wait) { event in
                    event.data["phone"]?.stringValue == phone && event.data["purpose"]?.stringValue == "registration"
                        && (Date(rfc3339: event.time) ?? .distantPast) >= startedAt
                }
            } catch {
                Output.error("TIMEOUT: no SMS code for \(phone) on notifications.sms; pass --code")
                throw ExitCode(1)
            }
            smsCode = sms.data["code"]?.stringValue ?? ""
        }
        _ = try await send(
            "registration.verify_sms", ["registrationId": .string(registrationId), "code": .string(smsCode)])
        progress("2/5 registration.verify_sms OK  code \(code == nil ? "read from notifications.sms" : "typed")")
        let secret = try password ?? promptPassword("Password: ")
        _ = try await send(
            "registration.set_password", ["registrationId": .string(registrationId), "password": .string(secret)])
        progress("3/5 registration.set_password OK")
        let profile = try await send(
            "registration.complete_profile",
            ["registrationId": .string(registrationId), "displayName": .string(name)])
        let level = Output.result(profile, "requiredLevel") ?? "?"
        progress("4/5 registration.complete_profile OK  next \(Output.result(profile, "next") ?? "?"), level \(level)")
        if Output.result(profile, "next") == "submit_documents" {
            guard let documentRef else {
                Output.error(
                    "DOCUMENTS_REQUIRED: an international number needs --document-ref (reviewed by an operator)")
                throw ExitCode(1)
            }
            let submitted = try await send(
                "registration.submit_documents",
                [
                    "registrationId": .string(registrationId), "documentType": .string(documentType),
                    "documentRef": .string(documentRef),
                ])
            if json { Output.printJSON(try JSONValue(encoding: submitted), pretty: false) }
            progress("5/5 registration.submit_documents \(Output.line(submitted))")
            progress(
                "taskId: \(Output.result(submitted, "taskId") ?? "?")  (sign in with `registrar login` once approved)")
            return
        }
        let done = try await send(
            "registration.security_check",
            [
                "registrationId": .string(registrationId),
                "behavior": .object([
                    "typingRhythmScore": .double(typingScore), "swipeScore": .double(swipeScore),
                ]),
                "liveness": .object(["passed": .bool(!livenessFailed), "score": .double(livenessScore)]),
            ])
        progress("5/5 registration.security_check OK")
        if json {
            Output.printJSON(try JSONValue(encoding: done), pretty: false)
            return
        }
        print("accountId: \(Output.result(done, "accountId") ?? "?")")
        print("sessionToken: \(Output.result(done, "sessionToken") ?? "?")")
        print("deviceId: \(Output.result(done, "deviceId") ?? "?")")
    }
}

/// `registrar login`.
struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sign in with phone and password from the device of --device-id; prints the session token.")

    @Option(help: "The phone number, E.164.")
    var phone: String

    @Option(help: "The password (prompted when missing).")
    var password: String?

    @OptionGroup var device: DeviceOptions

    @Option(help: "Seconds to wait for the reply.")
    var timeout: Int = 30

    @Flag(help: "Print the reply event as JSON.")
    var json = false

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let context = Context(connection)
        let secret = try password ?? promptPassword("Password: ")
        let envelope = RegistrarClient.command(
            type: "login",
            data: .object([
                "phone": .string(phone), "password": .string(secret), "device": try device.device(),
                "ip": device.network(),
            ]))
        let reply = try await Output.request(
            envelope, topic: "identity.commands", client: context.client(), timeout: .seconds(timeout))
        if json { Output.printJSON(try JSONValue(encoding: reply), pretty: false) }
        if let challenge = Output.result(reply, "challengeId") {
            FileHandle.standardError.write(Data("challengeId: \(challenge)\n".utf8))
        }
        try Output.failIfRejected(reply, step: "login")
        guard !json else { return }
        print("accountId: \(Output.result(reply, "accountId") ?? "?")")
        print("sessionToken: \(Output.result(reply, "sessionToken") ?? "?")")
        print("refreshToken: \(Output.result(reply, "refreshToken") ?? "?")")
        print("deviceId: \(Output.result(reply, "deviceId") ?? "?")")
    }
}

/// Reads a topic from the beginning; without `follow` it stops once nothing arrived for `idle`.
func readTopic(
    _ context: Context, topic: String, follow: Bool, idle: Duration, _ body: (KafkaMessage) throws -> Void
) async throws {
    let reader = try KafkaConsumer(
        configuration: context.kafka, readingFromBeginning: [context.topics.name(topic)], logger: context.logger)
    // Joining the topic takes a moment: the first message gets at least 10 seconds.
    var last = ContinuousClock.now
    var limit = max(idle, .seconds(10))
    while follow || ContinuousClock.now - last < limit {
        guard let message = try await reader.poll(timeout: .milliseconds(100)) else { continue }
        last = ContinuousClock.now
        limit = idle
        try body(message)
    }
    await reader.close()
}

/// `registrar tail`.
struct Tail: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a topic from the beginning, one line per message: time, type, key/subject, code.")

    @Argument(help: "A topic, e.g. registrar.replies, identity.events, notifications.sms.")
    var topic: String

    @Flag(help: "Keep following new messages (Ctrl-C to stop).")
    var follow = false

    @Option(help: "Without --follow: stop after this many seconds without a new message (10 for the first).")
    var idle: Double = 3

    @Flag(help: "Print each message's raw JSON instead.")
    var json = false

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let context = Context(connection)
        let json = json
        try await readTopic(context, topic: topic, follow: follow, idle: .milliseconds(Int(idle * 1000))) { message in
            if json {
                print(String(decoding: message.value, as: UTF8.self))
            } else {
                print(Self.line(message))
            }
            fflush(nil)
        }
    }

    static func line(_ message: KafkaMessage) -> String {
        let key = message.key.map { String(decoding: $0, as: UTF8.self) }
        guard let event = try? JSONDecoder().decode(CloudEvent.self, from: Data(message.value)) else {
            return "\(Output.paint("-", "2"))  \(Output.paint("(not a CloudEvent)", "31"))  \(key ?? "-")"
                + "  \(message.value.count) bytes @\(message.partition)/\(message.offset)"
        }
        var parts = [Output.paint(event.time, "2"), Output.paint(event.type, "36")]
        parts.append(event.inreplyto.map { "re \($0)" } ?? event.subject ?? key ?? "-")
        if let code = event.data["code"]?.stringValue, event.type == "registrar.reply" {
            let status = event.data["status"]?.stringValue
            parts.append(Output.paint(code, status == "rejected" ? "31" : status == "ok" ? "32" : "33"))
        } else if event.type == "registrar.deadletter", let reason = event.data["reason"]?.stringValue {
            parts.append(Output.paint(reason, "31"))
        }
        return parts.joined(separator: "  ")
    }
}

/// `registrar dlq …`.
struct DeadLetterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq", abstract: "Look at and replay registrar.deadletter.", subcommands: [List.self, Replay.self])

    /// The dead letters on the topic (each with its decoded data).
    static func letters(_ context: Context, idle: Double) async throws -> [(
        event: CloudEvent, letter: DeadLetter, key: [UInt8]?
    )] {
        var found: [(CloudEvent, DeadLetter, [UInt8]?)] = []
        try await readTopic(
            context, topic: "registrar.deadletter", follow: false, idle: .milliseconds(Int(idle * 1000))
        ) { message in
            guard let event = try? JSONDecoder().decode(CloudEvent.self, from: Data(message.value)),
                let letter = try? JSONDecoder().decode(DeadLetter.self, from: JSONEncoder().encode(event.data))
            else { return }
            found.append((event, letter, message.key))
        }
        return found
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One line per dead letter: time, reason, original topic, partition, offset, size.")

        @Option(help: "Stop reading after this many seconds without a new message.")
        var idle: Double = 3

        @Flag(help: "Print each dead-letter event as JSON.")
        var json = false

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let letters = try await DeadLetterCommand.letters(Context(connection), idle: idle)
            for (event, letter, _) in letters {
                if json {
                    Output.printJSON(try JSONValue(encoding: event), pretty: false)
                } else {
                    print(
                        "\(Output.paint(event.time, "2"))  \(Output.paint(letter.reason, "31"))  \(letter.topic)"
                            + "  partition \(letter.partition)  offset \(letter.offset)  \(letter.originalBytes) bytes"
                            + (letter.truncated ? " (truncated)" : ""))
                }
            }
            if !json { print("\(letters.count) dead letter(s)") }
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send the original message of a dead letter again to its original topic (after a fix).")

        @Option(help: "The original message's offset (as `dlq list` shows it).")
        var offset: Int64

        @Option(help: "The original message's partition, when several dead letters share the offset.")
        var partition: Int32?

        @Option(help: "The original topic, when several dead letters share offset and partition.")
        var topic: String?

        @Option(help: "Stop reading after this many seconds without a new message.")
        var idle: Double = 3

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let context = Context(connection)
            let prefix = context.topics.prefix
            let matches = try await DeadLetterCommand.letters(context, idle: idle).filter { _, letter, _ in
                letter.offset == offset && (partition == nil || letter.partition == partition)
                    && (topic == nil || letter.topic == topic || letter.topic == prefix + (topic ?? ""))
            }
            // One message can be dead-lettered by several consumers: the same original counts once.
            var distinct: [String: DeadLetter] = [:]
            for (_, letter, _) in matches { distinct["\(letter.topic)/\(letter.partition)/\(letter.offset)"] = letter }
            guard let letter = distinct.values.first else {
                Output.error("NOT_FOUND: no dead letter of offset \(offset)")
                throw ExitCode(1)
            }
            guard distinct.count == 1 else {
                Output.error(
                    "AMBIGUOUS: \(distinct.count) dead letters of offset \(offset); add --partition or --topic")
                throw ExitCode(1)
            }
            guard !letter.truncated, let original = Data(base64Encoded: letter.original) else {
                Output.error("TRUNCATED: only the first bytes of the original were kept; it cannot be replayed")
                throw ExitCode(1)
            }
            guard letter.topic.hasPrefix(prefix) else {
                Output.error("WRONG_PREFIX: \(letter.topic) is not a topic of prefix '\(prefix)'")
                throw ExitCode(1)
            }
            let base = String(letter.topic.dropFirst(prefix.count))
            let key = matches.first?.key.map { String(decoding: $0, as: UTF8.self) }
            try await context.client().sendRaw(Array(original), topic: base, key: key)
            print(
                "replayed \(original.count) bytes to \(letter.topic) (was partition \(letter.partition) offset \(offset))"
            )
        }
    }
}
