import Platform
import Testing

@testable import IdentityCore

@Suite struct PasswordRulesTests {
    let policy = Policy().password

    @Test(arguments: ["Tr0ub4dor&3", "correct horse battery staple", "Kx9#mPq2", "zhimakaimen2024", "北京欢迎你2024"])
    func strongPasswordsAreAccepted(_ password: String) {
        #expect(PasswordRules.check(password, policy: policy))
    }

    @Test(arguments: [
        "password1", "Password1", "PASSWORD1", "passw0rd", "P@ssw0rd", "qwerty123", "1q2w3e4r", "1qaz2wsx3edc",
        "iloveyou1", "abcd1234", "Admin123", "welcome1", "woaini1314", "a123456789", "qq123456", "aa123456",
    ])
    func commonPasswordsAreRefused(_ password: String) {
        #expect(!PasswordRules.check(password, policy: policy))
    }

    @Test(arguments: ["abcdefgh", "ABCDEFGH", "12345678", "98127364", "!@#$%^&*()", "zhimakaimen", "我爱北京天安门广场"])
    func oneCharacterClassIsRefused(_ password: String) {
        #expect(!PasswordRules.check(password, policy: policy))
    }

    @Test func lengthIsAtLeastTheMinimum() {
        #expect(!PasswordRules.check("Xk9#mPq", policy: policy))  // 7
        #expect(PasswordRules.check("Xk9#mPqz", policy: policy))  // 8
        #expect(!PasswordRules.check("", policy: policy))
        var longer = policy
        longer.minLength = 12
        #expect(!PasswordRules.check("Xk9#mPqz", policy: longer))
    }

    @Test func lengthCountsCodePointsAfterNFKC() {
        // Full-width letters normalise to ASCII: eight code points, three classes.
        #expect(PasswordRules.check("Ｘｋ９＃ｍＰｑｚ", policy: policy))
        // A ligature counts as the letters it stands for: 6 scalars as typed, 10 after NFKC.
        #expect(PasswordRules.check("ﬃﬃXy12", policy: policy))
        // Combining marks compose: 8 scalars as typed, 6 after NFKC.
        #expect(!PasswordRules.check("Abc1a\u{0308}e\u{0301}", policy: policy))
        // Emoji are one code point each, whatever their UTF-16 length.
        #expect(!PasswordRules.check("Ab1😀😀😀😀", policy: policy))
        #expect(PasswordRules.check("Ab1😀😀😀😀😀", policy: policy))
    }

    @Test func theCommonListIsComparedAfterNormalisationAndIgnoringCase() {
        #expect(!PasswordRules.check("ｐａｓｓｗｏｒｄ１", policy: policy))
        #expect(!PasswordRules.check("ＰａｓｓＷｏｒｄ１", policy: policy))
        #expect(CommonPasswords.contains("QWERTY123"))
        #expect(!CommonPasswords.contains("Tr0ub4dor&3"))
    }

    @Test func characterClasses() {
        #expect(PasswordRules.classes(of: "aB3!") == [.lowercase, .uppercase, .digit, .other])
        #expect(PasswordRules.classes(of: "abc") == [.lowercase])
        #expect(PasswordRules.classes(of: "ÄÖÜ") == [.uppercase])
        #expect(PasswordRules.classes(of: "中文 ") == [.other])
        #expect(PasswordRules.classes(of: "٣٤") == [.digit])  // Arabic-Indic digits are decimal digits
    }

    @Test func theListIsLargeLowercaseAndNormalised() {
        #expect(CommonPasswords.all.count >= 500)
        for entry in CommonPasswords.all {
            #expect(entry == entry.precomposedStringWithCompatibilityMapping.lowercased(), "\(entry)")
        }
        for entry in ["123456", "password", "woaini1314", "5201314", "1qaz2wsx", "147258369", "88888888"] {
            #expect(CommonPasswords.all.contains(entry), "\(entry)")
        }
    }
}
