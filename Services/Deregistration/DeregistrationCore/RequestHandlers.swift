import Contract
import Directory
import Foundation
import Messaging
import Platform
import Postgres

/// `data` of `deregistration.request`.
struct Request: Decodable, Sendable {
    /// The account to deregister (the session's own).
    var accountId: String
    /// The requesting device's fingerprint (contract §3).
    var deviceFingerprint: [String: String]
}

/// `data` of `deregistration.send_revoke_code`.
struct PhoneOnly: Decodable, Sendable {
    /// The phone of the account whose deregistration is to be revoked.
    var phone: String
}

/// `data` of `deregistration.revoke`.
struct Revoke: Decodable, Sendable {
    /// The phone of the account whose deregistration is to be revoked.
    var phone: String
    /// The revoke code sent to it.
    var code: String
}

/// `deregistration.request`, `deregistration.send_revoke_code`, `deregistration.revoke`: each
/// loads through `DeregistrationStore`, decides by the rules (`Rules/`), and writes the outcome.
enum RequestHandlers {
    /// Registers the three commands.
    static func register(_ router: inout Router, _ context: DeregistrationContext) {
        router.command("deregistration.request", Request.self) { session, command, effects in
            try request(session, command, &effects, context)
        }
        router.command("deregistration.send_revoke_code", PhoneOnly.self) { session, command, effects in
            try sendRevokeCode(session, command, &effects, context)
        }
        router.command("deregistration.revoke", Revoke.self) { session, command, effects in
            try revoke(session, command, &effects, context)
        }
    }

    // MARK: request

    /// Freezes the caller's own account for the cool-down (`RequestRules`).
    static func request(
        _ session: borrowing PostgresSession, _ command: Command<Request>, _ effects: inout MessageEffects,
        _ context: DeregistrationContext
    ) throws -> Reply {
        let data = command.data
        let now = command.receivedAt
        let policy = context.policy
        guard let caller = try SessionDirectory.authenticate(session, token: command.envelope.sessiontoken, now: now)
        else {
            return .rejected(.unauthenticated, "a valid session token is required")
        }
        guard caller.accountId == data.accountId else {
            return .rejected(.forbidden, "a session can deregister only its own account")
        }
        guard
            DeviceRecognition.isUsable(
                data.deviceFingerprint, minAttributes: policy.devices.minFingerprintAttributes,
                maxValueLength: policy.devices.maxFingerprintValueLength)
        else {
            throw MalformedMessage.invalid(field: "data.deviceFingerprint")
        }
        guard let standing = try DeregistrationStore.standing(session, data.accountId) else {
            return .rejected(.accountNotFound, "the account is not known")
        }
        switch RequestRules.accountRefusal(openCooldownEndsAt: standing.openCooldownEndsAt, adminOf: standing.adminOf) {
        case .pending(let cooldownEndsAt):
            return .rejected(
                .deregistrationPending, "a deregistration is already in its cool-down",
                result: .object(["cooldownEndsAt": .string(CloudEvent.timestamp(cooldownEndsAt))]))
        case .adminTransferRequired(let enterpriseIds):
            return .rejected(
                .adminTransferRequired, "hand over the admin rights of your enterprises first",
                result: .object(["enterpriseIds": .array(enterpriseIds.map(JSONValue.string))]))
        case nil: break
        }
        let device = try DeregistrationStore.device(
            session, fingerprint: data.deviceFingerprint, now: now, policy: policy)
        switch RequestRules.deviceDecision(
            locked: device.locked, earlierRequests: device.requestTimes, now: now, policy: policy)
        {
        case .locked:
            return .rejected(.deviceLocked, "this device is locked for deregistration")
        case .lock:
            try DeregistrationStore.lockDevice(session, device.id, now: now)
            try DeregistrationStore.audit(session, data.accountId, "device_locked", ["deviceId": device.id], at: now)
            try effects.emit(
                .deviceLocked, subject: data.accountId,
                data: ["accountId": data.accountId, "deviceId": device.id, "reason": "deregistration_limit"])
            return .rejected(.deviceLocked, "too many deregistrations from this device; it is locked")
        case .accept(let cooldownEndsAt):
            let id = UUID().uuidString.lowercased()
            let ends = CloudEvent.timestamp(cooldownEndsAt)
            try DeregistrationStore.insertRequest(
                session, id: id, accountID: data.accountId, printID: device.id, requestedAt: now,
                cooldownEndsAt: cooldownEndsAt)
            try DeregistrationStore.audit(
                session, data.accountId, "requested", ["requestId": id, "cooldownEndsAt": ends], at: now)
            try effects.emit(
                .accountFrozen, subject: data.accountId,
                data: ["accountId": data.accountId, "requestId": id, "cooldownEndsAt": ends])
            try effects.notify(
                data.accountId, .deregistrationRequested, locale: policy.notifications.defaultLocale,
                params: ["cooldownEndsAt": ends])
            return try .ok(["requestId": id, "cooldownEndsAt": ends])
        }
    }

    // MARK: revoke

    /// Sends a revoke code to a phone whose account is in its cool-down; answers alike for every
    /// other phone (`RevokeCodeRules`, `CooldownRules.revokeWindow`).
    static func sendRevokeCode(
        _ session: borrowing PostgresSession, _ command: Command<PhoneOnly>, _ effects: inout MessageEffects,
        _ context: DeregistrationContext
    ) throws -> Reply {
        let phone = try parse(command.data.phone)
        let now = command.receivedAt
        let policy = context.policy
        let phoneHash = PhoneHash.of(phone.e164, key: context.hashKey)
        // The same answers whether or not the phone has a deregistration to revoke: requests are
        // counted per phone (known or not), and an exhausted global budget refuses every phone.
        let earlier = try DeregistrationStore.codeRequests(
            session, phoneHash: phoneHash, windowStart: RevokeCodeRules.windowStart(now: now, policy: policy))
        guard RevokeCodeRules.mayRequestCode(earlierRequests: earlier, now: now, policy: policy),
            try SMSBudget.available(session, service: "deregistration", policy: policy.sms, now: now)
        else { return .rejected(.rateLimited, "too many codes requested; try again later") }
        try DeregistrationStore.recordCodeRequest(session, phoneHash: phoneHash, now: now)
        let answer = try Reply.ok(
            ["sent": true], message: "if this number has a deregistration in its cool-down, a code is on its way")
        guard let request = try DeregistrationStore.latestRequest(session, phoneHash: phoneHash),
            request.revokeWindow(at: now) == .open
        else { return answer }
        try SMSBudget.spend(session, now: now)
        let code = Sodium.randomDigits(policy.sms.codeLength)
        let expires = RevokeCodeRules.expiry(sentAt: now, policy: policy)
        try DeregistrationStore.storeCode(
            session, requestID: request.id,
            codeHash: RevokeCodeRules.codeHash(code, requestID: request.id, key: context.hashKey), expiresAt: expires)
        try effects.publish(
            topic: "notifications.sms", key: phone.e164, type: .smsRequested,
            data: ["phone": phone.e164, "purpose": "revoke", "code": code, "expiresAt": CloudEvent.timestamp(expires)],
            sensitive: true)
        return answer
    }

    /// Revokes the deregistration of the phone's account during its cool-down, given the code
    /// (`CooldownRules.revokeWindow`, then `OneTimeCode.verdict`).
    static func revoke(
        _ session: borrowing PostgresSession, _ command: Command<Revoke>, _ effects: inout MessageEffects,
        _ context: DeregistrationContext
    ) throws -> Reply {
        let phone = try parse(command.data.phone)
        let now = command.receivedAt
        // No request, and no code sent, answer as a wrong code without attempts left: unknown
        // phones are not told apart from known ones.
        let noCode = Reply.rejected(.smsCodeInvalid, "the code is wrong")
        guard
            let request = try DeregistrationStore.latestRequest(
                session, phoneHash: PhoneHash.of(phone.e164, key: context.hashKey))
        else { return noCode }
        guard request.revokeWindow(at: now) == .open else {
            return .rejected(.cooldownOver, "the cool-down is over; the account is deregistered")
        }
        guard let stored = request.codeHash else { return noCode }
        let presented = RevokeCodeRules.codeHash(command.data.code, requestID: request.id, key: context.hashKey)
        let verdict = OneTimeCode.verdict(
            matches: Sodium.constantTimeEqual(presented, stored), attempts: request.codeAttempts,
            maxAttempts: context.policy.sms.maxAttempts, expiresAt: request.codeExpiresAt, now: now)
        if case .wrong = verdict { try DeregistrationStore.countWrongCode(session, requestID: request.id) }
        if let rejection = Reply.rejection(verdict, renew: "ask for a new one") { return rejection }
        try DeregistrationStore.revoke(session, requestID: request.id, now: now)
        try DeregistrationStore.audit(session, request.accountId, "revoked", ["requestId": request.id], at: now)
        try effects.emit(
            .accountUnfrozen, subject: request.accountId,
            data: ["accountId": request.accountId, "requestId": request.id])
        return try .ok(AccountRef(accountId: request.accountId))
    }

    /// The command's phone; one that is not E.164 is `MALFORMED` naming `data.phone`.
    static func parse(_ phone: String) throws -> PhoneNumber {
        guard let parsed = PhoneNumber.parse(phone) else { throw MalformedMessage.invalid(field: "data.phone") }
        return parsed
    }
}
