import Contract
import Foundation
import Messaging
import Metrics
import Platform
import Postgres

/// `data` of `verification.submit`: a bank card or a resident ID card with a liveness result.
struct SubmitVerification: Decodable, Sendable {
    struct Liveness: Decodable, Sendable {
        var passed: Bool
        var score: Double?
    }
    /// Optional: when given it must be the session's account.
    var accountId: String?
    var method: String
    var cardNumber: String?
    var holderName: String?
    var idNumber: String?
    var name: String?
    var liveness: Liveness?
    var handheldPhotoRef: String?
    var statement: String?
}

/// `verification.submit` and the expiry of tiers.
///
/// The checks are local and answer at once; their durations are recorded against the seed's
/// service levels (`verification.bankCardCheckSLA`, `idCardCheckSLA`) in
/// `verifications.check_ms` (view `verification_check_sla`) and the timer
/// `identity_verification_check_duration`.
enum VerificationHandlers {
    static func register(_ router: inout Router, _ context: IdentityContext) {
        router.command("verification.submit", SubmitVerification.self) { session, command, effects in
            try submit(session, command, &effects, context)
        }
    }

    // MARK: verification.submit

    static func submit(
        _ session: borrowing PostgresSession, _ command: Command<SubmitVerification>, _ effects: inout MessageEffects,
        _ context: IdentityContext
    ) throws -> Reply {
        let started = ContinuousClock.now
        guard let caller = try LoginHandlers.authenticate(session, command.envelope, now: command.receivedAt) else {
            return .rejected(.unauthenticated, "a valid session token is required")
        }
        if let accountId = command.data.accountId, accountId.lowercased() != caller.accountID {
            return .rejected(.forbidden, "the session belongs to another account")
        }
        switch command.data.method {
        case VerificationTier.bankCard.rawValue:
            return try bankCard(session, command, caller: caller, started: started, &effects, context)
        case VerificationTier.idCard.rawValue:
            return try idCard(session, command, caller: caller, started: started, &effects, context)
        default:
            throw MalformedMessage.invalid(field: "data.method")
        }
    }

    static func bankCard(
        _ session: borrowing PostgresSession, _ command: Command<SubmitVerification>, caller: SessionInfo,
        started: ContinuousClock.Instant, _ effects: inout MessageEffects, _ context: IdentityContext
    ) throws -> Reply {
        let data = command.data
        let now = command.receivedAt
        guard let raw = data.cardNumber else { throw missing("data.cardNumber") }
        guard let number = VerificationRules.normalizedCardNumber(raw) else {
            return .rejected(.invalidCardNumber, "the card number fails its check digit")
        }
        let holder = try requiredText(data.holderName, field: "data.holderName")
        let pii = PIIProtection(piiKey: context.piiKey, hashKey: context.hashKey)
        let method = VerificationTier.bankCard.rawValue
        let id = IdentityStore.newID()
        let last4 = VerificationRules.last4(number)
        try VerificationStore.insert(
            session,
            VerificationRecord(
                id: id, accountID: caller.accountID, method: method, state: "verified",
                numberHash: pii.lookupHash(method: method, number: number),
                sealed: pii.seal(
                    try sealedDocument(number: number, name: holder), method: method, accountID: caller.accountID,
                    rowID: id),
                last4: last4, livenessPassed: nil, livenessScore: nil,
                checkMilliseconds: milliseconds(since: started),
                slaMilliseconds: context.policy.verification.bankCardCheckSLA.timeInterval * 1000, checkedAt: now))
        let tier = try VerificationStore.applyTier(
            session, accountID: caller.accountID, verified: .bankCard, now: now, policy: context.policy)
        try effects.emit(
            .accountVerified, subject: caller.accountID,
            data: AccountVerified(
                accountId: caller.accountID, tier: tier.tier.rawValue,
                expiresAt: tier.expiresAt.map(CloudEvent.timestamp), method: method, cardLast4: last4,
                verifiedAt: CloudEvent.timestamp(now)))
        recordCheck(method: method, since: started, sla: context.policy.verification.bankCardCheckSLA)
        return try .ok(
            VerifiedResult(
                tier: tier.tier.rawValue, expiresAt: tier.expiresAt.map(CloudEvent.timestamp), cardLast4: last4))
    }

    static func idCard(
        _ session: borrowing PostgresSession, _ command: Command<SubmitVerification>, caller: SessionInfo,
        started: ContinuousClock.Instant, _ effects: inout MessageEffects, _ context: IdentityContext
    ) throws -> Reply {
        let data = command.data
        let now = command.receivedAt
        let policy = context.policy.verification
        // The number's form and checksum come first: nothing is looked up or stored for a bad one.
        guard let raw = data.idNumber else { throw missing("data.idNumber") }
        guard let number = VerificationRules.normalizedResidentID(raw) else {
            return .rejected(.invalidIDNumber, "the ID number is not a valid 18-character resident ID number")
        }
        let name = try requiredText(data.name, field: "data.name")
        guard let liveness = data.liveness else { throw missing("data.liveness") }
        // Every result counts for the pass rate, so this row stays even when the command is refused.
        try VerificationStore.recordLiveness(
            session, accountID: caller.accountID, passed: liveness.passed, score: liveness.score, now: now)
        Counter(
            label: "identity_liveness_checks_total",
            dimensions: [("outcome", VerificationRules.livenessPassed(liveness.passed) ? "passed" : "failed")]
        ).increment()
        guard VerificationRules.livenessPassed(liveness.passed) else {
            return .rejected(
                .livenessFailed, "liveness check failed; record again", result: .object(["retry": .bool(true)]))
        }
        let pii = PIIProtection(piiKey: context.piiKey, hashKey: context.hashKey)
        let method = VerificationTier.idCard.rawValue
        let numberHash = pii.lookupHash(method: method, number: number)
        // Two accounts verifying one ID at once must not both miss each other.
        try IdentityStore.lock(session, ["id:" + numberHash.hexString])
        let id = IdentityStore.newID()
        var record = VerificationRecord(
            id: id, accountID: caller.accountID, method: method, state: "verified", numberHash: numberHash,
            sealed: pii.seal(
                try sealedDocument(number: number, name: name), method: method, accountID: caller.accountID, rowID: id),
            last4: nil, livenessPassed: liveness.passed, livenessScore: liveness.score,
            checkMilliseconds: 0, slaMilliseconds: policy.idCardCheckSLA.timeInterval * 1000, checkedAt: now)

        let others = try VerificationStore.verifiedElsewhere(
            session, numberHash: numberHash, accountID: caller.accountID)
        if !others.isEmpty {
            if let open = try VerificationStore.openConflict(
                session, accountID: caller.accountID, numberHash: numberHash)
            {
                return pendingReview(taskID: open.taskID, due: open.dueAt)
            }
            guard let photo = data.handheldPhotoRef.map(trimmed), !photo.isEmpty,
                let statement = data.statement.map(trimmed), !statement.isEmpty
            else {
                return .rejected(
                    .evidenceRequired,
                    "this ID is verified on another account: send a handheld-ID photo and a statement for review",
                    result: .object(["required": .array([.string("handheldPhotoRef"), .string("statement")])]))
            }
            let taskID = IdentityStore.newID()
            let due = now.addingTimeInterval(policy.idConflictReviewSLA.timeInterval)
            try VerificationStore.openConflictReview(
                session, taskID: taskID, accountID: caller.accountID,
                evidence: IDConflictEvidence(
                    handheldPhotoRef: photo, statement: statement, conflictingAccountIds: others),
                due: due, now: now)
            record.state = "pending_review"
            record.checkMilliseconds = milliseconds(since: started)
            try VerificationStore.insert(session, record, reviewTaskID: taskID)
            try effects.emit(
                .reviewOpened, subject: caller.accountID,
                data: ReviewOpened(taskId: taskID, kind: "id_conflict", dueAt: CloudEvent.timestamp(due)))
            recordCheck(method: method, since: started, sla: policy.idCardCheckSLA)
            return pendingReview(taskID: taskID, due: due)
        }
        record.checkMilliseconds = milliseconds(since: started)
        try VerificationStore.insert(session, record)
        let tier = try VerificationStore.applyTier(
            session, accountID: caller.accountID, verified: .idCard, now: now, policy: context.policy)
        try effects.emit(
            .accountVerified, subject: caller.accountID,
            data: AccountVerified(
                accountId: caller.accountID, tier: tier.tier.rawValue,
                expiresAt: tier.expiresAt.map(CloudEvent.timestamp), method: method, cardLast4: nil,
                verifiedAt: CloudEvent.timestamp(now)))
        recordCheck(method: method, since: started, sla: policy.idCardCheckSLA)
        return try .ok(VerifiedResult(tier: tier.tier.rawValue, expiresAt: nil, cardLast4: nil))
    }

    static func pendingReview(taskID: String, due: Date) -> Reply {
        Reply(
            status: .pendingReview, code: .ok,
            message: "this ID is verified on another account; a reviewer will decide",
            result: .object(["taskId": .string(taskID), "dueAt": .string(CloudEvent.timestamp(due))]))
    }

    // MARK: expiry

    /// Ends tiers whose validity passed: `account.verification_expired` once per tier, in the
    /// transaction that marks it. Also publishes the number of overdue review tasks (gauge).
    static func expirySweep(_ context: IdentityContext) -> PeriodicTask {
        PeriodicTask(name: "verification-expiry", interval: context.policy.verification.expirySweepInterval.duration) {
            session, now, effects in
            let expired = try VerificationStore.claimExpired(session, now: now, limit: 500)
            for item in expired where item.accountActive {
                try effects.emit(
                    .accountVerificationExpired, subject: item.accountID,
                    data: VerificationExpired(
                        accountId: item.accountID, tier: item.tier, expiredAt: CloudEvent.timestamp(item.expiresAt)))
            }
            let overdue = Dictionary(
                try VerificationStore.overdueReviews(session, now: now), uniquingKeysWith: { first, _ in first })
            for kind in ["international_number", "id_conflict"] {
                Gauge(label: "identity_review_tasks_overdue", dimensions: [("kind", kind)]).record(overdue[kind] ?? 0)
            }
            return expired.count
        }
    }

    // MARK: helpers

    static func missing(_ field: String) -> MalformedMessage {
        MalformedMessage(code: .malformed, reason: "missing_field", field: field)
    }

    static func trimmed(_ text: String) -> String { text.trimmingCharacters(in: .whitespacesAndNewlines) }

    /// A required free-text field: present, not blank, at most 512 characters.
    static func requiredText(_ text: String?, field: String) throws -> String {
        guard let text else { throw missing(field) }
        let value = trimmed(text)
        guard !value.isEmpty, value.count <= 512 else { throw MalformedMessage.invalid(field: field) }
        return value
    }

    /// The plaintext that is sealed: the number and the name on the document.
    static func sealedDocument(number: String, name: String) throws -> [UInt8] {
        Array(try IdentityStore.json(["number": number, "name": name]).utf8)
    }

    static func milliseconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
    }

    /// The check's duration as a metric, and a count of checks slower than their service level.
    static func recordCheck(method: String, since start: ContinuousClock.Instant, sla: PolicyDuration) {
        let elapsed = ContinuousClock.now - start
        Metrics.Timer(label: "identity_verification_check_duration", dimensions: [("method", method)])
            .recordNanoseconds(
                elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
        if elapsed > sla.duration {
            Counter(label: "identity_verification_check_over_sla_total", dimensions: [("method", method)]).increment()
        }
    }
}

/// One row of `verifications`.
struct VerificationRecord {
    var id: String
    var accountID: String
    var method: String
    var state: String
    var numberHash: [UInt8]
    var sealed: [UInt8]
    var last4: String?
    var livenessPassed: Bool?
    var livenessScore: Double?
    var checkMilliseconds: Double
    var slaMilliseconds: Double
    var checkedAt: Date
}

/// A tier whose validity ended, as claimed by the sweep.
struct ExpiredTier {
    var accountID: String
    var tier: String
    var expiresAt: Date
    var accountActive: Bool
}

/// The SQL of tiers, verifications and their reviews.
enum VerificationStore {
    /// The tier a new account starts at: `none`, valid `verification.noneValidity`.
    static func startTier(_ session: borrowing PostgresSession, accountID: String, now: Date, policy: Policy) throws
        -> TierState
    {
        let state = TierState(
            tier: .none, expiresAt: VerificationRules.expiry(of: .none, verifiedAt: now, policy: policy.verification))
        try session.query(
            """
            INSERT INTO account_tiers (account_id, tier, expires_at, updated_at)
            VALUES (\(accountID)::uuid, \(state.tier.rawValue), \(state.expiresAt), \(now))
            """)
        return state
    }

    /// Records a successful check's tier (a stronger tier in force is kept) and returns the result.
    static func applyTier(
        _ session: borrowing PostgresSession, accountID: String, verified: VerificationTier, now: Date, policy: Policy
    ) throws -> TierState {
        let row = try session.query(
            "SELECT tier, expires_at FROM account_tiers WHERE account_id = \(accountID)::uuid FOR UPDATE"
        ).first
        let current = try row.flatMap { row in
            VerificationTier(rawValue: try row.decode("tier")).map {
                TierState(tier: $0, expiresAt: try? row.decode("expires_at", as: Date?.self))
            }
        }
        let next = VerificationRules.tier(after: verified, current: current, now: now, policy: policy.verification)
        guard next != current else { return next }
        try session.query(
            """
            INSERT INTO account_tiers (account_id, tier, expires_at, updated_at)
            VALUES (\(accountID)::uuid, \(next.tier.rawValue), \(next.expiresAt), \(now))
            ON CONFLICT (account_id) DO UPDATE
            SET tier = EXCLUDED.tier, expires_at = EXCLUDED.expires_at, expired_at = NULL, updated_at = EXCLUDED.updated_at
            """)
        return next
    }

    /// Records a liveness result (every one counts for the pass rate, refused commands too).
    static func recordLiveness(
        _ session: borrowing PostgresSession, accountID: String, passed: Bool, score: Double?, now: Date
    ) throws {
        try session.query(
            """
            INSERT INTO liveness_checks (account_id, passed, score, checked_at)
            VALUES (\(accountID)::uuid, \(passed), \(score), \(now))
            """)
    }

    /// Opens an `id_conflict` review task.
    static func openConflictReview(
        _ session: borrowing PostgresSession, taskID: String, accountID: String, evidence: IDConflictEvidence,
        due: Date, now: Date
    ) throws {
        try session.query(
            """
            INSERT INTO review_tasks (id, kind, account_id, evidence, due_at, created_at)
            VALUES (\(taskID)::uuid, 'id_conflict', \(accountID)::uuid, \(try IdentityStore.json(evidence))::jsonb,
                    \(due), \(now))
            """)
    }

    /// Inserts a verification record, linking it to its review task when it waits for one.
    static func insert(
        _ session: borrowing PostgresSession, _ record: VerificationRecord, reviewTaskID: String? = nil
    ) throws {
        try session.query(
            """
            INSERT INTO verifications (id, account_id, method, state, number_hash, sealed, last4, liveness_passed,
                liveness_score, check_ms, check_sla_ms, checked_at)
            VALUES (\(record.id)::uuid, \(record.accountID)::uuid, \(record.method), \(record.state),
                \(PostgresBytes(record.numberHash)), \(PostgresBytes(record.sealed)), \(record.last4),
                \(record.livenessPassed), \(record.livenessScore), \(record.checkMilliseconds),
                \(record.slaMilliseconds), \(record.checkedAt))
            """)
        if let reviewTaskID {
            try session.query(
                "UPDATE review_tasks SET verification_id = \(record.id)::uuid WHERE id = \(reviewTaskID)::uuid")
        }
    }

    /// Other live accounts on which this ID number is verified.
    static func verifiedElsewhere(_ session: borrowing PostgresSession, numberHash: [UInt8], accountID: String) throws
        -> [String]
    {
        try session.query(
            """
            SELECT DISTINCT v.account_id::text AS account_id
            FROM verifications v JOIN accounts a ON a.id = v.account_id
            WHERE v.method = 'id_card' AND v.state = 'verified' AND v.number_hash = \(PostgresBytes(numberHash))
              AND v.account_id <> \(accountID)::uuid AND a.status <> 'deregistered'
            ORDER BY 1
            """
        ).map { try $0.decode("account_id") }
    }

    /// The open `id_conflict` task of this account about this number, if one exists.
    static func openConflict(_ session: borrowing PostgresSession, accountID: String, numberHash: [UInt8]) throws
        -> (taskID: String, dueAt: Date)?
    {
        guard
            let row = try session.query(
                """
                SELECT t.id::text AS id, t.due_at FROM review_tasks t JOIN verifications v ON v.id = t.verification_id
                WHERE t.kind = 'id_conflict' AND t.state = 'open' AND t.account_id = \(accountID)::uuid
                  AND v.number_hash = \(PostgresBytes(numberHash))
                """
            ).first
        else { return nil }
        return (try row.decode("id"), try row.decode("due_at"))
    }

    /// Claims tiers that ended by `now` and were not announced, marking them announced.
    static func claimExpired(_ session: borrowing PostgresSession, now: Date, limit: Int) throws -> [ExpiredTier] {
        try session.query(
            """
            WITH due AS (
                SELECT account_id FROM account_tiers
                WHERE expired_at IS NULL AND expires_at IS NOT NULL AND expires_at <= \(now)
                ORDER BY expires_at LIMIT \(limit)
                FOR UPDATE SKIP LOCKED
            )
            UPDATE account_tiers t SET expired_at = \(now)
            FROM due, accounts a
            WHERE t.account_id = due.account_id AND a.id = t.account_id
            RETURNING t.account_id::text AS account_id, t.tier, t.expires_at, a.status <> 'deregistered' AS active
            """
        ).map {
            ExpiredTier(
                accountID: try $0.decode("account_id"), tier: try $0.decode("tier"),
                expiresAt: try $0.decode("expires_at"), accountActive: try $0.decode("active"))
        }
    }

    /// Open review tasks past their due time, by kind.
    static func overdueReviews(_ session: borrowing PostgresSession, now: Date) throws -> [(String, Int)] {
        try session.query(
            "SELECT kind, count(*) AS n FROM review_tasks WHERE state = 'open' AND due_at < \(now) GROUP BY kind"
        ).map { (try $0.decode("kind"), try $0.decode("n")) }
    }
}

// MARK: results and events

struct VerifiedResult: Encodable {
    var tier: String
    var expiresAt: String?
    var cardLast4: String?
}

struct IDConflictEvidence: Encodable {
    var handheldPhotoRef: String
    var statement: String
    var conflictingAccountIds: [String]
}
