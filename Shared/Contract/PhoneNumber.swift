import Foundation

/// A phone number in E.164 form (§3 `phone`), validated and split into its calling code.
///
/// Built only by `parse(_:)`, so every value is valid: `+` then 8–15 ASCII digits, the first not 0,
/// and a `+86` number is a mainland mobile number (11 national digits starting with 1).
public struct PhoneNumber: Sendable, Equatable, Hashable {
    /// The number as given, e.g. `+8613800138000` (already canonical: E.164 has one spelling).
    public let e164: String
    /// The country calling code without `+`, e.g. `86`, `852`, `1`.
    public let countryCode: String

    /// Mainland China (`+86`). Every other code, including `+852`, `+853` and `+886`, is international (§3).
    public var isMainland: Bool { countryCode == "86" }

    /// The digits after the calling code.
    public var nationalNumber: String { String(e164.dropFirst(1 + countryCode.count)) }

    /// The calling code, six stars and the last four digits: `+86******5678`.
    ///
    /// Always exactly six stars whatever the number's length, so a mask does not reveal how many
    /// digits it hides. Events and logs carry only this form (§2).
    public var masked: String { "+\(countryCode)******\(e164.suffix(4))" }

    /// The ISO 3166 alpha-2 country of the calling code (`CN` for `+86`), `nil` for an unlisted code.
    public var isoCountry: String? { Self.isoCountry(forCallingCode: countryCode) }

    private init(e164: String, countryCode: String) {
        self.e164 = e164
        self.countryCode = countryCode
    }

    /// Parses an E.164 number; `nil` when it is not one (→ `INVALID_PHONE`).
    ///
    /// No spaces, dashes or other spellings are accepted: the phone is also a Kafka key and a
    /// look-up key, so only the one canonical form may enter. The calling code is the longest
    /// prefix found in the table; see `callingCode(ofDigits:)` for codes not in it.
    public static func parse(_ text: String) -> PhoneNumber? {
        let bytes = Array(text.utf8)
        guard bytes.first == UInt8(ascii: "+") else { return nil }
        let digits = bytes.dropFirst()
        guard (8...15).contains(digits.count), digits.allSatisfy({ (0x30...0x39).contains($0) }),
            digits.first != UInt8(ascii: "0")
        else { return nil }
        let digitString = String(decoding: digits, as: UTF8.self)
        let code = callingCode(ofDigits: digitString)
        if code == "86" {
            // Mainland numbers registered here are mobile numbers: 1 followed by ten digits.
            let national = digitString.dropFirst(2)
            guard national.count == 11, national.first == "1" else { return nil }
        }
        return PhoneNumber(e164: text, countryCode: code)
    }

    /// The ISO 3166 alpha-2 country for a calling code (`"86"` → `CN`), `nil` when the code is not listed.
    ///
    /// A code shared by several countries maps to its main one (`1` → `US`, `7` → `RU`, `44` → `GB`);
    /// telling Canada from the US would need the area code, which this table does not model.
    public static func isoCountry(forCallingCode code: String) -> String? {
        callingCodes[code]
    }

    /// The calling code at the start of `digits` (the number without `+`).
    ///
    /// Longest listed prefix first. ITU calling codes are prefix-free: codes starting with 1 or 7 are
    /// one digit, every two-digit code is listed, and all others are three digits. So a number whose
    /// code is not in the table (a spare or non-geographic code such as 800 or 882) takes its first
    /// three digits as the best-effort code.
    static func callingCode(ofDigits digits: String) -> String {
        for length in stride(from: 3, through: 1, by: -1) {
            let prefix = String(digits.prefix(length))
            if callingCodes[prefix] != nil { return prefix }
        }
        return String(digits.prefix(3))
    }

    /// Calling code → ISO 3166 alpha-2 of its main country (ITU-T E.164 assignments).
    ///
    /// `XK` (Kosovo, +383) is the widely used user-assigned code, not an official ISO entry.
    static let callingCodes: [String: String] = [
        "1": "US", "7": "RU",
        "20": "EG", "27": "ZA", "30": "GR", "31": "NL", "32": "BE", "33": "FR", "34": "ES", "36": "HU", "39": "IT",
        "40": "RO", "41": "CH", "43": "AT", "44": "GB", "45": "DK", "46": "SE", "47": "NO", "48": "PL", "49": "DE",
        "51": "PE", "52": "MX", "53": "CU", "54": "AR", "55": "BR", "56": "CL", "57": "CO", "58": "VE",
        "60": "MY", "61": "AU", "62": "ID", "63": "PH", "64": "NZ", "65": "SG", "66": "TH",
        "81": "JP", "82": "KR", "84": "VN", "86": "CN",
        "90": "TR", "91": "IN", "92": "PK", "93": "AF", "94": "LK", "95": "MM", "98": "IR",
        "211": "SS", "212": "MA", "213": "DZ", "216": "TN", "218": "LY",
        "220": "GM", "221": "SN", "222": "MR", "223": "ML", "224": "GN", "225": "CI", "226": "BF", "227": "NE",
        "228": "TG", "229": "BJ", "230": "MU", "231": "LR", "232": "SL", "233": "GH", "234": "NG", "235": "TD",
        "236": "CF", "237": "CM", "238": "CV", "239": "ST", "240": "GQ", "241": "GA", "242": "CG", "243": "CD",
        "244": "AO", "245": "GW", "246": "IO", "248": "SC", "249": "SD", "250": "RW", "251": "ET", "252": "SO",
        "253": "DJ", "254": "KE", "255": "TZ", "256": "UG", "257": "BI", "258": "MZ", "260": "ZM", "261": "MG",
        "262": "RE", "263": "ZW", "264": "NA", "265": "MW", "266": "LS", "267": "BW", "268": "SZ", "269": "KM",
        "290": "SH", "291": "ER", "297": "AW", "298": "FO", "299": "GL",
        "350": "GI", "351": "PT", "352": "LU", "353": "IE", "354": "IS", "355": "AL", "356": "MT", "357": "CY",
        "358": "FI", "359": "BG", "370": "LT", "371": "LV", "372": "EE", "373": "MD", "374": "AM", "375": "BY",
        "376": "AD", "377": "MC", "378": "SM", "379": "VA", "380": "UA", "381": "RS", "382": "ME", "383": "XK",
        "385": "HR", "386": "SI", "387": "BA", "389": "MK",
        "420": "CZ", "421": "SK", "423": "LI",
        "500": "FK", "501": "BZ", "502": "GT", "503": "SV", "504": "HN", "505": "NI", "506": "CR", "507": "PA",
        "508": "PM", "509": "HT", "590": "GP", "591": "BO", "592": "GY", "593": "EC", "594": "GF", "595": "PY",
        "596": "MQ", "597": "SR", "598": "UY", "599": "CW",
        "670": "TL", "672": "NF", "673": "BN", "674": "NR", "675": "PG", "676": "TO", "677": "SB", "678": "VU",
        "679": "FJ", "680": "PW", "681": "WF", "682": "CK", "683": "NU", "685": "WS", "686": "KI", "687": "NC",
        "688": "TV", "689": "PF", "690": "TK", "691": "FM", "692": "MH",
        "850": "KP", "852": "HK", "853": "MO", "855": "KH", "856": "LA", "880": "BD", "886": "TW",
        "960": "MV", "961": "LB", "962": "JO", "963": "SY", "964": "IQ", "965": "KW", "966": "SA", "967": "YE",
        "968": "OM", "970": "PS", "971": "AE", "972": "IL", "973": "BH", "974": "QA", "975": "BT", "976": "MN",
        "977": "NP", "992": "TJ", "993": "TM", "994": "AZ", "995": "GE", "996": "KG", "998": "UZ",
    ]
}
