import Contract
import Foundation
import Messaging
import Platform

/// Biometric sign-in (issue 18) as a device would do it: an Ed25519 key pair standing in for the
/// one the phone keeps behind Face ID or the fingerprint reader.
extension IdentityClient {
    /// A device's key pair.
    public struct DeviceKey: Sendable {
        public var publicKey: [UInt8]
        public var secretKey: [UInt8]

        /// A fresh key pair.
        public init() { (publicKey, secretKey) = Sodium.ed25519KeyPair() }

        /// The public key as `device.key.register` takes it.
        public var publicKeyBase64: String { Data(publicKey).base64EncodedString() }

        /// The signature (base64) of a `login.challenge`'s `challenge` (base64).
        public func sign(challenge: String) -> String {
            let message = Data(base64Encoded: challenge).map(Array.init) ?? []
            return Data(Sodium.ed25519Sign(message, secretKey: secretKey)).base64EncodedString()
        }
    }

    /// `device.key.register` with the session of the device.
    public func registerKey(_ key: DeviceKey, session: String?, algorithm: String = "ed25519") async throws -> Answer {
        try await send(
            "device.key.register",
            ["publicKey": .string(key.publicKeyBase64), "algorithm": .string(algorithm)], session: session)
    }

    /// `login.challenge`.
    public func loginChallenge(accountId: String, deviceId: String) async throws -> Answer {
        try await send("login.challenge", ["accountId": .string(accountId), "deviceId": .string(deviceId)])
    }

    /// `login.with_device_key` answering `challenge` with `key`'s signature.
    public func signIn(accountId: String, deviceId: String, challenge: Answer, key: DeviceKey) async throws -> Answer {
        try await send(
            "login.with_device_key",
            [
                "accountId": .string(accountId), "deviceId": .string(deviceId),
                "challengeId": .string(challenge.string("challengeId") ?? ""),
                "signature": .string(key.sign(challenge: challenge.string("challenge") ?? "")),
            ])
    }

    /// `login.challenge` then `login.with_device_key`.
    public func signInWithKey(accountId: String, deviceId: String, key: DeviceKey) async throws -> Answer {
        let challenge = try await loginChallenge(accountId: accountId, deviceId: deviceId)
        guard challenge.code == "OK" else { return challenge }
        return try await signIn(accountId: accountId, deviceId: deviceId, challenge: challenge, key: key)
    }
}
