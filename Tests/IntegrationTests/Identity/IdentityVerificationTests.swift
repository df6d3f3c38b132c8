import Contract
import Foundation
import Messaging
import Platform
import Postgres
import TestSupport
import Testing

/// `verification.submit` and `review.decide` through `identity.commands`, read back from the
/// replies, `identity.events` and, for the audit and the ops views, the identity schema.
@Suite(.enabled(if: TestStack.enabled))
struct IdentityVerificationTests {
    let identity = IdentityClient()
    let pool = PostgresPool(configuration: TestStack.postgres(searchPath: ["identity"]))

    @Test func aBankCardVerifiesForAYear() async throws {
        let account = try await identity.register()
        let number = IdentityClient.cardNumber()

        #expect(try await identity.verifyCard(number, session: nil).code == "UNAUTHENTICATED")
        let someoneElse = try await identity.verify(
            [
                "accountId": .string(UUID().uuidString.lowercased()), "method": .string("bank_card"),
                "cardNumber": .string(number), "holderName": .string("Li Mei"),
            ], session: account.sessionToken)
        #expect(someoneElse.code == "FORBIDDEN")
        let unknown = try await identity.verify(["method": .string("passport")], session: account.sessionToken)
        #expect(unknown.code == "MALFORMED" && unknown.string("field") == "data.method")
        let broken = String(number.dropLast()) + String(((number.last?.wholeNumberValue ?? 0) + 1) % 10)
        #expect(try await identity.verifyCard(broken, session: account.sessionToken).code == "INVALID_CARD_NUMBER")

        // Groups of four with spaces, as printed on the card.
        let spaced = stride(from: 0, to: number.count, by: 4).map {
            String(Array(number)[$0..<min($0 + 4, number.count)])
        }.joined(separator: " ")
        let verified = try await identity.verifyCard(spaced, session: account.sessionToken)
        #expect(verified.code == "OK" && verified.status == "ok")
        #expect(verified.string("tier") == "bank_card")
        #expect(verified.string("cardLast4") == String(number.suffix(4)))
        let expiresAt = try #require(verified.string("expiresAt").flatMap(Self.date))
        #expect(abs(expiresAt.timeIntervalSinceNow - 365 * 86_400) < 120)

        let event = try await identity.client.event(on: "identity.events") {
            $0.type == "account.verified" && $0.subject == account.accountId
        }
        #expect(event.data["tier"] == .string("bank_card"))
        #expect(event.data["expiresAt"] == .string(try #require(verified.string("expiresAt"))))
        #expect(!String(decoding: event.encoded(), as: UTF8.self).contains(number))
        #expect(try await tier(of: account.accountId) == "bank_card")
    }

    @Test func anIDCardNeedsLivenessAndIsPermanent() async throws {
        let account = try await identity.register()
        let number = IdentityClient.residentID()
        let wrongCheck = String(number.dropLast()) + (number.hasSuffix("1") ? "2" : "1")
        #expect(try await identity.verifyID(wrongCheck, session: account.sessionToken).code == "INVALID_ID_NUMBER")
        #expect(
            try await identity.verifyID(String(number.dropLast()), session: account.sessionToken).code
                == "INVALID_ID_NUMBER")

        let failed = try await identity.verifyID(number, session: account.sessionToken, livenessPassed: false)
        #expect(failed.code == "LIVENESS_FAILED" && failed.status == "rejected")
        let verified = try await identity.verifyID(number, session: account.sessionToken)
        #expect(verified.code == "OK" && verified.string("tier") == "id_card")
        #expect(verified.result["expiresAt"] == nil)
        let event = try await identity.client.event(on: "identity.events") {
            $0.type == "account.verified" && $0.subject == account.accountId
        }
        #expect(event.data["tier"] == .string("id_card") && event.data["expiresAt"] == nil)
        #expect(!String(decoding: event.encoded(), as: UTF8.self).contains(number))

        // The ops dashboard's liveness pass rate and check durations against their service level.
        let checks = try await pool.query(
            "SELECT count(*) AS n, count(*) FILTER (WHERE passed) AS passed FROM liveness_checks WHERE account_id = \(account.accountId)::uuid"
        ).first
        #expect(try checks?.decode("n", as: Int.self) == 2 && checks?.decode("passed", as: Int.self) == 1)
        let rate = try await pool.query(
            "SELECT pass_rate::float8 AS r FROM liveness_pass_rate ORDER BY day DESC LIMIT 1"
        )
        .first?.decode("r", as: Double.self)
        #expect(rate.map { $0 > 0 && $0 < 1 } == true)
        let sla = try await pool.query(
            "SELECT sla_ms, checks FROM verification_check_sla WHERE method = 'id_card' ORDER BY day DESC LIMIT 1"
        ).first
        #expect(try sla?.decode("sla_ms", as: Double.self) == 15 * 60_000)
        #expect(try await tier(of: account.accountId) == "id_card")
        // A later bank card does not lower a permanent tier.
        let card = try await identity.verifyCard(IdentityClient.cardNumber(), session: account.sessionToken)
        #expect(card.code == "OK" && card.string("tier") == "id_card")
    }

    @Test func anIDConflictEndsInApprovalOrInRejection() async throws {
        let reviewer = try await identity.addOperator(
            name: "Reviewer Wang", databaseURL: TestStack.configuration.databaseURL)
        let number = IdentityClient.residentID()
        let first = try await identity.register()
        #expect(try await identity.verifyID(number, session: first.sessionToken).code == "OK")

        // Approval: the second account gets id_card.
        let second = try await identity.register()
        let bare = try await identity.verifyID(number, session: second.sessionToken)
        #expect(bare.code == "EVIDENCE_REQUIRED" && bare.status == "rejected")
        let noStatement = try await identity.verifyID(number, session: second.sessionToken, photo: "photo-1")
        #expect(noStatement.code == "EVIDENCE_REQUIRED")
        let pending = try await identity.verifyID(
            number, session: second.sessionToken, photo: "photo-1", statement: "my old account, phone lost")
        #expect(pending.status == "pending_review" && pending.code == "OK")
        let taskId = try #require(pending.string("taskId"))
        let due = try #require(pending.string("dueAt").flatMap(Self.date))
        #expect(abs(due.timeIntervalSinceNow - 72 * 3600) < 120)
        let again = try await identity.verifyID(
            number, session: second.sessionToken, photo: "photo-1", statement: "my old account, phone lost")
        #expect(again.status == "pending_review" && again.string("taskId") == taskId)
        let opened = try await identity.client.event(on: "identity.events") {
            $0.type == "review.opened" && $0.data["taskId"]?.stringValue == taskId
        }
        #expect(opened.subject == second.accountId && opened.data["kind"] == .string("id_conflict"))

        // Only operators decide.
        #expect(try await identity.decide(taskId, "approve", operatorToken: nil).code == "UNAUTHENTICATED")
        #expect(
            try await identity.decide(taskId, "approve", operatorToken: nil, sessionToken: second.sessionToken).code
                == "FORBIDDEN")
        #expect(
            try await identity.decide(taskId, "approve", operatorToken: String(repeating: "ab", count: 32)).code
                == "UNAUTHENTICATED")
        #expect(
            try await identity.decide(UUID().uuidString.lowercased(), "approve", operatorToken: reviewer.token).code
                == "REVIEW_NOT_FOUND")
        let badDecision = try await identity.decide(taskId, "maybe", operatorToken: reviewer.token)
        #expect(badDecision.code == "MALFORMED" && badDecision.string("field") == "data.decision")
        #expect(try await tier(of: second.accountId) == "none")

        let approved = try await identity.decide(
            taskId, "approve", note: "handheld photo matches", operatorToken: reviewer.token)
        #expect(approved.code == "OK")
        #expect(approved.result == .object(["taskId": .string(taskId), "decision": .string("approve")]))
        let decided = try await identity.client.event(on: "identity.events") {
            $0.type == "review.decided" && $0.data["taskId"]?.stringValue == taskId
        }
        #expect(decided.data["decision"] == .string("approve") && decided.data["kind"] == .string("id_conflict"))
        let verified = try await identity.client.event(on: "identity.events") {
            $0.type == "account.verified" && $0.subject == second.accountId
        }
        #expect(verified.data["tier"] == .string("id_card"))
        #expect(try await tier(of: second.accountId) == "id_card")
        let closed = try await identity.decide(taskId, "reject", operatorToken: reviewer.token)
        #expect(closed.code == "REVIEW_CLOSED" && closed.string("state") == "approved")

        // The audit: who, when, what, note; the queue shows who decided.
        let audit = try await pool.query(
            "SELECT operator_id::text AS who, decision, note, decided_at FROM review_decisions WHERE task_id = \(taskId)::uuid"
        )
        #expect(audit.count == 1)
        #expect(try audit.first?.decode("who", as: String.self) == reviewer.id)
        #expect(try audit.first?.decode("decision", as: String.self) == "approve")
        #expect(try audit.first?.decode("note", as: String.self) == "handheld photo matches")
        let queued = try await pool.query(
            "SELECT state, decided_by, overdue FROM review_queue WHERE id = \(taskId)::uuid"
        ).first
        #expect(try queued?.decode("state", as: String.self) == "approved")
        #expect(try queued?.decode("decided_by", as: String.self) == "Reviewer Wang")

        // Rejection: no tier change.
        let third = try await identity.register()
        let refused = try await identity.verifyID(
            number, session: third.sessionToken, photo: "photo-3", statement: "it is mine")
        let refusedTask = try #require(refused.string("taskId"))
        #expect(
            try await identity.decide(refusedTask, "reject", note: "face does not match", operatorToken: reviewer.token)
                .code == "OK")
        let rejected = try await identity.client.event(on: "identity.events") {
            $0.type == "review.decided" && $0.data["taskId"]?.stringValue == refusedTask
        }
        #expect(rejected.data["decision"] == .string("reject") && rejected.subject == third.accountId)
        #expect(try await tier(of: third.accountId) == "none")
        #expect(
            !identity.client.seenEvents(on: "identity.events").contains {
                $0.type == "account.verified" && $0.subject == third.accountId
            })
    }

    @Test func anInternationalRegistrationCompletesOnlyAfterApproval() async throws {
        let reviewer = try await identity.addOperator(
            name: "Reviewer Chen", databaseURL: TestStack.configuration.databaseURL)
        let phone = "+8529\(Int.random(in: 1_000_000...9_999_999))"
        let device = IdentityClient.device()
        let (registrationId, _) = try await identity.registerToSecurityCheck(phone: phone, device: device)
        let submitted = try await identity.send(
            "registration.submit_documents",
            [
                "registrationId": .string(registrationId), "documentType": .string("passport"),
                "documentRef": .string("doc-\(registrationId)"),
            ])
        #expect(submitted.status == "pending_review")
        let taskId = try #require(submitted.string("taskId"))
        #expect(try await identity.login(phone: phone, device: device).code == "INVALID_CREDENTIALS")

        let approved = try await identity.decide(
            taskId, "approve", note: "passport valid", operatorToken: reviewer.token)
        #expect(approved.code == "OK" && approved.string("decision") == "approve")
        #expect(approved.result["sessionToken"] == nil)
        let registered = try await identity.client.event(on: "identity.events") {
            $0.type == "account.registered" && $0.data["registrationId"]?.stringValue == registrationId
        }
        let accountId = try #require(registered.subject)
        #expect(registered.data["international"] == .bool(true))
        let decided = try await identity.client.event(on: "identity.events") {
            $0.type == "review.decided" && $0.data["taskId"]?.stringValue == taskId
        }
        #expect(decided.data["accountId"] == .string(accountId) && decided.subject == registrationId)
        let login = try await identity.login(phone: phone, device: device)
        #expect(login.code == "OK" && login.string("accountId") == accountId)
        #expect(try await tier(of: accountId) == "none")

        // A rejected registration stays closed and creates nothing.
        let other = "+8536\(Int.random(in: 100_000...999_999))"
        let (otherRegistration, _) = try await identity.registerToSecurityCheck(phone: other, device: device)
        let otherTask = try #require(
            try await identity.send(
                "registration.submit_documents",
                [
                    "registrationId": .string(otherRegistration), "documentType": .string("passport"),
                    "documentRef": .string("doc-x"),
                ]
            ).string("taskId"))
        #expect(
            try await identity.decide(otherTask, "reject", note: "forged", operatorToken: reviewer.token).code == "OK")
        let retry = try await identity.send(
            "registration.security_check", ["registrationId": .string(otherRegistration)])
        #expect(retry.code == "REGISTRATION_NOT_FOUND")
        #expect(try await identity.login(phone: other, device: device).code == "INVALID_CREDENTIALS")
        #expect(try await identity.decide(otherTask, "approve", operatorToken: reviewer.token).code == "REVIEW_CLOSED")
        let step: String? = try await pool.query(
            "SELECT step FROM registrations WHERE id = \(otherRegistration)::uuid"
        ).first?.decode("step")
        #expect(step == "rejected")
    }

    @Test func aDatabaseDumpHoldsNoClearIDOrCardNumber() async throws {
        let card = IdentityClient.cardNumber()
        let id = IdentityClient.residentID()
        let owner = try await identity.register()
        let claimant = try await identity.register()
        #expect(try await identity.verifyCard(card, session: owner.sessionToken).code == "OK")
        #expect(try await identity.verifyID(id, session: owner.sessionToken).code == "OK")
        #expect(
            try await identity.verifyID(id, session: claimant.sessionToken, photo: "p", statement: "s").status
                == "pending_review")
        let stored = try await pool.query(
            "SELECT count(*) AS n FROM verifications WHERE account_id IN (\(owner.accountId)::uuid, \(claimant.accountId)::uuid)"
        ).first?.decode("n", as: Int.self)
        #expect(stored == 3)

        let dump = try Self.pgDump(TestStack.configuration.databaseURL)
        #expect(dump.contains("verifications"), "the dump holds the verification tables")
        #expect(!dump.contains(card), "a clear card number in the dump")
        #expect(!dump.contains(id), "a clear ID number in the dump")
        #expect(!dump.contains(String(id.dropLast())), "an ID number's body in the dump")
    }

    @Test func deregistrationDeletesTheVerificationRecords() async throws {
        let number = IdentityClient.residentID()
        let owner = try await identity.register()
        let claimant = try await identity.register()
        #expect(try await identity.verifyID(number, session: owner.sessionToken).code == "OK")
        let taskId = try #require(
            try await identity.verifyID(number, session: claimant.sessionToken, photo: "p", statement: "s")
                .string("taskId"))
        try await identity.publishLifecycle("account.deregistered", accountId: claimant.accountId)
        let deadline = ContinuousClock.now + .seconds(20)
        var left = 1
        while left > 0 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            left =
                try await pool.query(
                    """
                    SELECT (SELECT count(*) FROM verifications WHERE account_id = \(claimant.accountId)::uuid)
                         + (SELECT count(*) FROM liveness_checks WHERE account_id = \(claimant.accountId)::uuid)
                         + (SELECT count(*) FROM account_tiers WHERE account_id = \(claimant.accountId)::uuid) AS n
                    """
                ).first?.decode("n", as: Int.self) ?? 1
        }
        #expect(left == 0)
        let evidence: String? = try await pool.query(
            "SELECT evidence::text AS e FROM review_tasks WHERE id = \(taskId)::uuid"
        ).first?.decode("e")
        #expect(evidence == "{}")
        // The owner's ID is no longer in conflict with a deregistered account, and vice versa.
        try await identity.publishLifecycle("account.deregistered", accountId: owner.accountId)
        let newcomer = try await identity.register()
        var answer = try await identity.verifyID(number, session: newcomer.sessionToken)
        while answer.code == "EVIDENCE_REQUIRED" && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            answer = try await identity.verifyID(number, session: newcomer.sessionToken)
        }
        #expect(answer.code == "OK")
    }

    // MARK: helpers

    func tier(of accountId: String) async throws -> String? {
        try await pool.query("SELECT tier FROM account_tiers WHERE account_id = \(accountId)::uuid").first?.decode(
            "tier")
    }

    static func date(_ text: String) -> Date? { Date(rfc3339: text) }

    /// `pg_dump` of the whole database, as plain SQL.
    static func pgDump(_ url: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["pg_dump", "--no-owner", "--dbname=\(url)"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw IdentityClient.Failure("pg_dump exited \(process.terminationStatus)")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
