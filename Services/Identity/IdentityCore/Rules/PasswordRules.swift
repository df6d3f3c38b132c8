import Foundation
import Platform

/// Password strength rules of `registration.set_password` (§4 → `PASSWORD_TOO_WEAK`).
public enum PasswordRules {
    /// A character class for the "not all one class" rule.
    public enum CharacterClass: Sendable, Hashable, CaseIterable {
        /// Unicode lowercase letters.
        case lowercase
        /// Unicode uppercase letters.
        case uppercase
        /// Decimal digits.
        case digit
        /// Everything else: punctuation, symbols, spaces, caseless letters such as CJK.
        case other
    }

    /// Whether `password` is acceptable: at least `policy.minLength` code points, at least two
    /// character classes, and not on the common-password list (case-insensitive).
    ///
    /// Every test runs on the NFKC form, the form the password is hashed in, so that full-width
    /// `ｐａｓｓｗｏｒｄ１` is the same weak `password1` and a ligature such as `ﬃ` counts as the three
    /// letters it stands for. A password made only of caseless letters (e.g. Chinese) is one class
    /// (`other`) and needs a digit, a Latin letter or a symbol besides.
    public static func check(_ password: String, policy: Policy.Password) -> Bool {
        let normalized = normalize(password)
        guard normalized.unicodeScalars.count >= policy.minLength else { return false }
        guard classes(of: normalized).count >= 2 else { return false }
        return !CommonPasswords.contains(normalized)
    }

    /// The NFKC form of `password`, in which it is checked (and should be hashed).
    public static func normalize(_ password: String) -> String {
        password.precomposedStringWithCompatibilityMapping
    }

    /// The character classes present in `text`, by Unicode scalar properties.
    public static func classes(of text: String) -> Set<CharacterClass> {
        Set(
            text.unicodeScalars.map { scalar in
                let properties = scalar.properties
                if properties.numericType == .decimal { return .digit }
                if properties.isLowercase { return .lowercase }
                if properties.isUppercase { return .uppercase }
                return .other
            })
    }
}
