import Foundation
import Platform

/// One-time codes, tokens and the keyed hashes they are stored under.
///
/// Codes and tokens are stored only as hashes: SMS codes under a keyed hash (six digits are too few
/// to resist a plain-hash dictionary), session tokens under SHA-256 (32 random bytes need no key).
public enum SecretCodes {
    /// A code of `length` decimal digits from the CSPRNG, leading zeros allowed (`"004217"`).
    ///
    /// Each digit is `Sodium.randomUniform(10)`, which is unbiased (no modulo bias).
    public static func smsCode(length: Int) -> String {
        Sodium.randomDigits(length)
    }

    /// HMAC-SHA256 of `value`'s UTF-8 under `key`.
    public static func keyedHash(_ value: String, key: [UInt8]) -> [UInt8] {
        Sodium.hmacSHA256(key: key, message: Array(value.utf8))
    }

    /// A fresh opaque token: 32 bytes from the CSPRNG as 64 lowercase hex characters.
    public static func newToken() -> String {
        Sodium.randomBytes(32).hexString
    }

    /// SHA-256 of `token`'s UTF-8, the form a token is stored and looked up in.
    public static func tokenHash(_ token: String) -> [UInt8] {
        Sodium.sha256(Array(token.utf8))
    }
}
