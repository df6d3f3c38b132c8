import Contract
import Foundation
import Messaging
import Postgres
import TestSupport
import Testing

/// Time- and lifecycle-driven binding rules on private binding instances: expiries with a
/// shortened policy, exactly once across a crash, and the effect of freeze and deregistration.
@Suite(.enabled(if: TestStack.enabled))
struct BindingPolicyTests {
    static let policy = """
        {"binding": {"friendListValidity": "3s", "temporaryValidity": "2s", "sweepInterval": "200ms"}}
        """

    @Test func friendListAndTemporaryBindingsExpireOnce() async throws {
        try await ServiceProcess.run(.binding, policy: Self.policy) { instance, client in
            let binding = BindingClient(client: client)
            let (account, session) = try await binding.openSession()
            let wechat = try await binding.link(
                account, "wechat", scopes: ["login", "friend_list"], session: session)
            #expect(wechat.code == "OK" && wechat.result["authorizationsExpireAt"]?["friend_list"] != nil)
            let feishu = try await binding.link(
                account, "feishu", mode: "temporary", scopes: ["calendar"], session: session)
            #expect(feishu.code == "OK")
            // Past the temporary binding's 2 s, then past friend_list's 3 s, on the moved clock.
            try instance.advanceClock(by: .seconds(2))

            let unlinked = try await client.event(on: "binding.events", timeout: .seconds(20)) {
                $0.type == "binding.unlinked" && $0.subject == account
            }
            #expect(unlinked.data["provider"] == .string("feishu") && unlinked.data["reason"] == .string("expired"))
            #expect(unlinked.causationid?.hasPrefix("task:binding.sweep:") == true)
            try instance.advanceClock(by: .seconds(1))
            let expired = try await client.event(on: "binding.events", timeout: .seconds(20)) {
                $0.type == "binding.authorization_expired" && $0.subject == account
            }
            #expect(
                expired.data
                    == .object([
                        "accountId": .string(account), "provider": .string("wechat"), "scope": .string("friend_list"),
                    ]))

            // The WeChat binding stays, without friend_list; the Feishu one is gone.
            let pool = instance.pool()
            let scopes = try await pool.query(
                "SELECT scopes FROM bindings WHERE account_id = \(account)::uuid AND provider = 'wechat'")
            #expect(try scopes.first?.decode("scopes", as: [String].self) == ["login"])
            #expect(try await binding.unlink(account, "feishu", session: session).code == "BINDING_NOT_FOUND")

            // Many sweeps later, still once each.
            try await Task.sleep(for: .seconds(1))
            // (Counted by event id: a relay may publish a row twice, with the same id.)
            #expect(
                Set(try await binding.events("binding.authorization_expired", subject: account).map(\.id)).count == 1)
            #expect(Set(try await binding.events("binding.unlinked", subject: account).map(\.id)).count == 1)

            // Granting friend_list again starts a new 90 (here 3) seconds, expiring once more.
            #expect(
                try await binding.link(account, "wechat", scopes: ["friend_list"], session: session).code == "OK")
            try instance.advanceClock(by: .seconds(3))
            _ = try await client.event(on: "binding.events", timeout: .seconds(20)) { event in
                event.type == "binding.authorization_expired" && event.subject == account && event.id != expired.id
            }
        }
    }

    @Test func expiriesArePublishedOnceAcrossACrashInTheMiddleOfTheSweeps() async throws {
        let policy = """
            {"binding": {"friendListValidity": "4s", "temporaryValidity": "4s", "sweepInterval": "100ms"}}
            """
        try await ServiceProcess.run(.binding, policy: policy) { instance, client in
            let binding = BindingClient(client: client)
            var accounts: [String] = []
            var firstLink: ContinuousClock.Instant?
            for index in 0..<40 {
                let (account, session) = try await binding.openSession()
                #expect(
                    try await binding.link(account, "wechat", scopes: ["friend_list"], session: session).code == "OK")
                firstLink = firstLink ?? .now
                if index % 2 == 0 {
                    let temporary = try await binding.link(
                        account, "dingtalk", mode: "temporary", scopes: ["login"], session: session)
                    #expect(temporary.code == "OK")
                }
                accounts.append(account)
            }
            // The links took a while, so their expiries are spread: move the clock to the first
            // expiry, then through the spread in steps a sweep apart, and kill halfway through.
            let start = try #require(firstLink)
            let spread = ContinuousClock.now - start
            // (Never backwards: on a slow machine the links may have taken longer than the validity.)
            try instance.advanceClock(by: max(.zero, .seconds(4) - spread))
            for _ in 0..<5 {
                try instance.advanceClock(by: spread / 10)
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(await instance.stop(signal: SIGKILL)?.bySignal == true)
            try instance.advanceClock(by: spread / 2 + .seconds(1))
            try instance.start()

            let pool = instance.pool()

            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                let left = try await pool.query(
                    """
                    SELECT (SELECT count(*) FROM authorizations WHERE expired_at IS NULL)
                         + (SELECT count(*) FROM bindings WHERE mode = 'temporary') AS n
                    """
                ).first?.decode("n", as: Int.self)
                if left == 0 { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            // Every event reaches the topic (the relay finishes after the restart); a relay crash
            // may repeat an event with the same id, which consumers drop by id.
            let all = try await client.read(topic: "binding.events", timeout: .seconds(30)) { read in
                Set(
                    read.compactMap {
                        $0.event?.type == "binding.unlinked" || $0.event?.type == "binding.authorization_expired"
                            ? $0.event?.id : nil
                    }
                ).count >= 60
            }.compactMap(\.event)
            try await Task.sleep(for: .seconds(1))
            let later = try await client.read(topic: "binding.events", timeout: .seconds(3)) { _ in false }
                .compactMap(\.event)
            var counts: [Int] = []
            for account in accounts {
                let expiries = Set(
                    (all + later).filter { $0.type == "binding.authorization_expired" && $0.subject == account }.map(
                        \.id))
                #expect(expiries.count == 1, "\(account): \(expiries.count) expiry events")
                counts.append(expiries.count)
            }
            for account in accounts.enumerated().filter({ $0.offset % 2 == 0 }).map(\.element) {
                let unlinks = Set(
                    (all + later).filter {
                        $0.type == "binding.unlinked" && $0.subject == account
                            && $0.data["reason"] == .string("expired")
                    }.map(\.id))
                #expect(unlinks.count == 1, "\(account): \(unlinks.count) unlink events")
                counts.append(unlinks.count)
            }
            ReliabilityReport.record(
                ReliabilityRow(
                    test: "authorization expiry sweep killed",
                    workload: "40 friend_list grants + 20 temporary bindings expiring within ~4 s",
                    faults: "kill -9 mid-sweep", lost: counts.count(where: { $0 == 0 }),
                    duplicated: counts.reduce(0) { $0 + max(0, $1 - 1) },
                    notes: "each expiry event counted by id", passed: counts.allSatisfy { $0 == 1 }))
        }
    }

    @Test func freezingSuspendsBindingsAndDeregistrationDeletesThem() async throws {
        try await ServiceProcess.run(.binding) { instance, client in
            let binding = BindingClient(client: client)
            let pool = instance.pool()
            let (account, session) = try await binding.openSession()
            let wechat = BindingClient.externalID()
            #expect(
                try await binding.link(account, "wechat", external: wechat, scopes: ["login"], session: session).code
                    == "OK")
            #expect(try await binding.link(account, "dingtalk", scopes: ["calendar"], session: session).code == "OK")
            let manifest = [BindingClient.item("text"), BindingClient.item("friend")]
            #expect(try await binding.migrate(account, items: manifest, session: session).code == "OK")

            // Frozen: suspended, no new links, no migration; the external account stays held.
            try await binding.publish(.deregistration, "account.frozen", accountId: account)
            try await waitFor(
                pool, "SELECT count(*) AS n FROM bindings WHERE account_id = '\(account)' AND state = 'suspended'",
                equals: 2)
            #expect(
                try await binding.link(account, "feishu", scopes: ["login"], session: session).code == "ACCOUNT_FROZEN")
            #expect(try await binding.migrate(account, items: manifest, session: session).code == "ACCOUNT_FROZEN")
            let (stranger, strangerSession) = try await binding.openSession()
            let held = try await binding.link(
                stranger, "wechat", external: wechat, scopes: ["login"], session: strangerSession)
            #expect(held.code == "EXTERNAL_ACCOUNT_TAKEN")

            // Revoked deregistration: active again.
            try await binding.publish(.deregistration, "account.unfrozen", accountId: account)
            try await waitFor(
                pool, "SELECT count(*) AS n FROM bindings WHERE account_id = '\(account)' AND state = 'active'",
                equals: 2)
            #expect(try await binding.migrate(account, items: manifest, session: session).code == "OK")

            // Deregistered: every binding deleted and announced; the external account is free.
            try await binding.publish(.deregistration, "account.frozen", accountId: account)
            try await binding.publish(.deregistration, "account.deregistered", accountId: account)
            for provider in ["wechat", "dingtalk"] {
                let event = try await client.event(on: "binding.events") {
                    $0.type == "binding.unlinked" && $0.subject == account && $0.data["provider"] == .string(provider)
                }
                #expect(event.data["reason"] == .string("deregistered"))
            }
            let purged = try await client.event(on: "binding.events") {
                $0.type == "purge.completed" && $0.subject == account
            }
            #expect(
                purged.data
                    == .object([
                        "accountId": .string(account), "service": .string("binding"), "category": .string("personal"),
                    ]))
            try await waitFor(pool, "SELECT count(*) AS n FROM bindings WHERE account_id = '\(account)'", equals: 0)
            try await waitFor(pool, "SELECT count(*) AS n FROM sessions WHERE account_id = '\(account)'", equals: 0)
            try await waitFor(
                pool, "SELECT count(*) AS n FROM migration_plans WHERE account_id = '\(account)'", equals: 0)
            let free = try await binding.link(
                stranger, "wechat", external: wechat, scopes: ["login"], session: strangerSession)
            #expect(free.code == "OK")
        }
    }

    /// Waits until `sql` (a count named `n`, built from generated ids only) returns `expected`.
    func waitFor(_ pool: PostgresPool, _ sql: String, equals expected: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if try await pool.query(PostgresQuery(trusted: sql)).first?.decode("n", as: Int.self) == expected {
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw IdentityClient.Failure("\(sql) never returned \(expected)")
    }
}
