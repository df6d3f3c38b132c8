/// The `type` of an event (contract §5 and the events Registrar added; `docs/asyncapi.yaml` lists
/// each with its payload). Emitters and consumers name events only through these constants.
public struct EventType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The type as sent.
    public let rawValue: String
    /// Wraps a type.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// The type.
    public var description: String { rawValue }

    // MARK: identity.events
    public static let registrationStarted = EventType(rawValue: "registration.started")
    public static let riskAssessed = EventType(rawValue: "risk.assessed")
    public static let accountRegistered = EventType(rawValue: "account.registered")
    public static let loginSucceeded = EventType(rawValue: "login.succeeded")
    public static let loginFailed = EventType(rawValue: "login.failed")
    public static let deviceBound = EventType(rawValue: "device.bound")
    public static let deviceUnbound = EventType(rawValue: "device.unbound")
    public static let deviceFingerprintMismatch = EventType(rawValue: "device.fingerprint_mismatch")
    public static let accountLocked = EventType(rawValue: "account.locked")
    public static let accountVerified = EventType(rawValue: "account.verified")
    public static let accountVerificationExpired = EventType(rawValue: "account.verification_expired")
    public static let reviewOpened = EventType(rawValue: "review.opened")
    public static let reviewDecided = EventType(rawValue: "review.decided")
    /// Not in the contract: a session was opened (`SessionOpened`).
    public static let sessionOpened = EventType(rawValue: "session.opened")
    /// Not in the contract: sessions were revoked (`SessionRevoked`).
    public static let sessionRevoked = EventType(rawValue: "session.revoked")
    /// Not in the contract (issue 16): a session's tokens were rotated (`SessionRefreshed`).
    public static let sessionRefreshed = EventType(rawValue: "session.refreshed")
    /// Not in the contract (issue 16): an account's password was reset or changed.
    public static let passwordChanged = EventType(rawValue: "password.changed")
    /// Not in the contract (issue 16): an account moved to another phone number (`PhoneChanged`).
    public static let accountPhoneChanged = EventType(rawValue: "account.phone_changed")
    /// Not in the contract: an operator was added (`OperatorAdded`).
    public static let operatorAdded = EventType(rawValue: "operator.added")
    /// Not in the contract (issue 17): an operator was disabled (`OperatorChanged`).
    public static let operatorDisabled = EventType(rawValue: "operator.disabled")
    /// Not in the contract (issue 17): an operator's token was replaced (`OperatorAdded`, new hash).
    public static let operatorTokenRotated = EventType(rawValue: "operator.token_rotated")
    /// Not in the contract (issue 17): support cleared a login or security-question lock (`AccountUnlocked`).
    public static let accountUnlocked = EventType(rawValue: "account.unlocked")
    /// Not in the contract (issue 17): the account asked for a copy of its data (`ExportRequested`).
    public static let accountExportRequested = EventType(rawValue: "account.export_requested")
    /// Not in the contract (issue 17): a withdrawn consent took the tier away (`VerificationWithdrawn`).
    public static let accountVerificationWithdrawn = EventType(rawValue: "account.verification_withdrawn")
    /// Not in the contract (issue 18): a bound device registered a key for biometric sign-in (`DeviceKeyEvent`).
    public static let deviceKeyRegistered = EventType(rawValue: "device.key_registered")
    /// Not in the contract (issue 18): a device key was removed (`DeviceKeyEvent` with the reason).
    public static let deviceKeyRemoved = EventType(rawValue: "device.key_removed")

    // MARK: permissions.events
    public static let permissionsChanged = EventType(rawValue: "permissions.changed")
    public static let enterpriseCreated = EventType(rawValue: "enterprise.created")
    public static let enterpriseMemberAdded = EventType(rawValue: "enterprise.member_added")
    public static let enterprisePolicyChanged = EventType(rawValue: "enterprise.policy_changed")
    public static let enterpriseAdminTransferred = EventType(rawValue: "enterprise.admin_transferred")
    /// Not in the contract (issue 18): an admin invited an account (`MemberInvited`).
    public static let enterpriseMemberInvited = EventType(rawValue: "enterprise.member_invited")
    /// Not in the contract (issue 18): the invitee declined (`InvitationClosed`).
    public static let enterpriseInvitationDeclined = EventType(rawValue: "enterprise.invitation_declined")
    /// Not in the contract (issue 18): a member left or was removed (`MemberRemoved`).
    public static let enterpriseMemberRemoved = EventType(rawValue: "enterprise.member_removed")

    // MARK: binding.events
    public static let bindingLinked = EventType(rawValue: "binding.linked")
    public static let bindingUnlinked = EventType(rawValue: "binding.unlinked")
    public static let bindingAuthorizationExpired = EventType(rawValue: "binding.authorization_expired")
    public static let migrationPlanned = EventType(rawValue: "migration.planned")

    // MARK: deregistration.events
    public static let accountFrozen = EventType(rawValue: "account.frozen")
    public static let accountUnfrozen = EventType(rawValue: "account.unfrozen")
    public static let accountDeregistered = EventType(rawValue: "account.deregistered")
    public static let accountPurged = EventType(rawValue: "account.purged")
    public static let deviceLocked = EventType(rawValue: "device.locked")
    /// Not in the contract (issue 17): support lifted a device's deregistration lock (`DeviceUnlocked`).
    public static let deviceUnlocked = EventType(rawValue: "device.unlocked")
    /// Not in the contract: the wallet's balance is to be refunded after deregistration.
    public static let walletRefundRequested = EventType(rawValue: "wallet.refund_requested")

    // MARK: every service
    /// Not in the contract: a service deleted its part of a deregistered account's data (`PurgeCompleted`).
    public static let purgeCompleted = EventType(rawValue: "purge.completed")
    /// Not in the contract (issue 17): a service's part of an export (`ExportPart`), on its own events
    /// topic (permissions, binding, deregistration; identity writes its own part directly).
    public static let accountExportPart = EventType(rawValue: "account.export_part")

    // MARK: other topics
    /// `notifications.sms` (`SMSRequested`).
    public static let smsRequested = EventType(rawValue: "sms.requested")
    /// Not in the contract (issue 18): `notifications.push` (`PushRequested`): what the user must be told.
    public static let pushRequested = EventType(rawValue: "push.requested")

    /// The security events every service appends to its audit trail when it emits them (issue 17):
    /// sign-in failures and locks, password and phone changes, device binds and unbinds, session
    /// revocations, deregistration steps, review decisions, unlocks, operator changes, data exports
    /// consent-driven tier drops, device keys registered or removed (consent changes are audited by
    /// their handler), enterprise membership changes (issue 18). An
    /// operator's command is audited whatever it emits.
    public static let audited: Set<EventType> = [
        .loginFailed, .accountLocked, .accountUnlocked, .passwordChanged, .accountPhoneChanged, .deviceBound,
        .deviceUnbound, .sessionRevoked, .reviewDecided, .operatorAdded, .operatorDisabled, .operatorTokenRotated,
        .accountFrozen, .accountUnfrozen, .accountDeregistered, .accountPurged, .deviceLocked, .deviceUnlocked,
        .bindingLinked, .bindingUnlinked, .enterpriseCreated, .enterpriseAdminTransferred, .accountExportRequested,
        .accountVerificationWithdrawn, .deviceKeyRegistered, .deviceKeyRemoved, .enterpriseMemberAdded,
        .enterpriseMemberInvited, .enterpriseInvitationDeclined, .enterpriseMemberRemoved,
    ]
}
