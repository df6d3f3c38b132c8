import Contract
import Foundation
import Messaging
import Platform

/// Drives `deregistration.commands` as a client app would; on a private instance (where identity
/// does not run) it stands in for identity by publishing its events.
public struct DeregistrationClient: Sendable {
    public let client: RegistrarClient

    public init(client: RegistrarClient = TestStack.client) { self.client = client }

    /// A command on `deregistration.commands`, sent again while it meets one of `retrying` (a fresh
    /// session, or a fresh account, reaches the service through identity's events a moment later).
    public func send(
        _ type: String, _ data: [String: JSONValue], session: String? = nil,
        retrying codes: Set<String> = ["UNAUTHENTICATED"]
    ) async throws -> IdentityClient.Answer {
        try await TestStack.retrying(while: codes) {
            IdentityClient.Answer(
                event: try await client.request(
                    RegistrarClient.command(type: type, data: .object(data), sessionToken: session),
                    topic: "deregistration.commands"))
        }
    }

    /// `deregistration.request` from the device of `fingerprint`.
    public func request(_ accountId: String, session: String, fingerprint: [String: String]) async throws
        -> IdentityClient.Answer
    {
        try await send(
            "deregistration.request",
            ["accountId": .string(accountId), "deviceFingerprint": .object(fingerprint.mapValues(JSONValue.string))],
            session: session, retrying: ["UNAUTHENTICATED", "ACCOUNT_NOT_FOUND"])
    }

    /// `deregistration.status` with the session (naming `accountId` when given).
    public func status(session: String, accountId: String? = nil, retrying codes: Set<String> = ["UNAUTHENTICATED"])
        async throws -> IdentityClient.Answer
    {
        try await send(
            "deregistration.status", accountId.map { ["accountId": .string($0)] } ?? [:], session: session,
            retrying: codes)
    }

    /// A new account as identity would announce it (`account.registered` with a phone hash) with a
    /// live session (`session.opened`); for private instances, where identity does not run.
    public func openAccount() async throws -> (accountId: String, sessionToken: String) {
        let accountId = UUID().uuidString.lowercased()
        let event = CloudEvent(
            source: RegistrarService.identity.source, type: EventType.accountRegistered.rawValue, time: Date(),
            subject: accountId,
            data: .object(
                IdentityClient.registeredEvent(phoneHash: Sodium.randomBytes(32).hexString).merging([
                    "accountId": .string(accountId)
                ]) { $1 }))
        try await client.sendRaw(event.encoded(), topic: RegistrarService.identity.eventTopic, key: accountId)
        return (accountId, try await SessionStandIn.open(for: accountId, client: client))
    }
}
