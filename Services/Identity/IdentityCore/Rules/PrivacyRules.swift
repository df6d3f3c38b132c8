import Foundation
import Platform

/// The services whose parts make an export whole, identity's first.
public enum ExportService: String, CaseIterable, Sendable {
    case identity, permissions, binding, deregistration
}

/// An export as stored, for `account.export.get`.
public struct StoredExport: Sendable, Equatable {
    /// The owner.
    public var accountID: String
    /// When the sweep deletes it.
    public var expiresAt: Date
    /// How many parts the assembled bundle has; `nil` while services' parts are missing.
    public var parts: Int?
    /// Services whose part has arrived (while pending).
    public var received: Set<String>

    /// Creates a stored export.
    public init(accountID: String, expiresAt: Date, parts: Int?, received: Set<String>) {
        self.accountID = accountID
        self.expiresAt = expiresAt
        self.parts = parts
        self.received = received
    }
}

/// What `account.export.get` answers.
public enum ExportAnswer: Sendable, Equatable {
    /// `EXPORT_NOT_FOUND`: no such export, or it expired.
    case notFound
    /// `FORBIDDEN`: the export is another account's.
    case forbidden
    /// `state: pending`: some services have not answered yet (`missing`).
    case pending(missing: [String])
    /// `state: ready`, part `part` of `parts`.
    case ready(parts: Int, part: Int)
    /// `MALFORMED` (`data.part`): the bundle has no such part.
    case noSuchPart(parts: Int)
}

/// The pure rules of data export (issue 17, PIPL Art. 45).
public enum ExportRules {
    /// Whether the account may ask for another export, given how many it asked for within
    /// `privacy.exportWindow`.
    public static func mayRequest(recentExports: Int, policy: Policy.Privacy) -> Bool {
        recentExports < policy.exportsPerWindow
    }

    /// When an export asked for at `now` is deleted.
    public static func expiry(requestedAt now: Date, policy: Policy.Privacy) -> Date {
        now.addingTimeInterval(policy.exportValidity.timeInterval)
    }

    /// Whether the parts received make the export whole (every service answered).
    public static func isComplete(received: Set<String>) -> Bool {
        ExportService.allCases.allSatisfy { received.contains($0.rawValue) }
    }

    /// What `account.export.get {exportId, part}` answers for `caller`, given the stored export.
    /// An expired export is not found even before the sweep deleted it, so the answer does not
    /// depend on when the sweep ran.
    public static func answer(_ export: StoredExport?, caller: String, part: Int, now: Date) -> ExportAnswer {
        guard let export, now < export.expiresAt else { return .notFound }
        guard export.accountID == caller else { return .forbidden }
        guard let parts = export.parts else {
            return .pending(missing: ExportService.allCases.map(\.rawValue).filter { !export.received.contains($0) })
        }
        guard (0..<parts).contains(part) else { return .noSuchPart(parts: parts) }
        return .ready(parts: parts, part: part)
    }

    /// The bundle's JSON text cut into parts whose JSON-string form (as a reply's `data` carries it)
    /// has at most `maxBytes` bytes; parts end on character boundaries, so each is valid text and
    /// their concatenation is `text`. At least one part, also for an empty text.
    public static func chunk(_ text: String, maxBytes: Int) -> [String] {
        let budget = max(maxBytes, 16)
        var parts: [String] = []
        var current = ""
        var size = 0
        for character in text {
            let cost = escapedSize(character)
            if size + cost > budget, !current.isEmpty {
                parts.append(current)
                current = ""
                size = 0
            }
            current.append(character)
            size += cost
        }
        parts.append(current)
        return parts
    }

    /// The bytes `character` takes inside a JSON string, at most (quote, backslash and slash may be
    /// escaped with a backslash, control characters as `\u00XX`).
    static func escapedSize(_ character: Character) -> Int {
        character.unicodeScalars.reduce(0) { total, scalar in
            switch scalar.value {
            case 0x22, 0x5C, 0x2F: total + 2
            case 0..<0x20: total + 6
            default: total + String(scalar).utf8.count
            }
        }
    }
}

/// A consent identity keeps (issue 17; PIPL Arts. 14–16, 29). Binding keeps each binding's
/// data-sharing consent itself (`binding_sharing`).
public enum ConsentKind: String, CaseIterable, Sendable, Codable {
    /// The privacy policy (the iOS agreement step): accepted at registration, at a version.
    case privacyPolicy = "privacy_policy"
    /// Processing the resident ID number (sensitive personal information).
    case idNumber = "id_number"
    /// Biometric data: liveness results.
    case biometric
    /// Device identifiers (IMEI and serial hashes in stored fingerprints).
    case deviceIdentifiers = "device_identifiers"
}

/// What withdrawing a consent does, decided by `ConsentRules.withdrawal`.
public struct ConsentWithdrawal: Sendable, Equatable {
    /// Delete the account's liveness results (and the liveness fields of its verifications).
    public var deleteLiveness = false
    /// Delete the account's ID-card verifications (the sealed ID number and its lookup hash).
    public var deleteIDNumbers = false
    /// Remove IMEI and serial hashes from the account's stored device fingerprints.
    public var stripDeviceIdentifiers = false
    /// The tier after the withdrawal when it changes (`account.verification_withdrawn`); `nil`: unchanged.
    public var tier: TierState?

    /// Creates an outcome.
    public init(
        deleteLiveness: Bool = false, deleteIDNumbers: Bool = false, stripDeviceIdentifiers: Bool = false,
        tier: TierState? = nil
    ) {
        self.deleteLiveness = deleteLiveness
        self.deleteIDNumbers = deleteIDNumbers
        self.stripDeviceIdentifiers = stripDeviceIdentifiers
        self.tier = tier
    }
}

/// The pure rules of consents.
public enum ConsentRules {
    /// The fingerprint attributes that are device identifiers.
    public static let deviceIdentifierAttributes = ["imeiHash", "serialHash"]

    /// What withdrawing `kind` does; `nil` when it cannot be withdrawn (the privacy policy: only a
    /// deregistration ends it, `CONSENT_NOT_WITHDRAWABLE`).
    ///
    /// The ID-card tier rests on both the ID number and the liveness result: withdrawing either
    /// takes it away. The tier then falls to a bank-card tier still valid (`bankCardVerifiedAt`
    /// within `verification.bankCardValidity`), else to `none`, valid from registration
    /// (`verification.noneValidity`, so possibly lapsed at once).
    public static func withdrawal(
        _ kind: ConsentKind, current: TierState?, bankCardVerifiedAt: Date?, registeredAt: Date, now: Date,
        policy: Policy.Verification
    ) -> ConsentWithdrawal? {
        switch kind {
        case .privacyPolicy:
            return nil
        case .deviceIdentifiers:
            return ConsentWithdrawal(stripDeviceIdentifiers: true)
        case .idNumber, .biometric:
            var outcome = ConsentWithdrawal(deleteLiveness: kind == .biometric, deleteIDNumbers: kind == .idNumber)
            if current?.tier == .idCard {
                outcome.tier = fallbackTier(
                    bankCardVerifiedAt: bankCardVerifiedAt, registeredAt: registeredAt, now: now, policy: policy)
            }
            return outcome
        }
    }

    /// The tier an account falls to when its ID-card tier is withdrawn.
    public static func fallbackTier(
        bankCardVerifiedAt: Date?, registeredAt: Date, now: Date, policy: Policy.Verification
    ) -> TierState {
        if let verified = bankCardVerifiedAt {
            let card = TierState(
                tier: .bankCard,
                expiresAt: VerificationRules.expiry(of: .bankCard, verifiedAt: verified, policy: policy))
            if card.isValid(at: now) { return card }
        }
        return TierState(
            tier: .none, expiresAt: VerificationRules.expiry(of: .none, verifiedAt: registeredAt, policy: policy))
    }

    /// Whether a stored privacy-policy acceptance is of the version in force.
    public static func isCurrent(acceptedVersion: String?, policy: Policy.Privacy) -> Bool {
        acceptedVersion == policy.policyVersion
    }

    /// The consents an ID-card verification needs that are withdrawn.
    public static func missingForIDCard(withdrawn: Set<ConsentKind>) -> [ConsentKind] {
        [ConsentKind.idNumber, .biometric].filter { withdrawn.contains($0) }
    }
}
