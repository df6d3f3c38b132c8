import Foundation
import Platform

/// ID and bank-card numbers at rest: encrypted under `REGISTRAR_PII_KEY`, looked up by a keyed
/// hash under `REGISTRAR_HASH_KEY`. Neither form can be reversed without its key.
///
/// Sealed values start with a format byte: `1` = AES-256-GCM (random 96-bit nonce, tag 16 bytes),
/// the cipher chosen when the CPU has AES-NI (libsodium's AES-GCM has no software fallback); `2` =
/// XChaCha20-Poly1305 (random 192-bit nonce) on CPUs without it. Reading dispatches on the byte, so
/// rows written by either stay readable. The associated data binds each value to its account, its
/// method and its row, so a sealed number copied into another row does not open.
struct PIIProtection: Sendable {
    var piiKey: [UInt8]
    var hashKey: [UInt8]

    static let aes256GCM: UInt8 = 1
    static let xChaCha20Poly1305: UInt8 = 2

    /// Encrypts `plaintext` for row `rowID` of `accountID`.
    func seal(_ plaintext: [UInt8], method: String, accountID: String, rowID: String) -> [UInt8] {
        let associated = Self.associatedData(method: method, accountID: accountID, rowID: rowID)
        if let sealed = Sodium.sealAES256GCM(plaintext, key: piiKey, associatedData: associated) {
            return [Self.aes256GCM] + sealed
        }
        return [Self.xChaCha20Poly1305] + Sodium.seal(plaintext, key: piiKey, associatedData: associated)
    }

    /// Decrypts what `seal` produced for the same row; `nil` when anything does not match.
    func open(_ sealed: [UInt8], method: String, accountID: String, rowID: String) -> [UInt8]? {
        guard let format = sealed.first else { return nil }
        let associated = Self.associatedData(method: method, accountID: accountID, rowID: rowID)
        let body = Array(sealed.dropFirst())
        switch format {
        case Self.aes256GCM: return Sodium.openAES256GCM(body, key: piiKey, associatedData: associated)
        case Self.xChaCha20Poly1305: return Sodium.open(body, key: piiKey, associatedData: associated)
        default: return nil
        }
    }

    /// The look-up form of a normalised number: HMAC-SHA256 of `method:number`.
    func lookupHash(method: String, number: String) -> [UInt8] {
        SecretCodes.keyedHash("verification:\(method):\(number)", key: hashKey)
    }

    static func associatedData(method: String, accountID: String, rowID: String) -> [UInt8] {
        Array("registrar.identity.verifications:\(method):\(accountID):\(rowID)".utf8)
    }
}
