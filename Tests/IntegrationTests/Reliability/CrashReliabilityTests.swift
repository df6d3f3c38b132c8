import Contract
import Foundation
import Messaging
import TestSupport
import Testing

/// Crashes, crash points and database restarts under a mixed workload of ≥ 100 commands/s, each
/// judged by the oracle of `ChaosHarness` (issue 8): nothing lost, nothing done twice, no reply
/// contradicting another, every command answered.
@Suite(.enabled(if: TestStack.enabled), .serialized)
struct CrashReliabilityTests {
    static let services: [RegistrarService] = [.identity, .permissions, .binding, .deregistration]
    /// The offered load: above the 100 commands/s the issue asks for, so a busy machine still meets it.
    static let rate = 110.0

    @Test func killNineOfEachServiceTenTimesUnderLoad() async throws {
        try await ChaosHarness.run { harness in
            let seconds = 100.0
            let count = Int(Self.rate * seconds)
            try await harness.prepare(commands: count)
            var kills = 0
            async let achieved = harness.send(count: count, rate: Self.rate)
            for round in 0..<40 {
                try await Task.sleep(for: .milliseconds(2500))
                let service = Self.services[round % Self.services.count]
                harness.instance.kill(service, signal: SIGKILL)
                try harness.instance.start(service)
                kills += 1
            }
            let rate = try await achieved
            let verdict = try await harness.verdict()
            record(
                "kill -9 of every service", harness: harness, verdict: verdict, rate: rate,
                faults: "kill -9 × \(kills) (10 per service, every 2.5 s)")
            #expect(rate >= 100, "the workload ran at \(rate)/s")
            #expect(verdict.passed, "\(verdict)")
        }
    }

    @Test func sigtermOfEachServiceUnderLoad() async throws {
        try await ChaosHarness.run { harness in
            let count = Int(Self.rate * 40)
            try await harness.prepare(commands: count)
            var stops: [Duration] = []
            var unclean = 0
            async let achieved = harness.send(count: count, rate: Self.rate)
            for round in 0..<12 {
                try await Task.sleep(for: .milliseconds(3000))
                let service = Self.services[round % Self.services.count]
                let started = ContinuousClock.now
                if harness.instance.kill(service, signal: SIGTERM) != true { unclean += 1 }
                stops.append(ContinuousClock.now - started)
                try harness.instance.start(service)
            }
            let rate = try await achieved
            let verdict = try await harness.verdict()
            let slowest = stops.max() ?? .zero
            // In-flight commands finish and their offsets are committed before the exit: a restart
            // redoes nothing, so no command is answered twice from the inbox.
            let passed = verdict.passed && unclean == 0 && slowest < .seconds(10) && verdict.repeatedReplies == 0
            ReliabilityReport.record(
                ReliabilityRow(
                    test: "SIGTERM of every service under load",
                    workload: "\(verdict.commands) mixed commands at \(Int(rate.rounded()))/s (4 services)",
                    faults: "SIGTERM × \(stops.count) (3 per service, every 3 s)", lost: verdict.lost,
                    duplicated: verdict.duplicated, stalls: verdict.unanswered,
                    notes: "exits with status 0: \(stops.count - unclean)/\(stops.count); slowest stop \(slowest); "
                        + "redone after restart \(verdict.repeatedReplies)",
                    passed: passed))
            #expect(rate >= 100, "the workload ran at \(rate)/s")
            #expect(unclean == 0, "\(unclean) stops were not clean exits")
            #expect(slowest < .seconds(10))
            #expect(verdict.repeatedReplies == 0, "commands processed again after a graceful stop")
            #expect(verdict.passed, "\(verdict)")
        }
    }

    @Test(arguments: [
        (point: "after_db_commit", range: 40...160, name: "crash after DB commit, before offset commit"),
        (point: "after_publish", range: 5...40, name: "crash after outbox publish, before marking sent"),
    ])
    func crashAtAFixedPoint(point: String, range: ClosedRange<Int>, name: String) async throws {
        try await ChaosHarness.run { harness in
            let count = Int(Self.rate * 40)
            try await harness.prepare(commands: count)
            func arm(_ service: RegistrarService) throws {
                try harness.instance.start(
                    service, environment: ["REGISTRAR_CRASH_AT": "\(point):\(Int.random(in: range))"])
            }
            for service in Self.services {
                harness.instance.kill(service, signal: SIGKILL)
                try arm(service)
            }
            var crashes = 0
            let sending = Task { try await harness.send(count: count, rate: Self.rate) }
            // Restart whatever crashed itself, armed again, while the stream flows.
            let end = ContinuousClock.now + .milliseconds(Int(Double(count) / Self.rate * 1000))
            while ContinuousClock.now < end {
                try await Task.sleep(for: .milliseconds(100))
                for service in Self.services where !harness.instance.isRunning(service) {
                    crashes += 1
                    try arm(service)
                }
            }
            let rate = try await sending.value
            // Replace the armed processes with unarmed ones. SIGKILL, not SIGTERM: a process just
            // restarted may still be joining its group, and Tansu stalls a group whose member
            // leaves in the middle of a join (its LeaveGroup times out; seen for minutes).
            for service in Self.services {
                if !harness.instance.isRunning(service) { crashes += 1 }
                harness.instance.kill(service, signal: SIGKILL)
                try harness.instance.start(service)
            }
            let verdict = try await harness.verdict()
            record(
                name, harness: harness, verdict: verdict, rate: rate,
                faults: "SIGKILL at \(point) × \(crashes)")
            // At least a few crashes must have happened for the verdict to mean something; on a loaded
            // machine fewer commands reach the crash point in the run's time.
            #expect(crashes >= 4, "only \(crashes) crashes at \(point)")
            #expect(verdict.passed, "\(verdict)")
            if point == "after_db_commit" {
                // Redelivered commands were answered from the inbox, not processed again.
                #expect(verdict.repeatedReplies > 0)
            } else {
                #expect(verdict.republished > 0)
            }
        }
    }

    @Test func postgresFastRestartsAndHardKillsUnderLoad() async throws {
        let server = try PrivatePostgres()
        defer { server.stop() }
        try await ChaosHarness.run(server: server.url) { harness in
            let count = Int(Self.rate * 60)
            try await harness.prepare(commands: count)
            var faults: [String] = []
            let sending = Task { try await harness.send(count: count, rate: Self.rate) }
            for round in 0..<6 {
                try await Task.sleep(for: .seconds(8))
                if round % 2 == 0 {
                    try server.run("restart")
                    faults.append("restart -m fast")
                } else {
                    try server.run("stop", "immediate")
                    try await Task.sleep(for: .seconds(1))
                    try server.run("start")
                    faults.append("stop -m immediate")
                }
            }
            let rate = try await sending.value
            let crashed = Self.services.filter { !harness.instance.isRunning($0) }
            let verdict = try await harness.verdict()
            record(
                "PostgreSQL restarts under load", harness: harness, verdict: verdict, rate: rate,
                faults: "pg_ctl restart -m fast × 3, stop -m immediate + start × 3")
            #expect(crashed.isEmpty, "services exited during the database outages: \(crashed)")
            #expect(verdict.passed, "\(verdict)")
        }
    }

    private func record(
        _ test: String, harness: ChaosHarness, verdict: ChaosHarness.Verdict, rate: Double, faults: String
    ) {
        ReliabilityReport.record(
            ReliabilityRow(
                test: test,
                workload: "\(verdict.commands) mixed commands at \(Int(rate.rounded()))/s (4 services)",
                faults: faults, lost: verdict.lost, duplicated: verdict.duplicated, stalls: verdict.unanswered,
                notes: "accepted \(verdict.accepted); inbox re-answers \(verdict.repeatedReplies); "
                    + "re-published events \(verdict.republished)"
                    + (verdict.refused.isEmpty ? "" : "; refused \(verdict.refused)"),
                passed: verdict.passed))
    }
}

/// A PostgreSQL cluster of the test's own (`scripts/stack postgres`), so it can be restarted and
/// killed without disturbing the other tests.
struct PrivatePostgres {
    let directory: String
    let port: Int
    var url: String { "postgresql://registrar@127.0.0.1:\(port)" }

    init() throws {
        let environment = ProcessInfo.processInfo.environment
        let stack = environment["REGISTRAR_STACK_DIR"] ?? FileManager.default.currentDirectoryPath + "/.stack/test"
        directory = stack + "/reliability-pg"
        port = (Int(environment["REGISTRAR_PG_PORT"] ?? "") ?? 55432) + 40
        try run("start")
    }

    /// `scripts/stack postgres <arguments>` for this cluster.
    func run(_ arguments: String...) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath + "/scripts/stack")
        process.arguments = ["postgres"] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["REGISTRAR_STACK_DIR"] = directory
        environment["REGISTRAR_PG_PORT"] = "\(port)"
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Foundation does not always notice this child's exit (pg_ctl leaves a daemon behind and
        // the child stays a zombie, seen on Linux): reap it ourselves once /proc says it exited.
        let pid = process.processIdentifier
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(90)
        while Date() < deadline {
            if !process.isRunning {
                status = process.terminationStatus
                break
            }
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            if let close = stat.lastIndex(of: ")"), stat[stat.index(close, offsetBy: 2)] == "Z" {
                var raw: Int32 = 0
                if waitpid(pid, &raw, WNOHANG) == pid { status = (raw >> 8) & 0xff }
                break
            }
            usleep(50_000)
        }
        guard status == 0 else {
            throw IdentityClient.Failure("scripts/stack postgres \(arguments.joined(separator: " ")) failed")
        }
    }

    func stop() { try? run("stop", "fast") }
}
