import Contract
import Directory
import Foundation
import Messaging
import Platform
import Postgres

/// Turns a finished registration into an account, its first device and (unless `openSession` is
/// false, as when a reviewer approves an international registration) a session. The account starts
/// at verification tier `none`, valid `verification.noneValidity`.
enum AccountCreation {
    static func create(
        _ session: borrowing PostgresSession, registration: RegistrationRow, effects: inout MessageEffects,
        context: IdentityContext, now: Date, openSession: Bool = true
    ) throws -> Reply {
        // Registrations of one device or phone that finish together must not both pass the limits.
        try IdentityStore.lock(session, ["phone:" + registration.phone, "print:" + registration.printID])
        if try RegistrationStore.accountStatus(session, phone: registration.phone) != nil {
            return .rejected(.phoneInUse, "the phone number belongs to an account")
        }
        if RegistrationRules.deviceIsFull(
            accountsOnDevice: try RegistrationStore.accountsOnPrint(session, printID: registration.printID),
            policy: context.policy.registration)
        {
            return .rejected(.deviceAccountLimit, "this device already holds the most accounts allowed")
        }
        guard let passwordHash = registration.passwordHash, let displayName = registration.displayName else {
            throw ConfigurationError(reason: "registration \(registration.id) reached the account step incomplete")
        }
        let accountID = IdentityStore.newID()
        try session.query(
            """
            INSERT INTO accounts (id, phone, display_name, password_hash, security_questions, restricted,
                registration_id, registered_on, created_at)
            VALUES (\(accountID)::uuid, \(registration.phone), \(displayName), \(passwordHash),
                \(registration.securityQuestions)::jsonb, \(registration.restricted)::text[], \(registration.id)::uuid,
                \(registration.printID)::uuid, \(now))
            """)
        let fingerprint = try session.query(
            """
            SELECT jsonb_object_agg(name, value)::text AS f FROM device_print_attributes
            WHERE print_id = \(registration.printID)::uuid
            """
        ).first?.decode("f", as: String?.self)
        let attributes =
            try fingerprint.map { try JSONDecoder().decode([String: String].self, from: Data($0.utf8)) } ?? [:]
        let deviceID = try IdentityStore.bindDevice(
            session, accountID: accountID, printID: registration.printID, fingerprint: attributes,
            platform: registration.platform, model: registration.device.model, now: now)
        let tier = try VerificationStore.startTier(session, accountID: accountID, now: now, policy: context.policy)
        try PrivacyStore.recordAtRegistration(
            session, accountID: accountID, consents: registration.consents, now: now, policy: context.policy.privacy)
        let opened =
            openSession
            ? try SessionStore.open(
                session, accountID: accountID, deviceID: deviceID, platform: registration.device.platform, now: now,
                policy: context.policy, effects: &effects) : nil
        try session.query(
            """
            UPDATE registrations SET step = \(RegistrationStep.completed.rawValue), account_id = \(accountID)::uuid
            WHERE id = \(registration.id)::uuid
            """)
        let phone = PhoneNumber.parse(registration.phone)
        try effects.emit(
            .accountRegistered, subject: accountID,
            data: AccountRegistered(
                accountId: accountID, registrationId: registration.id, phone: phone?.masked ?? "",
                platform: registration.platform, international: registration.international,
                restricted: registration.restricted, registeredAt: CloudEvent.timestamp(now),
                riskLevel: registration.riskLevel?.rawValue ?? StepUpLevel.basic.rawValue,
                timezone: registration.ip.timezone, tier: tier.tier.rawValue,
                tierExpiresAt: tier.expiresAt.map(CloudEvent.timestamp),
                phoneHash: PhoneHash.of(registration.phone, key: context.hashKey)))
        try effects.emit(
            .deviceBound, subject: accountID,
            data: DeviceEvent(accountId: accountID, deviceId: deviceID, platform: registration.platform))
        return try .ok(
            AccountResult(
                accountId: accountID, session: opened, deviceId: deviceID,
                guidance: VerificationRules.guidance(tier, now: now)))
    }
}

/// Desktop scan tickets: issued to a signed-in mobile session, valid briefly, used once.
enum ScanTickets {
    static func isValid(_ session: borrowing PostgresSession, ticket: String, now: Date) throws -> Bool {
        try session.query(
            """
            SELECT 1 AS ok FROM scan_tickets
            WHERE ticket_hash = \(PostgresBytes(SecretCodes.tokenHash(ticket))) AND used_at IS NULL AND expires_at > \(now)
            """
        ).count == 1
    }

    static func use(_ session: borrowing PostgresSession, ticket: String, now: Date) throws {
        try session.query(
            "UPDATE scan_tickets SET used_at = \(now) WHERE ticket_hash = \(PostgresBytes(SecretCodes.tokenHash(ticket)))"
        )
    }

    static func issue(_ session: borrowing PostgresSession, accountID: String, now: Date, validity: TimeInterval) throws
        -> (ticket: String, expiresAt: Date)
    {
        let ticket = SecretCodes.newToken()
        let expires = now.addingTimeInterval(validity)
        try session.query(
            """
            INSERT INTO scan_tickets (ticket_hash, account_id, expires_at)
            VALUES (\(PostgresBytes(SecretCodes.tokenHash(ticket))), \(accountID)::uuid, \(expires))
            """)
        return (ticket, expires)
    }
}

/// The reply of a command that signs in: the account, its device and (absent when the account was
/// created without a session, as at review approval) the session's tokens.
struct AccountResult: Encodable {
    var accountId: String
    var deviceId: String
    /// The access token, sent as `sessiontoken`.
    var sessionToken: String?
    var sessionId: String?
    /// When the access token ends.
    var expiresAt: String?
    var refreshToken: String?
    var refreshExpiresAt: String?

    /// The next real-name step (issue 18); absent once the account is ID-verified.
    var verification: Guidance?

    /// `VerificationGuidance` on the wire.
    struct Guidance: Encodable {
        var tier: String
        var tierExpiresAt: String?
        var next: [String]

        init(_ guidance: VerificationGuidance) {
            tier = guidance.tier
            tierExpiresAt = guidance.tierExpiresAt.map(CloudEvent.timestamp)
            next = guidance.next
        }
    }

    init(accountId: String, session: IssuedSession?, deviceId: String, guidance: VerificationGuidance? = nil) {
        verification = guidance.map(Guidance.init)
        self.accountId = accountId
        self.deviceId = deviceId
        sessionToken = session?.accessToken
        sessionId = session?.id
        expiresAt = session.map { CloudEvent.timestamp($0.accessExpiresAt) }
        refreshToken = session?.refreshToken
        refreshExpiresAt = session.map { CloudEvent.timestamp($0.refreshExpiresAt) }
    }
}
