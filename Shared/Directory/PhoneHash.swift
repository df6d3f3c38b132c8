import Platform

/// The keyed hash under which services other than identity know a phone number
/// (HMAC-SHA256 with `REGISTRAR_HASH_KEY`, hex): equal phones give equal hashes, and nobody
/// without the key can test a guess.
public enum PhoneHash {
    /// The hash of an E.164 phone number.
    public static func of(_ e164: String, key: [UInt8]) -> String {
        Sodium.hmacSHA256(key: key, message: Array("phone:\(e164)".utf8)).hexString
    }
}
