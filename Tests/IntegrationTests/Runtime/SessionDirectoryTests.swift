import Contract
import Directory
import Foundation
import Messaging
import Platform
import Postgres
import TestSupport
import Testing

/// The other services learn of identity's sessions only from its events.
@Suite(.enabled(if: TestStack.enabled))
struct SessionDirectoryTests {
    @Test func sessionsReachEveryServiceAndTheirRevocationsToo() async throws {
        let identity = IdentityClient()
        let account = try await identity.register()
        let hash = PostgresBytes(SessionDirectory.tokenHash(account.sessionToken))
        for schema in ["permissions", "binding", "deregistration"] {
            let pool = PostgresPool(configuration: TestStack.postgres(searchPath: [schema]))
            try await TestStack.eventually("\(schema) learns of the session") {
                try await pool.query(
                    "SELECT count(*) AS n FROM sessions WHERE token_hash = \(hash) AND revoked_at IS NULL"
                ).first?.decode("n", as: Int.self) == 1
            }
            let caller = try await pool.run { session in
                try SessionDirectory.authenticate(session, token: account.sessionToken, now: Date())
            }
            #expect(caller?.accountId == account.accountId && caller?.deviceId == account.deviceId)
            let stranger = try await pool.run { session in
                try SessionDirectory.authenticate(session, token: "not-a-token", now: Date())
            }
            #expect(stranger == nil)
        }
        // Freezing the account revokes its sessions in identity, and so everywhere.
        try await identity.publishLifecycle("account.frozen", accountId: account.accountId)
        for schema in ["permissions", "binding", "deregistration"] {
            let pool = PostgresPool(configuration: TestStack.postgres(searchPath: [schema]))
            try await TestStack.eventually("\(schema) refuses the revoked session") {
                try await pool.run { session in
                    try SessionDirectory.authenticate(session, token: account.sessionToken, now: Date())
                } == nil
            }
        }
    }
}
