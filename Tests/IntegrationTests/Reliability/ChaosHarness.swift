import Contract
import Directory
import Foundation
import Kafka
import Messaging
import Platform
import Postgres
import Synchronization
import TestSupport

/// Reads topics from the beginning in the background and keeps every CloudEvent, duplicates
/// included, until stopped: the oracle's view of what the services published.
final class TopicRecorder: Sendable {
    private let consumer: KafkaConsumer
    private let seen = Mutex<[CloudEvent]>([])
    private let stopped = Atomic<Bool>(false)

    init(_ topics: [String]) throws {
        consumer = try KafkaConsumer(
            configuration: TestStack.kafka, readingFromBeginning: topics, logger: TestStack.logger)
    }

    /// Reads until `stop()`.
    func run() async {
        while !stopped.load(ordering: .relaxed) {
            guard let batch = try? await consumer.poll(maxMessages: 500, timeout: .milliseconds(50)) else { continue }
            let events = batch.compactMap { try? JSONDecoder().decode(CloudEvent.self, from: Data($0.value)) }
            if !events.isEmpty { seen.withLock { $0.append(contentsOf: events) } }
        }
        await consumer.close()
    }

    func stop() { stopped.store(true, ordering: .relaxed) }

    /// Everything read so far.
    var events: [CloudEvent] { seen.withLock { $0 } }
}

/// The reliability suite's workload (issue 8): a private instance of all four services on a
/// database and topics of its own, a mixed command stream at a fixed rate while faults are
/// injected, and an oracle that compares accepted commands with the effects in PostgreSQL and the
/// events on the topics.
///
/// The mix, per 20 commands: 11 quota-consuming `permissions.check` (`payment.transfer` of 1 CNY),
/// 1 read-only check, 5 `binding.link`/`binding.unlink` alternating per account, 2 `login`, 1
/// `deregistration.request` (each on an account of its own).
final class ChaosHarness: @unchecked Sendable {
    // @unchecked: the mutable state is set up before the run and read after it; during the run
    // only `sent` changes, under its lock.

    /// Rules for the instance: adults at once (stage 2 from day 1), no activity criteria, and a
    /// cheaper Argon2id so logins do not dominate a 2-core machine.
    static let policy = """
        {"permissions": {"stageOneLastDay": 0, "sensitiveMinActiveDays": 0, "sensitiveMinLogins": 0},
         "password": {"argon2MemoryKiB": 8192, "argon2Iterations": 1}}
        """

    enum Kind: String, Sendable {
        case payment, read, link, unlink, login, deregister
        /// The event an accepted command of this kind publishes exactly once.
        var event: String? {
            switch self {
            case .payment, .read: nil
            case .link: "binding.linked"
            case .unlink: "binding.unlinked"
            case .login: "login.succeeded"
            case .deregister: "account.frozen"
            }
        }
    }

    struct Sent: Sendable {
        var id: String
        var kind: Kind
        var account: String
    }

    let instance: ServiceProcess
    let client: RegistrarClient
    private var payers: [String] = []
    private var binders: [(account: String, token: String)] = []
    private var leavers: [(account: String, token: String)] = []
    private var users: [(account: String, phone: String, device: JSONValue)] = []
    private let sent = Mutex<[Sent]>([])

    init(instance: ServiceProcess, client: RegistrarClient) {
        self.instance = instance
        self.client = client
    }

    /// Runs `body` with a harness on a fresh instance of the four services (`server`: a PostgreSQL
    /// server of the test's own, for database faults).
    static func run(
        server: String? = nil, environment: [String: String] = [:], _ body: (ChaosHarness) async throws -> Void
    ) async throws {
        try await ServiceProcess.run(
            .identity, policy: policy, with: [.permissions, .binding, .deregistration], server: server,
            environment: environment
        ) { instance, client in
            try await body(ChaosHarness(instance: instance, client: client))
        }
    }

    // MARK: set-up

    /// Accounts for `commands` commands of the mix: payers and binders known to their services,
    /// one fresh account per deregistration, four real registrations for logins.
    func prepare(commands: Int) async throws {
        let permissions = PermissionsClient(client: client)
        for _ in 0..<10 {
            payers.append(try await permissions.account(age: 2 * PermissionsClient.day, tier: "bank_card"))
        }
        // A transfer of 0 CNY: allowed like the workload's, but it uses no quota the oracle would count.
        let probe = try await permissions.check(payers[0], "payment.transfer", ["amountCNY": .int(0)])
        guard probe.allowed else { throw IdentityClient.Failure("payers are not allowed to pay: \(probe)") }

        let binding = BindingClient(client: client)
        for _ in 0..<20 {
            let (account, token) = try await binding.openSession()
            let linked = try await binding.link(account, "dingtalk", scopes: ["login"], session: token)
            guard linked.code == "OK" else { throw IdentityClient.Failure("link: \(linked.event)") }
            binders.append((account, token))
        }

        let identity = IdentityClient(client: client)
        for _ in 0..<4 {
            let phone = IdentityClient.phone()
            let device = IdentityClient.device()
            let registered = try await identity.register(phone: phone, device: device)
            users.append((registered.accountId, phone, device))
        }

        for _ in 0..<(commands / 20 + 1) {
            let account = UUID().uuidString.lowercased()
            try await binding.publish(
                .identity, "account.registered", accountId: account,
                data: IdentityClient.registeredEvent(phoneHash: Sodium.randomBytes(32).hexString))
            let token = Sodium.randomBytes(32).hexString
            try await binding.publish(
                .identity, "session.opened", accountId: account,
                data: [
                    "platform": .string("android"), "tokenHash": .string(SessionDirectory.tokenHash(token).hexString),
                    "expiresAt": .string(CloudEvent.timestamp(Date().addingTimeInterval(86_400))),
                ])
            leavers.append((account, token))
        }
        let deregistration = instance.pool(.deregistration)
        let last = leavers[leavers.count - 1]
        let lastHash = SessionDirectory.tokenHash(last.token).hexString
        try await TestStack.eventually("deregistration knows the last account and its session", timeout: .seconds(60)) {
            try await deregistration.query(
                """
                SELECT 1 AS k FROM accounts a JOIN sessions s USING (account_id)
                WHERE a.account_id = \(last.account)::uuid AND encode(s.token_hash, 'hex') = \(lastHash)
                """
            ).count == 1
        }
    }

    // MARK: workload

    /// Sends `count` commands of the mix at `rate` per second (open loop: a slow service does not
    /// slow the stream), returning the rate achieved: commands handed to the producer per second
    /// (every one is confirmed by the broker before this returns).
    func send(count: Int, rate: Double) async throws -> Double {
        var nextOp = [String: Kind]()
        var loginCount = 0
        var leaverIndex = 0
        let start = ContinuousClock.now
        var last = start
        try await withThrowingTaskGroup(of: Void.self) { group in
            for tick in 0..<count {
                let due = start + .milliseconds(Int(Double(tick) * 1000 / rate))
                if due > ContinuousClock.now { try await Task.sleep(until: due) }
                let (kind, account, topic, data, token) = command(
                    tick, nextOp: &nextOp, loginCount: &loginCount, leaverIndex: &leaverIndex)
                let id = UUID().uuidString.lowercased()
                let envelope = RegistrarClient.command(
                    type: type(kind), data: .object(data), id: id, sessionToken: token)
                let bytes = Array(try JSONEncoder().encode(JSONValue.object(envelope)))
                let key = kind == .login ? data["phone"]?.stringValue : account
                sent.withLock { $0.append(Sent(id: id, kind: kind, account: account)) }
                let client = self.client
                group.addTask { try await client.sendRaw(bytes, topic: topic, key: key) }
                last = .now
            }
            try await group.waitForAll()
        }
        let elapsed = last - start
        return Double(count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    private func type(_ kind: Kind) -> String {
        switch kind {
        case .payment, .read: "permissions.check"
        case .link: "binding.link"
        case .unlink: "binding.unlink"
        case .login: "login"
        case .deregister: "deregistration.request"
        }
    }

    private func command(
        _ tick: Int, nextOp: inout [String: Kind], loginCount: inout Int, leaverIndex: inout Int
    ) -> (Kind, String, String, [String: JSONValue], String?) {
        let slot = tick % 20
        let round = tick / 20
        switch slot {
        case 0..<11:
            let account = payers[(round * 11 + slot) % payers.count]
            return (
                .payment, account, "permissions.commands",
                [
                    "accountId": .string(account), "action": .string("payment.transfer"),
                    "context": .object(["amountCNY": .int(1)]),
                ], nil
            )
        case 11:
            let account = payers[round % payers.count]
            return (
                .read, account, "permissions.commands",
                ["accountId": .string(account), "action": .string("chat.internal"), "context": .object([:])], nil
            )
        case 12..<17:
            let binder = binders[(round * 5 + slot - 12) % binders.count]
            let kind = nextOp[binder.account] ?? .unlink
            nextOp[binder.account] = kind == .link ? .unlink : .link
            var data: [String: JSONValue] = ["accountId": .string(binder.account), "provider": .string("dingtalk")]
            if kind == .link {
                data["externalAccountId"] = .string(BindingClient.externalID())
                data["mode"] = .string("secondary")
                data["scopes"] = .array([.string("login")])
            }
            return (kind, binder.account, "binding.commands", data, binder.token)
        case 17, 18:
            let user = users[loginCount % users.count]
            loginCount += 1
            return (
                .login, user.account, "identity.commands",
                [
                    "phone": .string(user.phone), "password": .string("Sunflower-42"), "device": user.device,
                    "ip": IdentityClient.ip(),
                ], nil
            )
        default:
            let leaver = leavers[leaverIndex]
            leaverIndex += 1
            let print = IdentityClient.fingerprint().mapValues(JSONValue.string)
            return (
                .deregister, leaver.account, "deregistration.commands",
                ["accountId": .string(leaver.account), "deviceFingerprint": .object(print)], leaver.token
            )
        }
    }

    // MARK: oracle

    /// What the oracle found.
    struct Verdict: CustomStringConvertible {
        var commands = 0
        var accepted = 0
        /// Accepted commands whose effect is missing (event or row).
        var lost = 0
        /// Effects found twice, or commands answered twice with different content.
        var duplicated = 0
        /// Commands never answered.
        var unanswered = 0
        /// Commands refused although the workload only sends valid ones.
        var refused: [String: Int] = [:]
        /// Redelivered commands answered again from the inbox (same content).
        var repeatedReplies = 0
        /// Events published more than once with the same id (allowed: the relay re-sends after a crash).
        var republished = 0
        /// What each lost or duplicated count stands for (the first few).
        var findings: [String] = []

        mutating func note(_ finding: String) {
            if findings.count < 20 { findings.append(finding) }
        }

        var passed: Bool { lost == 0 && duplicated == 0 && unanswered == 0 && refused.isEmpty }
        var description: String {
            "commands \(commands), accepted \(accepted), lost \(lost), duplicated \(duplicated), "
                + "unanswered \(unanswered), refused \(refused), repeated replies \(repeatedReplies), "
                + "republished events \(republished); findings: \(findings)"
        }
    }

    /// Waits until every command is answered and its events are published (up to `timeout`), then
    /// compares.
    func verdict(timeout: Duration = .seconds(180)) async throws -> Verdict {
        let commands = sent.withLock { $0 }
        let ids = Set(commands.map(\.id))
        let replies = try TopicRecorder([client.topics.replies])
        let events = try TopicRecorder(
            [RegistrarService.binding, .identity, .deregistration].map { client.topics.name($0.eventTopic) })
        let readers = [Task { await replies.run() }, Task { await events.run() }]
        // Commands that publish one event each (refused ones publish none: the wait then runs out).
        let expectedEvents = commands.count(where: { $0.kind.event != nil })
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let answered = Set(replies.events.compactMap(\.inreplyto)).intersection(ids).count
            let published = Set(events.events.compactMap(\.causationid)).intersection(ids).count
            if answered == ids.count && published >= expectedEvents { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        // A last look for late duplicates.
        try await Task.sleep(for: .seconds(2))
        replies.stop()
        events.stop()
        for reader in readers { await reader.value }
        return try await compare(commands, replies: replies.events, events: events.events)
    }

    private func compare(_ commands: [Sent], replies: [CloudEvent], events: [CloudEvent]) async throws -> Verdict {
        var verdict = Verdict(commands: commands.count)
        let answers = Dictionary(grouping: replies.filter { $0.inreplyto != nil }, by: { $0.inreplyto! })
        let caused = Dictionary(grouping: events.filter { $0.causationid != nil }, by: { $0.causationid! })
        verdict.republished = Dictionary(grouping: events, by: \.id).values.count(where: { $0.count > 1 })
        var allowedPayments = 0
        var acceptedLogins = [String: Int]()
        var lastBindingOp = [String: Kind]()
        var deregistered = Set<String>()
        var unanswered = [String: Int]()
        for command in commands {
            guard let answer = answers[command.id], let first = answer.first else {
                verdict.unanswered += 1
                unanswered[command.kind.rawValue, default: 0] += 1
                continue
            }
            if answer.count > 1 { verdict.repeatedReplies += 1 }
            if answer.contains(where: { $0.data != first.data }) {
                verdict.duplicated += 1
                verdict.note("\(command.kind) \(command.id): replies differ: \(answer.map(\.data))")
            }
            let code = first.data["code"]?.stringValue ?? "?"
            guard code == "OK" else {
                verdict.refused["\(command.kind.rawValue):\(code)", default: 0] += 1
                continue
            }
            verdict.accepted += 1
            switch command.kind {
            case .payment:
                if first.data["result"]?["allowed"] == .bool(true) { allowedPayments += 1 }
            case .read: break
            case .link, .unlink: lastBindingOp[command.account] = command.kind
            case .login: acceptedLogins[command.account, default: 0] += 1
            case .deregister: deregistered.insert(command.account)
            }
            if let type = command.kind.event {
                let published = Set(caused[command.id, default: []].filter { $0.type == type }.map(\.id)).count
                if published == 0 {
                    verdict.lost += 1
                    verdict.note("\(command.kind) \(command.id): no \(type)")
                }
                if published > 1 {
                    verdict.duplicated += published - 1
                    verdict.note("\(command.kind) \(command.id): \(published) \(type) events")
                }
            }
        }
        if !unanswered.isEmpty { verdict.note("unanswered by kind: \(unanswered)") }
        // Effects in each service's own tables.
        let used =
            try await instance.pool(.permissions).query(
                "SELECT COALESCE(sum(used), 0)::bigint AS n FROM quota_usage WHERE account_id = ANY(\(payers)::uuid[])"
            ).first?.decode("n", as: Int.self) ?? 0
        verdict.lost += max(0, allowedPayments - used)
        verdict.duplicated += max(0, used - allowedPayments)
        if used != allowedPayments { verdict.note("quota used \(used), allowed payments \(allowedPayments)") }

        for user in users {
            // One session from the registration, one per accepted login.
            let sessions =
                try await instance.pool(.identity).query(
                    "SELECT count(*)::bigint AS n FROM sessions WHERE account_id = \(user.account)::uuid"
                ).first?.decode("n", as: Int.self) ?? 0
            let expected = 1 + acceptedLogins[user.account, default: 0]
            verdict.lost += max(0, expected - sessions)
            verdict.duplicated += max(0, sessions - expected)
            if sessions != expected {
                verdict.note("account \(user.account): \(sessions) sessions, \(expected) expected")
            }
        }
        for binder in binders {
            let linked =
                try await instance.pool(.binding).query(
                    "SELECT count(*)::bigint AS n FROM bindings WHERE account_id = \(binder.account)::uuid"
                ).first?.decode("n", as: Int.self) ?? 0
            // Set-up linked every binder; the last accepted operation decides.
            let expected = (lastBindingOp[binder.account] ?? .link) == .link ? 1 : 0
            if linked != expected {
                verdict.lost += 1
                verdict.note("account \(binder.account): \(linked) bindings, \(expected) expected")
            }
        }
        let requests =
            try await instance.pool(.deregistration).query(
                "SELECT count(*)::bigint AS n FROM requests WHERE account_id = ANY(\(Array(deregistered))::uuid[])"
            ).first?.decode("n", as: Int.self) ?? 0
        verdict.lost += max(0, deregistered.count - requests)
        verdict.duplicated += max(0, requests - deregistered.count)
        if requests != deregistered.count {
            verdict.note("\(requests) deregistration requests, \(deregistered.count) accepted")
        }
        return verdict
    }
}
