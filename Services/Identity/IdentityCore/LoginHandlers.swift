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
            guard let caller = try authenticate(session, command.envelope, now: command.receivedAt) else {
                return .rejected(.unauthenticated, "a valid session token is required")
            }
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
        return try IdentityStore.session(session, tokenHash: SecretCodes.tokenHash(token), now: now)
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
        guard let phone = PhoneNumber.parse(command.data.phone) else { return nil }
        let account = try await context.pool.run { session -> (hash: String, lockedUntil: Date?)? in
            guard
                let row = try session.query(
                    """
                    SELECT password_hash, locked_until FROM accounts
                    WHERE phone = \(phone.e164) AND status <> 'deregistered'
                    """
                ).first
            else { return nil }
            return (try row.decode("password_hash"), try row.decode("locked_until"))
        }
        if let until = account?.lockedUntil, until > command.receivedAt { return nil }
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
        guard DeviceRules.validateFingerprint(data.device.fingerprint, policy: policy.devices) else {
            throw MalformedMessage.invalid(field: "data.device.fingerprint")
        }
        guard let phone = PhoneNumber.parse(data.phone),
            let account = try session.query(
                """
                SELECT id::text AS id, status, password_hash, security_questions IS NOT NULL AS has_questions,
                       failed_logins, failure_window_start, lockouts, locked_until, locked
                FROM accounts WHERE phone = \(phone.e164) AND status <> 'deregistered' FOR UPDATE
                """
            ).first
        else {
            // Unless the prepare step verified (the decoy, or a hash that is gone now): same timing.
            if command.prepared == nil { _ = Sodium.passwordVerify(data.password, hash: decoy) }
            return invalid
        }
        let accountID: String = try account.decode("id")
        if let until: Date = try account.decode("locked_until"), until > now {
            return .rejected(
                .accountTemporarilyLocked, "too many failed sign-ins; try again later",
                result: .object(["retryAfterSeconds": .int(Int64(until.timeIntervalSince(now).rounded(.up)))]))
        }
        let stored: String = try account.decode("password_hash")
        let verified =
            if let check = command.prepared as? PasswordCheck, check.hash == stored {
                check.verified
            } else {
                Sodium.passwordVerify(data.password, hash: stored)
            }
        guard verified else {
            return try failedLogin(
                session, accountID: accountID, account: account, effects: &effects, policy: policy, now: now)
        }
        try session.query(
            "UPDATE accounts SET failed_logins = 0, failure_window_start = NULL WHERE id = \(accountID)::uuid")
        if try account.decode("locked", as: Bool.self) {
            return .rejected(.accountLocked, "the account is locked; contact support")
        }
        if try account.decode("status", as: String.self) == "frozen" {
            return .rejected(.accountFrozen, "the account is frozen for deregistration")
        }
        let devices = try IdentityStore.boundDevices(session, accountID: accountID)
        let threshold = policy.devices.similarityThreshold
        let scored = devices.map {
            ($0, DeviceRules.similarity(candidate: data.device.fingerprint, stored: $0.fingerprint))
        }
        if let (device, _) = scored.filter({ $0.1 >= threshold }).max(by: { $0.1 < $1.1 }) {
            let token = try IdentityStore.createSession(
                session, accountID: accountID, deviceID: device.id, platform: data.device.platform, now: now,
                validity: policy.login.sessionValidity.timeInterval, effects: &effects)
            try effects.emit(
                .loginSucceeded, subject: accountID,
                data: DeviceEvent(accountId: accountID, deviceId: device.id, platform: data.device.platform.rawValue))
            return try .ok(AccountResult(accountId: accountID, sessionToken: token, deviceId: device.id))
        }
        // A bound device's hardware identity with a changed fingerprint: hardware changed.
        let identity = DeviceRules.hardwareIdentity(data.device.fingerprint)
        if !identity.isEmpty,
            let changed = devices.first(where: { device in
                identity.contains { device.fingerprint[$0.key] == $0.value }
            })
        {
            try effects.emit(
                .deviceFingerprintMismatch, subject: accountID,
                data: DeviceEvent(accountId: accountID, deviceId: changed.id, platform: data.device.platform.rawValue))
        }
        if devices.count >= policy.devices.maxDevicesPerAccount {
            return .rejected(.deviceLimit, "the account already has the most devices allowed; unbind one first")
        }
        let printID =
            try DevicePrints.recognise(session, fingerprint: data.device.fingerprint, threshold: threshold)?.id
            ?? DevicePrints.insertPrint(session, fingerprint: data.device.fingerprint, now: now)
        let methods =
            ["original_device_scan"]
            + ((try account.decode("has_questions", as: Bool.self)) ? ["security_questions"] : [])
        let challengeID = IdentityStore.newID()
        try session.query(
            """
            INSERT INTO challenges (id, account_id, print_id, fingerprint, platform, model, methods, created_at, expires_at)
            VALUES (\(challengeID)::uuid, \(accountID)::uuid, \(printID)::uuid,
                    \(try IdentityStore.json(data.device.fingerprint))::jsonb, \(data.device.platform.rawValue),
                    \(data.device.model), \(methods)::text[], \(now),
                    \(now.addingTimeInterval(policy.devices.challengeValidity.timeInterval)))
            """)
        return .rejected(
            .deviceVerificationRequired, "confirm this new device",
            result: .object(["challengeId": .string(challengeID), "methods": .array(methods.map(JSONValue.string))]))
    }

    /// Counts a wrong password; the `maxFailures`-th within `failureWindow` locks for a doubling time.
    static func failedLogin(
        _ session: borrowing PostgresSession, accountID: String, account: PostgresRow, effects: inout MessageEffects,
        policy: Policy, now: Date
    ) throws -> Reply {
        let windowStart: Date? = try account.decode("failure_window_start")
        let fresh = windowStart.map { now.timeIntervalSince($0) > policy.login.failureWindow.timeInterval } ?? true
        let failures = (fresh ? 0 : try account.decode("failed_logins", as: Int.self)) + 1
        if failures >= policy.login.maxFailures {
            let lockouts = try account.decode("lockouts", as: Int.self) + 1
            let seconds = min(
                policy.login.baseLockout.timeInterval * pow(2, Double(lockouts - 1)),
                policy.login.maxLockout.timeInterval)
            let until = now.addingTimeInterval(seconds)
            try session.query(
                """
                UPDATE accounts SET failed_logins = 0, failure_window_start = NULL, lockouts = \(lockouts),
                    locked_until = \(until)
                WHERE id = \(accountID)::uuid
                """)
            try effects.emit(
                .accountLocked, subject: accountID,
                data: AccountLocked(
                    accountId: accountID, reason: "password_failures", until: CloudEvent.timestamp(until)))
            return .rejected(
                .accountTemporarilyLocked, "too many failed sign-ins; try again later",
                result: .object(["retryAfterSeconds": .int(Int64(seconds.rounded(.up)))]))
        }
        try session.query(
            """
            UPDATE accounts SET failed_logins = \(failures), failure_window_start = \(fresh ? now : windowStart)
            WHERE id = \(accountID)::uuid
            """)
        try effects.emit(
            .loginFailed, subject: accountID, data: LoginFailed(accountId: accountID, reason: "password"))
        return .rejected(.invalidCredentials, "wrong phone number or password")
    }

    // MARK: challenges

    /// Loads and locks an open challenge.
    static func openChallenge(_ session: borrowing PostgresSession, _ id: String, now: Date) throws -> PostgresRow? {
        guard UUID(uuidString: id) != nil else { return nil }
        return try session.query(
            """
            SELECT id::text AS id, account_id::text AS account_id, print_id::text AS print_id, fingerprint::text AS fingerprint,
                   platform, model
            FROM challenges WHERE id = \(id)::uuid AND resolved_at IS NULL AND expires_at > \(now) FOR UPDATE
            """
        ).first
    }

    /// Binds the challenged device to the account and closes the challenge.
    static func bindChallenged(
        _ session: borrowing PostgresSession, _ challenge: PostgresRow, outcome: String, effects: inout MessageEffects,
        policy: Policy, now: Date
    ) throws -> String {
        let accountID: String = try challenge.decode("account_id")
        try IdentityStore.lock(session, ["account:" + accountID])
        if try IdentityStore.boundDevices(session, accountID: accountID).count >= policy.devices.maxDevicesPerAccount {
            throw Refusal(.rejected(.deviceLimit, "the account already has the most devices allowed"))
        }
        let fingerprint = try JSONDecoder().decode(
            [String: String].self, from: Data(try challenge.decode("fingerprint", as: String.self).utf8))
        let platform: String = try challenge.decode("platform")
        let deviceID = try IdentityStore.bindDevice(
            session, accountID: accountID, printID: try challenge.decode("print_id"), fingerprint: fingerprint,
            platform: platform, model: try challenge.decode("model"), now: now)
        try session.query(
            "UPDATE challenges SET resolved_at = \(now), outcome = \(outcome) WHERE id = \(try challenge.decode("id", as: String.self))::uuid"
        )
        try effects.emit(
            .deviceBound, subject: accountID,
            data: DeviceEvent(accountId: accountID, deviceId: deviceID, platform: platform))
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
        guard let challenge = try openChallenge(session, command.data.challengeId, now: now) else {
            return .rejected(.challengeNotFound, "no open challenge with that id")
        }
        guard try challenge.decode("account_id", as: String.self) == caller.accountID else {
            return .rejected(.forbidden, "the challenge belongs to another account")
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
        guard let challenge = try openChallenge(session, command.data.challengeId, now: now) else {
            return .rejected(.challengeNotFound, "no open challenge with that id")
        }
        let accountID: String = try challenge.decode("account_id")
        guard
            let account = try session.query(
                """
                SELECT security_questions::text AS questions, wrong_answers, locked, status
                FROM accounts WHERE id = \(accountID)::uuid FOR UPDATE
                """
            ).first,
            let stored = try account.decode("questions", as: String?.self)
        else {
            return .rejected(.challengeNotFound, "this account has no security questions")
        }
        if try account.decode("locked", as: Bool.self) {
            return .rejected(.accountLocked, "the account is locked; contact support")
        }
        let questions = try JSONDecoder().decode([StoredQuestion].self, from: Data(stored.utf8))
        let given = command.data.answers.map { RegistrationHandlers.answerHash($0, context: context) }
        let correct =
            given.count == questions.count
            && zip(given, questions).allSatisfy { Sodium.constantTimeEqual(Array($0.utf8), Array($1.answerHash.utf8)) }
        guard correct else {
            let wrong = try account.decode("wrong_answers", as: Int.self) + 1
            let limit = context.policy.devices.maxWrongSecurityAnswers
            try session.query(
                "UPDATE accounts SET wrong_answers = \(wrong), locked = \(wrong >= limit) WHERE id = \(accountID)::uuid"
            )
            if wrong >= limit {
                try IdentityStore.revokeSessions(session, accountID: accountID, now: now, effects: &effects)
                try effects.emit(
                    .accountLocked, subject: accountID,
                    data: AccountLocked(accountId: accountID, reason: "security_questions", until: nil))
                return .rejected(.accountLocked, "too many wrong answers; the account is locked")
            }
            return .rejected(
                .securityAnswersWrong, "the answers are not right",
                result: .object(["attemptsLeft": .int(Int64(limit - wrong))]))
        }
        if try account.decode("status", as: String.self) != "active" {
            return .rejected(.accountFrozen, "the account is frozen for deregistration")
        }
        try session.query("UPDATE accounts SET wrong_answers = 0 WHERE id = \(accountID)::uuid")
        let deviceID = try bindChallenged(
            session, challenge, outcome: "answered", effects: &effects, policy: context.policy, now: now)
        let token = try IdentityStore.createSession(
            session, accountID: accountID, deviceID: deviceID,
            platform: DevicePlatform(rawValue: try challenge.decode("platform")) ?? .android, now: now,
            validity: context.policy.login.sessionValidity.timeInterval, effects: &effects)
        return try .ok(AccountResult(accountId: accountID, sessionToken: token, deviceId: deviceID))
    }

    static func unbind(
        _ session: borrowing PostgresSession, _ command: Command<DeviceRef>, _ effects: inout MessageEffects,
        _ context: IdentityContext
    ) throws -> Reply {
        let now = command.receivedAt
        guard let caller = try authenticate(session, command.envelope, now: now) else {
            return .rejected(.unauthenticated, "a valid session token is required")
        }
        guard UUID(uuidString: command.data.deviceId) != nil,
            let device = try session.query(
                """
                SELECT account_id::text AS account_id, platform FROM devices
                WHERE id = \(command.data.deviceId)::uuid AND unbound_at IS NULL FOR UPDATE
                """
            ).first
        else {
            return .rejected(.deviceNotFound, "no bound device with that id")
        }
        guard try device.decode("account_id", as: String.self) == caller.accountID else {
            return .rejected(.forbidden, "the device belongs to another account")
        }
        try session.query("UPDATE devices SET unbound_at = \(now) WHERE id = \(command.data.deviceId)::uuid")
        try IdentityStore.revokeSessions(
            session, accountID: caller.accountID, deviceID: command.data.deviceId, now: now, effects: &effects)
        try effects.emit(
            .deviceUnbound, subject: caller.accountID,
            data: DeviceEvent(
                accountId: caller.accountID, deviceId: command.data.deviceId, platform: try device.decode("platform")))
        return try .ok(["deviceId": command.data.deviceId])
    }
}

struct AccountLocked: Encodable {
    var accountId: String
    var reason: String
    var until: String?
}

struct LoginFailed: Encodable {
    var accountId: String
    var reason: String
}
