/// Event payloads of data export and consents (issue 17). `docs/asyncapi.yaml` documents each.

/// `data` of `account.export_requested` (identity): the account asked for a copy of its data; every
/// other service answers with `account.export_part` on its own events topic.
public struct ExportRequested: Codable, Sendable {
    /// The export.
    public var exportId: String
    /// The account.
    public var accountId: String
    /// When it was asked for.
    public var requestedAt: String
    /// When identity deletes it (`privacy.exportValidity` later).
    public var expiresAt: String

    /// Creates the payload.
    public init(exportId: String, accountId: String, requestedAt: String, expiresAt: String) {
        self.exportId = exportId
        self.accountId = accountId
        self.requestedAt = requestedAt
        self.expiresAt = expiresAt
    }
}

/// `data` of `account.export_part` (permissions, binding, deregistration): one service's part of an
/// export, `Part` being what that service holds of the account (no secrets, hashes or raw numbers).
public struct ExportPart<Part: Sendable>: Sendable {
    /// The export it answers.
    public var exportId: String
    /// The account.
    public var accountId: String
    /// The answering service (`permissions`, `binding`, `deregistration`); it must match the
    /// event's `source`.
    public var service: String
    /// The service's data of the account.
    public var data: Part

    /// Creates the payload.
    public init(exportId: String, accountId: String, service: String, data: Part) {
        self.exportId = exportId
        self.accountId = accountId
        self.service = service
        self.data = data
    }
}

/// `data` of `account.verification_withdrawn` (identity): the user withdrew a consent the tier was
/// built on (the ID number or biometric data), so the tier drops to `tier` (with its `expiresAt`:
/// a bank card still valid, else `none` from registration, possibly already lapsed).
public struct VerificationWithdrawn: Codable, Sendable {
    /// The account.
    public var accountId: String
    /// The tier that was withdrawn (`id_card`).
    public var withdrawnTier: String
    /// The tier in force now.
    public var tier: String
    /// When `tier` ends (`nil`: permanent).
    public var expiresAt: String?
    /// Why: `consent_withdrawn:<kind>`.
    public var reason: String

    /// Creates the payload.
    public init(accountId: String, withdrawnTier: String, tier: String, expiresAt: String?, reason: String) {
        self.accountId = accountId
        self.withdrawnTier = withdrawnTier
        self.tier = tier
        self.expiresAt = expiresAt
        self.reason = reason
    }
}

extension ExportPart: Encodable where Part: Encodable {}
extension ExportPart: Decodable where Part: Decodable {}
