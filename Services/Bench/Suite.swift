import Contract
import Foundation
import Kafka
import Messaging
import Platform
import Postgres

/// Every measurement that goes through the broker, in one process: hash limit, echo (Kafka
/// limit), seeding, the workloads, growth. Writes one JSON document.
struct Suite {
    /// Short phases and no growth (one size would show no spread).
    let quick: Bool
    /// Old inbox rows the pruning phase fills and prunes (`--prune-rows`; 0 leaves it out).
    var pruneRows: Int

    /// Seconds per measured phase, and of each warm-up.
    var phase: Duration { quick ? .milliseconds(1250) : .seconds(10) }
    var warmup: Duration { quick ? .milliseconds(500) : .seconds(3) }

    /// Messages per transaction of the command loops of `schemas` between `from` and `to`: inbox
    /// rows ÷ distinct `received_at` (its default is `now()`, the start of the batch's transaction).
    /// Statements PostgreSQL ran since the last reset (`pg_stat_statements`, loaded in the bench
    /// cluster by `scripts/bench`); `nil` where the extension is not there. `reset` starts a count.
    func statementCount(_ db: PostgresConnection, reset: Bool = false) async -> Int? {
        try? await db.run { session in
            if reset {
                try session.query("SELECT public.pg_stat_statements_reset()")
                return 0
            }
            return try session.query("SELECT coalesce(sum(calls), 0)::bigint AS n FROM public.pg_stat_statements")
                .first?.decode("n", as: Int.self)
        }
    }

    func meanBatch(_ db: PostgresConnection, schemas: [String], from: Date, to: Date) async -> Double? {
        let counts = try? await db.run { session in
            try session.query(
                """
                SELECT s, count(*) AS n, count(DISTINCT received_at) AS b FROM (
                    SELECT 'identity' AS s, received_at FROM identity.inbox
                    UNION ALL SELECT 'permissions', received_at FROM permissions.inbox
                    UNION ALL SELECT 'binding', received_at FROM binding.inbox
                    UNION ALL SELECT 'deregistration', received_at FROM deregistration.inbox
                ) AS claims
                WHERE received_at >= \(from) AND received_at < \(to) GROUP BY s
                """
            ).map {
                (
                    try $0.decode("s", as: String.self), try $0.decode("n", as: Int.self),
                    try $0.decode("b", as: Int.self)
                )
            }
        }
        let mine = (counts ?? []).filter { schemas.contains($0.0) }
        let batches = mine.map(\.2).reduce(0, +)
        return batches > 0 ? Double(mine.map(\.1).reduce(0, +)) / Double(batches) : nil
    }

    /// Runs everything and writes the JSON document to `out`.
    func run(out: String) async throws {
        var report: [String: Any] = ["quick": quick, "started": CloudEvent.timestamp(Date())]
        let policy = try Policy.load(path: configuration.policyPath)

        say("hash limit: Argon2id m=\(policy.password.argon2MemoryKiB) KiB t=\(policy.password.argon2Iterations)")
        let hash = hashLimit(seconds: quick ? 1 : 6, policy: policy)
        report["hash"] = [
            "hashes_per_s": hash.rate, "threads": hash.threads, "cpu_us_per_hash": hash.cpuMicrosecondsPerHash,
        ]
        say(String(format: "hash limit: %.1f hashes/s on %d threads", hash.rate, hash.threads))

        // Kafka limit: the echo through the same broker and client settings.
        try await KafkaAdmin.createTopics(
            [echoCommands, echoReplies], partitions: Int32(configuration.topicPartitions), replication: 1,
            configuration: kafka, logger: logger)
        let echo = Process()
        echo.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        echo.arguments = ["echo"]
        try echo.run()
        defer { echo.terminate() }
        var processes = stackProcesses()
        processes["echo"] = echo.processIdentifier
        processes["bench"] = ProcessInfo.processInfo.processIdentifier
        let echoCaller = try Caller(configuration: kafka, repliesTopic: echoReplies, smsTopic: nil, logger: logger)
        var echoResults: [String: Any] = [:]
        var echoFixed: [String: Any] = [:]

        let seedDB = PostgresConnection(
            configuration: PostgresConfiguration(url: configuration.databaseURL, applicationName: "registrar-bench"))
        let sizes = quick ? [] : [10_000, 100_000, 1_000_000]
        let counts = (
            check: 10_000, quota: 2_000, login: 10_000, binding: 10_000, deregistration: quick ? 20_000 : 60_000
        )
        let passwordHash =
            Sodium.passwordHash(
                Workloads.password, memoryKiB: policy.password.argon2MemoryKiB,
                iterations: policy.password.argon2Iterations) ?? ""

        var seeded: [String: Double] = [:]
        func timed(_ name: String, _ body: () async throws -> Void) async throws {
            let start = ContinuousClock.now
            try await body()
            seeded[name] = seconds(ContinuousClock.now - start)
            say(String(format: "seed %@: %.1fs", name, seeded[name]!))
        }
        // Statement counts, where scripts/bench loaded pg_stat_statements (no error elsewhere).
        _ = try? await seedDB.run { try $0.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements SCHEMA public") }
        try await timed("permissions 10k") { try await Seed.permissions(seedDB, 1...counts.check) }
        try await timed("permissions quota 2k") {
            try await Seed.permissions(seedDB, 1...counts.quota, quota: true)
        }
        try await timed("identity 10k") {
            try await Seed.identity(seedDB, 1...counts.login, devices: 1...counts.login, passwordHash: passwordHash)
        }
        try await timed("identity sessions") { try await Seed.identitySessions(seedDB, 1...counts.login) }
        try await timed("binding sessions") { try await Seed.sessions(seedDB, schema: "binding", 1...counts.binding) }
        try await timed("deregistration accounts") {
            try await Seed.sessions(seedDB, schema: "deregistration", 1...counts.deregistration)
        }

        let caller = try Caller(
            configuration: kafka, repliesTopic: topics.replies, smsTopic: topics.sms, logger: logger)
        say("catching up on earlier replies")
        await caller.catchUp()
        await echoCaller.catchUp()
        let workloads = Workloads(
            caller: caller, topics: topics, checkAccounts: counts.check, quotaAccounts: counts.quota,
            loginAccounts: counts.login, bindingSessions: counts.binding,
            deregistrationAccounts: counts.deregistration)

        var results: [[String: Any]] = []
        var growth: [[String: Any]] = []
        var pruning: [String: Any] = [:]
        let phase = self.phase
        let warmup = self.warmup

        await withTaskGroup(of: Void.self) { group in
            group.addTask { await echoCaller.sendLoop() }
            group.addTask { await echoCaller.replyLoop() }
            group.addTask { await caller.sendLoop() }
            group.addTask { await caller.replyLoop() }
            group.addTask { await caller.smsLoop() }

            let echoLoad = Load(processes: processes, label: "echo")
            let echoOp: Operation = { _ in
                let id = UUID().uuidString
                return await echoCaller.call(topic: echoCommands, key: id, value: Array("{\"id\":\"\(id)\"}".utf8))
                    != nil
            }
            _ = await echoLoad.saturate(concurrency: 128, duration: warmup, operation: echoOp)
            let echoSat = await echoLoad.saturate(concurrency: 128, duration: phase, operation: echoOp)
            echoResults = echoSat.json
            say(String(format: "echo: %.0f/s saturated", echoSat.rate))

            /// One workload: warm-up, saturation, then open loop at half the saturation rate.
            func measure(
                _ name: String, service: String, concurrency: Int, operation: @escaping Operation,
                fixed: Bool = true
            ) async -> LoadResult {
                let load = Load(processes: processes, label: name)
                await load.settle()
                _ = await load.saturate(concurrency: concurrency, duration: warmup, operation: operation)
                let from = Date()
                let counting = await statementCount(seedDB, reset: true) != nil
                let sat = await load.saturate(concurrency: concurrency, duration: phase, operation: operation)
                let statements = counting ? await statementCount(seedDB) : nil
                var entry: [String: Any] = ["name": name, "service": service, "saturation": sat.json]
                if let statements, sat.completed > 0 {
                    // Every statement of the phase (handlers, runtime, relay, sweeps) per command.
                    entry["statements_per_command"] = Double(statements) / Double(sat.completed)
                }
                let schemas = service == "all" ? RegistrarService.allCases.map(\.schema) : [service]
                if let mean = await meanBatch(seedDB, schemas: schemas, from: from, to: Date()) {
                    entry["batch_mean"] = mean
                }
                if fixed && sat.rate > 0 {
                    let half = max(1, sat.rate / 2)
                    let open = await load.fixedRate(half, duration: phase, operation: operation)
                    entry["fixed"] = open.json
                    entry["fixed_rate"] = half
                    say(
                        String(
                            format: "%@: %.1f/s saturated; at %.1f/s p50 %.1f ms p99 %.1f ms p99.9 %.1f ms", name,
                            sat.rate, half, open.p50 / 1000, open.p99 / 1000, open.p999 / 1000))
                }
                results.append(entry)
                return sat
            }

            let ping = await measure("system.ping", service: "permissions", concurrency: 128, operation: workloads.ping)
            let check = await measure(
                "permissions.check", service: "permissions", concurrency: 128, operation: workloads.check)
            // The echo's 2-hop latency at the same fixed rates.
            for (name, rate) in [("system.ping", ping.rate / 2), ("permissions.check", check.rate / 2)] where rate > 0 {
                let open = await echoLoad.fixedRate(rate, duration: phase, operation: echoOp)
                echoFixed[name] = open.json.merging(["rate": rate]) { a, _ in a }
                say(String(format: "echo at %.1f/s: p99 %.1f ms", rate, open.p99 / 1000))
            }
            _ = await measure(
                "permissions.check (quota)", service: "permissions", concurrency: 128,
                operation: workloads.quotaCheck)
            _ = await measure("binding.link", service: "binding", concurrency: 128, operation: workloads.link)
            _ = await measure(
                "deregistration.request", service: "deregistration", concurrency: 128,
                operation: workloads.deregister, fixed: false)
            let login = await measure("login", service: "identity", concurrency: 16, operation: workloads.login)
            _ = await measure("session.refresh", service: "identity", concurrency: 128, operation: workloads.refresh)
            _ = await measure("account.get", service: "identity", concurrency: 128, operation: workloads.accountGet)
            _ = await measure(
                "password.reset.start", service: "identity", concurrency: 128, operation: workloads.resetStart)
            let registration = await measure(
                "registration (full flow)", service: "identity", concurrency: 16, operation: workloads.register)
            _ = await measure(
                "mixed 1:5:50:2", service: "all", concurrency: 64, operation: workloads.mixed, fixed: false)

            // Growth: CPU per command at each size, at a fixed rate (half of the saturation above).
            var seededUpTo = counts.check
            for size in sizes {
                if size > seededUpTo {
                    do {
                        try await timed("permissions \(size)") { try await Seed.permissions(seedDB, 1...size) }
                        try await timed("identity \(size)") {
                            try await Seed.identity(
                                seedDB, (seededUpTo + 1)...size, devices: 1...counts.login, passwordHash: passwordHash)
                        }
                        seededUpTo = size
                    } catch {
                        say("seeding \(size) failed: \(error)")
                        break
                    }
                }
                let grown = Workloads(
                    caller: caller, topics: topics, checkAccounts: size, quotaAccounts: counts.quota,
                    loginAccounts: counts.login, bindingSessions: counts.binding, deregistrationAccounts: 0)
                let checkLoad = Load(processes: processes, label: "growth \(size) check")
                await checkLoad.settle()
                let checkRun = await checkLoad.fixedRate(
                    max(1, check.rate / 2), duration: phase, operation: grown.check)
                // Logins over the whole table: the phone lookup is what grows.
                let loginLoad = Load(processes: processes, label: "growth \(size) login")
                await loginLoad.settle()
                let loginRun = await loginLoad.fixedRate(max(1, login.rate / 2), duration: phase) { _ in
                    await grown.loginAccount(Int.random(in: 1...counts.login))
                }
                growth.append(["accounts": size, "check": checkRun.json, "login": loginRun.json])
                say(
                    String(
                        format: "growth %d: check %.0f µs CPU/cmd, login %.0f µs CPU/cmd", size,
                        (checkRun.cpu.milliseconds["permissions"] ?? 0) * 1000 / Double(max(1, checkRun.completed)),
                        (loginRun.cpu.milliseconds["identity"] ?? 0) * 1000 / Double(max(1, loginRun.completed))))
            }
            // Growth of the runtime's tables: the pruner working off a backlog of old inbox rows
            // under a steady permissions.check load at half its saturation rate.
            if pruneRows > 0 {
                let prune = PrunePhase(
                    rows: pruneRows, rate: max(1, check.rate / 2), window: phase, policy: policy, db: seedDB)
                do {
                    pruning = try await prune.run(
                        load: Load(processes: processes, label: "prune"), operation: workloads.check)
                } catch {
                    say("prune phase failed: \(error)")
                }
            }
            _ = registration
            group.cancelAll()
        }
        await caller.close()
        await echoCaller.close()

        report["echo"] = ["saturation": echoResults, "fixed": echoFixed]
        report["workloads"] = results
        report["growth"] = growth
        report["prune"] = pruning
        report["seed_seconds"] = seeded
        report["timed_out_replies"] = caller.timedOut.load(ordering: .relaxed)
        report["finished"] = CloudEvent.timestamp(Date())
        let data = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: out))
        say("wrote \(out)")
    }
}
