import Contract
import Directory
import Foundation
import Messaging
import Platform
import Postgres

struct Login: Decodable, Sendable {
    var phone: String
    var password: String
    var device: DeviceInfo
    var ip: IPInfo
}

struct ChallengeRef: Decodable, Sendable {
    var challengeId: String
}

struct SecurityAnswers: Decodable, Sendable {
    var challengeId: String
    var answers: [String]
    /// The step-up the challenge asks for (`requiredLevel`, issue 18): behaviour scores at `medium`…
    var behavior: SecurityCheck.Behavior?
    /// … a liveness result at `high`.
    var liveness: SecurityCheck.Liveness?
}

struct DeviceRef: Decodable, Sendable {
    var deviceId: String
}

/// `login`, the device challenges, unbinding and desktop scan tickets.
enum LoginHandlers {
    static func register(_ router: inout Router, _ context: IdentityContext) {
        // Verifying against this when the phone is unknown keeps the timing of the two cases alike.
        let decoy =
            Sodium.passwordHash(
                "decoy-\(Sodium.randomBytes(8).hexString)", memoryKiB: context.policy.password.argon2MemoryKiB,
                iterations: context.policy.password.argon2Iterations) ?? ""
        router.command(
            "login", Login.self, sensitive: true,
            prepare: { command in try await prepareLogin(command, context, decoy: decoy) },
            { session, command, effects in try login(session, command, &effects, context, decoy: decoy) })
        router.command("device.approve", ChallengeRef.self) { session, command, effects in
            try approve(session, command, &effects, context)
        }
        router.command("device.answer_security_questions", SecurityAnswers.self, sensitive: true) {
            session, command, effects in
            try answer(session, command, &effects, context)
        }
        router.command("device.unbind", DeviceRef.self) { session, command, effects in
            try unbind(session, command, &effects, context)
        }
        router.command("desktop.scan_ticket.issue", EmptyPayload.self, sensitive: true) { session, command, _ in
            let caller = try signedIn(session, command.envelope, now: command.receivedAt)
            guard caller.platform.isMobile else {
                return .rejected(.forbidden, "only a signed-in mobile device can issue scan tickets")
            }
            let issued = try ScanTickets.issue(
                session, accountID: caller.accountID, now: command.receivedAt,
                validity: context.policy.registration.scanTicketValidity.timeInterval)
            return try .ok(["scanTicket": issued.ticket, "expiresAt": CloudEvent.timestamp(issued.expiresAt)])
        }
    }

    /// The session behind the command's `sessiontoken`, if it is live.
    static func authenticate(_ session: borrowing PostgresSession, _ envelope: IncomingEnvelope, now: Date) throws
        -> SessionInfo?
    {
        guard let token = envelope.sessiontoken, !token.isEmpty else { return nil }
        return try SessionStore.authenticate(session, tokenHash: SecretCodes.tokenHash(token), now: now)
    }

    /// The caller of a session command; no live session refuses the command `UNAUTHENTICATED`

    /// After a verified credential (password or device key): clears the failure counters and
    /// answers the refusal of a locked or frozen account, `nil` for an active one.
    static func admitVerified(_ session: borrowing PostgresSession, _ account: LoginAccount) throws -> Reply? {
        let cleared = LoginRules.afterSuccess(account.counters)
        if cleared != account.counters {
            try LoginStore.saveCounters(session, accountID: account.id, cleared)
        }
        switch LoginRules.standing(locked: account.locked, status: account.status) {
        case .locked: return .rejected(.accountLocked, "the account is locked; contact support")
        case .frozen: return .rejected(.accountFrozen, "the account is frozen for deregistration")
        case .active: return nil
        }
    }
    /// (before it wrote anything).
    static func signedIn(_ session: borrowing PostgresSession, _ envelope: IncomingEnvelope, now: Date) throws
        -> SessionInfo
    {
        guard let caller = try authenticate(session, envelope, now: now) else {
            throw Refusal(.rejected(.unauthenticated, "a valid session token is required"))
        }
        return caller
    }

    // MARK: login

    /// What `login`'s prepare step found: the stored hash it verified the password against (`nil`:
    /// no such account, the decoy was verified instead) and the verdict.
    struct PasswordCheck: Sendable {
        var hash: String?
        var verified: Bool
    }

    /// Verifies the password off the command loop, against the hash stored now; the handler uses
    /// the verdict only if it reads the same hash under its row lock. A temporarily locked account
    /// is answered without a check, so nothing is verified for it here either.
    static func prepareLogin(_ command: Command<Login>, _ context: IdentityContext, decoy: String) async throws
        -> PasswordCheck?
    {
        guard !command.data.device.emulator, let phone = PhoneNumber.parse(command.data.phone) else { return nil }
        let account = try await context.pool.run { session in try LoginStore.passwordState(session, phone: phone.e164) }
        if LoginRules.retryAfterSeconds(lockedUntil: account?.lockedUntil, now: command.receivedAt) != nil {
            return nil
        }
        let password = command.data.password
        let verified = await ComputeLanes.shared.run { Sodium.passwordVerify(password, hash: account?.hash ?? decoy) }
        return PasswordCheck(hash: account?.hash, verified: account != nil && verified)
    }

    static func login(
        _ session: borrowing PostgresSession, _ command: Command<Login>, _ effects: inout MessageEffects,
        _ context: IdentityContext, decoy: String
    ) throws -> Reply {
        let data = command.data
        let now = command.receivedAt
        let policy = context.policy
        let invalid = Reply.rejected(.invalidCredentials, "wrong phone number or password")
        guard DeviceRules.isUsable(data.device.fingerprint, policy: policy.devices) else {
            throw MalformedMessage.invalid(field: "data.device.fingerprint")
        }
        // Device rules hold at every sign-in (issue 18), before anything about the phone is looked at.
        if data.device.emulator { return .rejected(.emulatorForbidden, "signing in from an emulator is not allowed") }
        guard let phone = PhoneNumber.parse(data.phone),
            let account = try LoginStore.account(session, phone: phone.e164)
        else {
            // Unless the prepare step verified (the decoy, or a hash that is gone now): same timing.
            if command.prepared == nil { _ = Sodium.passwordVerify(data.password, hash: decoy) }
            return invalid
        }
        let accountID = account.id
        if let retryAfter = LoginRules.retryAfterSeconds(lockedUntil: account.counters.lockedUntil, now: now) {
            return temporarilyLocked(retryAfterSeconds: retryAfter)
        }
        let verified =
            if let check = command.prepared as? PasswordCheck, check.hash == account.passwordHash {
                check.verified
            } else {
                Sodium.passwordVerify(data.password, hash: account.passwordHash)
            }
        guard verified else {
            return try countFailure(
                session, accountID: accountID, account.counters, reason: "password", now: now, policy: policy.login,
                effects: &effects)
        }
        if let refusal = try LoginHandlers.admitVerified(session, account) { return refusal }
        let devices = try IdentityStore.boundDevices(session, accountID: accountID)
        let step = LoginRules.deviceStep(
            presented: data.device.fingerprint, bound: devices.map { ($0.id, $0.fingerprint) },
            hasSecurityQuestions: account.hasSecurityQuestions, platform: data.device.platform.rawValue,
            policy: policy.devices)
        let platform = data.device.platform.rawValue
        switch step {
        case .signIn(let deviceID):
            let opened = try SessionStore.open(
                session, accountID: accountID, deviceID: deviceID, platform: data.device.platform, now: now,
                policy: policy, effects: &effects)
            try effects.emit(
                .loginSucceeded, subject: accountID,
                data: DeviceEvent(accountId: accountID, deviceId: deviceID, platform: platform))
            return try .ok(
                AccountResult(
                    accountId: accountID, session: opened, deviceId: deviceID,
                    guidance: VerificationRules.guidance(
                        try VerificationStore.tier(session, accountID: accountID), now: now)))
        case .deviceLimit(let mismatch), .verify(_, let mismatch):
            if let mismatch {
                try effects.emit(
                    .deviceFingerprintMismatch, subject: accountID,
                    data: DeviceEvent(accountId: accountID, deviceId: mismatch, platform: platform))
            }
        }
        guard case .verify(let methods, _) = step else {
            return .rejected(.deviceLimit, "the account already has the most devices allowed; unbind one first")
        }
        let printID =
            try DevicePrints.recognise(
                session, fingerprint: data.device.fingerprint, threshold: policy.devices.similarityThreshold)?.id
            ?? DevicePrints.insertPrint(session, fingerprint: data.device.fingerprint, now: now)
        // The account's stage risk is a step-up factor for the new device (issue 18).
        let riskLevel = AccountStage.riskLevel(
            stage: AccountStage.stage(
                registeredAt: account.createdAt, now: now, dayLength: policy.permissions.dayLength.timeInterval,
                stageOneLastDay: policy.permissions.stageOneLastDay, stageTwoLastDay: policy.permissions.stageTwoLastDay
            ))
        let requiredLevel = LoginRules.newDeviceStepUp(riskLevel: riskLevel, policy: policy.risk)
        let challengeID = IdentityStore.newID()
        try LoginStore.openChallenge(
            session, id: challengeID, accountID: accountID, printID: printID, device: data.device, methods: methods,
            requiredLevel: requiredLevel, riskLevel: riskLevel, now: now,
            expiresAt: now.addingTimeInterval(policy.devices.challengeValidity.timeInterval))
        var result: [String: JSONValue] = [
            "challengeId": .string(challengeID), "methods": .array(methods.map(JSONValue.string)),
            "riskLevel": .string(riskLevel.rawValue),
        ]
        if methods.contains("security_questions") { result["requiredLevel"] = .string(requiredLevel.rawValue) }
        return .rejected(.deviceVerificationRequired, "confirm this new device", result: .object(result))
    }

    /// Counts a wrong password (at `login`, or the current password of a self-service command):
    /// `INVALID_CREDENTIALS` with `login.failed`, or the temporary lock with `account.locked`.
    static func countFailure(
        _ session: borrowing PostgresSession, accountID: String, _ counters: LoginCounters, reason: String, now: Date,
        policy: Policy.Login, effects: inout MessageEffects
    ) throws -> Reply {
        switch LoginRules.afterFailure(counters, now: now, policy: policy) {
        case .counted(let counters):
            try LoginStore.saveCounters(session, accountID: accountID, counters)
            try effects.emit(.loginFailed, subject: accountID, data: LoginFailed(accountId: accountID, reason: reason))
            return .rejected(.invalidCredentials, "wrong phone number or password")
        case .locked(let counters, let until, let retryAfter):
            try LoginStore.saveCounters(session, accountID: accountID, counters)
            try effects.emit(
                .accountLocked, subject: accountID,
                data: AccountLocked(
                    accountId: accountID, reason: "password_failures", until: CloudEvent.timestamp(until)))
            return temporarilyLocked(retryAfterSeconds: retryAfter)
        }
    }

    /// `ACCOUNT_TEMPORARILY_LOCKED` with the seconds until the lock ends.
    static func temporarilyLocked(retryAfterSeconds: Int) -> Reply {
        .rejected(
            .accountTemporarilyLocked, "too many failed sign-ins; try again later",
            result: .object(["retryAfterSeconds": .int(Int64(retryAfterSeconds))]))
    }

    // MARK: challenges

    /// Binds the challenged device to the account and closes the challenge.
    static func bindChallenged(
        _ session: borrowing PostgresSession, _ challenge: Challenge, outcome: String, effects: inout MessageEffects,
        policy: Policy, now: Date
    ) throws -> String {
        let accountID = challenge.accountID
        try IdentityStore.lock(session, ["account:" + accountID])
        if try IdentityStore.boundDevices(session, accountID: accountID).count >= policy.devices.maxDevicesPerAccount {
            throw Refusal(.rejected(.deviceLimit, "the account already has the most devices allowed"))
        }
        let deviceID = try IdentityStore.bindDevice(
            session, accountID: accountID, printID: challenge.printID, fingerprint: challenge.fingerprint,
            platform: challenge.platform, model: challenge.model, now: now)
        try LoginStore.resolveChallenge(session, id: challenge.id, outcome: outcome, now: now)
        try effects.emit(
            .deviceBound, subject: accountID,
            data: DeviceEvent(accountId: accountID, deviceId: deviceID, platform: challenge.platform))
        return deviceID
    }

    static func approve(
        _ session: borrowing PostgresSession, _ command: Command<ChallengeRef>, _ effects: inout MessageEffects,
        _ context: IdentityContext
    ) throws -> Reply {
        let now = command.receivedAt
        guard let caller = try authenticate(session, command.envelope, now: now), caller.deviceID != nil else {
            return .rejected(.unauthenticated, "the session token of a bound device is required")
        }
        guard let challenge = try LoginStore.challenge(session, id: command.data.challengeId, now: now) else {
            return .rejected(.challengeNotFound, "no open challenge with that id")
        }
        guard challenge.accountID == caller.accountID else {
            return .rejected(.forbidden, "the challenge belongs to another account")
        }
        // A mandatory scan (Android, issue 18) is a scan: a signed-in phone's camera, not a desktop.
        if LoginRules.scanIsMandatory(platform: challenge.platform, policy: context.policy.devices),
            !caller.platform.isMobile
        {
            return .rejected(.scanRequired, "approve this device by scanning from a signed-in mobile device")
        }
        let deviceID = try bindChallenged(
            session, challenge, outcome: "approved", effects: &effects, policy: context.policy, now: now)
        return try .ok(["deviceId": deviceID])
    }

    /// Security answers stand in for a bound device's approval. The new device has no session yet,
    /// so the challenge id (random, short-lived) is the credential; three wrong tries lock the account.
    static func answer(
        _ session: borrowing PostgresSession, _ command: Command<SecurityAnswers>, _ effects: inout MessageEffects,
        _ context: IdentityContext
    ) throws -> Reply {
        let now = command.receivedAt
        guard let challenge = try LoginStore.challenge(session, id: command.data.challengeId, now: now) else {
            return .rejected(.challengeNotFound, "no open challenge with that id")
        }
        // Android's scan is mandatory (issue 18): its device changes accept only the original device.
        if LoginRules.scanIsMandatory(platform: challenge.platform, policy: context.policy.devices) {
            return .rejected(.scanRequired, "this device must be approved by scanning from the original device")
        }
        let accountID = challenge.accountID
        guard let account = try LoginStore.securityState(session, accountID: accountID),
            let questions = account.questions
        else {
            return .rejected(.challengeNotFound, "this account has no security questions")
        }
        if account.locked {
            return .rejected(.accountLocked, "the account is locked; contact support")
        }
        let given = command.data.answers.map { RegistrationHandlers.answerHash($0, context: context) }
        let correct =
            given.count == questions.count
            && zip(given, questions).allSatisfy { Sodium.constantTimeEqual(Array($0.utf8), Array($1.answerHash.utf8)) }
        guard correct else {
            let wrong = account.wrongAnswers + 1
            let limit = context.policy.devices.maxWrongSecurityAnswers
            try LoginStore.setWrongAnswers(session, accountID: accountID, count: wrong, locked: wrong >= limit)
            if wrong >= limit {
                try SessionStore.revoke(
                    session, accountID: accountID, .all, reason: "security_questions", now: now, effects: &effects)
                try effects.emit(
                    .accountLocked, subject: accountID,
                    data: AccountLocked(accountId: accountID, reason: "security_questions", until: nil))
                return .rejected(.accountLocked, "too many wrong answers; the account is locked")
            }
            return .rejected(
                .securityAnswersWrong, "the answers are not right",
                result: .object(["attemptsLeft": .int(Int64(limit - wrong))]))
        }
        if account.status != "active" {
            return .rejected(.accountFrozen, "the account is frozen for deregistration")
        }
        // The answers were right; the account's stage risk asks for more (issue 18). Nothing is
        // counted: the challenge stays open for another try with the step-up.
        let data = command.data
        switch RegistrationRules.stepUp(
            level: challenge.requiredLevel,
            behaviour: data.behavior.map { BehaviourScores(typingRhythm: $0.typingRhythmScore, swipe: $0.swipeScore) },
            livenessPassed: data.liveness?.passed, policy: context.policy.risk)
        {
        case .passed: break
        case .stepUpRequired:
            return .rejected(
                .stepUpRequired, "behavioural verification is required for this new device",
                result: .object(["requiredLevel": .string(StepUpLevel.medium.rawValue)]))
        case .livenessFailed:
            return .rejected(
                .livenessFailed, "a liveness check is required for this new device",
                result: .object(["requiredLevel": .string(StepUpLevel.high.rawValue)]))
        }
        try LoginStore.setWrongAnswers(session, accountID: accountID, count: 0)
        let deviceID = try bindChallenged(
            session, challenge, outcome: "answered", effects: &effects, policy: context.policy, now: now)
        let opened = try SessionStore.open(
            session, accountID: accountID, deviceID: deviceID,
            platform: DevicePlatform(rawValue: challenge.platform) ?? .android, now: now, policy: context.policy,
            effects: &effects)
        return try .ok(
            AccountResult(
                accountId: accountID, session: opened, deviceId: deviceID,
                guidance: VerificationRules.guidance(
                    try VerificationStore.tier(session, accountID: accountID), now: now)))
    }

    static func unbind(
        _ session: borrowing PostgresSession, _ command: Command<DeviceRef>, _ effects: inout MessageEffects,
        _ context: IdentityContext
    ) throws -> Reply {
        let now = command.receivedAt
        let caller = try signedIn(session, command.envelope, now: now)
        guard let device = try LoginStore.boundDevice(session, id: command.data.deviceId) else {
            return .rejected(.deviceNotFound, "no bound device with that id")
        }
        guard device.accountID == caller.accountID else {
            return .rejected(.forbidden, "the device belongs to another account")
        }
        try LoginStore.unbind(session, deviceID: command.data.deviceId, now: now)
        try DeviceKeyStore.remove(
            session, accountID: caller.accountID, .device(command.data.deviceId), reason: "device_unbound",
            effects: &effects)
        try SessionStore.revoke(
            session, accountID: caller.accountID, .device(command.data.deviceId), reason: "device_unbound", now: now,
            effects: &effects)
        try effects.emit(
            .deviceUnbound, subject: caller.accountID,
            data: DeviceEvent(
                accountId: caller.accountID, deviceId: command.data.deviceId, platform: device.platform))
        return try .ok(["deviceId": command.data.deviceId])
    }
}

struct LoginFailed: Encodable {
    var accountId: String
    var reason: String
}
