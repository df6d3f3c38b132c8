import Foundation
import Platform

/// A real-name verification tier (contract §4 `verification.submit`, permissions' tier caps).
public enum VerificationTier: String, Codable, Sendable, CaseIterable {
    /// Unverified: valid `verification.noneValidity` after registration.
    case none
    /// A bank card: valid `verification.bankCardValidity`.
    case bankCard = "bank_card"
    /// A resident ID with liveness: permanent.
    case idCard = "id_card"

    /// Higher is stronger.
    var rank: Int {
        switch self {
        case .none: 0
        case .bankCard: 1
        case .idCard: 2
        }
    }
}

/// An account's tier as stored: the tier and when it stops being valid (`nil`: never).
public struct TierState: Sendable, Equatable {
    /// The tier.
    public var tier: VerificationTier
    /// End of validity; `nil` for a permanent tier.
    public var expiresAt: Date?

    /// Creates a state.
    public init(tier: VerificationTier, expiresAt: Date?) {
        self.tier = tier
        self.expiresAt = expiresAt
    }

    /// True while the tier is in force at `now`.
    public func isValid(at now: Date) -> Bool { expiresAt.map { now < $0 } ?? true }
}

/// The pure rules of real-name verification: number checks and tier arithmetic.
public enum VerificationRules {
    // MARK: bank cards

    /// The card number's digits when it passes the Luhn check (ISO/IEC 7812: 13 to 19 digits;
    /// spaces and hyphens between groups are ignored), else `nil` (`INVALID_CARD_NUMBER`).
    public static func normalizedCardNumber(_ text: String) -> String? {
        let digits = text.filter { $0 != " " && $0 != "-" }
        guard (13...19).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return luhnValid(digits) ? digits : nil
    }

    /// The Luhn (mod 10) check over a string of ASCII digits.
    public static func luhnValid(_ digits: String) -> Bool {
        var sum = 0
        for (index, character) in digits.reversed().enumerated() {
            guard let digit = character.wholeNumberValue, character.isASCII else { return false }
            if index % 2 == 1 {
                let doubled = digit * 2
                sum += doubled > 9 ? doubled - 9 : doubled
            } else {
                sum += digit
            }
        }
        return !digits.isEmpty && sum % 10 == 0
    }

    /// The last four characters: all that is ever shown of a number.
    public static func last4(_ number: String) -> String { String(number.suffix(4)) }

    // MARK: resident ID numbers

    /// GB 11643-1999 weights of the first 17 characters.
    static let residentIDWeights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    /// The check character for each weighted sum mod 11.
    static let residentIDCheckCharacters = Array("10X98765432")

    /// The 18-character mainland resident ID number (upper-case `X`) when its form, birth date and
    /// GB 11643 checksum hold, else `nil` (`INVALID_ID_NUMBER`).
    public static func normalizedResidentID(_ text: String) -> String? {
        let number = text.trimmingCharacters(in: .whitespaces).uppercased()
        let characters = Array(number)
        guard characters.count == 18, characters.prefix(17).allSatisfy({ $0.isASCII && $0.isNumber }),
            let check = residentIDCheckCharacter(String(characters.prefix(17))), characters[17] == check,
            birthDateValid(String(characters[6..<14]))
        else { return nil }
        return number
    }

    /// The check character of the first 17 digits, `nil` when they are not 17 ASCII digits.
    public static func residentIDCheckCharacter(_ first17: String) -> Character? {
        let digits = first17.compactMap { $0.isASCII ? $0.wholeNumberValue : nil }
        guard digits.count == 17, first17.count == 17 else { return nil }
        let sum = zip(digits, residentIDWeights).reduce(0) { $0 + $1.0 * $1.1 }
        return residentIDCheckCharacters[sum % 11]
    }

    /// `YYYYMMDD` names a real calendar day from 1900 on.
    static func birthDateValid(_ text: String) -> Bool {
        guard text.count == 8, let year = Int(text.prefix(4)), let month = Int(text.dropFirst(4).prefix(2)),
            let day = Int(text.suffix(2)), year >= 1900, (1...12).contains(month), day >= 1
        else { return false }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return day <= lengths[month - 1]
    }

    // MARK: tiers

    /// When `tier`, verified at `now`, stops being valid (`nil`: permanent).
    public static func expiry(of tier: VerificationTier, verifiedAt now: Date, policy: Policy.Verification) -> Date? {
        switch tier {
        case .none: now.addingTimeInterval(policy.noneValidity.timeInterval)
        case .bankCard: now.addingTimeInterval(policy.bankCardValidity.timeInterval)
        case .idCard: nil
        }
    }

    /// The account's tier after a successful `verified` check at `now`: a stronger tier still in
    /// force is kept (an ID-verified account stays `id_card` after adding a bank card); the same
    /// tier is renewed from `now`.
    public static func tier(
        after verified: VerificationTier, current: TierState?, now: Date, policy: Policy.Verification
    ) -> TierState {
        let renewed = TierState(tier: verified, expiresAt: expiry(of: verified, verifiedAt: now, policy: policy))
        guard let current, current.isValid(at: now), current.tier.rank > verified.rank else { return renewed }
        return current
    }

    /// The next real-name step an account should take (issue 18, "after the SMS step the system
    /// guides the user into real-name verification"): the methods that would raise its tier (a
    /// lapsed tier counts as none), and until when the current tier holds. `nil` for a permanent
    /// `id_card` tier: nothing left to do.
    public static func guidance(_ current: TierState?, now: Date) -> VerificationGuidance? {
        let valid = current.flatMap { $0.isValid(at: now) ? $0 : nil }
        switch valid?.tier ?? .none {
        case .none:
            return VerificationGuidance(
                tier: VerificationTier.none.rawValue, tierExpiresAt: valid?.expiresAt,
                next: [VerificationTier.bankCard.rawValue, VerificationTier.idCard.rawValue])
        case .bankCard:
            return VerificationGuidance(
                tier: VerificationTier.bankCard.rawValue, tierExpiresAt: valid?.expiresAt,
                next: [VerificationTier.idCard.rawValue])
        case .idCard:
            return nil
        }
    }

    /// The liveness rule: only an explicit pass counts.
    public static func livenessPassed(_ passed: Bool?) -> Bool { passed == true }
}

/// The real-name guidance a sign-in reply carries (`VerificationRules.guidance`).
public struct VerificationGuidance: Sendable, Equatable {
    /// The tier in force (`none` when it lapsed).
    public var tier: String
    /// Until when it holds; `nil` once lapsed.
    public var tierExpiresAt: Date?
    /// The methods that would raise it, in the order to suggest them.
    public var next: [String]

    /// Creates guidance.
    public init(tier: String, tierExpiresAt: Date?, next: [String]) {
        self.tier = tier
        self.tierExpiresAt = tierExpiresAt
        self.next = next
    }
}
