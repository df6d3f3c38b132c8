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
        let caller = try LoginHandlers.signedIn(session, command.envelope, now: command.receivedAt)
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
        // Issue 17: the ID number and the liveness result are kept only with their consents.
        let missingConsents = ConsentRules.missingForIDCard(
            withdrawn: try PrivacyStore.withdrawn(session, accountID: caller.accountID))
        if !missingConsents.isEmpty {
            return .rejected(
                .consentRequired, "give the consents this verification needs first (consent.grant)",
                result: .object(["kinds": .array(missingConsents.map { .string($0.rawValue) })]))
        }
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
            for kind in ["international_number", "id_conflict", "risk_review"] {
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
