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
            _ = try await pool.query(PostgresQuery(stringLiteral: "SELECT * FROM ops.\(view) LIMIT 5"))
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
            "../../deploy/dashboards"
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
}
