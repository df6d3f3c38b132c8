import Contract
import Foundation
import Messaging

/// Drives `identity.commands` as a client app would, with fixtures for phones, devices and IPs.
public struct IdentityClient: Sendable {
    public let client: RegistrarClient

    public init(client: RegistrarClient = TestStack.client) { self.client = client }

    /// A reply's `data`, typed for assertions.
    public struct Answer: Sendable {
        /// Wraps a reply.
        public init(event: CloudEvent) { self.event = event }
        public var event: CloudEvent
        public var status: String? { event.data["status"]?.stringValue }
        public var code: String? { event.data["code"]?.stringValue }
        public var result: JSONValue { event.data["result"] ?? .null }
        public var warnings: [String] {
            guard case .array(let list) = event.data["warnings"] ?? .null else { return [] }
            return list.compactMap(\.stringValue)
        }
        public func string(_ key: String) -> String? { result[key]?.stringValue }
    }

    /// Sends one command and waits for its reply.
    public func send(
        _ type: String, _ data: [String: JSONValue], session: String? = nil, id: String = UUID().uuidString.lowercased()
    ) async throws -> Answer {
        let envelope = RegistrarClient.command(type: type, data: .object(data), id: id, sessionToken: session)
        return Answer(event: try await client.request(envelope, topic: "identity.commands"))
    }

    // MARK: fixtures

    /// A fresh mainland phone number.
    public static func phone() -> String {
        "+861\(Int.random(in: 3...9))\(String(format: "%09d", Int.random(in: 0..<1_000_000_000)))"
    }

    /// A fingerprint of 22 attributes unique to `seed`.
    public static func fingerprint(_ seed: String = UUID().uuidString) -> [String: String] {
        var attributes: [String: String] = [:]
        for name in [
            "cpuSerial", "basebandVersion", "boardId", "imeiHash", "serialHash", "screen", "kernel", "bootloader",
            "wifiMac", "bluetoothMac", "buildId", "locale", "timezone", "fonts", "gpu", "sensorSet", "storage",
            "cameraIds", "abi", "vendor", "radio", "hardware",
        ] {
            attributes[name] = "\(name)-\(seed)"
        }
        return attributes
    }

    /// A device: Android 12 with 4 GB by default.
    public static func device(
        platform: String = "android", osVersion: String = "12", chip: String = "Snapdragon 660", ramMB: Int = 4096,
        emulator: Bool = false, rooted: Bool = false, customRom: String? = nil, pushWhitelisted: Bool = true,
        fingerprint: [String: String] = fingerprint()
    ) -> JSONValue {
        .object([
            "platform": .string(platform), "osVersion": .string(osVersion), "model": .string("Model-\(platform)"),
            "chip": .string(chip), "ramMB": .int(Int64(ramMB)), "emulator": .bool(emulator), "rooted": .bool(rooted),
            "customRom": customRom.map(JSONValue.string) ?? .null, "pushWhitelisted": .bool(pushWhitelisted),
            "fingerprint": .object(fingerprint.mapValues(JSONValue.string)),
        ])
    }

    /// An iPhone (iOS 17, A15) with a fresh fingerprint: a new device whose scan is optional (issue 18).
    public static func iPhone(fingerprint: [String: String] = fingerprint()) -> JSONValue {
        device(platform: "ios", osVersion: "17.2", chip: "A15", fingerprint: fingerprint)
    }

    /// An IP in China, daytime-neutral unless told otherwise.
    public static func ip(
        _ address: String = "10.\(Int.random(in: 0...255)).\(Int.random(in: 0...255)).\(Int.random(in: 1...254))",
        proxy: Bool = false, country: String = "CN", timezone: String = zone(localHour: 12)
    ) -> JSONValue {
        .object([
            "address": .string(address), "proxy": .bool(proxy), "country": .string(country),
            "timezone": .string(timezone),
        ])
    }

    /// A fixed-offset time zone (`Etc/GMT∓k`) whose local hour is `localHour` now.
    public static func zone(localHour: Int) -> String {
        let hour = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date()).hour!
        var k = (localHour - hour + 24) % 24
        if k > 14 { k -= 24 }
        // Etc/GMT-k is UTC+k.
        return k == 0 ? "UTC" : (k > 0 ? "Etc/GMT-\(k)" : "Etc/GMT+\(-k)")
    }

    // MARK: flows

    /// `registration.start`.
    public func start(phone: String, device: JSONValue = device(), ip: JSONValue = ip(), scanTicket: String? = nil)
        async throws
        -> Answer
    {
        var data: [String: JSONValue] = ["phone": .string(phone), "device": device, "ip": ip]
        if let scanTicket { data["scanTicket"] = .string(scanTicket) }
        return try await send("registration.start", data)
    }

    /// The SMS code last sent to `phone` (read from `notifications.sms`, as the SMS gateway would).
    public func smsCode(for phone: String, purpose: String = "registration", after: Int = 0) async throws -> String {
        let event = try await client.event(on: "notifications.sms") { event in
            event.data["phone"]?.stringValue == phone && event.data["purpose"]?.stringValue == purpose
        }
        return event.data["code"]?.stringValue ?? ""
    }

    /// Start to profile: returns the registration id and the profile reply (with `requiredLevel`).
    public func registerToSecurityCheck(
        phone: String = phone(), device: JSONValue = device(), ip: JSONValue = ip(), password: String = "Sunflower-42",
        questions: [(String, String)]? = nil
    ) async throws -> (registrationId: String, profile: Answer) {
        let started = try await start(phone: phone, device: device, ip: ip)
        guard let registrationId = started.string("registrationId") else { throw Failure("start: \(started.event)") }
        let code = try await smsCode(for: phone)
        let verified = try await send(
            "registration.verify_sms", ["registrationId": .string(registrationId), "code": .string(code)])
        guard verified.code == "OK" else { throw Failure("verify_sms: \(verified.event)") }
        let password = try await send(
            "registration.set_password", ["registrationId": .string(registrationId), "password": .string(password)])
        guard password.code == "OK" else { throw Failure("set_password: \(password.event)") }
        var profile: [String: JSONValue] = [
            "registrationId": .string(registrationId), "displayName": .string("Tester"),
        ]
        if let questions {
            profile["securityQuestions"] = .array(
                questions.map { .object(["question": .string($0.0), "answer": .string($0.1)]) })
        }
        let answer = try await send("registration.complete_profile", profile)
        guard answer.code == "OK" else { throw Failure("complete_profile: \(answer.event)") }
        return (registrationId, answer)
    }

    /// A whole registration that passes whatever step-up it draws.
    public func register(
        phone: String = phone(), device: JSONValue = device(), ip: JSONValue = ip(), password: String = "Sunflower-42",
        questions: [(String, String)]? = nil
    ) async throws -> (accountId: String, sessionToken: String, deviceId: String, registrationId: String) {
        let (registrationId, _) = try await registerToSecurityCheck(
            phone: phone, device: device, ip: ip, password: password, questions: questions)
        let done = try await send(
            "registration.security_check",
            [
                "registrationId": .string(registrationId),
                "behavior": .object(["typingRhythmScore": .double(0.9), "swipeScore": .double(0.9)]),
                "liveness": .object(["passed": .bool(true), "score": .double(0.97)]),
            ])
        guard done.code == "OK", let account = done.string("accountId"), let token = done.string("sessionToken"),
            let deviceID = done.string("deviceId")
        else { throw Failure("security_check: \(done.event)") }
        return (account, token, deviceID, registrationId)
    }

    /// `login`.
    public func login(phone: String, password: String = "Sunflower-42", device: JSONValue, ip: JSONValue = ip())
        async throws
        -> Answer
    {
        try await send(
            "login", ["phone": .string(phone), "password": .string(password), "device": device, "ip": ip])
    }

    /// Publishes a deregistration-service event about an account, as that service would.
    /// `data` of an `account.registered` event with the facts identity publishes (the `none` tier,
    /// lapsing after the default 30 days), for tests that stand in for identity.
    public static func registeredEvent(
        at registeredAt: Date = Date(), restricted: [String] = [], phoneHash: String? = nil
    ) -> [String: JSONValue] {
        var data: [String: JSONValue] = [
            "registeredAt": .string(CloudEvent.timestamp(registeredAt)),
            "restricted": .array(restricted.map(JSONValue.string)), "timezone": .string("Asia/Shanghai"),
            "tier": .string("none"),
            "tierExpiresAt": .string(CloudEvent.timestamp(registeredAt.addingTimeInterval(30 * 86_400))),
        ]
        if let phoneHash { data["phoneHash"] = .string(phoneHash) }
        return data
    }

    /// Publishes a deregistration lifecycle event about `accountId` as the deregistration service
    /// would; `account.deregistered` carries the phone's block end (default: 31 days from now) and the
    /// contacts' retention end (30 days).
    public func publishLifecycle(_ type: String, accountId: String, phoneBlockedUntil: Date? = nil) async throws {
        var data: [String: JSONValue] = ["accountId": .string(accountId)]
        if type == EventType.accountDeregistered.rawValue {
            let now = Date()
            data["requestId"] = .string(UUID().uuidString.lowercased())
            data["deregisteredAt"] = .string(CloudEvent.timestamp(now))
            data["phoneBlockedUntil"] = .string(
                CloudEvent.timestamp(phoneBlockedUntil ?? now.addingTimeInterval(31 * 86_400)))
            data["contactsRetainedUntil"] = .string(CloudEvent.timestamp(now.addingTimeInterval(30 * 86_400)))
        }
        let event = CloudEvent(
            source: "/registrar/deregistration", type: type, time: Date(), subject: accountId, data: .object(data))
        try await client.sendRaw(event.encoded(), topic: "deregistration.events", key: accountId)
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }
}
