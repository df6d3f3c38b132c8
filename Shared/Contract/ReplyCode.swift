/// A reply code of the contract. Codes are stable strings that clients switch on; every code any
/// service answers is declared here, once.
public struct ReplyCode: RawRepresentable, Hashable, Codable, Sendable, CustomStringConvertible {
    /// The code as sent.
    public let rawValue: String
    /// Wraps a code.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// The code.
    public var description: String { rawValue }

    /// Accepted.
    public static let ok = ReplyCode(rawValue: "OK")
    /// Not JSON, not a CloudEvent, unknown type, missing or ill-typed field, too large.
    public static let malformed = ReplyCode(rawValue: "MALFORMED")
    /// `schemaversion` other than 1.
    public static let unsupportedVersion = ReplyCode(rawValue: "UNSUPPORTED_VERSION")
    /// Missing or invalid session or operator token.
    public static let unauthenticated = ReplyCode(rawValue: "UNAUTHENTICATED")
    /// Valid token, not allowed.
    public static let forbidden = ReplyCode(rawValue: "FORBIDDEN")
    /// Not in the contract: the service failed on a well-formed command (a bug); the command is
    /// dead-lettered and this reply stored, so re-sending it answers the same.
    public static let internalError = ReplyCode(rawValue: "INTERNAL_ERROR")

    // MARK: identity.commands (contract §4; "Not in the contract" marks the codes Registrar added)

    public static let registrationNotAvailableOnWeb = ReplyCode(rawValue: "REGISTRATION_NOT_AVAILABLE_ON_WEB")
    public static let scanRequired = ReplyCode(rawValue: "SCAN_REQUIRED")
    public static let emulatorForbidden = ReplyCode(rawValue: "EMULATOR_FORBIDDEN")
    public static let deviceUnsupported = ReplyCode(rawValue: "DEVICE_UNSUPPORTED")
    public static let deviceAccountLimit = ReplyCode(rawValue: "DEVICE_ACCOUNT_LIMIT")
    public static let invalidPhone = ReplyCode(rawValue: "INVALID_PHONE")
    public static let phoneInUse = ReplyCode(rawValue: "PHONE_IN_USE")
    public static let phoneInCooldown = ReplyCode(rawValue: "PHONE_IN_COOLDOWN")
    public static let rateLimited = ReplyCode(rawValue: "RATE_LIMITED")
    public static let smsCodeInvalid = ReplyCode(rawValue: "SMS_CODE_INVALID")
    public static let smsCodeLocked = ReplyCode(rawValue: "SMS_CODE_LOCKED")
    public static let smsCodeExpired = ReplyCode(rawValue: "SMS_CODE_EXPIRED")
    public static let passwordTooWeak = ReplyCode(rawValue: "PASSWORD_TOO_WEAK")
    public static let stepUpRequired = ReplyCode(rawValue: "STEP_UP_REQUIRED")
    public static let livenessFailed = ReplyCode(rawValue: "LIVENESS_FAILED")
    public static let invalidCredentials = ReplyCode(rawValue: "INVALID_CREDENTIALS")
    public static let accountTemporarilyLocked = ReplyCode(rawValue: "ACCOUNT_TEMPORARILY_LOCKED")
    public static let accountFrozen = ReplyCode(rawValue: "ACCOUNT_FROZEN")
    public static let accountLocked = ReplyCode(rawValue: "ACCOUNT_LOCKED")
    public static let deviceVerificationRequired = ReplyCode(rawValue: "DEVICE_VERIFICATION_REQUIRED")
    public static let deviceLimit = ReplyCode(rawValue: "DEVICE_LIMIT")
    /// `verification.submit`: the card number fails the Luhn check.
    public static let invalidCardNumber = ReplyCode(rawValue: "INVALID_CARD_NUMBER")
    /// `verification.submit`: the ID number is not an 18-character resident ID with a valid checksum.
    public static let invalidIDNumber = ReplyCode(rawValue: "INVALID_ID_NUMBER")
    /// `verification.submit`: an ID verified on another account needs a handheld-ID photo and a statement.
    public static let evidenceRequired = ReplyCode(rawValue: "EVIDENCE_REQUIRED")
    /// Not in the contract: the `registrationId` names no registration.
    public static let registrationNotFound = ReplyCode(rawValue: "REGISTRATION_NOT_FOUND")
    /// Not in the contract: the registration was not finished within `registration.flowValidity`.
    public static let registrationExpired = ReplyCode(rawValue: "REGISTRATION_EXPIRED")
    /// Not in the contract: the command is not the registration's next step (`result.next` says which is).
    public static let stepOutOfOrder = ReplyCode(rawValue: "STEP_OUT_OF_ORDER")
    /// Not in the contract: the `challengeId` names no open challenge.
    public static let challengeNotFound = ReplyCode(rawValue: "CHALLENGE_NOT_FOUND")
    /// Not in the contract: some security answers were wrong (`result.attemptsLeft`).
    public static let securityAnswersWrong = ReplyCode(rawValue: "SECURITY_ANSWERS_WRONG")
    /// Not in the contract: the `deviceId` names no device bound to the account.
    public static let deviceNotFound = ReplyCode(rawValue: "DEVICE_NOT_FOUND")
    /// Not in the contract: the `taskId` names no review task.
    public static let reviewNotFound = ReplyCode(rawValue: "REVIEW_NOT_FOUND")
    /// Not in the contract: the review task was decided already (`result.state`, `result.decidedAt`).
    public static let reviewClosed = ReplyCode(rawValue: "REVIEW_CLOSED")
    /// Not in the contract (issue 16): `sessions.revoke` names no live session of the account.
    public static let sessionNotFound = ReplyCode(rawValue: "SESSION_NOT_FOUND")
    /// Not in the contract (issue 16): `phone.change.complete`/`by_review` without an open change
    /// (start one with `phone.change.start`).
    public static let phoneChangeNotFound = ReplyCode(rawValue: "PHONE_CHANGE_NOT_FOUND")
    /// Not in the contract (issue 16): `phone.change.start` for the number the account has.
    public static let samePhone = ReplyCode(rawValue: "SAME_PHONE")
    /// Not in the contract (issue 17): `account.export.get` names no export of any account, or one
    /// that expired (`privacy.exportValidity`) or was purged.
    public static let exportNotFound = ReplyCode(rawValue: "EXPORT_NOT_FOUND")
    /// Not in the contract (issue 17): `consent.withdraw` of the privacy policy, which only a
    /// deregistration ends (the account cannot be used without it).
    public static let consentNotWithdrawable = ReplyCode(rawValue: "CONSENT_NOT_WITHDRAWABLE")
    /// Not in the contract (issue 17): `verification.submit` of an ID card while the ID-number or
    /// biometric consent is withdrawn (`result.kinds`); `consent.grant` gives it again.
    public static let consentRequired = ReplyCode(rawValue: "CONSENT_REQUIRED")
    /// Not in the contract (issue 18): biometric sign-in (a device key) on a platform without it
    /// (`devices.deviceKeyPlatforms`: Windows, macOS and the web have none), or from a session not
    /// on a bound device.
    public static let biometricNotSupported = ReplyCode(rawValue: "BIOMETRIC_NOT_SUPPORTED")
    /// Not in the contract (issue 18): `device.key.register` with an algorithm Registrar does not
    /// verify (`result.supported`).
    public static let keyAlgorithmUnsupported = ReplyCode(rawValue: "KEY_ALGORITHM_UNSUPPORTED")
    /// Not in the contract (issue 18): no device key is registered for this account and device.
    public static let deviceKeyNotFound = ReplyCode(rawValue: "DEVICE_KEY_NOT_FOUND")
    /// Not in the contract (issue 18): `registration.security_check` asked for a manual review at a
    /// level below `high` (behaviour scores are always possible there).
    public static let reviewNotAvailable = ReplyCode(rawValue: "REVIEW_NOT_AVAILABLE")

    // MARK: permissions.commands (contract §4; "Not in the contract" marks the codes Registrar added)

    /// Not in the contract: `enterprise.create` for an id that exists.
    public static let enterpriseExists = ReplyCode(rawValue: "ENTERPRISE_EXISTS")
    /// Not in the contract: the enterprise id names no enterprise.
    public static let enterpriseNotFound = ReplyCode(rawValue: "ENTERPRISE_NOT_FOUND")
    /// Not in the contract: the account is not a member of the enterprise.
    public static let notAMember = ReplyCode(rawValue: "NOT_A_MEMBER")
    /// Not in the contract (issue 18): `enterprise.invite` of an account that is a member already.
    public static let alreadyAMember = ReplyCode(rawValue: "ALREADY_A_MEMBER")
    /// Not in the contract (issue 18): `enterprise.invite` while an invitation of the same account to
    /// the same enterprise is open (`result.invitationId`, `result.expiresAt`).
    public static let invitationPending = ReplyCode(rawValue: "INVITATION_PENDING")
    /// Not in the contract (issue 18): the invitation id names no invitation.
    public static let invitationNotFound = ReplyCode(rawValue: "INVITATION_NOT_FOUND")
    /// Not in the contract (issue 18): the invitation was accepted, declined or withdrawn already
    /// (`result.state`).
    public static let invitationClosed = ReplyCode(rawValue: "INVITATION_CLOSED")
    /// Not in the contract (issue 18): the invitation's `permissions.invitationValidity` ran out
    /// (`result.expiresAt`).
    public static let invitationExpired = ReplyCode(rawValue: "INVITATION_EXPIRED")

    // MARK: binding.commands (contract §4; "Not in the contract" marks the codes Registrar added)

    /// `binding.link`: a scope the provider does not offer (`result.unsupported`, `result.supported`).
    public static let scopeUnsupported = ReplyCode(rawValue: "SCOPE_UNSUPPORTED")
    /// `binding.link`: another provider is the primary binding (`result.primary`).
    public static let primaryExists = ReplyCode(rawValue: "PRIMARY_EXISTS")
    /// `binding.link`: an exclusive scope (calendar) is held by a non-temporary binding of another
    /// provider (`result.conflictsWith`, `result.scope`).
    public static let bindingConflict = ReplyCode(rawValue: "BINDING_CONFLICT")
    /// `migration.start`: the account has no active wechat binding.
    public static let bindingRequired = ReplyCode(rawValue: "BINDING_REQUIRED")
    /// `migration.start`: less free storage than `binding.migrationMinFreeBytes` (`result.requiredBytes`).
    public static let insufficientStorage = ReplyCode(rawValue: "INSUFFICIENT_STORAGE")
    /// Not in the contract: the provider is not in the policy's capability matrix. A code of its own
    /// rather than `MALFORMED`, because providers are configuration: the command is well formed,
    /// this deployment just does not offer the provider (`result.providers` lists those it does).
    public static let providerUnsupported = ReplyCode(rawValue: "PROVIDER_UNSUPPORTED")
    /// Not in the contract: the external account is bound to another Registrar account.
    public static let externalAccountTaken = ReplyCode(rawValue: "EXTERNAL_ACCOUNT_TAKEN")
    /// Not in the contract: `binding.unlink` of a provider the account has not bound.
    public static let bindingNotFound = ReplyCode(rawValue: "BINDING_NOT_FOUND")
    /// Not in the contract: a later manifest part names no open plan of this account.
    public static let migrationPlanNotFound = ReplyCode(rawValue: "MIGRATION_PLAN_NOT_FOUND")

    // MARK: deregistration.commands (contract §4; "Not in the contract" marks the codes Registrar added)

    public static let adminTransferRequired = ReplyCode(rawValue: "ADMIN_TRANSFER_REQUIRED")
    public static let deviceLocked = ReplyCode(rawValue: "DEVICE_LOCKED")
    public static let cooldownOver = ReplyCode(rawValue: "COOLDOWN_OVER")
    /// Not in the contract: the account already has a deregistration in its cool-down.
    public static let deregistrationPending = ReplyCode(rawValue: "DEREGISTRATION_PENDING")
    /// Not in the contract: the account id names no account the answering service knows (permissions:
    /// no live account; deregistration: not known yet, or purged).
    public static let accountNotFound = ReplyCode(rawValue: "ACCOUNT_NOT_FOUND")
    /// Not in the contract (issue 17): the operator id names no operator.
    public static let operatorNotFound = ReplyCode(rawValue: "OPERATOR_NOT_FOUND")
    /// Not in the contract (issue 17): disabling this operator would leave no enabled admin.
    public static let lastAdmin = ReplyCode(rawValue: "LAST_ADMIN")
    /// Not in the contract (issue 17): the device named has no deregistration lock to lift.
    public static let deviceNotLocked = ReplyCode(rawValue: "DEVICE_NOT_LOCKED")
}
