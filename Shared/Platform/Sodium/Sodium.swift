import CSodium

/// The libsodium primitives Registrar uses. `sodium_init` runs once, before the first call.
public enum Sodium {
    private static let initialized: Bool = sodium_init() >= 0

    private static func ready() {
        precondition(initialized, "sodium_init failed")
    }

    /// `count` bytes from the CSPRNG.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        ready()
        var bytes = [UInt8](repeating: 0, count: count)
        if count > 0 { bytes.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, $0.count) } }
        return bytes
    }

    /// A uniform random integer in `0..<upperBound` from the CSPRNG.
    public static func randomUniform(_ upperBound: UInt32) -> UInt32 {
        ready()
        return randombytes_uniform(upperBound)
    }

    /// `length` decimal digits from the CSPRNG (one-time codes); `randombytes_uniform` is unbiased.
    public static func randomDigits(_ length: Int) -> String {
        String((0..<max(length, 0)).map { _ in Character(String(randomUniform(10))) })
    }

    /// HMAC-SHA256 of `message` under `key` (keyed hashes for look-ups and deterministic draws).
    public static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        ready()
        var state = crypto_auth_hmacsha256_state()
        var out = [UInt8](repeating: 0, count: Int(crypto_auth_hmacsha256_BYTES))
        withNonNull(key) { k, n in _ = crypto_auth_hmacsha256_init(&state, k, n) }
        withNonNull(message) { m, n in _ = crypto_auth_hmacsha256_update(&state, m, UInt64(n)) }
        out.withUnsafeMutableBufferPointer { o in _ = crypto_auth_hmacsha256_final(&state, o.baseAddress!) }
        return out
    }

    /// SHA-256 of `message`.
    public static func sha256(_ message: [UInt8]) -> [UInt8] {
        ready()
        var out = [UInt8](repeating: 0, count: Int(crypto_hash_sha256_BYTES))
        withNonNull(message) { m, n in
            out.withUnsafeMutableBufferPointer { o in _ = crypto_hash_sha256(o.baseAddress!, m, UInt64(n)) }
        }
        return out
    }

    /// XChaCha20-Poly1305 (IETF) encryption of `plaintext` under a 32-byte `key`, bound to
    /// `associatedData`; returns a random 24-byte nonce followed by the ciphertext and tag.
    public static func seal(_ plaintext: [UInt8], key: [UInt8], associatedData: [UInt8]) -> [UInt8] {
        precondition(key.count == Int(crypto_aead_xchacha20poly1305_ietf_KEYBYTES), "seal needs a 32-byte key")
        // Encryption with a key of the right size cannot fail.
        return seal(plaintext, key: key, associatedData: associatedData, with: xchacha20poly1305)!
    }

    /// Decrypts what `seal` produced; `nil` when the key, data or associated data do not match.
    public static func open(_ sealed: [UInt8], key: [UInt8], associatedData: [UInt8]) -> [UInt8]? {
        open(sealed, key: key, associatedData: associatedData, with: xchacha20poly1305)
    }

    /// True when libsodium's AES-256-GCM can run here (it needs the CPU's AES and CLMUL
    /// instructions; libsodium has no software fallback for it).
    public static var aes256GCMAvailable: Bool {
        ready()
        return crypto_aead_aes256gcm_is_available() == 1
    }

    /// AES-256-GCM encryption of `plaintext` under a 32-byte `key`, bound to `associatedData`;
    /// returns a random 12-byte nonce followed by the ciphertext and its 16-byte tag, or `nil`
    /// when AES-256-GCM is not available on this CPU (`aes256GCMAvailable`).
    ///
    /// Nonces are random 96-bit values from the CSPRNG, never counters: no state to keep across
    /// processes or replicas. NIST SP 800-38D bounds random nonces to 2^32 messages per key, far
    /// above the few ID and card numbers an account stores; rotate the key long before that.
    public static func sealAES256GCM(_ plaintext: [UInt8], key: [UInt8], associatedData: [UInt8]) -> [UInt8]? {
        guard aes256GCMAvailable else { return nil }
        return seal(plaintext, key: key, associatedData: associatedData, with: aes256gcm)
    }

    /// Decrypts what `sealAES256GCM` produced; `nil` when the key, data or associated data do not
    /// match, or AES-256-GCM is not available on this CPU.
    public static func openAES256GCM(_ sealed: [UInt8], key: [UInt8], associatedData: [UInt8]) -> [UInt8]? {
        guard aes256GCMAvailable else { return nil }
        return open(sealed, key: key, associatedData: associatedData, with: aes256gcm)
    }

    /// One libsodium AEAD construction: its sizes and its two C functions (which share a signature).
    private struct AEAD: Sendable {
        typealias Encrypt =
            @Sendable (
                UnsafeMutablePointer<UInt8>, UnsafeMutablePointer<UInt64>, UnsafePointer<UInt8>, UInt64,
                UnsafePointer<UInt8>,
                UInt64, UnsafePointer<UInt8>, UnsafePointer<UInt8>
            ) -> Int32
        typealias Decrypt = Encrypt
        let keyBytes: Int
        let nonceBytes: Int
        let tagBytes: Int
        let encrypt: Encrypt
        let decrypt: Decrypt
    }

    private static let xchacha20poly1305 = AEAD(
        keyBytes: Int(crypto_aead_xchacha20poly1305_ietf_KEYBYTES),
        nonceBytes: Int(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES),
        tagBytes: Int(crypto_aead_xchacha20poly1305_ietf_ABYTES),
        encrypt: { crypto_aead_xchacha20poly1305_ietf_encrypt($0, $1, $2, $3, $4, $5, nil, $6, $7) },
        decrypt: { crypto_aead_xchacha20poly1305_ietf_decrypt($0, $1, nil, $2, $3, $4, $5, $6, $7) })

    private static let aes256gcm = AEAD(
        keyBytes: Int(crypto_aead_aes256gcm_KEYBYTES), nonceBytes: Int(crypto_aead_aes256gcm_NPUBBYTES),
        tagBytes: Int(crypto_aead_aes256gcm_ABYTES),
        encrypt: { crypto_aead_aes256gcm_encrypt($0, $1, $2, $3, $4, $5, nil, $6, $7) },
        decrypt: { crypto_aead_aes256gcm_decrypt($0, $1, nil, $2, $3, $4, $5, $6, $7) })

    /// Random nonce, then ciphertext and tag; `nil` for a key of the wrong size or a failure.
    private static func seal(_ plaintext: [UInt8], key: [UInt8], associatedData: [UInt8], with aead: AEAD) -> [UInt8]? {
        ready()
        guard key.count == aead.keyBytes else { return nil }
        let nonce = randomBytes(aead.nonceBytes)
        var out = [UInt8](repeating: 0, count: plaintext.count + aead.tagBytes)
        var length: UInt64 = 0
        let result = run(aead.encrypt, output: &out, length: &length, input: plaintext, associatedData, nonce, key)
        return result == 0 ? nonce + out.prefix(Int(length)) : nil
    }

    /// The plaintext of `seal`'s output; `nil` when anything does not match.
    private static func open(_ sealed: [UInt8], key: [UInt8], associatedData: [UInt8], with aead: AEAD) -> [UInt8]? {
        ready()
        guard key.count == aead.keyBytes, sealed.count >= aead.nonceBytes + aead.tagBytes else { return nil }
        let nonce = Array(sealed.prefix(aead.nonceBytes))
        let ciphertext = Array(sealed.dropFirst(aead.nonceBytes))
        var out = [UInt8](repeating: 0, count: ciphertext.count)
        var length: UInt64 = 0
        let result = run(aead.decrypt, output: &out, length: &length, input: ciphertext, associatedData, nonce, key)
        return result == 0 ? Array(out.prefix(Int(length))) : nil
    }

    /// Calls an AEAD function with non-null pointers to every buffer.
    private static func run(
        _ function: AEAD.Encrypt, output: inout [UInt8], length: inout UInt64, input: [UInt8],
        _ associatedData: [UInt8],
        _ nonce: [UInt8], _ key: [UInt8]
    ) -> Int32 {
        withNonNull(input) { m, mn in
            withNonNull(associatedData) { ad, adn in
                withNonNull(nonce) { n, _ in
                    withNonNull(key) { k, _ in
                        output.withUnsafeMutableBufferPointer { o in
                            function(o.baseAddress!, &length, m, UInt64(mn), ad, UInt64(adn), n, k)
                        }
                    }
                }
            }
        }
    }

    /// The size of an Ed25519 public key.
    public static let ed25519PublicKeyBytes = Int(crypto_sign_PUBLICKEYBYTES)
    /// The size of an Ed25519 signature.
    public static let ed25519SignatureBytes = Int(crypto_sign_BYTES)

    /// Whether `signature` is `publicKey`'s Ed25519 signature of `message` (libsodium's
    /// `crypto_sign_verify_detached`, which also refuses small-order keys and non-canonical
    /// signatures). Wrong sizes are `false`.
    public static func ed25519Verify(signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        ready()
        guard signature.count == ed25519SignatureBytes, publicKey.count == ed25519PublicKeyBytes else { return false }
        return withNonNull(signature) { s, _ in
            withNonNull(message) { m, n in
                withNonNull(publicKey) { k, _ in crypto_sign_verify_detached(s, m, UInt64(n), k) == 0 }
            }
        }
    }

    /// A new Ed25519 key pair (public key, 64-byte secret key): for tests and tools that stand in
    /// for a device; the services only verify.
    public static func ed25519KeyPair() -> (publicKey: [UInt8], secretKey: [UInt8]) {
        ready()
        var publicKey = [UInt8](repeating: 0, count: ed25519PublicKeyBytes)
        var secretKey = [UInt8](repeating: 0, count: Int(crypto_sign_SECRETKEYBYTES))
        _ = crypto_sign_keypair(&publicKey, &secretKey)
        return (publicKey, secretKey)
    }

    /// The Ed25519 signature of `message` under `secretKey` (tests and tools standing in for a device).
    public static func ed25519Sign(_ message: [UInt8], secretKey: [UInt8]) -> [UInt8] {
        ready()
        precondition(secretKey.count == Int(crypto_sign_SECRETKEYBYTES), "an Ed25519 secret key has 64 bytes")
        var signature = [UInt8](repeating: 0, count: ed25519SignatureBytes)
        withNonNull(message) { m, n in
            _ = crypto_sign_detached(&signature, nil, m, UInt64(n), secretKey)
        }
        return signature
    }

    /// Constant-time equality.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        ready()
        guard a.count == b.count else { return false }
        return withNonNull(a) { x, n in withNonNull(b) { y, _ in sodium_memcmp(x, y, n) == 0 } }
    }

    /// An Argon2id PHC string (`$argon2id$v=19$m=…,t=…,p=1$…`) for `password`.
    public static func passwordHash(_ password: String, memoryKiB: Int, iterations: Int) -> String? {
        ready()
        var out = [CChar](repeating: 0, count: Int(crypto_pwhash_STRBYTES))
        let result = withNonNull(Array(password.utf8)) { p, n in
            p.withMemoryRebound(to: CChar.self, capacity: n) { c in
                crypto_pwhash_str_alg(
                    &out, c, UInt64(n), UInt64(iterations), memoryKiB * 1024, crypto_pwhash_ALG_ARGON2ID13)
            }
        }
        guard result == 0 else { return nil }
        return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// libsodium's constant-time verification of `password` against a PHC string.
    public static func passwordVerify(_ password: String, hash: String) -> Bool {
        ready()
        return hash.withCString { h in
            withNonNull(Array(password.utf8)) { p, n in
                p.withMemoryRebound(to: CChar.self, capacity: n) { c in crypto_pwhash_str_verify(h, c, UInt64(n)) == 0 }
            }
        }
    }
}

/// Runs `body` with a non-null pointer to `bytes` (libsodium's arguments are non-null even when empty).
private func withNonNull<T>(_ bytes: [UInt8], _ body: (UnsafePointer<UInt8>, Int) -> T) -> T {
    let storage = bytes.isEmpty ? [0] : bytes
    return storage.withUnsafeBufferPointer { body($0.baseAddress!, bytes.count) }
}

extension Array where Element == UInt8 {
    /// Bytes from hex digits (either case); `nil` for an odd length or a non-hex character.
    public init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        self = bytes
    }

    /// Lowercase hex.
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(count * 2)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xf)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
