/// Event payloads that one service publishes and others consume: the emitter encodes and every
/// consumer decodes the same type, so a fact is named and shaped once (`docs/asyncapi.yaml`
/// documents each). Times are RFC 3339 strings, as on the wire.

/// `data` of `session.opened` (identity): a session other services may authenticate.
public struct SessionOpened: Codable, Sendable {
    /// The account.
    public var accountId: String
    /// The session (one sign-in; its tokens are rotated by `session.refresh`). Absent in events
    /// published before sessions had ids.
    public var sessionId: String?
    /// The bound device the session belongs to, if any.
    public var deviceId: String?
    /// The device's platform.
    public var platform: String
    /// SHA-256 of the access token, hex; the token itself never leaves identity's reply.
    public var tokenHash: String
    /// When the access token ends.
    public var expiresAt: String

    /// Creates the payload.
    public init(
        accountId: String, sessionId: String, deviceId: String?, platform: String, tokenHash: String,
        expiresAt: String
    ) {
        self.accountId = accountId
        self.sessionId = sessionId
        self.deviceId = deviceId
        self.platform = platform
        self.tokenHash = tokenHash
        self.expiresAt = expiresAt
    }
}

/// `data` of `session.refreshed` (identity): a session's access token was replaced; the previous
/// one is no longer valid.
public struct SessionRefreshed: Codable, Sendable {
    /// The account.
    public var accountId: String
    /// The session.
    public var sessionId: String
    /// SHA-256 of the new access token, hex.
    public var tokenHash: String
    /// When the new access token ends.
    public var expiresAt: String

    /// Creates the payload.
    public init(accountId: String, sessionId: String, tokenHash: String, expiresAt: String) {
        self.accountId = accountId
        self.sessionId = sessionId
        self.tokenHash = tokenHash
        self.expiresAt = expiresAt
    }
}

/// `data` of `session.revoked` (identity): sessions of an account ended. With neither `sessionId`
/// nor `deviceId`, every session of the account; the fields narrow it.
public struct SessionRevoked: Codable, Sendable {
    /// The account.
    public var accountId: String
    /// Only this device's sessions, when set.
    public var deviceId: String?
    /// Only this session, when set.
    public var sessionId: String?
    /// Every session but this one, when set (`all_others`, a password change).
    public var exceptSessionId: String?
    /// Why: `logout`, `user`, `refresh_reuse`, `password_reset`, `password_changed`,
    /// `device_unbound`, `security_questions`, `account_frozen`, `account_deregistered`.
    public var reason: String?

    /// Creates the payload.
    public init(
        accountId: String, deviceId: String? = nil, sessionId: String? = nil, exceptSessionId: String? = nil,
        reason: String
    ) {
        self.accountId = accountId
        self.deviceId = deviceId
        self.sessionId = sessionId
        self.exceptSessionId = exceptSessionId
        self.reason = reason
    }
}

/// `data` of `operator.added` and `operator.token_rotated` (identity).
public struct OperatorAdded: Codable, Sendable {
    /// The operator's id.
    public var operatorId: String
    /// SHA-256 of the operator's (new) token, hex.
    public var tokenHash: String
    /// `support`, `reviewer` or `admin`; absent in events from before roles, which are `admin`
    /// (what every operator could do then).
    public var role: OperatorRole?

    /// Creates the payload.
    public init(operatorId: String, tokenHash: String, role: OperatorRole) {
        self.operatorId = operatorId
        self.tokenHash = tokenHash
        self.role = role
    }
}

/// `data` of `operator.disabled` (identity).
public struct OperatorDisabled: Codable, Sendable {
    /// The operator's id.
    public var operatorId: String

    /// Creates the payload.
    public init(operatorId: String) { self.operatorId = operatorId }
}

/// An operator's role (issue 17): what its token may do.
public enum OperatorRole: String, Codable, Sendable, CaseIterable {
    /// Looks accounts up, lifts locks, signs sessions out.
    case support
    /// Decides review tasks.
    case reviewer
    /// Everything, and manages operators and enterprises.
    case admin

    /// Whether the role may do `duty`.
    public func allows(_ duty: OperatorDuty) -> Bool {
        switch self {
        case .admin: true
        case .support: duty == .support
        case .reviewer: duty == .review
        }
    }
}

/// What an operator command needs of its operator's role.
public enum OperatorDuty: String, Sendable {
    /// `support.*` commands.
    case support
    /// `review.decide`.
    case review
    /// `operator.*` and `enterprise.create`.
    case administration
}

/// `data` of `account.unlocked` (identity).
public struct AccountUnlocked: Codable, Sendable {
    /// `login` (wrong-password lock and its counters) or `security_questions`.
    public var lock: String

    /// Creates the payload.
    public init(lock: String) { self.lock = lock }
}

/// `data` of `device.unlocked` (deregistration).
public struct DeviceUnlocked: Codable, Sendable {
    /// The device as deregistration knows it (its print id).
    public var deviceId: String

    /// Creates the payload.
    public init(deviceId: String) { self.deviceId = deviceId }
}

/// `data` of `account.frozen` (deregistration): the account is in its cool-down.
public struct AccountFrozen: Codable, Sendable {
    /// The account.
    public var accountId: String
    /// The deregistration request.
    public var requestId: String?
    /// When the cool-down ends (absent from test stand-ins that publish only the id).
    public var cooldownEndsAt: String?
}

/// `data` of the events that are only about an account: `account.frozen`, `account.unfrozen`
/// (deregistration) and others whose consumers need no more than the id.
public struct AccountRef: Codable, Sendable {
    /// The account.
    public var accountId: String

    /// Creates the payload.
    public init(accountId: String) { self.accountId = accountId }
}

/// `data` of `account.deregistered` (deregistration): the cool-down ended.
public struct AccountDeregistered: Codable, Sendable {
    /// The account.
    public var accountId: String
    /// The request that ended (always set by deregistration; optional on decoding, as the test
    /// stand-ins for deregistration publish only `accountId`).
    public var requestId: String
    /// When the cool-down ended (likewise).
    public var deregisteredAt: String
    /// When the phone may register again; identity blocks it until then (the emitter decides it,
    /// consumers do not recompute it from their own receipt time). Likewise always set by
    /// deregistration.
    public var phoneBlockedUntil: String
    /// When the kept enterprise contacts and memberships are deleted (permissions purges them then).
    public var contactsRetainedUntil: String

    /// Creates the payload.
    public init(
        accountId: String, requestId: String, deregisteredAt: String, phoneBlockedUntil: String,
        contactsRetainedUntil: String
    ) {
        self.accountId = accountId
        self.requestId = requestId
        self.deregisteredAt = deregisteredAt
        self.phoneBlockedUntil = phoneBlockedUntil
        self.contactsRetainedUntil = contactsRetainedUntil
    }
}

/// `data` of `purge.completed` (every service): the service deleted its part of an account's data.
public struct PurgeCompleted: Codable, Sendable {
    /// The account.
    public var accountId: String
    /// The service that purged.
    public var service: String
    /// What was purged: `personal` (at once) or `contacts` (after the retention window).
    public var category: String

    /// Creates the payload.
    public init(accountId: String, service: String, category: String) {
        self.accountId = accountId
        self.service = service
        self.category = category
    }
}
