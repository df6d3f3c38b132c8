import Messaging

/// The identity rows' reply codes (contract §4), plus the few the contract leaves open.
extension ReplyCode {
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
}
