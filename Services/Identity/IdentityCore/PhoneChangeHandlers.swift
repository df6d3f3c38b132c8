import Contract
import Directory
import Foundation
import Messaging
import Platform
import Postgres

struct PhoneChangeStart: Decodable, Sendable {
    var newPhone: String
}

struct PhoneChangeComplete: Decodable, Sendable {
    var oldCode: String
    var newCode: String
}

struct PhoneChangeByReview: Decodable, Sendable {
    var newPhone: String
    var newCode: String
    var handheldPhotoRef: String
    var statement: String
}

/// `phone.change.start`, `phone.change.complete` and `phone.change.by_review` (issue 16), and the
/// reviewer's decision on a `phone_change` task.
enum PhoneChangeHandlers {
    static func register(_ router: inout Router, _ context: IdentityContext) {
        router.command("phone.change.start", PhoneChangeStart.self) { session, command, effects in
            try start(session, command, &effects, context)
        }
        router.command("phone.change.complete", PhoneChangeComplete.self) { session, command, effects in
            try complete(session, command, &effects, context)
        }
        router.command("phone.change.by_review", PhoneChangeByReview.self) { session, command, effects in
            try byReview(session, command, &effects, context)
        }
    }

    static func codeHash(changeID: String, number: String, code: String, _ context: IdentityContext) -> [UInt8] {
        SecretCodes.keyedHash("phone-change:\(changeID):\(number):\(code)", key: context.hashKey)
    }

    /// Sends a code to the account's number and one to the new number (the new number's standing
    /// is checked at completion, after both codes prove the numbers are the caller's).
    static func start(
        _ session: borrowing PostgresSession, _ command: Command<PhoneChangeStart>, _ effects: inout MessageEffects,
        _ context: IdentityContext
    ) throws -> Reply {
        let now = command.receivedAt
        let policy = context.policy
        let caller = try LoginHandlers.signedIn(session, command.envelope, now: now)
        // The reply (the new number, masked) and the SMS name no account: filed for the purge.
        effects.concerns(caller.accountID)
        guard let newPhone = PhoneNumber.parse(command.data.newPhone) else {
            return .rejected(.invalidPhone, "the phone number is not a valid E.164 number")
        }
        try IdentityStore.lock(session, ["phone-change:" + caller.accountID])
        guard let oldPhone = try AccountStore.phone(session, accountID: caller.accountID).flatMap(PhoneNumber.parse)
        else { return .rejected(.unauthenticated, "a valid session token is required") }
        guard oldPhone.e164 != newPhone.e164 else {
            return .rejected(.samePhone, "the account already has this phone number")
        }
        let starts = try AccountStore.phoneChangeStarts(
            session, accountID: caller.accountID,
            since: RecoveryRules.rateWindowStart(now: now, policy: policy.recovery))
        guard RecoveryRules.admitPhoneChangeStart(startsInWindow: starts, policy: policy.recovery),
            try SMSBudget.available(session, service: "identity", policy: policy.sms, now: now)
        else {
            return .rejected(.rateLimited, "too many phone changes started; try again later")
        }
        let id = IdentityStore.newID()
        let oldCode = SecretCodes.smsCode(length: policy.sms.codeLength)
        let newCode = SecretCodes.smsCode(length: policy.sms.codeLength)
        let expires = now.addingTimeInterval(policy.sms.validity.timeInterval)
        try AccountStore.openPhoneChange(
            session, id: id, accountID: caller.accountID, newPhone: newPhone.e164,
            oldCodeHash: codeHash(changeID: id, number: "old", code: oldCode, context),
            newCodeHash: codeHash(changeID: id, number: "new", code: newCode, context), expiresAt: expires, now: now)
        for (phone, purpose, code) in [
            (oldPhone, "phone_change_old", oldCode), (newPhone, "phone_change_new", newCode),
        ] {
            try SMSRequested.send(
                session, &effects, to: phone, purpose: purpose, code: code, expiresAt: expires, now: now)
        }
        return try .ok(["changeId": id, "newPhone": newPhone.masked, "expiresAt": CloudEvent.timestamp(expires)])
    }

    static func complete(
        _ session: borrowing PostgresSession, _ command: Command<PhoneChangeComplete>,
        _ effects: inout MessageEffects, _ context: IdentityContext
    ) throws -> Reply {
        let now = command.receivedAt
        let caller = try LoginHandlers.signedIn(session, command.envelope, now: now)
        guard let change = try AccountStore.phoneChange(session, accountID: caller.accountID) else {
            return .rejected(.phoneChangeNotFound, "no phone change is open; start one first")
        }
        let old = codeHash(changeID: change.id, number: "old", code: command.data.oldCode, context)
        let new = codeHash(changeID: change.id, number: "new", code: command.data.newCode, context)
        // Both comparisons always run (constant time over the pair).
        let oldMatches = Sodium.constantTimeEqual(old, change.oldCodeHash)
        let newMatches = Sodium.constantTimeEqual(new, change.newCodeHash)
        if let rejection = try judge(session, change, matches: oldMatches && newMatches, now: now, context) {
            return rejection
        }
        return try finish(session, change, method: "codes", now: now, &effects, context)
    }

    /// The one-time-code rule over a change's codes; counts a wrong try. `nil` when accepted.
    static func judge(
        _ session: borrowing PostgresSession, _ change: PhoneChange, matches: Bool, now: Date,
        _ context: IdentityContext
    ) throws -> Reply? {
        let verdict = OneTimeCode.verdict(
            matches: matches, attempts: change.attempts, maxAttempts: context.policy.sms.maxAttempts,
            expiresAt: change.expiresAt, now: now)
        if case .wrong = verdict { try AccountStore.countWrongChangeCode(session, id: change.id) }
        return Reply.rejection(verdict, renew: "start the phone change again")
    }

    /// Moves the account to the change's new number if it is free: the old number is blocked per
    /// `RecoveryRules.oldPhoneBlockedUntil`; event `account.phone_changed`.
    static func finish(
        _ session: borrowing PostgresSession, _ change: PhoneChange, method: String, now: Date,
        _ effects: inout MessageEffects, _ context: IdentityContext
    ) throws -> Reply {
        try IdentityStore.lock(session, ["phone:" + change.newPhone])
        if let refusal = try standingRefusal(session, phone: change.newPhone, now: now) {
            try AccountStore.setPhoneChangeState(session, id: change.id, state: "refused", now: now)
            return refusal
        }
        let oldPhone = try AccountStore.movePhone(session, accountID: change.accountID, to: change.newPhone)
        if let until = RecoveryRules.oldPhoneBlockedUntil(
            now: now, recovery: context.policy.recovery, registration: context.policy.registration)
        {
            try AccountStore.blockPhone(session, phone: oldPhone, until: until)
        }
        try AccountStore.setPhoneChangeState(session, id: change.id, state: "completed", now: now)
        let newMasked = PhoneNumber.parse(change.newPhone)?.masked ?? ""
        try effects.emit(
            .accountPhoneChanged, subject: change.accountID,
            data: PhoneChanged(
                accountId: change.accountID, oldPhone: PhoneNumber.parse(oldPhone)?.masked ?? "", newPhone: newMasked,
                phoneHash: PhoneHash.of(change.newPhone, key: context.hashKey), method: method,
                changedAt: CloudEvent.timestamp(now)))
        return try .ok(["phone": newMasked])
    }

    /// `PHONE_IN_USE` / `PHONE_IN_COOLDOWN` for a number that cannot be moved to.
    static func standingRefusal(_ session: borrowing PostgresSession, phone: String, now: Date) throws -> Reply? {
        let standing = try AccountStore.phoneStanding(session, phone: phone)
        switch RecoveryRules.newPhoneStanding(held: standing.held, blockedUntil: standing.blockedUntil, now: now) {
        case .free:
            return nil
        case .inUse:
            return .rejected(.phoneInUse, "the phone number belongs to an account")
        case .inCooldown(let until):
            return .rejected(
                .phoneInCooldown, "the phone number was released recently",
                result: .object(["availableAt": .string(CloudEvent.timestamp(until))]))
        }
    }

    /// For a user who lost the old number: the new number's code, a handheld photo and a
    /// statement open a `phone_change` review (SLA as the ID-conflict review).
    static func byReview(
        _ session: borrowing PostgresSession, _ command: Command<PhoneChangeByReview>,
        _ effects: inout MessageEffects, _ context: IdentityContext
    ) throws -> Reply {
        let data = command.data
        let now = command.receivedAt
        let caller = try LoginHandlers.signedIn(session, command.envelope, now: now)
        guard ProfileRules.avatarRefIsValid(data.handheldPhotoRef) else {
            throw MalformedMessage.invalid(field: "data.handheldPhotoRef")
        }
        let statement = data.statement.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !statement.isEmpty, statement.count <= 2000 else {
            throw MalformedMessage.invalid(field: "data.statement")
        }
        guard let newPhone = PhoneNumber.parse(data.newPhone) else {
            return .rejected(.invalidPhone, "the phone number is not a valid E.164 number")
        }
        guard let change = try AccountStore.phoneChange(session, accountID: caller.accountID),
            change.newPhone == newPhone.e164
        else {
            return .rejected(.phoneChangeNotFound, "no phone change to that number is open; start one first")
        }
        let new = codeHash(changeID: change.id, number: "new", code: data.newCode, context)
        if let rejection = try judge(
            session, change, matches: Sodium.constantTimeEqual(new, change.newCodeHash), now: now, context)
        {
            return rejection
        }
        if let refusal = try standingRefusal(session, phone: change.newPhone, now: now) {
            try AccountStore.setPhoneChangeState(session, id: change.id, state: "refused", now: now)
            return refusal
        }
        let taskID = IdentityStore.newID()
        let due = now.addingTimeInterval(context.policy.verification.idConflictReviewSLA.timeInterval)
        try AccountStore.openPhoneChangeReview(
            session, taskID: taskID, change: change,
            evidence: ["handheldPhotoRef": data.handheldPhotoRef, "statement": statement, "newPhone": newPhone.masked],
            due: due, now: now)
        try AccountStore.setPhoneChangeState(session, id: change.id, state: "pending_review", now: now)
        try effects.emit(
            .reviewOpened, subject: caller.accountID,
            data: ReviewOpened(taskId: taskID, kind: "phone_change", dueAt: CloudEvent.timestamp(due)))
        return Reply(
            status: .pendingReview, code: .ok, message: "a reviewer will decide the phone change",
            result: .object(["taskId": .string(taskID), "dueAt": .string(CloudEvent.timestamp(due))]))
    }

    /// A reviewer's decision on a `phone_change` task: approval moves the number (a number taken
    /// meanwhile refuses the decision and the task stays open, to be rejected); rejection closes it.
    static func decide(
        _ session: borrowing PostgresSession, changeID: String, decision: ReviewDecision, now: Date,
        _ effects: inout MessageEffects, _ context: IdentityContext
    ) throws {
        guard let change = try AccountStore.phoneChange(session, id: changeID), change.state == "pending_review" else {
            throw ConfigurationError(reason: "phone change \(changeID) of an open review is not pending")
        }
        switch decision {
        case .approve:
            let finished = try finish(session, change, method: "review", now: now, &effects, context)
            guard finished.status == .ok else { throw Refusal(finished) }
        case .reject:
            try AccountStore.setPhoneChangeState(session, id: change.id, state: "rejected", now: now)
        }
    }
}
