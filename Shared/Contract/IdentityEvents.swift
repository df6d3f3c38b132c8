/// Payloads of the identity events that other services consume (`docs/asyncapi.yaml` documents
/// each). Identity encodes them and every consumer decodes the same type, so a fact is decided by
/// the emitter and not recomputed from a consumer's receipt time.
///
/// The facts consumers act on are required; fields only some consumers read, or that identity
/// leaves out in some cases, are optional. Times are RFC 3339 strings, as on the wire.

/// `data` of `account.registered`: an account was created.
public struct AccountRegistered: Codable, Sendable {
    /// The account.
    public var accountId: String
    /// The registration that became the account.
    public var registrationId: String?
    /// The masked phone.
    public var phone: String?
    /// The platform of the registering device.
    public var platform: String?
    /// Whether the phone is international (not `+86`).
    public var international: Bool?
    /// What the account may not do (`payment` for a rooted device).
    public var restricted: [String]
    /// When the account was created.
    public var registeredAt: String
    /// The step-up level the registration passed.
    public var riskLevel: String?
    /// The time zone of the registration's IP: quotas reset at midnight there.
    public var timezone: String
    /// The verification tier the account starts at (`none`).
    public var tier: String
    /// When the starting tier lapses; absent for a permanent tier.
    public var tierExpiresAt: String?
    /// The keyed hash of the phone (`PhoneHash`): deregistration finds the account of a revoke
    /// request by it without ever holding the raw phone of an account.
    public var phoneHash: String?

    /// Creates the payload (identity sets every field).
    public init(
        accountId: String, registrationId: String, phone: String, platform: String, international: Bool,
        restricted: [String], registeredAt: String, riskLevel: String, timezone: String, tier: String,
        tierExpiresAt: String?, phoneHash: String
    ) {
        self.accountId = accountId
        self.registrationId = registrationId
        self.phone = phone
        self.platform = platform
        self.international = international
        self.restricted = restricted
        self.registeredAt = registeredAt
        self.riskLevel = riskLevel
        self.timezone = timezone
        self.tier = tier
        self.tierExpiresAt = tierExpiresAt
        self.phoneHash = phoneHash
    }
}

/// `data` of `account.verified`: the account reached a verification tier.
public struct AccountVerified: Codable, Sendable {
    /// The account.
    public var accountId: String
    /// The tier now in force.
    public var tier: String
    /// When the tier lapses; absent for a permanent tier.
    public var expiresAt: String?
    /// The method used (`bank_card`, `id_card`).
    public var method: String?
    /// The most that is ever shown of a card number (bank cards only).
    public var cardLast4: String?
    /// When the tier was reached.
    public var verifiedAt: String?

    /// Creates the payload.
    public init(
        accountId: String, tier: String, expiresAt: String?, method: String, cardLast4: String?, verifiedAt: String
    ) {
        self.accountId = accountId
        self.tier = tier
        self.expiresAt = expiresAt
        self.method = method
        self.cardLast4 = cardLast4
        self.verifiedAt = verifiedAt
    }
}

/// `data` of `account.verification_expired`: a tier's validity ended.
public struct VerificationExpired: Codable, Sendable {
    /// The account.
    public var accountId: String
    /// The tier that lapsed.
    public var tier: String?
    /// When it lapsed.
    public var expiredAt: String?

    /// Creates the payload.
    public init(accountId: String, tier: String, expiredAt: String) {
        self.accountId = accountId
        self.tier = tier
        self.expiredAt = expiredAt
    }
}

/// `data` of `login.succeeded`, `device.bound`, `device.unbound` and `device.fingerprint_mismatch`:
/// a fact about an account and one of its devices.
public struct DeviceEvent: Codable, Sendable {
    /// The account.
    public var accountId: String
    /// The device.
    public var deviceId: String?
    /// The device's platform.
    public var platform: String?
    /// `login.succeeded` only (issue 18): how the account signed in — `device_key` for a biometric
    /// sign-in; absent for a password (or a new device's approval).
    public var method: String?

    /// Creates the payload.
    public init(accountId: String, deviceId: String, platform: String, method: String? = nil) {
        self.accountId = accountId
        self.deviceId = deviceId
        self.platform = platform
        self.method = method
    }
}

/// `data` of `device.key_registered` and `device.key_removed` (issue 18): a device's key for
/// biometric sign-in; never the key itself.
public struct DeviceKeyEvent: Codable, Sendable {
    /// The account.
    public var accountId: String
    /// The bound device the key belongs to.
    public var deviceId: String
    /// The key's id.
    public var keyId: String
    /// `ed25519`.
    public var algorithm: String
    /// `device.key_removed` only: `removed` (by its owner), `replaced`, `device_unbound`,
    /// `password_reset`, `password_changed`, `support`.
    public var reason: String?

    /// Creates the payload.
    public init(accountId: String, deviceId: String, keyId: String, algorithm: String, reason: String? = nil) {
        self.accountId = accountId
        self.deviceId = deviceId
        self.keyId = keyId
        self.algorithm = algorithm
        self.reason = reason
    }
}

/// `data` of `account.locked`.
public struct AccountLocked: Codable, Sendable {
    /// The account.
    public var accountId: String
    /// `password_failures` (a temporary lock, with `until`) or `security_questions` (a lock that
    /// needs support, without `until`).
    public var reason: String
    /// End of a temporary lock; absent for a permanent one.
    public var until: String?

    /// Creates the payload.
    public init(accountId: String, reason: String, until: String?) {
        self.accountId = accountId
        self.reason = reason
        self.until = until
    }
}

/// `data` of `account.phone_changed` (issue 16): the account's phone number changed.
public struct PhoneChanged: Codable, Sendable {
    /// The account.
    public var accountId: String
    /// The previous number, masked.
    public var oldPhone: String
    /// The new number, masked.
    public var newPhone: String
    /// The keyed hash of the new number (`PhoneHash`): deregistration's revoke-by-phone follows it.
    public var phoneHash: String
    /// `codes` (both numbers confirmed) or `review` (an operator approved it).
    public var method: String
    /// When the change took effect.
    public var changedAt: String

    /// Creates the payload.
    public init(
        accountId: String, oldPhone: String, newPhone: String, phoneHash: String, method: String, changedAt: String
    ) {
        self.accountId = accountId
        self.oldPhone = oldPhone
        self.newPhone = newPhone
        self.phoneHash = phoneHash
        self.method = method
        self.changedAt = changedAt
    }
}

/// `data` of `password.changed` (issue 16).
public struct PasswordChanged: Codable, Sendable {
    /// The account.
    public var accountId: String
    /// `reset` (by SMS code) or `change` (by the current password).
    public var reason: String

    /// Creates the payload.
    public init(accountId: String, reason: String) {
        self.accountId = accountId
        self.reason = reason
    }
}
