import Contract
import Dispatch
import Foundation
import Kafka
import Logging
import Messaging
import Platform
import Postgres
import Synchronization

/// `registrar-bench`: the load generator behind `scripts/bench`.
///
///     registrar-bench suite [--quick] [--prune-rows N] --out FILE
///                                                  every workload against the running stack, as JSON; the
///                                                  pruning phase fills N old inbox rows (default 10M, 100k with --quick)
///     registrar-bench prune [--rows N] [--rate R] [--seconds S] --out FILE
///                                                  the pruning phase alone (default 1M rows, 100 checks/s, 5-s windows)
///     registrar-bench echo                         the Kafka limit's echo: one reply per message, no database
///     registrar-bench hash [--seconds N]           Argon2id hashes/s at the policy's parameters on all cores
///     registrar-bench load WORKLOAD SECS           saturates `permissions.check` or `deregistration.request` (after `suite`)
///
/// Connection facts come from the environment (`source .stack/env`).
let arguments = Array(CommandLine.arguments.dropFirst())
/// Connection facts and policy path, from the environment.
let configuration = RegistrarConfiguration()
/// Warnings only: the progress line is the output.
let logger = RegistrarLogging.bootstrap(label: "registrar-bench", level: .warning)
/// The stack's topic names.
let topics = Topics(prefix: configuration.topicPrefix)
/// The services' client settings (`ServiceRuntime`), so the echo and the driver match them.
let kafka = KafkaConfiguration(
    brokers: configuration.kafkaBrokers, clientID: "registrar-bench", fetchWaitMaxMs: configuration.fetchWaitMaxMs,
    sessionTimeoutMs: configuration.sessionTimeoutMs)
/// The echo's input topic.
let echoCommands = topics.name("bench.echo.commands")
/// The echo's output topic.
let echoReplies = topics.name("bench.echo.replies")

/// The value after `name` on the command line.
func option(_ name: String) -> String? {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
    return arguments[i + 1]
}

/// A `==>` line on standard error.
func say(_ text: String) { FileHandle.standardError.write(Data("==> \(text)\n".utf8)) }

/// Hashes per second with one hashing thread per core, and the CPU one hash takes (the hashing
/// threads' own CPU time ÷ hashes: right even when other work shares the cores).
func hashLimit(seconds: Double, policy: Policy) -> (rate: Double, threads: Int, cpuMicrosecondsPerHash: Double) {
    let threads = ProcessInfo.processInfo.activeProcessorCount
    let deadline = Date().addingTimeInterval(seconds)
    let start = Date()
    let counts = UnsafeCounts(threads)
    let cpu = UnsafeCounts(threads)
    DispatchQueue.concurrentPerform(iterations: threads) { t in
        let before = threadCPUMicroseconds()
        var n = 0
        while Date() < deadline {
            _ = Sodium.passwordHash(
                "bench-\(n)", memoryKiB: policy.password.argon2MemoryKiB, iterations: policy.password.argon2Iterations)
            n += 1
        }
        counts.set(t, n)
        cpu.set(t, threadCPUMicroseconds() - before)
    }
    let hashes = max(1, counts.total)
    return (Double(counts.total) / Date().timeIntervalSince(start), threads, Double(cpu.total) / Double(hashes))
}

/// The calling thread's CPU time (user + system), in microseconds.
func threadCPUMicroseconds() -> Int {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return time.tv_sec * 1_000_000 + time.tv_nsec / 1000
}

/// Per-thread counters written once each, read after all threads ended.
final class UnsafeCounts: Sendable {
    private let values: Mutex<[Int]>
    /// `n` counters at zero.
    init(_ n: Int) { values = Mutex(Array(repeating: 0, count: n)) }
    /// Sets counter `i`.
    func set(_ i: Int, _ v: Int) { values.withLock { $0[i] = v } }
    /// The sum.
    var total: Int { values.withLock { $0.reduce(0, +) } }
}

/// The echo: consumes a batch, produces one reply per message (same key and value), repeats.
func runEcho() async throws {
    let consumer = try KafkaConsumer(
        configuration: kafka, groupID: topics.name("registrar-bench-echo"), topics: [echoCommands], logger: logger)
    let producer = try KafkaProducer(configuration: kafka, logger: logger)
    let parent = getppid()
    // Started by `suite`: ends with it, even when it did not get to stop the echo.
    while getppid() == parent {
        let batch = try await consumer.poll(maxMessages: 500, timeout: .milliseconds(100))
        if batch.isEmpty { continue }
        _ = await producer.send(
            batch.map { KafkaOutgoingMessage(topic: echoReplies, key: $0.key, value: $0.value, headers: $0.headers) })
        for message in batch { try consumer.storeOffset(of: message) }
    }
}

/// Pids of the stack's processes (from its pid files) and of the echo.
func stackProcesses() -> [String: Int32] {
    let stack = ProcessInfo.processInfo.environment["REGISTRAR_STACK_DIR"] ?? ".stack"
    var pids: [String: Int32] = [:]
    func read(_ path: String) -> Int32? {
        (try? String(contentsOfFile: path, encoding: .utf8))?.split(separator: "\n").first.flatMap { Int32($0) }
    }
    for service in RegistrarService.allCases {
        pids[service.rawValue] = read("\(stack)/pids/\(service.processName).pid")
    }
    pids["tansu"] = read("\(stack)/pids/tansu.pid")
    pids["postgres"] = read("\(stack)/pg/data/postmaster.pid")
    return pids
}

switch arguments.first {
case "echo":
    try await runEcho()
case "hash":
    let policy = try Policy.load(path: configuration.policyPath)
    let (rate, threads, cpuPerHash) = hashLimit(seconds: Double(option("--seconds") ?? "5") ?? 5, policy: policy)
    print(
        String(
            format: "{\"hashes_per_s\": %.2f, \"threads\": %d, \"cpu_us_per_hash\": %.0f}", rate, threads,
            cpuPerHash))
case "suite":
    let quick = arguments.contains("--quick")
    let out = option("--out") ?? "bench/out/suite.json"
    let pruneRows = option("--prune-rows").flatMap { Int($0) } ?? (quick ? 100_000 : 10_000_000)
    try await Suite(quick: quick, pruneRows: pruneRows).run(out: out)
case "prune":
    // The pruning phase alone, on a migrated stack: seeds the accounts permissions.check reads.
    let policy = try Policy.load(path: configuration.policyPath)
    let db = PostgresConnection(
        configuration: PostgresConfiguration(url: configuration.databaseURL, applicationName: "registrar-bench"))
    _ = try? await db.run { try $0.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements SCHEMA public") }
    try await Seed.permissions(db, 1...10_000)
    let caller = try Caller(configuration: kafka, repliesTopic: topics.replies, smsTopic: nil, logger: logger)
    await caller.catchUp()
    let workloads = Workloads(
        caller: caller, topics: topics, checkAccounts: 10_000, quotaAccounts: 1, loginAccounts: 1, bindingSessions: 1,
        deregistrationAccounts: 0)
    let phase = PrunePhase(
        rows: option("--rows").flatMap { Int($0) } ?? 1_000_000,
        rate: option("--rate").flatMap { Double($0) } ?? 100,
        window: .seconds(option("--seconds").flatMap { Int($0) } ?? 5), policy: policy, db: db)
    var figures: [String: Any] = [:]
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await caller.sendLoop() }
        group.addTask { await caller.replyLoop() }
        figures = try await phase.run(
            load: Load(processes: stackProcesses(), label: "prune"), operation: workloads.check)
        group.cancelAll()
    }
    await caller.close()
    let data = try JSONSerialization.data(withJSONObject: ["prune": figures], options: [.prettyPrinted, .sortedKeys])
    try data.write(to: URL(fileURLWithPath: option("--out") ?? "bench/out/prune.json"))
    print(String(decoding: data, as: UTF8.self))
case "load":
    // `load WORKLOAD SECONDS`: `permissions.check`, or `deregistration.request` (on a stack the suite
    // seeded, e.g. after `scripts/bench --quick --keep`).
    let name = arguments.dropFirst(1).first ?? "permissions.check"
    let duration = Duration.seconds(Int(arguments.dropFirst(2).first ?? "5") ?? 5)
    let caller = try Caller(configuration: kafka, repliesTopic: topics.replies, smsTopic: nil, logger: logger)
    await caller.catchUp()
    let workloads = Workloads(
        caller: caller, topics: topics, checkAccounts: 10_000, quotaAccounts: 1, loginAccounts: 1, bindingSessions: 1,
        deregistrationAccounts: 20_000)
    // `system.ping` and `account.get --session TOKEN` (identity): the Kafka-direct side of the
    // gateway's HTTP row (scripts/bench-gateway), `--concurrency N` as wrk's connections.
    let session = arguments.firstIndex(of: "--session").flatMap { arguments.dropFirst($0 + 1).first }
    let concurrency =
        arguments.firstIndex(of: "--concurrency").flatMap { arguments.dropFirst($0 + 1).first }.flatMap { Int($0) }
        ?? 128
    let operation: Operation
    switch name {
    case "deregistration.request": operation = workloads.deregister
    case "system.ping":
        operation = { _ in Workloads.ok(await caller.command("system.ping", [:], topic: topics.commands(.identity))) }
    case "account.get":
        operation = { _ in
            Workloads.ok(await caller.command("account.get", [:], topic: topics.commands(.identity), session: session))
        }
    default: operation = workloads.check
    }
    await withTaskGroup(of: Void.self) { group in
        group.addTask { await caller.sendLoop() }
        group.addTask { await caller.replyLoop() }
        let result = await Load(processes: [:], label: "load").saturate(
            concurrency: concurrency, duration: duration, operation: operation)
        print(
            String(
                format: "%.1f/s p50 %.2f ms p99 %.2f ms failed %d", result.rate, result.p50 / 1000, result.p99 / 1000,
                result.failed))
        group.cancelAll()
    }
default:
    print(
        "usage: registrar-bench suite [--quick] [--prune-rows N] --out FILE | prune [--rows N] [--rate R] "
            + "[--seconds S] --out FILE | echo | hash [--seconds N]")
    exit(2)
}
