import Contract
import Directory
import Foundation
import Messaging
import Platform
import Postgres

/// What the identity handlers share: the policy and the keys.
struct IdentityContext: Sendable {
    var policy: Policy
    var hashKey: [UInt8]
    /// `REGISTRAR_PII_KEY`: encrypts ID and card numbers at rest.
    var piiKey: [UInt8]
    /// The service's pool, for the reads of `prepare` steps (outside the batch's transaction).
    var pool: PostgresPool

    var registration: Policy.Registration { policy.registration }
}

// MARK: payloads

struct StartRegistration: Decodable, Sendable {
    var phone: String
    var device: DeviceInfo
    var ip: IPInfo
    var scanTicket: String?
    /// Issue 17: the agreement step's consents; absent, the privacy policy in force and every
    /// other consent are recorded as given.
    var consents: RegistrationConsents?
}

struct VerifySMS: Decodable, Sendable {
    var registrationId: String
    var code: String
}

struct SetPassword: Decodable, Sendable {
    var registrationId: String
    var password: String
}

struct CompleteProfile: Decodable, Sendable {
    struct Question: Codable, Sendable {
        var question: String
        var answer: String
    }
    var registrationId: String
    var displayName: String
    var securityQuestions: [Question]?
}

struct SubmitDocuments: Decodable, Sendable {
    var registrationId: String
    var documentType: String
    var documentRef: String
}

struct SecurityCheck: Decodable, Sendable {
    struct Behavior: Decodable, Sendable {
        var typingRhythmScore: Double
        var swipeScore: Double
    }
    struct Liveness: Decodable, Sendable {
        var passed: Bool
        var score: Double?
    }
    /// Issue 18: at `high`, when liveness is not possible, a reviewer completes the check instead.
    struct ManualReview: Decodable, Sendable {
        /// Why liveness is not possible (e.g. `no_camera`); shown to the reviewer.
        var reason: String
        /// A reference to what the reviewer should look at (a handheld ID photo, a video call slot).
        var evidenceRef: String?
    }
    var registrationId: String
    var behavior: Behavior?
    var liveness: Liveness?
    var manualReview: ManualReview?
}

/// The registration steps, in order.
enum RegistrationStep: String {
    case verifySMS = "verify_sms"
    case setPassword = "set_password"
    case completeProfile = "complete_profile"
    case submitDocuments = "submit_documents"
    case pendingReview = "pending_review"
    case securityCheck = "security_check"
    case completed
    /// An international registration whose review was rejected: closed for good.
    case rejected
}

/// A registration row as the handlers need it.
struct RegistrationRow {
    var id: String
    var phone: String
    var international: Bool
    var platform: String
    var device: DeviceInfo
    var printID: String
    var knownDevice: Bool
    var ip: IPInfo
    var step: RegistrationStep
    var restricted: [String]
    var smsCodeHash: PostgresBytes?
    var smsExpiresAt: Date?
    var smsAttempts: Int
    var passwordHash: String?
    var displayName: String?
    var securityQuestions: String?
    var riskLevel: StepUpLevel?
    var createdAt: Date
    var expiresAt: Date
    /// The agreement step's consents (issue 17).
    var consents: RegistrationConsents?
}

enum RegistrationHandlers {
    static func register(_ router: inout Router, _ context: IdentityContext) {
        router.command("registration.start", StartRegistration.self) { session, command, effects in
            try start(session, command, &effects, context)
        }
        router.command("registration.verify_sms", VerifySMS.self) { session, command, effects in
            try verifySMS(session, command, context)
        }
        router.command(
            "registration.set_password", SetPassword.self,
            prepare: { command in try await prepareSetPassword(command, context) },
            { session, command, _ in try setPassword(session, command, context) })
        router.command("registration.complete_profile", CompleteProfile.self) { session, command, effects in
            try completeProfile(session, command, &effects, context)
        }
        router.command("registration.submit_documents", SubmitDocuments.self) { session, command, effects in
            try submitDocuments(session, command, &effects, context)
        }
        router.command("registration.security_check", SecurityCheck.self, sensitive: true) {
            session, command, effects in
            try securityCheck(session, command, &effects, context)
        }
    }

    // MARK: start

    /// `MALFORMED` for a fingerprint too thin to recognise the device by, or an IP address longer
    /// than any real one (both are indexed); registration and password-reset starts share it.
    static func checkClientFacts(_ device: DeviceInfo, _ ip: IPInfo, policy: Policy) throws {
        guard DeviceRules.isUsable(device.fingerprint, policy: policy.devices) else {
            throw MalformedMessage.invalid(field: "data.device.fingerprint")
        }
        guard ip.address.count <= policy.registration.maxIPAddressLength else {
            throw MalformedMessage.invalid(field: "data.ip.address")
        }
    }

    static func start(
        _ session: borrowing PostgresSession, _ command: Command<StartRegistration>, _ effects: inout MessageEffects,
        _ context: IdentityContext
    ) throws -> Reply {
        let data = command.data
        let now = command.receivedAt
        let policy = context.policy
        try checkClientFacts(data.device, data.ip, policy: policy)
        guard DeviceRules.hasRequiredIdentifiers(data.device) else {
            throw MalformedMessage.invalid(field: "data.device.fingerprint.\(DeviceRules.androidIMEIKey)")
        }
        let ticketValid = try data.scanTicket.map { try ScanTickets.isValid(session, ticket: $0, now: now) } ?? false
        if let refusal = DeviceRules.entryCheck(
            device: data.device, hasValidScanTicket: ticketValid, policy: policy.registration)
        {
            switch refusal {
            case .webNotAvailable:
                return .rejected(.registrationNotAvailableOnWeb, "registration is not available on the web")
            case .scanRequired:
                return .rejected(.scanRequired, "scan the QR code with a signed-in mobile device first")
            case .emulatorForbidden:
                return .rejected(.emulatorForbidden, "registration from an emulator is not allowed")
            case .deviceUnsupported(let reason):
                return .rejected(.deviceUnsupported, "this device is below the minimum: \(reason)")
            }
        }
        let recognised = try DevicePrints.recognise(
            session, fingerprint: data.device.fingerprint, threshold: policy.devices.similarityThreshold)
        guard let phone = PhoneNumber.parse(data.phone) else {
            return .rejected(.invalidPhone, "the phone number is not a valid E.164 number")
        }
        try IdentityStore.lock(
            session, ["phone:" + phone.e164, "ip:" + data.ip.address] + (recognised.map { ["print:" + $0.id] } ?? []))
        let facts = try RegistrationStore.startFacts(
            session, phone: phone.e164, printID: recognised?.id, ip: data.ip.address,
            since: RegistrationRules.rateWindowStart(now: now, policy: policy.registration))
        switch RegistrationRules.admitStart(facts, now: now, policy: policy.registration) {
        case .admitted:
            break
        case .deviceAccountLimit:
            return .rejected(.deviceAccountLimit, "this device already holds the most accounts allowed")
        case .phoneInUse:
            return .rejected(.phoneInUse, "the phone number belongs to an account")
        case .phoneInCooldown(let until):
            return .rejected(
                .phoneInCooldown, "the phone number was released recently",
                result: .object(["availableAt": .string(CloudEvent.timestamp(until))]))
        case .rateLimited:
            return .rejected(.rateLimited, "too many registrations started; try again later")
        }
        // Last, so that only a start that sends its SMS spends the global budget.
        guard try SMSBudget.available(session, service: "identity", policy: policy.sms, now: now) else {
            return .rejected(.rateLimited, "too many registrations started; try again later")
        }
        if let ticket = data.scanTicket, ticketValid {
            try ScanTickets.use(session, ticket: ticket, now: now)
        }
        let printID =
            try recognised?.id ?? DevicePrints.insertPrint(session, fingerprint: data.device.fingerprint, now: now)
        var flags = DeviceRules.outcomeFlags(device: data.device)
        if DeviceRules.isBelowRecommended(device: data.device, policy: policy.registration) {
            flags.warnings.append("BELOW_RECOMMENDED_HARDWARE")
        }
        let code = SecretCodes.smsCode(length: policy.sms.codeLength)
        let codeExpires = now.addingTimeInterval(policy.sms.validity.timeInterval)
        let id = IdentityStore.newID()
        var device = data.device
        device.fingerprint = [:]
        try RegistrationStore.insert(
            session,
            NewRegistration(
                id: id, phone: phone, device: device, printID: printID, knownDevice: recognised != nil, ip: data.ip,
                restricted: flags.restricted, warnings: flags.warnings,
                smsCodeHash: SecretCodes.keyedHash(id + ":" + code, key: context.hashKey), smsExpiresAt: codeExpires,
                createdAt: now, expiresAt: now.addingTimeInterval(policy.registration.flowValidity.timeInterval),
                consents: data.consents))
        try SMSRequested.send(
            session, &effects, to: phone, purpose: "registration", code: code, expiresAt: codeExpires, now: now)
        try effects.emit(
            .registrationStarted, subject: id,
            data: RegistrationStarted(
                registrationId: id, phone: phone.masked, platform: data.device.platform.rawValue,
                international: !phone.isMainland, restricted: flags.restricted, warnings: flags.warnings))
        return try .ok(
            StartResult(
                registrationId: id, next: RegistrationStep.verifySMS.rawValue, international: !phone.isMainland,
                restricted: flags.restricted),
            warnings: flags.warnings)
    }

    // MARK: verify_sms

    static func verifySMS(
        _ session: borrowing PostgresSession, _ command: Command<VerifySMS>, _ context: IdentityContext
    ) throws
        -> Reply
    {
        let now = command.receivedAt
        let registration = try load(session, command.data.registrationId, expecting: .verifySMS, now: now)
        let maxAttempts = context.policy.sms.maxAttempts
        let given = SecretCodes.keyedHash(registration.id + ":" + command.data.code, key: context.hashKey)
        // No outstanding code counts as every try used.
        let verdict = OneTimeCode.verdict(
            matches: registration.smsCodeHash.map { Sodium.constantTimeEqual(given, $0.bytes) } ?? false,
            attempts: registration.smsCodeHash == nil ? maxAttempts : registration.smsAttempts,
            maxAttempts: maxAttempts, expiresAt: registration.smsExpiresAt, now: now)
        if case .wrong = verdict { try RegistrationStore.countWrongCode(session, id: registration.id) }
        if let rejection = Reply.rejection(verdict, renew: "start again") { return rejection }
        try RegistrationStore.acceptCode(session, id: registration.id, next: .setPassword)
        return try .ok(Next(next: RegistrationStep.setPassword.rawValue))
    }

    // MARK: set_password

    static func setPassword(
        _ session: borrowing PostgresSession, _ command: Command<SetPassword>, _ context: IdentityContext
    )
        throws -> Reply
    {
        let registration = try load(
            session, command.data.registrationId, expecting: .setPassword, now: command.receivedAt)
        let policy = context.policy.password
        guard PasswordRules.check(command.data.password, policy: policy) else {
            return .rejected(
                .passwordTooWeak,
                "use at least \(policy.minLength) characters of more than one kind, not a common password")
        }
        // Hashed before the transaction when the prepare step found the registration waiting for it.
        guard
            let hash = (command.prepared as? PreparedPasswordHash)?.hash
                ?? Sodium.passwordHash(
                    command.data.password, memoryKiB: policy.argon2MemoryKiB, iterations: policy.argon2Iterations)
        else { throw ConfigurationError(reason: "password hashing failed (out of memory?)") }
        try RegistrationStore.setPassword(session, id: registration.id, hash: hash, next: .completeProfile)
        return try .ok(Next(next: RegistrationStep.completeProfile.rawValue))
    }

    /// The Argon2id hash of a `set_password` command's password, computed before its transaction.
    struct PreparedPasswordHash: Sendable {
        var hash: String
    }

    /// Hashes the password off the command loop when the registration is waiting for one and the
    /// password passes the rules (so a stray command costs no hash).
    static func prepareSetPassword(_ command: Command<SetPassword>, _ context: IdentityContext) async throws
        -> PreparedPasswordHash?
    {
        let id = command.data.registrationId
        let policy = context.policy.password
        guard UUID(uuidString: id) != nil, PasswordRules.check(command.data.password, policy: policy) else {
            return nil
        }
        let waiting = try await context.pool.run { session in
            try RegistrationStore.isWaiting(session, id: id, at: .setPassword)
        }
        guard waiting else { return nil }
        let password = command.data.password
        return await ComputeLanes.shared.run {
            Sodium.passwordHash(password, memoryKiB: policy.argon2MemoryKiB, iterations: policy.argon2Iterations)
        }.map(PreparedPasswordHash.init)
    }

    // MARK: complete_profile

    static func completeProfile(
        _ session: borrowing PostgresSession, _ command: Command<CompleteProfile>, _ effects: inout MessageEffects,
        _ context: IdentityContext
    ) throws -> Reply {
        let data = command.data
        let registration = try load(session, data.registrationId, expecting: .completeProfile, now: command.receivedAt)
        guard let name = ProfileRules.displayName(data.displayName) else {
            throw MalformedMessage.invalid(field: "data.displayName")
        }
        if let questions = data.securityQuestions,
            !ProfileRules.securityQuestionsAreValid(questions.map { ($0.question, $0.answer) })
        {
            throw MalformedMessage.invalid(field: "data.securityQuestions")
        }
        // Answers are kept only as keyed hashes of their normalised form.
        let questions = data.securityQuestions.map { list in
            list.map { StoredQuestion(question: $0.question, answerHash: answerHash($0.answer, context: context)) }
        }
        let phone = PhoneNumber.parse(registration.phone)
        let policy = context.policy
        let burstSince = registration.createdAt.addingTimeInterval(-policy.risk.burstWindow.timeInterval)
        let burst = try RegistrationStore.startsFromDeviceOrIP(
            session, printID: registration.printID, ip: registration.ip.address, since: burstSince,
            until: registration.createdAt)
        let assessment = RiskEngine.assess(
            RiskInput(
                registrationId: registration.id, knownDevice: registration.knownDevice, ip: registration.ip,
                phoneCountry: phone.flatMap { PhoneNumber.isoCountry(forCallingCode: $0.countryCode) },
                startsFromDeviceOrIPInWindow: burst, startedAt: registration.createdAt),
            policy: policy.risk, key: context.hashKey)
        let next: RegistrationStep = registration.international ? .submitDocuments : .securityCheck
        try RegistrationStore.setProfile(
            session, id: registration.id, displayName: name, questions: questions, assessment: assessment, next: next)
        try effects.emit(
            .riskAssessed, subject: registration.id,
            data: RiskAssessed(
                registrationId: registration.id, level: assessment.level.rawValue, factors: assessment.factors))
        return try .ok(ProfileResult(next: next.rawValue, requiredLevel: assessment.level.rawValue))
    }

    /// The keyed hash of a security answer, case and surrounding space ignored.
    static func answerHash(_ answer: String, context: IdentityContext) -> String {
        let normalised = answer.precomposedStringWithCompatibilityMapping.lowercased()
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return SecretCodes.keyedHash("answer:" + normalised, key: context.hashKey).hexString
    }

    // MARK: submit_documents

    static func submitDocuments(
        _ session: borrowing PostgresSession, _ command: Command<SubmitDocuments>, _ effects: inout MessageEffects,
        _ context: IdentityContext
    ) throws -> Reply {
        let data = command.data
        let now = command.receivedAt
        let registration = try load(session, data.registrationId, expecting: .submitDocuments, now: now)
        let taskID = IdentityStore.newID()
        let due = BusinessDays.add(context.policy.verification.internationalReviewBusinessDays, to: now)
        try RegistrationStore.openInternationalReview(
            session, registrationID: registration.id, taskID: taskID,
            evidence: ["documentType": data.documentType, "documentRef": data.documentRef], due: due, now: now)
        try effects.emit(
            .reviewOpened, subject: registration.id,
            data: ReviewOpened(taskId: taskID, kind: "international_number", dueAt: CloudEvent.timestamp(due)))
        return Reply(
            status: .pendingReview, code: .ok, message: "documents received; a reviewer will decide",
            result: .object(["taskId": .string(taskID), "dueAt": .string(CloudEvent.timestamp(due))]))
    }

    // MARK: security_check

    static func securityCheck(
        _ session: borrowing PostgresSession, _ command: Command<SecurityCheck>, _ effects: inout MessageEffects,
        _ context: IdentityContext
    ) throws -> Reply {
        let data = command.data
        let now = command.receivedAt
        let registration = try load(session, data.registrationId, expecting: .securityCheck, now: now)
        if let review = data.manualReview, data.liveness?.passed != true {
            return try openRiskReview(session, registration, review, &effects, context, now: now)
        }
        let verdict = RegistrationRules.stepUp(
            level: registration.riskLevel ?? .basic,
            behaviour: data.behavior.map { BehaviourScores(typingRhythm: $0.typingRhythmScore, swipe: $0.swipeScore) },
            livenessPassed: data.liveness?.passed, policy: context.policy.risk)
        switch verdict {
        case .passed:
            break
        case .stepUpRequired:
            return .rejected(
                .stepUpRequired, "behavioural verification did not pass",
                result: .object(["requiredLevel": .string(StepUpLevel.medium.rawValue)]))
        case .livenessFailed:
            return .rejected(
                .livenessFailed, "liveness check failed; record again",
                result: .object(["requiredLevel": .string(StepUpLevel.high.rawValue)]))
        }
        return try AccountCreation.create(
            session, registration: registration, effects: &effects, context: context, now: now)
    }

    /// A `risk_review` task instead of the liveness check (issue 18, "face recognition or manual
    /// review"): the registration waits in `pending_review`; `review.decide` creates the account.
    static func openRiskReview(
        _ session: borrowing PostgresSession, _ registration: RegistrationRow, _ review: SecurityCheck.ManualReview,
        _ effects: inout MessageEffects, _ context: IdentityContext, now: Date
    ) throws -> Reply {
        let level = registration.riskLevel ?? .basic
        guard RegistrationRules.manualReviewAllowed(level: level) else {
            return .rejected(
                .reviewNotAvailable, "a manual review replaces only the high-level (liveness) check",
                result: .object(["requiredLevel": .string(level.rawValue)]))
        }
        let reason = review.reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty, reason.count <= 500 else {
            throw MalformedMessage.invalid(field: "data.manualReview.reason")
        }
        var evidence = ["reason": reason]
        if let ref = review.evidenceRef {
            guard !ref.isEmpty, ref.count <= 512 else {
                throw MalformedMessage.invalid(field: "data.manualReview.evidenceRef")
            }
            evidence["evidenceRef"] = ref
        }
        let taskID = IdentityStore.newID()
        let due = now.addingTimeInterval(context.policy.risk.manualReviewSLA.timeInterval)
        try RegistrationStore.openInternationalReview(
            session, registrationID: registration.id, taskID: taskID, evidence: evidence, due: due, now: now,
            kind: "risk_review")
        try effects.emit(
            .reviewOpened, subject: registration.id,
            data: ReviewOpened(taskId: taskID, kind: "risk_review", dueAt: CloudEvent.timestamp(due)))
        return Reply(
            status: .pendingReview, code: .ok, message: "a reviewer will complete the security check",
            result: .object(["taskId": .string(taskID), "dueAt": .string(CloudEvent.timestamp(due))]))
    }

    // MARK: loading

    /// Loads and locks a registration that must be at `step`.
    static func load(_ session: borrowing PostgresSession, _ id: String, expecting step: RegistrationStep, now: Date)
        throws
        -> RegistrationRow
    {
        guard let registration = try RegistrationStore.load(session, id: id) else {
            throw Refusal(.rejected(.registrationNotFound, "no such registration"))
        }
        if registration.step != step {
            if registration.step == .completed {
                throw Refusal(.rejected(.registrationNotFound, "this registration is finished"))
            }
            if registration.step == .rejected {
                throw Refusal(.rejected(.registrationNotFound, "this registration was rejected in review"))
            }
            throw Refusal(
                .rejected(
                    .stepOutOfOrder, "the next step is \(registration.step.rawValue)",
                    result: .object(["next": .string(registration.step.rawValue)])))
        }
        if now >= registration.expiresAt && registration.step != .pendingReview {
            throw Refusal(.rejected(.registrationExpired, "the registration expired; start again"))
        }
        return registration
    }
}

/// Adds business days (Monday to Friday), keeping the time of day.
enum BusinessDays {
    static func add(_ days: Int, to date: Date) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Asia/Shanghai") ?? .gmt
        var result = date
        var left = days
        while left > 0 {
            result = calendar.date(byAdding: .day, value: 1, to: result) ?? result.addingTimeInterval(86_400)
            if !calendar.isDateInWeekend(result) { left -= 1 }
        }
        return result
    }
}

// MARK: results and events

struct StartResult: Encodable {
    var registrationId: String
    var next: String
    var international: Bool
    var restricted: [String]
}

struct Next: Encodable {
    var next: String
}

struct ProfileResult: Encodable {
    var next: String
    var requiredLevel: String
}

struct StoredQuestion: Codable {
    var question: String
    var answerHash: String
}

struct SMSRequested: Encodable {
    var phone: String
    var purpose: String
    var code: String
    var expiresAt: String

    /// Counts one SMS against identity's global budget and asks the gateway to send `code` to
    /// `phone` (on `notifications.sms`, blanked from the outbox once sent). Callers have checked
    /// `SMSBudget.available` in the same transaction.
    static func send(
        _ session: borrowing PostgresSession, _ effects: inout MessageEffects, to phone: PhoneNumber, purpose: String,
        code: String, expiresAt: Date, now: Date
    ) throws {
        try SMSBudget.spend(session, now: now)
        try effects.publish(
            topic: "notifications.sms", key: phone.e164, type: .smsRequested,
            data: SMSRequested(
                phone: phone.e164, purpose: purpose, code: code, expiresAt: CloudEvent.timestamp(expiresAt)),
            sensitive: true)
    }
}

struct RegistrationStarted: Encodable {
    var registrationId: String
    var phone: String
    var platform: String
    var international: Bool
    var restricted: [String]
    var warnings: [String]
}

struct RiskAssessed: Encodable {
    var registrationId: String
    var level: String
    var factors: [String]
}

struct ReviewOpened: Encodable {
    var taskId: String
    var kind: String
    var dueAt: String
}
