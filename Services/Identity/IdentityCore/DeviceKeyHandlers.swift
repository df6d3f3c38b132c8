import Contract
import Directory
import Foundation
import Messaging
import Platform
import Postgres

struct RegisterDeviceKey: Decodable, Sendable {
    var publicKey: String
    var algorithm: String
}

struct RemoveDeviceKey: Decodable, Sendable {
    /// The caller's own device when absent.
    var deviceId: String?
}

struct DeviceKeyChallengeRequest: Decodable, Sendable {
    var accountId: String
    var deviceId: String
}

struct DeviceKeyLogin: Decodable, Sendable {
    var accountId: String
    var deviceId: String
    var challengeId: String
    var signature: String
}

/// Biometric sign-in (issue 18, the platform table's biometric column): `device.key.register` and
/// `device.key.remove` (a session on the bound device), `login.challenge` and
/// `login.with_device_key` (no session: they sign in).
enum DeviceKeyHandlers {
    static func register(_ router: inout Router, _ context: IdentityContext) {
        router.command("device.key.register", RegisterDeviceKey.self) { session, command, effects in
            try registerKey(session, command, &effects, context)
        }
        router.command("device.key.remove", RemoveDeviceKey.self) { session, command, effects in
            try removeKey(session, command, &effects, context)
        }
        router.command("login.challenge", DeviceKeyChallengeRequest.self) { session, command, _ in
            try challenge(session, command, context)
        }
        router.command("login.with_device_key", DeviceKeyLogin.self, sensitive: true) { session, command, effects in
            try signIn(session, command, &effects, context)
        }
    }

    static func registerKey(
        _ session: borrowing PostgresSession, _ command: Command<RegisterDeviceKey>, _ effects: inout MessageEffects,
        _ context: IdentityContext
    ) throws -> Reply {
        let now = command.receivedAt
        let caller = try LoginHandlers.signedIn(session, command.envelope, now: now)
        let device = try caller.deviceID.flatMap { try LoginStore.boundDevice(session, id: $0) }
        let accepted = DeviceKeyRules.acceptKey(
            algorithm: command.data.algorithm, publicKey: command.data.publicKey,
            platform: device?.platform ?? caller.platform.rawValue, onBoundDevice: device != nil,
            policy: context.policy.devices)
        let algorithm: DeviceKeyAlgorithm
        let key: [UInt8]
        switch accepted {
        case .success(let (a, k)):
            algorithm = a
            key = k
        case .failure(.biometricNotSupported):
            return notSupported()
        case .failure(.algorithmUnsupported):
            return .rejected(
                .keyAlgorithmUnsupported, "this key algorithm is not supported",
                result: .object(["supported": .array(DeviceKeyAlgorithm.allCases.map { .string($0.rawValue) })]))
        case .failure(.malformedKey):
            throw MalformedMessage.invalid(field: "data.publicKey")
        }
        guard let deviceID = caller.deviceID, let device else { return notSupported() }
        let keyID = IdentityStore.newID()
        if let old = try DeviceKeyStore.replace(
            session, keyID: keyID, accountID: caller.accountID, deviceID: deviceID, algorithm: algorithm,
            publicKey: key,
            now: now)
        {
            try effects.emit(
                .deviceKeyRemoved, subject: caller.accountID,
                data: DeviceKeyEvent(
                    accountId: caller.accountID, deviceId: deviceID, keyId: old.id, algorithm: old.algorithm,
                    reason: "replaced"))
        }
        try effects.emit(
            .deviceKeyRegistered, subject: caller.accountID,
            data: DeviceKeyEvent(
                accountId: caller.accountID, deviceId: deviceID, keyId: keyID, algorithm: algorithm.rawValue))
        return try .ok([
            "keyId": keyID, "deviceId": deviceID, "algorithm": algorithm.rawValue, "platform": device.platform,
        ])
    }

    static func removeKey(
        _ session: borrowing PostgresSession, _ command: Command<RemoveDeviceKey>, _ effects: inout MessageEffects,
        _ context: IdentityContext
    ) throws -> Reply {
        let now = command.receivedAt
        let caller = try LoginHandlers.signedIn(session, command.envelope, now: now)
        guard let deviceID = command.data.deviceId?.lowercased() ?? caller.deviceID else {
            return .rejected(.deviceKeyNotFound, "this session is not on a bound device; name the device")
        }
        guard let device = try LoginStore.boundDevice(session, id: deviceID) else {
            return .rejected(.deviceNotFound, "no bound device with that id")
        }
        guard device.accountID == caller.accountID else {
            return .rejected(.forbidden, "the device belongs to another account")
        }
        let removed = try DeviceKeyStore.remove(
            session, accountID: caller.accountID, .device(deviceID), reason: "removed", effects: &effects)
        guard removed > 0 else { return .rejected(.deviceKeyNotFound, "the device has no key") }
        return try .ok(["deviceId": deviceID])
    }

    /// A single-use challenge for a device holding a key; a new one replaces the device's open one.
    /// No session: the device is signing in. Another account's device, an unknown one or one without
    /// a key are alike (`DEVICE_KEY_NOT_FOUND`).
    static func challenge(
        _ session: borrowing PostgresSession, _ command: Command<DeviceKeyChallengeRequest>, _ context: IdentityContext
    ) throws -> Reply {
        let now = command.receivedAt
        let accountID = command.data.accountId.lowercased()
        let deviceID = command.data.deviceId.lowercased()
        guard UUID(uuidString: accountID) != nil else { throw MalformedMessage.invalid(field: "data.accountId") }
        guard UUID(uuidString: deviceID) != nil else { throw MalformedMessage.invalid(field: "data.deviceId") }
        guard let device = try LoginStore.boundDevice(session, id: deviceID), device.accountID == accountID else {
            return .rejected(.deviceKeyNotFound, "no device key for this account and device")
        }
        guard DeviceKeyRules.platformSupportsKeys(device.platform, policy: context.policy.devices) else {
            return notSupported()
        }
        guard try DeviceKeyStore.key(session, deviceID: deviceID) != nil else {
            return .rejected(.deviceKeyNotFound, "no device key for this account and device")
        }
        let challengeID = IdentityStore.newID()
        let nonce = Sodium.randomBytes(32)
        let expiresAt = DeviceKeyRules.challengeExpiry(now: now, policy: context.policy.devices)
        try DeviceKeyStore.openChallenge(
            session, id: challengeID, accountID: accountID, deviceID: deviceID, nonce: nonce, now: now,
            expiresAt: expiresAt)
        let message = DeviceKeyRules.signedMessage(
            accountID: accountID, deviceID: deviceID, challengeID: challengeID, nonce: nonce)
        return try .ok([
            "challengeId": challengeID, "challenge": Data(message).base64EncodedString(),
            "expiresAt": CloudEvent.timestamp(expiresAt),
        ])
    }

    /// A biometric sign-in: the same rules as a password `login` on a known device — a temporary
    /// lock answers first, a wrong signature counts like a wrong password (`login.failed`, reason
    /// `device_key`), then the lock and the freeze, then a session on the device (the device's
    /// signed-in account limit applies) with `login.succeeded` (`method: device_key`) and the
    /// verification guidance. The challenge is spent by the first answer, right or wrong.
    static func signIn(
        _ session: borrowing PostgresSession, _ command: Command<DeviceKeyLogin>, _ effects: inout MessageEffects,
        _ context: IdentityContext
    ) throws -> Reply {
        let data = command.data
        let now = command.receivedAt
        let policy = context.policy
        let accountID = data.accountId.lowercased()
        let deviceID = data.deviceId.lowercased()
        guard let challenge = try DeviceKeyStore.challenge(session, id: data.challengeId, now: now),
            challenge.accountID == accountID, challenge.deviceID == deviceID
        else {
            return .rejected(.challengeNotFound, "no open challenge with that id for this device")
        }
        try DeviceKeyStore.spendChallenge(session, id: challenge.id, now: now)
        guard let account = try LoginStore.account(session, id: accountID) else {
            return .rejected(.challengeNotFound, "no open challenge with that id for this device")
        }
        if let retryAfter = LoginRules.retryAfterSeconds(lockedUntil: account.counters.lockedUntil, now: now) {
            return LoginHandlers.temporarilyLocked(retryAfterSeconds: retryAfter)
        }
        guard let key = try DeviceKeyStore.key(session, deviceID: deviceID), key.accountID == accountID,
            let device = try LoginStore.boundDevice(session, id: deviceID)
        else {
            return .rejected(.deviceKeyNotFound, "no device key for this account and device")
        }
        let message = DeviceKeyRules.signedMessage(
            accountID: accountID, deviceID: deviceID, challengeID: challenge.id, nonce: challenge.nonce)
        guard
            DeviceKeyRules.verify(
                signature: data.signature, message: message, publicKey: key.publicKey, algorithm: key.algorithm)
        else {
            return try LoginHandlers.countFailure(
                session, accountID: accountID, account.counters, reason: "device_key", now: now, policy: policy.login,
                effects: &effects)
        }
        if let refusal = try LoginHandlers.admitVerified(session, account) { return refusal }
        try DeviceKeyStore.markUsed(session, keyID: key.id, now: now)
        let platform = DevicePlatform(rawValue: device.platform) ?? .android
        let opened = try SessionStore.open(
            session, accountID: accountID, deviceID: deviceID, platform: platform, now: now, policy: policy,
            effects: &effects)
        try effects.emit(
            .loginSucceeded, subject: accountID,
            data: DeviceEvent(accountId: accountID, deviceId: deviceID, platform: device.platform, method: "device_key")
        )
        return try .ok(
            AccountResult(
                accountId: accountID, session: opened, deviceId: deviceID,
                guidance: VerificationRules.guidance(
                    try VerificationStore.tier(session, accountID: accountID), now: now)))
    }

    static func notSupported() -> Reply {
        .rejected(
            .biometricNotSupported,
            "biometric sign-in needs a bound iOS, Android or HarmonyOS device; Windows, macOS and the web have none")
    }
}

/// A stored device key.
struct DeviceKey {
    var id: String
    var accountID: String
    var algorithm: DeviceKeyAlgorithm
    var publicKey: [UInt8]
}

/// An open `login.challenge`, locked.
struct DeviceKeyChallenge {
    var id: String
    var accountID: String
    var deviceID: String
    var nonce: [UInt8]
}

/// The SQL of device keys and their challenges (migration 0019).
enum DeviceKeyStore {
    /// Which keys `remove` deletes.
    enum Scope {
        /// Every key of the account.
        case all
        /// The key of one device.
        case device(String)
        /// Every key but the one of this device (`nil`: every key).
        case allExcept(String?)
    }

    /// Stores the device's key, replacing the one it had; returns the replaced key's id and algorithm.
    static func replace(
        _ session: borrowing PostgresSession, keyID: String, accountID: String, deviceID: String,
        algorithm: DeviceKeyAlgorithm, publicKey: [UInt8], now: Date
    ) throws -> (id: String, algorithm: String)? {
        let old = try session.query(
            "DELETE FROM device_keys WHERE device_id = \(deviceID)::uuid RETURNING id::text AS id, algorithm"
        ).first
        try session.query(
            """
            INSERT INTO device_keys (id, account_id, device_id, algorithm, public_key, registered_at)
            VALUES (\(keyID)::uuid, \(accountID)::uuid, \(deviceID)::uuid, \(algorithm.rawValue),
                    \(PostgresBytes(publicKey)), \(now))
            """)
        // A new key voids every challenge the old one could have answered.
        try session.query("DELETE FROM device_key_challenges WHERE device_id = \(deviceID)::uuid")
        guard let old else { return nil }
        return (try old.decode("id"), try old.decode("algorithm"))
    }

    /// The device's key.
    static func key(_ session: borrowing PostgresSession, deviceID: String) throws -> DeviceKey? {
        guard UUID(uuidString: deviceID) != nil,
            let row = try session.query(
                """
                SELECT id::text AS id, account_id::text AS account_id, algorithm, public_key
                FROM device_keys WHERE device_id = \(deviceID)::uuid
                """
            ).first,
            let algorithm = DeviceKeyAlgorithm(rawValue: try row.decode("algorithm"))
        else { return nil }
        return DeviceKey(
            id: try row.decode("id"), accountID: try row.decode("account_id"), algorithm: algorithm,
            publicKey: try row.decode("public_key", as: PostgresBytes.self).bytes)
    }

    /// Deletes keys (and their devices' open challenges), announcing each with `device.key_removed`
    /// and `reason`; returns how many.
    @discardableResult
    static func remove(
        _ session: borrowing PostgresSession, accountID: String, _ scope: Scope, reason: String,
        effects: inout MessageEffects
    ) throws -> Int {
        var only: String?
        var except: String?
        switch scope {
        case .all: break
        case .device(let id): only = id
        case .allExcept(let id): except = id
        }
        let rows = try session.query(
            """
            DELETE FROM device_keys
            WHERE account_id = \(accountID)::uuid
              AND (\(only)::uuid IS NULL OR device_id = \(only)::uuid)
              AND (\(except)::uuid IS NULL OR device_id <> \(except)::uuid)
            RETURNING id::text AS id, device_id::text AS device_id, algorithm
            """)
        var removed: [DeviceKeyEvent] = []
        for row in rows {
            removed.append(
                DeviceKeyEvent(
                    accountId: accountID, deviceId: try row.decode("device_id"), keyId: try row.decode("id"),
                    algorithm: try row.decode("algorithm"), reason: reason))
        }
        guard !removed.isEmpty else { return 0 }
        try session.query(
            """
            DELETE FROM device_key_challenges
            WHERE account_id = \(accountID)::uuid AND device_id = ANY(\(removed.map(\.deviceId))::uuid[])
            """)
        for event in removed {
            try effects.emit(.deviceKeyRemoved, subject: accountID, data: event)
        }
        return removed.count
    }

    /// Opens a challenge; the device's earlier ones (open, spent or expired) are deleted, so a device
    /// keeps at most one row and the table needs no pruner. A deleted challenge is not found, as a
    /// spent one is.
    static func openChallenge(
        _ session: borrowing PostgresSession, id: String, accountID: String, deviceID: String, nonce: [UInt8],
        now: Date, expiresAt: Date
    ) throws {
        try session.query("DELETE FROM device_key_challenges WHERE device_id = \(deviceID)::uuid")
        try session.query(
            """
            INSERT INTO device_key_challenges (id, account_id, device_id, nonce, created_at, expires_at)
            VALUES (\(id)::uuid, \(accountID)::uuid, \(deviceID)::uuid, \(PostgresBytes(nonce)), \(now), \(expiresAt))
            """)
    }

    /// Loads and locks an open, unexpired challenge.
    static func challenge(_ session: borrowing PostgresSession, id: String, now: Date) throws -> DeviceKeyChallenge? {
        guard UUID(uuidString: id) != nil,
            let row = try session.query(
                """
                SELECT id::text AS id, account_id::text AS account_id, device_id::text AS device_id, nonce
                FROM device_key_challenges
                WHERE id = \(id.lowercased())::uuid AND used_at IS NULL AND expires_at > \(now) FOR UPDATE
                """
            ).first
        else { return nil }
        return DeviceKeyChallenge(
            id: try row.decode("id"), accountID: try row.decode("account_id"), deviceID: try row.decode("device_id"),
            nonce: try row.decode("nonce", as: PostgresBytes.self).bytes)
    }

    /// Marks a challenge answered (right or wrong: single use).
    static func spendChallenge(_ session: borrowing PostgresSession, id: String, now: Date) throws {
        try session.query("UPDATE device_key_challenges SET used_at = \(now) WHERE id = \(id)::uuid")
    }

    /// Records a sign-in with the key.
    static func markUsed(_ session: borrowing PostgresSession, keyID: String, now: Date) throws {
        try session.query("UPDATE device_keys SET last_used_at = \(now) WHERE id = \(keyID)::uuid")
    }
}
