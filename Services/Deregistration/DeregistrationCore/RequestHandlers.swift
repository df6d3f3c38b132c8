import Contract
import Directory
import Foundation
import Messaging
import Platform
import Postgres

struct Request: Decodable, Sendable {
    var accountId: String
    var deviceFingerprint: [String: String]
}

struct PhoneOnly: Decodable, Sendable {
    var phone: String
}

struct Revoke: Decodable, Sendable {
    var phone: String
    var code: String
}

/// `deregistration.request`, `deregistration.send_revoke_code`, `deregistration.revoke`.
enum RequestHandlers {
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
        guard data.deviceFingerprint.values.filter({ !$0.isEmpty }).count >= policy.devices.minFingerprintAttributes,
            data.deviceFingerprint.values.allSatisfy({ $0.count <= policy.devices.maxFingerprintValueLength })
        else {
            throw MalformedMessage.invalid(field: "data.deviceFingerprint")
        }
        guard try session.query("SELECT 1 AS k FROM accounts WHERE account_id = \(data.accountId)::uuid").count == 1
        else {
            return .rejected(.accountNotFound, "the account is not known")
        }
        if let open = try session.query(
            "SELECT cooldown_ends_at FROM requests WHERE account_id = \(data.accountId)::uuid AND state = 'cooling'"
        ).first {
            return .rejected(
                .deregistrationPending, "a deregistration is already in its cool-down",
                result: .object(["cooldownEndsAt": .string(CloudEvent.timestamp(try open.decode("cooldown_ends_at")))]))
        }
        let enterprises: [String] = try session.query(
            "SELECT enterprise_id FROM enterprise_admins WHERE account_id = \(data.accountId)::uuid ORDER BY enterprise_id"
        ).map { try $0.decode("enterprise_id") }
        if !enterprises.isEmpty {
            return .rejected(
                .adminTransferRequired, "hand over the admin rights of your enterprises first",
                result: .object(["enterpriseIds": .array(enterprises.map(JSONValue.string))]))
        }
        let printID =
            try DevicePrints.recognise(
                session, fingerprint: data.deviceFingerprint, threshold: policy.devices.similarityThreshold)?.id
            ?? DevicePrints.insertPrint(session, fingerprint: data.deviceFingerprint, now: now)
        try session.query("SELECT pg_advisory_xact_lock(hashtextextended(\("print:" + printID), 0))")
        let print = try session.query(
            "SELECT locked_at IS NOT NULL AS locked FROM device_prints WHERE id = \(printID)::uuid FOR UPDATE"
        ).first
        if try print?.decode("locked", as: Bool.self) == true {
            return .rejected(.deviceLocked, "this device is locked for deregistration")
        }
        let since = now.addingTimeInterval(-policy.deregistration.deviceWindow.timeInterval)
        let earlier =
            try session.query(
                "SELECT count(*) AS n FROM requests WHERE print_id = \(printID)::uuid AND requested_at > \(since)"
            ).first?.decode("n", as: Int.self) ?? 0
        if earlier + 1 >= policy.deregistration.deviceLockAt {
            // The device's 4th deregistration in the window: lock it instead.
            try session.query("UPDATE device_prints SET locked_at = \(now) WHERE id = \(printID)::uuid")
            try audit(session, data.accountId, "device_locked", ["deviceId": printID], at: now)
            try effects.emit(
                .deviceLocked, subject: data.accountId,
                data: ["accountId": data.accountId, "deviceId": printID, "reason": "deregistration_limit"])
            return .rejected(.deviceLocked, "too many deregistrations from this device; it is locked")
        }
        let id = UUID().uuidString.lowercased()
        let ends = now.addingTimeInterval(policy.deregistration.cooldown.timeInterval)
        try session.query(
            """
            INSERT INTO requests (id, account_id, print_id, state, requested_at, cooldown_ends_at)
            VALUES (\(id)::uuid, \(data.accountId)::uuid, \(printID)::uuid, 'cooling', \(now), \(ends))
            """)
        try audit(
            session, data.accountId, "requested", ["requestId": id, "cooldownEndsAt": CloudEvent.timestamp(ends)],
            at: now)
        try effects.emit(
            .accountFrozen, subject: data.accountId,
            data: ["accountId": data.accountId, "requestId": id, "cooldownEndsAt": CloudEvent.timestamp(ends)])
        return try .ok(["requestId": id, "cooldownEndsAt": CloudEvent.timestamp(ends)])
    }

    // MARK: revoke

    /// The account with an open or finalized request for `phone`, by its keyed hash.
    static func latestRequest(_ session: borrowing PostgresSession, phone: String, context: DeregistrationContext)
        throws
        -> PostgresRow?
    {
        try session.query(
            """
            SELECT r.id::text AS id, r.account_id::text AS account_id, r.state, r.cooldown_ends_at, r.revoke_code_hash,
                   r.revoke_code_expires_at, r.revoke_attempts
            FROM requests r JOIN accounts a ON a.account_id = r.account_id
            WHERE a.phone_hash = \(PhoneHash.of(phone, key: context.hashKey)) AND r.state IN ('cooling', 'finalized')
            ORDER BY r.requested_at DESC LIMIT 1 FOR UPDATE OF r
            """
        ).first
    }

    static func validPhone(_ phone: String) throws {
        let digits = phone.dropFirst()
        guard phone.hasPrefix("+"), (8...15).contains(digits.count), digits.allSatisfy(\.isASCII),
            digits.allSatisfy(\.isNumber), digits.first != "0"
        else { throw MalformedMessage.invalid(field: "data.phone") }
    }

    static func sendRevokeCode(
        _ session: borrowing PostgresSession, _ command: Command<PhoneOnly>, _ effects: inout MessageEffects,
        _ context: DeregistrationContext
    ) throws -> Reply {
        let phone = command.data.phone
        let now = command.receivedAt
        try validPhone(phone)
        // The same answers whether or not the phone has a deregistration to revoke: requests are
        // counted per phone (known or not), and an exhausted global budget refuses every phone.
        let limited = Reply.rejected(.rateLimited, "too many codes requested; try again later")
        let policy = context.policy.deregistration
        let phoneHash = PhoneHash.of(phone, key: context.hashKey)
        try session.query("SELECT pg_advisory_xact_lock(hashtextextended(\("revoke-code:" + phoneHash), 0))")
        let since = now.addingTimeInterval(-policy.revokeCodeWindow.timeInterval)
        try session.query("DELETE FROM revoke_code_requests WHERE requested_at <= \(since)")
        let recent =
            try session.query("SELECT count(*) AS n FROM revoke_code_requests WHERE phone_hash = \(phoneHash)").first?
            .decode("n", as: Int.self) ?? 0
        guard recent < policy.revokeCodesPerPhonePerWindow,
            try SMSBudget.available(session, service: "deregistration", policy: context.policy.sms, now: now)
        else { return limited }
        try session.query(
            "INSERT INTO revoke_code_requests (phone_hash, requested_at) VALUES (\(phoneHash), \(now))")
        let answer = try Reply.ok(
            ["sent": true], message: "if this number has a deregistration in its cool-down, a code is on its way")
        guard let request = try latestRequest(session, phone: phone, context: context),
            try request.decode("state", as: String.self) == "cooling",
            try request.decode("cooldown_ends_at", as: Date.self) > now
        else { return answer }
        try SMSBudget.spend(session, now: now)
        let requestID: String = try request.decode("id")
        let code = Sodium.randomDigits(context.policy.sms.codeLength)
        let expires = now.addingTimeInterval(context.policy.sms.validity.timeInterval)
        try session.query(
            """
            UPDATE requests SET revoke_code_hash = \(PostgresBytes(codeHash(code, requestID: requestID, context: context))),
                revoke_code_expires_at = \(expires), revoke_attempts = 0
            WHERE id = \(requestID)::uuid
            """)
        try effects.publish(
            topic: "notifications.sms", key: phone, type: .smsRequested,
            data: ["phone": phone, "purpose": "revoke", "code": code, "expiresAt": CloudEvent.timestamp(expires)],
            sensitive: true)
        return answer
    }

    static func revoke(
        _ session: borrowing PostgresSession, _ command: Command<Revoke>, _ effects: inout MessageEffects,
        _ context: DeregistrationContext
    ) throws -> Reply {
        let now = command.receivedAt
        try validPhone(command.data.phone)
        let invalid = Reply.rejected(.smsCodeInvalid, "the code is wrong")
        guard let request = try latestRequest(session, phone: command.data.phone, context: context) else {
            return invalid
        }
        let requestID: String = try request.decode("id")
        let accountID: String = try request.decode("account_id")
        if try request.decode("state", as: String.self) == "finalized"
            || now >= (try request.decode("cooldown_ends_at", as: Date.self))
        {
            return .rejected(.cooldownOver, "the cool-down is over; the account is deregistered")
        }
        let maxAttempts = context.policy.sms.maxAttempts
        let attempts: Int = try request.decode("revoke_attempts")
        guard let stored: PostgresBytes = try request.decode("revoke_code_hash") else { return invalid }
        if attempts >= maxAttempts { return .rejected(.smsCodeLocked, "too many wrong codes; ask for a new one") }
        if let expires: Date = try request.decode("revoke_code_expires_at"), now >= expires {
            return .rejected(.smsCodeExpired, "the code has expired; ask for a new one")
        }
        guard
            Sodium.constantTimeEqual(codeHash(command.data.code, requestID: requestID, context: context), stored.bytes)
        else {
            try session.query("UPDATE requests SET revoke_attempts = revoke_attempts + 1 WHERE id = \(requestID)::uuid")
            return .rejected(
                .smsCodeInvalid, "the code is wrong",
                result: .object(["attemptsLeft": .int(Int64(max(0, maxAttempts - attempts - 1)))]))
        }
        try session.query(
            """
            UPDATE requests SET state = 'revoked', closed_at = \(now), revoke_code_hash = NULL WHERE id = \(requestID)::uuid
            """)
        try audit(session, accountID, "revoked", ["requestId": requestID], at: now)
        try effects.emit(
            .accountUnfrozen, subject: accountID, data: ["accountId": accountID, "requestId": requestID])
        return try .ok(["accountId": accountID])
    }

    /// The keyed hash of a revoke code, bound to its request and purpose.
    static func codeHash(_ code: String, requestID: String, context: DeregistrationContext) -> [UInt8] {
        Sodium.hmacSHA256(key: context.hashKey, message: Array("revoke:\(requestID):\(code)".utf8))
    }
}
