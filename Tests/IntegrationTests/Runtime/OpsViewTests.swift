import Foundation
import Postgres
import TestSupport
import Testing

/// The ops views answer, and the dashboards run, against the live stack.
@Suite(.enabled(if: TestStack.enabled))
struct OpsViewTests {
    @Test func everyOpsViewAnswersAndTheFunnelCountsRegistrations() async throws {
        let identity = IdentityClient()
        _ = try await identity.register()
        let pool = PostgresPool(configuration: TestStack.postgres())
        let views: [String] = try await pool.query(
            "SELECT table_name FROM information_schema.views WHERE table_schema = 'ops' ORDER BY 1"
        ).map { try $0.decode("table_name") }
        #expect(views.count >= 11)
        for view in views {
            // View names come from the catalogue.
            _ = try await pool.query(PostgresQuery(trusted: "SELECT * FROM ops.\(view) LIMIT 5"))
        }
        let funnel = try #require(
            try await pool.query(
                "SELECT sum(started)::int AS started, sum(registered)::int AS registered FROM ops.registration_funnel"
            ).first)
        let started: Int = try funnel.decode("started")
        let registered: Int = try funnel.decode("registered")
        #expect(started >= registered && registered >= 1)
    }

    @Test func theDashboardsRunInPsql() throws {
        let environment = ProcessInfo.processInfo.environment
        guard let url = environment["REGISTRAR_DATABASE_URL"] else { return }
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../../deploy/dashboards"
        )
        .standardized
        for file in try FileManager.default.contentsOfDirectory(atPath: folder.path) where file.hasSuffix(".sql") {
            let psql = Process()
            psql.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
            psql.arguments = [url, "-X", "-v", "ON_ERROR_STOP=1", "-q", "-f", folder.appendingPathComponent(file).path]
            psql.standardOutput = FileHandle.nullDevice
            try psql.run()
            psql.waitUntilExit()
            #expect(psql.terminationStatus == 0, "\(file)")
        }
    }

    /// The rows of a psql `\pset border 2` section (`== title ==` … next title), keyed by column name.
    static func rows(_ output: String, section: String) -> [[String: String]] {
        var inSection = false
        var header: [String]?
        var rows: [[String: String]] = []
        for line in output.split(separator: "\n").map(String.init) {
            if line.hasPrefix("== ") {
                inSection = line.contains(section)
                header = nil
                continue
            }
            guard inSection, line.hasPrefix("|") else { continue }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
                .map { $0.trimmingCharacters(in: .whitespaces) }
            if let header {
                rows.append(Dictionary(zip(header, cells), uniquingKeysWith: { first, _ in first }))
            } else {
                header = cells
            }
        }
        return rows
    }

    /// Runs a dashboard script with psql against `url`; returns its output.
    static func dashboard(_ file: String, url: String) throws -> (status: Int32, output: String) {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../../deploy/dashboards"
        ).standardized
        let outURL = FileManager.default.temporaryDirectory.appendingPathComponent("dashboard-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outURL) }
        let psql = Process()
        psql.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        psql.arguments = [url, "-X", "-v", "ON_ERROR_STOP=1", "-q", "-f", folder.appendingPathComponent(file).path]
        psql.standardOutput = try FileHandle(forWritingTo: outURL)
        try psql.run()
        psql.waitUntilExit()
        return (psql.terminationStatus, try String(contentsOf: outURL, encoding: .utf8))
    }

    /// On a private database filled by flows this test runs, every view and every dashboard shows
    /// exactly those flows: 4 starts (3 registered, 2 of them on one device), 2 poison messages.
    @Test func everyDashboardCountsTheFlowsThisTestRan() async throws {
        try await ServiceProcess.run(.identity) { instance, client in
            let identity = IdentityClient(client: client)
            let shared = IdentityClient.device()
            _ = try await identity.register(device: shared)
            _ = try await identity.register(device: shared)
            _ = try await identity.register()
            let abandoned = try await identity.start(phone: IdentityClient.phone())
            #expect(abandoned.code == "OK")
            for index in 0..<2 {
                try await client.sendRaw(Array("poison \(index)".utf8), topic: "identity.commands", key: "poison")
            }
            let pool = PostgresPool(configuration: PostgresConfiguration(url: instance.databaseURL))
            func number(_ sql: PostgresQuery) async throws -> Int {
                try await pool.query(sql).first?.decode("n") ?? -1
            }
            // The relay caught up and both poison messages were recorded (a generous bound: under the
            // parallel suite's load the relays took over 30 s here once).
            let deadline = ContinuousClock.now + .seconds(90)
            while ContinuousClock.now < deadline {
                let unsent = try await number("SELECT coalesce(sum(unsent), 0)::int AS n FROM ops.outbox_backlog")
                let letters = try await number("SELECT coalesce(sum(letters), 0)::int AS n FROM ops.dead_letters")
                if unsent == 0 && letters == 2 { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(try await number("SELECT sum(started)::int AS n FROM ops.registration_funnel") == 4)
            #expect(try await number("SELECT sum(sms_verified)::int AS n FROM ops.registration_funnel") == 3)
            #expect(try await number("SELECT sum(profile_done)::int AS n FROM ops.registration_funnel") == 3)
            #expect(try await number("SELECT sum(registered)::int AS n FROM ops.registration_funnel") == 3)
            #expect(try await number("SELECT sum(unsent)::int AS n FROM ops.outbox_backlog") == 0)
            #expect(try await number("SELECT sum(total)::int AS n FROM ops.outbox_backlog") > 0)
            #expect(
                try await number("SELECT sum(letters)::int AS n FROM ops.dead_letters WHERE service = 'identity'") == 2)
            #expect(try await number("SELECT max(live_accounts)::int AS n FROM ops.devices_near_limits") == 2)
            #expect(try await number("SELECT count(*)::int AS n FROM ops.review_queue") == 0)
            let processed = try await number(
                "SELECT processed::int AS n FROM ops.inbox_counts WHERE service = 'identity' AND topic LIKE '%identity.commands'"
            )

            let url = instance.databaseURL
            let overview = try Self.dashboard("overview.sql", url: url)
            #expect(overview.status == 0)
            let funnel = Self.rows(overview.output, section: "Registration funnel")
            #expect(funnel.count == 1, "\(overview.output)")
            #expect(funnel.first?["platform"] == "android")
            #expect(funnel.first?["started"] == "4" && funnel.first?["sms_verified"] == "3")
            #expect(funnel.first?["password_set"] == "3" && funnel.first?["profile_done"] == "3")
            #expect(funnel.first?["registered"] == "3" && funnel.first?["registered_pct"] == "75.0")
            let backlog = Self.rows(overview.output, section: "Outbox backlog")
            #expect(!backlog.isEmpty && backlog.allSatisfy { $0["unsent"] == "0" }, "\(overview.output)")
            let dead = Self.rows(overview.output, section: "Dead letters")
            #expect(dead.compactMap { $0["letters"].flatMap { Int($0) } }.reduce(0, +) == 2, "\(overview.output)")
            #expect(dead.allSatisfy { $0["service"] == "identity" })
            #expect(Self.rows(overview.output, section: "Review queue").isEmpty)
            let deregistrations = Self.rows(overview.output, section: "Deregistrations")
            #expect(
                deregistrations.first
                    == ["in_cooldown": "0", "purges_pending": "0", "locked_devices": "0"], "\(overview.output)")

            let funnelDashboard = try Self.dashboard("funnel.sql", url: url)
            #expect(funnelDashboard.status == 0)
            let byPlatform = Self.rows(funnelDashboard.output, section: "Registration funnel")
            #expect(byPlatform.count == 1 && byPlatform.first?["started"] == "4")
            #expect(byPlatform.first?["registered"] == "3", "\(funnelDashboard.output)")
            // Every registration that reached the risk engine shows its factors: the first on the
            // shared device and the third are new devices.
            let factors = Self.rows(funnelDashboard.output, section: "Step-up by factor")
            let newDevice = factors.first { $0["factor"] == "new_device" }
            #expect(newDevice.flatMap { $0["registrations"].flatMap { Int($0) } }.map { $0 >= 2 } == true)

            let lifecycle = try Self.dashboard("lifecycle.sql", url: url)
            #expect(lifecycle.status == 0)
            let devices = Self.rows(lifecycle.output, section: "Devices near their account limit")
            #expect(devices.count == 1 && devices.first?["live_accounts"] == "2", "\(lifecycle.output)")
            for empty in [
                "Accounts near their device limit", "Review queue", "Deregistrations in cool-down", "Purges pending",
                "Locked devices",
            ] {
                #expect(Self.rows(lifecycle.output, section: empty).isEmpty, "\(empty)")
            }

            let runtime = try Self.dashboard("runtime.sql", url: url)
            #expect(runtime.status == 0)
            #expect(Self.rows(runtime.output, section: "Outbox backlog").allSatisfy { $0["unsent"] == "0" })
            let inbox = Self.rows(runtime.output, section: "Inbox")
            let commands = inbox.first {
                $0["service"] == "identity" && $0["topic"]?.hasSuffix("identity.commands") == true
            }
            // 1 ping, 4 starts, 3 × (verify_sms, set_password, complete_profile, security_check).
            #expect(processed == 17)
            #expect(commands?["processed"] == "\(processed)", "\(runtime.output)")
            let runtimeDead = Self.rows(runtime.output, section: "Dead letters")
            #expect(runtimeDead.compactMap { $0["letters"].flatMap { Int($0) } }.reduce(0, +) == 2)
        }
    }
}
