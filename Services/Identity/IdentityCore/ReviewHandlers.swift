import Contract
import Directory
import Foundation
import Messaging
import Platform
import Postgres

/// `data` of `review.decide`.
struct DecideReview: Decodable, Sendable {
    var taskId: String
    var decision: String
    var note: String
}

/// A reviewer's decision.
enum ReviewDecision: String, Sendable {
    case approve, reject

    /// The task's state after it.
    var state: String { self == .approve ? "approved" : "rejected" }
}

/// `review.decide`: operators decide `international_number`, `risk_review` (issue 18), `id_conflict` and
/// `phone_change` review tasks.
///
/// Every decision is kept in `review_decisions` (who, when, what, note); a task is decided once.
enum ReviewHandlers {
    static func register(_ router: inout Router, _ context: IdentityContext) {
        router.command("review.decide", DecideReview.self) { session, command, effects in
            try decide(session, command, &effects, context)
        }
    }

    static func decide(
        _ session: borrowing PostgresSession, _ command: Command<DecideReview>, _ effects: inout MessageEffects,
        _ context: IdentityContext
    ) throws -> Reply {
        let data = command.data
        let now = command.receivedAt
        let reviewerID = try OperatorDirectory.authorize(
            session, command.envelope, for: .review, now: now, effects: &effects)
        guard let decision = ReviewDecision(rawValue: data.decision) else {
            throw MalformedMessage.invalid(field: "data.decision")
        }
        let note = data.note.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !note.isEmpty, note.count <= 2000 else { throw MalformedMessage.invalid(field: "data.note") }
        guard UUID(uuidString: data.taskId) != nil,
            let task = try session.query(
                """
                SELECT id::text AS id, kind, state, registration_id::text AS registration_id,
                       account_id::text AS account_id, verification_id::text AS verification_id,
                       phone_change_id::text AS phone_change_id, decided_at
                FROM review_tasks WHERE id = \(data.taskId)::uuid FOR UPDATE
                """
            ).first
        else {
            return .rejected(.reviewNotFound, "no such review task")
        }
        let taskID: String = try task.decode("id")
        let kind: String = try task.decode("kind")
        let state: String = try task.decode("state")
        guard state == "open" else {
            var result: [String: JSONValue] = ["state": .string(state)]
            if let decided: Date = try task.decode("decided_at") {
                result["decidedAt"] = .string(CloudEvent.timestamp(decided))
            }
            return .rejected(.reviewClosed, "this review task was decided already", result: .object(result))
        }
        var decided = ReviewDecided(
            taskId: taskID, kind: kind, decision: decision.rawValue, operatorId: reviewerID,
            decidedAt: CloudEvent.timestamp(now), registrationId: nil, accountId: nil)
        var subject = taskID
        switch kind {
        case "international_number", "risk_review":
            let registrationID: String = try task.decode("registration_id")
            decided.registrationId = registrationID
            subject = registrationID
            decided.accountId = try decideInternational(
                session, registrationID: registrationID, decision: decision, now: now, &effects, context)
        case "id_conflict":
            let accountID: String = try task.decode("account_id")
            let verificationID: String = try task.decode("verification_id")
            decided.accountId = accountID
            subject = accountID
            try decideConflict(
                session, accountID: accountID, verificationID: verificationID, taskID: taskID, decision: decision,
                now: now, &effects, context)
        case "phone_change":
            let accountID: String = try task.decode("account_id")
            decided.accountId = accountID
            subject = accountID
            try PhoneChangeHandlers.decide(
                session, changeID: try task.decode("phone_change_id"), decision: decision, now: now, &effects, context)
        default:
            throw ConfigurationError(reason: "review task \(taskID) has an unknown kind")
        }
        try session.query(
            """
            UPDATE review_tasks SET state = \(decision.state), decided_at = \(now), decided_by = \(reviewerID)::uuid
            WHERE id = \(taskID)::uuid
            """)
        try session.query(
            """
            INSERT INTO review_decisions (task_id, operator_id, decision, note, decided_at)
            VALUES (\(taskID)::uuid, \(reviewerID)::uuid, \(decision.rawValue), \(note), \(now))
            """)
        try effects.emit(.reviewDecided, subject: subject, data: decided)
        return try .ok(["taskId": taskID, "decision": decision.rawValue])
    }

    /// Approval creates the account (no session: the user signs in with `login`); rejection closes
    /// the registration. Returns the new account's id. International numbers and `risk_review`
    /// (a high security check a reviewer completed) decide alike.
    static func decideInternational(
        _ session: borrowing PostgresSession, registrationID: String, decision: ReviewDecision, now: Date,
        _ effects: inout MessageEffects, _ context: IdentityContext
    ) throws -> String? {
        let registration = try RegistrationHandlers.load(session, registrationID, expecting: .pendingReview, now: now)
        switch decision {
        case .approve:
            let created = try AccountCreation.create(
                session, registration: registration, effects: &effects, context: context, now: now,
                openSession: false)
            // The account cannot exist (the phone or device was taken meanwhile): the task stays open.
            guard created.status == .ok, let accountID = created.result["accountId"]?.stringValue else {
                throw Refusal(created)
            }
            return accountID
        case .reject:
            try session.query(
                "UPDATE registrations SET step = \(RegistrationStep.rejected.rawValue) WHERE id = \(registration.id)::uuid"
            )
            return nil
        }
    }

    /// Approval verifies the account at tier `id_card`; rejection leaves its tier as it was.
    static func decideConflict(
        _ session: borrowing PostgresSession, accountID: String, verificationID: String, taskID: String,
        decision: ReviewDecision, now: Date, _ effects: inout MessageEffects, _ context: IdentityContext
    ) throws {
        switch decision {
        case .approve:
            try session.query("UPDATE verifications SET state = 'verified' WHERE id = \(verificationID)::uuid")
            let tier = try VerificationStore.applyTier(
                session, accountID: accountID, verified: .idCard, now: now, policy: context.policy)
            try effects.emit(
                .accountVerified, subject: accountID,
                data: AccountVerified(
                    accountId: accountID, tier: tier.tier.rawValue,
                    expiresAt: tier.expiresAt.map(CloudEvent.timestamp), method: VerificationTier.idCard.rawValue,
                    cardLast4: nil, verifiedAt: CloudEvent.timestamp(now)))
        case .reject:
            try session.query("UPDATE verifications SET state = 'rejected' WHERE id = \(verificationID)::uuid")
        }
    }
}

struct ReviewDecided: Encodable {
    var taskId: String
    var kind: String
    var decision: String
    var operatorId: String
    var decidedAt: String
    var registrationId: String?
    var accountId: String?
}
