import Testing

@testable import Contract

@Suite struct PhoneNumberTests {
    @Test func parsesAMainlandMobileNumber() throws {
        let phone = try #require(PhoneNumber.parse("+8613800138000"))
        #expect(phone.e164 == "+8613800138000")
        #expect(phone.countryCode == "86")
        #expect(phone.nationalNumber == "13800138000")
        #expect(phone.isMainland)
        #expect(phone.isoCountry == "CN")
    }

    @Test func masksWithSixStarsAndTheLastFourDigits() throws {
        #expect(PhoneNumber.parse("+8613800135678")?.masked == "+86******5678")
        // Same number of stars whatever the length, so the mask does not reveal it.
        #expect(PhoneNumber.parse("+85291234567")?.masked == "+852******4567")
        #expect(PhoneNumber.parse("+14155550123")?.masked == "+1******0123")
        #expect(PhoneNumber.parse("+3531234567")?.masked == "+353******4567")
    }

    @Test(arguments: [
        "8613800138000",  // no plus
        "+",  // nothing
        "+1234567",  // 7 digits
        "+1234567890123456",  // 16 digits
        "+0123456789",  // leading 0
        "+86 13800138000",  // space
        "+86-138-0013-8000",  // dashes
        "+86１３８００１３８０００",  // full-width digits
        "+861380013800a",  // letter
        " +8613800138000",  // surrounding space
    ])
    func rejectsWhatIsNotE164(_ text: String) {
        #expect(PhoneNumber.parse(text) == nil)
    }

    @Test(arguments: [
        "+8623800138000",  // national part not starting with 1
        "+861380013800",  // 10 national digits
        "+86138001380001",  // 12 national digits
        "+8601380013800",  // starts with 0
    ])
    func rejectsPlus86NumbersThatAreNotMainlandMobiles(_ text: String) {
        #expect(PhoneNumber.parse(text) == nil)
    }

    @Test func acceptsEightAndFifteenDigits() {
        #expect(PhoneNumber.parse("+44123456")?.countryCode == "44")
        #expect(PhoneNumber.parse("+441234567890123")?.countryCode == "44")
    }

    @Test(arguments: [
        ("+85291234567", "852", "HK"),
        ("+85366123456", "853", "MO"),
        ("+886912345678", "886", "TW"),
        ("+14155550123", "1", "US"),
        ("+447911123456", "44", "GB"),
        ("+819012345678", "81", "JP"),
        ("+821012345678", "82", "KR"),
        ("+6591234567", "65", "SG"),
        ("+60123456789", "60", "MY"),
        ("+61412345678", "61", "AU"),
        ("+4915123456789", "49", "DE"),
        ("+33612345678", "33", "FR"),
        ("+79161234567", "7", "RU"),
        ("+971501234567", "971", "AE"),
        ("+2348031234567", "234", "NG"),
        ("+380501234567", "380", "UA"),
        ("+420601123456", "420", "CZ"),
    ])
    func detectsTheCallingCodeByLongestMatch(_ text: String, _ code: String, _ country: String) throws {
        let phone = try #require(PhoneNumber.parse(text))
        #expect(phone.countryCode == code)
        #expect(!phone.isMainland)
        #expect(PhoneNumber.isoCountry(forCallingCode: code) == country)
    }

    @Test func anUnlistedCodeIsStillValidAndTakesThreeDigits() throws {
        // 800 (international freephone) and 882 (international networks) are non-geographic.
        let freephone = try #require(PhoneNumber.parse("+80012345678"))
        #expect(freephone.countryCode == "800")
        #expect(freephone.isoCountry == nil)
        #expect(PhoneNumber.parse("+88212345678")?.countryCode == "882")
        #expect(PhoneNumber.isoCountry(forCallingCode: "999") == nil)
    }

    @Test func theCallingCodeTableIsPrefixFree() {
        // Longest match is only unambiguous when no code is a prefix of another.
        let codes = PhoneNumber.callingCodes.keys
        for code in codes {
            for other in codes where other != code {
                #expect(!other.hasPrefix(code), "\(code) is a prefix of \(other)")
            }
        }
        #expect(PhoneNumber.callingCodes.values.allSatisfy { $0.count == 2 && $0 == $0.uppercased() })
    }
}
