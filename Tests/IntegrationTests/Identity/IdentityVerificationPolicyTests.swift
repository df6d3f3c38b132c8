import Contract
import Foundation
import Messaging
import Platform
import Postgres
import TestSupport
import Testing

/// Tier expiry and review service levels with a shortened policy, on a private identity instance.
@Suite(.enabled(if: TestStack.enabled))
struct IdentityVerificationPolicyTests {
    static let policy = """
        {
          "verification": {
            "noneValidity": "60s", "bankCardValidity": "2s", "expirySweepInterval": "200ms",
            "idConflictReviewSLA": "500ms"
          }
        }
        """

    @Test func tiersExpireAndOverdueReviewsShow() async throws {
        try await ServiceProcess.run(.identity, policy: Self.policy) { instance, client in
            try await run(IdentityClient(client: client), instance: instance)
        }
    }

    func run(_ identity: IdentityClient, instance: ServiceProcess) async throws {
        // The first admin, bootstrapped by the CLI on an empty operators table, is announced to the
        // other services (token hash and role only); a second bootstrap is refused.
        let reviewer = try RegistrarCLI.bootstrapAdmin(name: "Ops Night Shift", databaseURL: instance.databaseURL)
        let announced = try await identity.client.event(on: "identity.events") {
            $0.type == "operator.added" && $0.data["operatorId"]?.stringValue == reviewer.id
        }
        #expect(announced.data["tokenHash"] == .string(Sodium.sha256(Array(reviewer.token.utf8)).hexString))
        #expect(announced.data["role"] == .string("admin"))
        #expect(throws: (any Error).self) {
            try RegistrarCLI.bootstrapAdmin(name: "Second", databaseURL: instance.databaseURL)
        }

        // An id_conflict task past its SLA is overdue for ops. The ops views compare with PostgreSQL's
        // own clock, not the service's movable one, so this part runs first, before the clock moves,
        // on an SLA short enough to wait out.
        let number = IdentityClient.residentID()
        let owner = try await identity.register()
        #expect(try await identity.verifyID(number, session: owner.sessionToken).code == "OK")
        let claimant = try await identity.register()
        let pending = try await identity.verifyID(number, session: claimant.sessionToken, photo: "p", statement: "s")
        let taskId = try #require(pending.string("taskId"))
        try await Task.sleep(for: .milliseconds(700))
        let pool = instance.pool()
        let overdue: Bool? = try await pool.query("SELECT overdue FROM review_queue WHERE id = \(taskId)::uuid").first?
            .decode("overdue")
        #expect(overdue == true)
        let listed = try RegistrarCLI.run(["review", "list", "--overdue"], databaseURL: instance.databaseURL)
        #expect(listed.contains(taskId) && listed.contains("OVERDUE"))
        // Decided late, it shows as such.
        #expect(try await identity.decide(taskId, "approve", operatorToken: reviewer.token).code == "OK")
        let late: Bool? = try await pool.query("SELECT decided_late FROM review_queue WHERE id = \(taskId)::uuid")
            .first?.decode("decided_late")
        #expect(late == true)

        // A bank card ends after bankCardValidity; the replaced `none` tier never expires.
        let carded = try await identity.register()
        let card = try await identity.verifyCard(IdentityClient.cardNumber(), session: carded.sessionToken)
        #expect(card.code == "OK" && card.string("tier") == "bank_card")
        // `none` ends noneValidity after registration.
        let plain = try await identity.register()
        // (`none` lasts a minute here: long enough that a slow registration of `carded` under a
        // loaded machine cannot see its `none` tier expire before the card replaced it.)
        try instance.advanceClock(by: .seconds(61))
        let cardExpired = try await identity.client.event(on: "identity.events", timeout: .seconds(15)) {
            $0.type == "account.verification_expired" && $0.subject == carded.accountId
        }
        #expect(cardExpired.data["tier"] == .string("bank_card"))
        let noneExpired = try await identity.client.event(on: "identity.events", timeout: .seconds(15)) {
            $0.type == "account.verification_expired" && $0.subject == plain.accountId
        }
        #expect(noneExpired.data["tier"] == .string("none"))
        let registered = try await identity.client.event(on: "identity.events") {
            $0.type == "account.registered" && $0.subject == plain.accountId
        }
        let expiresAt = try #require(registered.data["tierExpiresAt"]?.stringValue)
        #expect(noneExpired.data["expiredAt"] == .string(expiresAt))
        try instance.advanceClock(by: .seconds(61))
        try await Task.sleep(for: .milliseconds(500))
        let expiries = identity.client.seenEvents(on: "identity.events").filter {
            $0.type == "account.verification_expired" && [carded.accountId, plain.accountId].contains($0.subject ?? "")
        }
        #expect(expiries.count == 2, "each tier expires once")
    }
}
