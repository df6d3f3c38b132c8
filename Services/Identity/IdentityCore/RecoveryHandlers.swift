import Contract
import Directory
import Foundation
import Messaging
import Platform
import Postgres

struct ResetStart: Decodable, Sendable {
    var phone: String
    var device: DeviceInfo
    var ip: IPInfo
}

struct ResetComplete: Decodable, Sendable {
    var phone: String
    var code: String
    var newPassword: String
    var device: DeviceInfo
    var ip: IPInfo
}

struct ChangePassword: Decodable, Sendable {
    var accountId: String
    var currentPassword: String
    var newPassword: String
}

struct SetSecurityQuestions: Decodable, Sendable {
    var currentPassword: String
    var securityQuestions: [CompleteProfile.Question]
}

/// `password.reset.start`, `password.reset.complete`, `password.change` and
/// `security_questions.set` (issue 16).
enum RecoveryHandlers {
    static func register(_ router: inout Router, _ context: IdentityContext) {
        router.command("password.reset.start", ResetStart.self) { session, command, effects in
            try resetStart(session, command, &effects, context)
        }
        router.command(
            "password.reset.complete", ResetComplete.self,
            prepare: { command in try await prepareResetComplete(command, context) },
            { session, command, effects in try resetComplete(session, command, &effects, context) })
        router.command(
            "password.change", ChangePassword.self,
            prepare: { command in
                try await prepareCheck(
                    command, accountID: command.data.accountId, current: command.data.currentPassword,
                    new: command.data.newPassword, context)
            },
            { session, command, effects in try change(session, command, &effects, context) })
        router.command(
            "security_questions.set", SetSecurityQuestions.self,
            prepare: { command in
                try await prepareCheck(
                    command, accountID: nil, current: command.data.currentPassword, new: nil, context)
            },
            { session, command, effects in try setQuestions(session, command, &effects, context) })
    }

    // MARK: reset

    /// Answers every phone alike (`ok`, the code's expiry): an SMS goes only to an active,
    /// unlocked account (`RecoveryRules.sendsResetCode`); the rate limits count every start.
    static func resetStart(
        _ session: borrowing PostgresSession, _ command: Command<ResetStart>, _ effects: inout MessageEffects,
        _ context: IdentityContext
    ) throws -> Reply {
        let data = command.data
        let now = command.receivedAt
        let policy = context.policy
        try RegistrationHandlers.checkClientFacts(data.device, data.ip, policy: policy)
        guard let phone = PhoneNumber.parse(data.phone) else {
            return .rejected(.invalidPhone, "the phone number is not a valid E.164 number")
        }
        let printID = try DevicePrints.recognise(
            session, fingerprint: data.device.fingerprint, threshold: policy.devices.similarityThreshold)?.id
        try IdentityStore.lock(
            session,
            ["reset-phone:" + phone.e164, "reset-ip:" + data.ip.address] + (printID.map { ["print:" + $0] } ?? []))
        let facts = try AccountStore.resetStartFacts(
            session, phone: phone.e164, printID: printID, ip: data.ip.address,
            since: RecoveryRules.rateWindowStart(now: now, policy: policy.recovery))
        guard RecoveryRules.admitResetStart(facts, policy: policy.recovery),
            try SMSBudget.available(session, service: "identity", policy: policy.sms, now: now)
        else {
            return .rejected(.rateLimited, "too many password resets started; try again later")
        }
        let account = try AccountStore.accountOfPhone(session, phone: phone.e164)
        let sends = RecoveryRules.sendsResetCode(status: account?.status, locked: account?.locked ?? false)
        let id = IdentityStore.newID()
        let code = SecretCodes.smsCode(length: policy.sms.codeLength)
        let expires = now.addingTimeInterval(policy.sms.validity.timeInterval)
        try AccountStore.insertReset(
            session, id: id, phone: phone.e164, accountID: sends ? account?.id : nil, printID: printID,
            ip: data.ip.address, codeHash: resetCodeHash(id: id, code: code, context), expiresAt: expires, now: now)
        if sends {
            try SMSRequested.send(
                session, &effects, to: phone, purpose: "password_reset", code: code, expiresAt: expires, now: now)
        }
        // Constant, so known and unknown phones get byte-identical data.
        return try .ok(["codeValidSeconds": Int(policy.sms.validity.timeInterval)])
    }

    static func resetCodeHash(id: String, code: String, _ context: IdentityContext) -> [UInt8] {
        SecretCodes.keyedHash("reset:" + id + ":" + code, key: context.hashKey)
    }

    /// Hashes the new password off the command loop when the phone has an open reset and the
    /// password passes the rules.
    static func prepareResetComplete(_ command: Command<ResetComplete>, _ context: IdentityContext) async throws
        -> PreparedPassword?
    {
        let policy = context.policy.password
        guard let phone = PhoneNumber.parse(command.data.phone),
            PasswordRules.check(command.data.newPassword, policy: policy)
        else { return nil }
        let open = try await context.pool.run { session in
            try AccountStore.hasOpenReset(session, phone: phone.e164, now: command.receivedAt)
        }
        guard open else { return nil }
        return await PreparedPassword.compute(current: nil, storedHash: nil, new: command.data.newPassword, policy)
    }

    static func resetComplete(
        _ session: borrowing PostgresSession, _ command: Command<ResetComplete>, _ effects: inout MessageEffects,
        _ context: IdentityContext
    ) throws -> Reply {
        let data = command.data
        let now = command.receivedAt
        let policy = context.policy
        guard DeviceRules.isUsable(data.device.fingerprint, policy: policy.devices) else {
            throw MalformedMessage.invalid(field: "data.device.fingerprint")
        }
        guard let phone = PhoneNumber.parse(data.phone) else {
            return .rejected(.invalidPhone, "the phone number is not a valid E.164 number")
        }
        guard PasswordRules.check(data.newPassword, policy: policy.password) else { return weakPassword(policy) }
        let reset = try AccountStore.latestReset(session, phone: phone.e164)
        let maxAttempts = policy.sms.maxAttempts
        let given = reset.map { resetCodeHash(id: $0.id, code: data.code, context) }
        // No open reset counts as every try used.
        let verdict = OneTimeCode.verdict(
            matches: zip(given, reset).map { Sodium.constantTimeEqual($0, $1.codeHash) } ?? false,
            attempts: reset?.attempts ?? maxAttempts, maxAttempts: maxAttempts, expiresAt: reset?.expiresAt, now: now)
        if case .wrong = verdict, let reset { try AccountStore.countWrongResetCode(session, id: reset.id) }
        if let rejection = Reply.rejection(verdict, renew: "request a new code") { return rejection }
        try AccountStore.closeResets(session, phone: phone.e164, now: now)
        // Only an active account's phone was sent a code; its standing may have changed since.
        guard let accountID = reset?.accountID, let account = try LoginStore.account(session, id: accountID) else {
            return .rejected(.smsCodeLocked, "request a new code")
        }
        switch LoginRules.standing(locked: account.locked, status: account.status) {
        case .locked: return .rejected(.accountLocked, "the account is locked; contact support")
        case .frozen: return .rejected(.accountFrozen, "the account is frozen for deregistration")
        case .active: break
        }
        let hash = try (command.prepared as? PreparedPassword)?.newHash ?? hashPassword(data.newPassword, policy)
        try AccountStore.setPassword(session, accountID: accountID, hash: hash)
        try LoginStore.saveCounters(session, accountID: accountID, RecoveryRules.countersAfterReset(account.counters))
        try SessionStore.revoke(
            session, accountID: accountID, .all, reason: "password_reset", now: now, effects: &effects)
        // Whoever reset the password may not be the one holding the devices (issue 18).
        try DeviceKeyStore.remove(session, accountID: accountID, .all, reason: "password_reset", effects: &effects)
        try effects.emit(
            .passwordChanged, subject: accountID, data: PasswordChanged(accountId: accountID, reason: "reset"))
        return try .ok(["accountId": accountID])
    }

    // MARK: change

    static func change(
        _ session: borrowing PostgresSession, _ command: Command<ChangePassword>, _ effects: inout MessageEffects,
        _ context: IdentityContext
    ) throws -> Reply {
        let now = command.receivedAt
        let policy = context.policy
        let caller = try LoginHandlers.signedIn(session, command.envelope, now: now)
        guard caller.accountID == command.data.accountId.lowercased() else {
            return .rejected(.forbidden, "a session may change only its own account's password")
        }
        guard PasswordRules.check(command.data.newPassword, policy: policy.password) else {
            return weakPassword(policy)
        }
        let checked = try checkCurrentPassword(
            session, caller: caller, password: command.data.currentPassword, prepared: command.prepared, now: now,
            policy: policy, effects: &effects)
        let account: LoginAccount
        switch checked {
        case .verified(let verified): account = verified
        case .refused(let reply): return reply
        }
        let hash =
            try (command.prepared as? PreparedPassword)?.newHash ?? hashPassword(command.data.newPassword, policy)
        try AccountStore.setPassword(session, accountID: account.id, hash: hash)
        try SessionStore.revoke(
            session, accountID: account.id, .allExcept(caller.id), reason: "password_changed", now: now,
            effects: &effects)
        // As with sessions: the caller's own device keeps its key, every other device's goes (issue 18).
        try DeviceKeyStore.remove(
            session, accountID: account.id, .allExcept(caller.deviceID), reason: "password_changed", effects: &effects)
        try effects.emit(
            .passwordChanged, subject: account.id, data: PasswordChanged(accountId: account.id, reason: "change"))
        return try .ok(["accountId": account.id])
    }

    static func setQuestions(
        _ session: borrowing PostgresSession, _ command: Command<SetSecurityQuestions>,
        _ effects: inout MessageEffects, _ context: IdentityContext
    ) throws -> Reply {
        let now = command.receivedAt
        let caller = try LoginHandlers.signedIn(session, command.envelope, now: now)
        let questions = command.data.securityQuestions
        guard ProfileRules.securityQuestionsAreValid(questions.map { ($0.question, $0.answer) }) else {
            throw MalformedMessage.invalid(field: "data.securityQuestions")
        }
        let checked = try checkCurrentPassword(
            session, caller: caller, password: command.data.currentPassword, prepared: command.prepared, now: now,
            policy: context.policy, effects: &effects)
        let account: LoginAccount
        switch checked {
        case .verified(let verified): account = verified
        case .refused(let reply): return reply
        }
        try AccountStore.setSecurityQuestions(
            session, accountID: account.id,
            questions: questions.map {
                StoredQuestion(
                    question: $0.question, answerHash: RegistrationHandlers.answerHash($0.answer, context: context))
            })
        return try .ok(["accountId": account.id])
    }

    // MARK: the current password

    /// What checking a signed-in caller's current password found.
    enum CurrentPassword {
        case verified(LoginAccount)
        case refused(Reply)
    }

    /// Verifies the caller's current password under the account's row lock; a wrong one counts as
    /// a login failure (and may lock the account for a while, as at `login`).
    static func checkCurrentPassword(
        _ session: borrowing PostgresSession, caller: SessionInfo, password: String, prepared: (any Sendable)?,
        now: Date, policy: Policy, effects: inout MessageEffects
    ) throws -> CurrentPassword {
        guard let account = try LoginStore.account(session, id: caller.accountID) else {
            return .refused(.rejected(.unauthenticated, "a valid session token is required"))
        }
        if let retryAfter = LoginRules.retryAfterSeconds(lockedUntil: account.counters.lockedUntil, now: now) {
            return .refused(LoginHandlers.temporarilyLocked(retryAfterSeconds: retryAfter))
        }
        let verified =
            if let check = prepared as? PreparedPassword, let hash = check.storedHash, hash == account.passwordHash {
                check.currentVerified
            } else {
                Sodium.passwordVerify(password, hash: account.passwordHash)
            }
        guard verified else {
            return .refused(
                try LoginHandlers.countFailure(
                    session, accountID: account.id, account.counters, reason: "current_password", now: now,
                    policy: policy.login, effects: &effects))
        }
        let cleared = LoginRules.afterSuccess(account.counters)
        if cleared != account.counters { try LoginStore.saveCounters(session, accountID: account.id, cleared) }
        return .verified(account)
    }

    /// Verifies the current password against the stored hash, and hashes the new one, off the
    /// command loop; the handler uses the verdict only if the hash it reads under its lock is the same.
    static func prepareCheck<Payload>(
        _ command: Command<Payload>, accountID: String?, current: String, new: String?, _ context: IdentityContext
    ) async throws -> PreparedPassword? {
        guard let token = command.envelope.sessiontoken, !token.isEmpty else { return nil }
        let policy = context.policy.password
        let now = command.receivedAt
        let stored = try await context.pool.run { session -> String? in
            guard
                let caller = try SessionStore.authenticate(session, tokenHash: SecretCodes.tokenHash(token), now: now),
                accountID.map({ $0.lowercased() == caller.accountID }) ?? true
            else { return nil }
            return try LoginStore.passwordHash(session, accountID: caller.accountID)
        }
        guard let stored else { return nil }
        return await PreparedPassword.compute(
            current: current, storedHash: stored,
            new: new.flatMap { PasswordRules.check($0, policy: policy) ? $0 : nil },
            policy)
    }

    static func weakPassword(_ policy: Policy) -> Reply {
        .rejected(
            .passwordTooWeak,
            "use at least \(policy.password.minLength) characters of more than one kind, not a common password")
    }

    static func hashPassword(_ password: String, _ policy: Policy) throws -> String {
        guard
            let hash = Sodium.passwordHash(
                password, memoryKiB: policy.password.argon2MemoryKiB, iterations: policy.password.argon2Iterations)
        else { throw ConfigurationError(reason: "password hashing failed (out of memory?)") }
        return hash
    }
}

/// What a `prepare` step computed off the command loop: the verdict on the current password
/// (against `storedHash`) and the Argon2id hash of the new one.
struct PreparedPassword: Sendable {
    var storedHash: String?
    var currentVerified: Bool
    var newHash: String?

    static func compute(current: String?, storedHash: String?, new: String?, _ policy: Policy.Password) async
        -> PreparedPassword
    {
        await ComputeLanes.shared.run {
            PreparedPassword(
                storedHash: storedHash,
                currentVerified: zip(current, storedHash).map { Sodium.passwordVerify($0, hash: $1) } ?? false,
                newHash: new.flatMap {
                    Sodium.passwordHash($0, memoryKiB: policy.argon2MemoryKiB, iterations: policy.argon2Iterations)
                })
        }
    }
}

/// `zip` of two optionals.
func zip<A, B>(_ a: A?, _ b: B?) -> (A, B)? {
    guard let a, let b else { return nil }
    return (a, b)
}
