import Foundation

/// What a profile may hold (registration's `complete_profile`, and `profile.update`,
/// `security_questions.set` of issue 16).
public enum ProfileRules {
    /// The longest display name, in characters.
    public static let maxDisplayNameLength = 64
    /// The longest avatar reference (an opaque id of an uploaded image).
    public static let maxAvatarRefLength = 256
    /// How many security questions an account sets.
    public static let securityQuestionCount = 3

    /// The display name as stored (trimmed), or `nil` when it is empty or too long.
    public static func displayName(_ name: String) -> String? {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty || trimmed.count > maxDisplayNameLength ? nil : trimmed
    }

    /// Whether an avatar reference is acceptable: 1 to `maxAvatarRefLength` characters, no white
    /// space or control characters.
    public static func avatarRefIsValid(_ ref: String) -> Bool {
        !ref.isEmpty && ref.count <= maxAvatarRefLength
            && !ref.unicodeScalars.contains {
                CharacterSet.whitespacesAndNewlines.contains($0) || CharacterSet.controlCharacters.contains($0)
            }
    }

    /// Whether a set of security questions is acceptable: exactly three, none empty.
    public static func securityQuestionsAreValid(_ questions: [(question: String, answer: String)]) -> Bool {
        questions.count == securityQuestionCount
            && !questions.contains { $0.question.isEmpty || $0.answer.isEmpty }
    }
}
