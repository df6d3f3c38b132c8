import Contract
import Foundation
import Messaging
import Platform
import Synchronization

/// The commands and flows `scripts/bench` measures, over seeded accounts.
final class Workloads: Sendable {
    /// Sends the commands.
    let caller: Caller
    /// The stack's topics.
    let topics: Topics
    /// Seeded counts (see `Seed`).
    let checkAccounts: Int
    let quotaAccounts: Int
    let loginAccounts: Int
    let bindingSessions: Int
    let deregistrationAccounts: Int
    /// Next unused deregistration account (one request each).
    let nextDeregistration = Atomic<Int>(0)
    /// A random base so that phones of registration flows differ between runs.
    let phoneBase = Int.random(in: 0..<50_000_000)
    let registrations = Atomic<Int>(0)
    /// The refresh tokens `session.refresh` presents next (each is used once and replaced).
    let refreshTokens: Mutex<[String]>
    /// Next phone of `password.reset.start`.
    let resets = Atomic<Int>(0)

    /// Workloads over the given numbers of seeded accounts.
    init(
        caller: Caller, topics: Topics, checkAccounts: Int, quotaAccounts: Int, loginAccounts: Int,
        bindingSessions: Int, deregistrationAccounts: Int
    ) {
        self.caller = caller
        self.topics = topics
        self.checkAccounts = checkAccounts
        self.quotaAccounts = quotaAccounts
        self.loginAccounts = loginAccounts
        self.bindingSessions = bindingSessions
        self.deregistrationAccounts = deregistrationAccounts
        refreshTokens = Mutex((1...loginAccounts).map { "bench-refresh-\($0)" })
    }

    /// The reply says `status: ok`.
    static func ok(_ reply: CloudEvent?) -> Bool { reply?.data["status"]?.stringValue == "ok" }

    /// `system.ping` to the permissions service.
    func ping(_: Int) async -> Bool {
        Self.ok(await caller.command("system.ping", [:], topic: topics.commands(.permissions)))
    }

    /// `permissions.check` of `chat.internal` for a random seeded account (a read).
    func check(_: Int) async -> Bool {
        let account = Seed.id("8000", Int.random(in: 1...checkAccounts))
        let reply = await caller.command(
            "permissions.check",
            ["accountId": .string(account), "action": .string("chat.internal"), "context": .object([:])],
            topic: topics.commands(.permissions), key: account)
        return reply?.data["result"]?["allowed"] == .bool(true)
    }

    /// `payment.transfer` of 1 CNY: allowed checks consume the daily quota (a row write).
    func quotaCheck(_: Int) async -> Bool {
        let account = Seed.id("9000", Int.random(in: 1...quotaAccounts))
        let reply = await caller.command(
            "permissions.check",
            [
                "accountId": .string(account), "action": .string("payment.transfer"),
                "context": .object(["amountCNY": .int(1)]),
            ],
            topic: topics.commands(.permissions), key: account)
        return reply?.data["result"]?["allowed"] == .bool(true)
    }

    /// `binding.link` of a new external account (replaces the account's feishu binding).
    func link(_: Int) async -> Bool {
        let i = Int.random(in: 1...bindingSessions)
        let account = Seed.id("e000", i)
        let reply = await caller.command(
            "binding.link",
            [
                "accountId": .string(account), "provider": .string("feishu"),
                "externalAccountId": .string("ext-\(UUID().uuidString)"), "mode": .string("secondary"),
                "scopes": .array([.string("login"), .string("data_sync")]),
            ],
            topic: topics.commands(.binding), key: account, session: Seed.token("binding", i))
        return Self.ok(reply)
    }

    /// `deregistration.request`, one per seeded account.
    func deregister(_: Int) async -> Bool {
        let i = nextDeregistration.add(1, ordering: .relaxed).newValue
        guard i <= deregistrationAccounts else { return false }
        let account = Seed.id("f000", i)
        let fingerprint = Seed.fingerprint(i)
        let reply = await caller.command(
            "deregistration.request",
            ["accountId": .string(account), "deviceFingerprint": .object(fingerprint.mapValues(JSONValue.string))],
            topic: topics.commands(.deregistration), key: account, session: Seed.token("deregistration", i))
        return Self.ok(reply)
    }

    /// `login` of a random seeded account on its bound device.
    func login(_: Int) async -> Bool { await loginAccount(Int.random(in: 1...loginAccounts)) }

    /// `login` of seeded account `i`.
    func loginAccount(_ i: Int) async -> Bool {
        let phone = Seed.phone(i)
        let reply = await caller.command(
            "login",
            [
                "phone": .string(phone), "password": .string(Self.password),
                "device": Self.device(Seed.fingerprint(i)), "ip": Self.ip(i),
            ],
            topic: topics.commands(.identity), key: phone)
        return Self.ok(reply)
    }

    /// `session.refresh` with a refresh token no other operation holds; the new one goes back.
    func refresh(_: Int) async -> Bool {
        guard let token = refreshTokens.withLock({ $0.popLast() }) else { return false }
        let reply = await caller.command(
            "session.refresh", ["refreshToken": .string(token)], topic: topics.commands(.identity), key: token)
        guard Self.ok(reply), let next = reply?.data["result"]?["refreshToken"]?.stringValue else { return false }
        refreshTokens.withLock { $0.insert(next, at: 0) }
        return true
    }

    /// `account.get` of a random seeded account (a read through identity's session).
    func accountGet(_: Int) async -> Bool {
        let i = Int.random(in: 1...loginAccounts)
        let reply = await caller.command(
            "account.get", [:], topic: topics.commands(.identity), key: Seed.id("b000", i),
            session: Seed.token("identity", i))
        return Self.ok(reply)
    }

    /// `password.reset.start` for a phone no account holds, from a new device and IP each time: the
    /// same work as for an account's phone (the answer and every count are alike by design) but the
    /// SMS, so the global SMS budget (`sms.globalSendsPerWindow`) does not cap the measurement.
    func resetStart(_: Int) async -> Bool {
        let n = resets.add(1, ordering: .relaxed).newValue
        let phone = "+86136" + String(format: "%08d", (phoneBase + n) % 100_000_000)
        let seed = UUID().uuidString
        let fingerprint = Dictionary(uniqueKeysWithValues: Seed.fingerprint.map { ($0.key, "\($0.key)-\(seed)") })
        let reply = await caller.command(
            "password.reset.start", ["phone": .string(phone), "device": Self.device(fingerprint), "ip": Self.ip(n)],
            topic: topics.commands(.identity), key: phone)
        return Self.ok(reply)
    }

    /// The whole registration: start, SMS code, verify, password, profile, security check.
    func register(_: Int) async -> Bool {
        let n = registrations.add(1, ordering: .relaxed).newValue
        let phone = "+86137" + String(format: "%08d", (phoneBase + n) % 100_000_000)
        let seed = UUID().uuidString
        let fingerprint = Dictionary(uniqueKeysWithValues: Seed.fingerprint.map { ($0.key, "\($0.key)-\(seed)") })
        let identity = topics.commands(.identity)
        guard
            let started = await caller.command(
                "registration.start",
                ["phone": .string(phone), "device": Self.device(fingerprint), "ip": Self.ip(n)], topic: identity,
                key: phone),
            let registration = started.data["result"]?["registrationId"]?.stringValue,
            let code = await caller.smsCode(for: phone)
        else { return false }
        let id = JSONValue.string(registration)
        let steps: [(String, [String: JSONValue])] = [
            ("registration.verify_sms", ["registrationId": id, "code": .string(code)]),
            ("registration.set_password", ["registrationId": id, "password": .string(Self.password)]),
            ("registration.complete_profile", ["registrationId": id, "displayName": .string("Bench")]),
            (
                "registration.security_check",
                [
                    "registrationId": id,
                    "behavior": .object(["typingRhythmScore": .double(0.9), "swipeScore": .double(0.9)]),
                    "liveness": .object(["passed": .bool(true), "score": .double(0.97)]),
                ]
            ),
        ]
        for (type, data) in steps {
            guard Self.ok(await caller.command(type, data, topic: identity, key: registration)) else { return false }
        }
        return true
    }

    /// Registration : login : check : binding = 1 : 5 : 50 : 2.
    func mixed(_ i: Int) async -> Bool {
        switch i % 58 {
        case 0: return await register(i)
        case 1...5: return await login(i)
        case 6...55: return await check(i)
        default: return await link(i)
        }
    }

    /// The password of every seeded and registered account.
    static let password = "Sunflower-42-bench"

    /// An Android 12 device with `fingerprint`.
    static func device(_ fingerprint: [String: String]) -> JSONValue {
        .object([
            "platform": .string("android"), "osVersion": .string("12"), "model": .string("Bench"),
            "chip": .string("Snapdragon 660"), "ramMB": .int(4096), "emulator": .bool(false), "rooted": .bool(false),
            "customRom": .null, "pushWhitelisted": .bool(true),
            "fingerprint": .object(fingerprint.mapValues(JSONValue.string)),
        ])
    }

    /// A distinct private address per `n` (registration limits count per IP), in a daytime zone.
    static func ip(_ n: Int) -> JSONValue {
        .object([
            "address": .string("10.\((n >> 16) & 255).\((n >> 8) & 255).\(n & 255 | 1)"), "proxy": .bool(false),
            "country": .string("CN"), "timezone": .string(daytimeZone),
        ])
    }

    /// A fixed-offset zone where it is midday now (no late-night step-up).
    static let daytimeZone: String = {
        let hour = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date()).hour!
        var k = (12 - hour + 24) % 24
        if k > 14 { k -= 24 }
        return k == 0 ? "UTC" : (k > 0 ? "Etc/GMT-\(k)" : "Etc/GMT+\(-k)")
    }()
}
