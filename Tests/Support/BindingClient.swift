import Contract
import Directory
import Foundation
import Messaging
import Platform

/// Drives `binding.commands` as a client app would; on a private instance (where identity does not
/// run) it stands in for identity and deregistration by publishing their events.
public struct BindingClient: Sendable {
    public let client: RegistrarClient

    public init(client: RegistrarClient = TestStack.client) { self.client = client }

    /// A command on `binding.commands`.
    public func send(_ type: String, _ data: [String: JSONValue], session: String?) async throws
        -> IdentityClient.Answer
    {
        IdentityClient.Answer(
            event: try await client.request(
                RegistrarClient.command(type: type, data: .object(data), sessionToken: session),
                topic: "binding.commands"))
    }

    /// Sends until the reply is not `UNAUTHENTICATED` (a fresh session reaches binding through
    /// identity's events a moment later).
    public func sendAuthenticated(_ type: String, _ data: [String: JSONValue], session: String) async throws
        -> IdentityClient.Answer
    {
        try await TestStack.retrying {
            try await send(type, data, session: session)
        }
    }

    /// `binding.link`.
    public func link(
        _ accountId: String, _ provider: String, external: String = BindingClient.externalID(),
        mode: String = "secondary",
        scopes: [String], session: String
    ) async throws -> IdentityClient.Answer {
        try await sendAuthenticated(
            "binding.link",
            [
                "accountId": .string(accountId), "provider": .string(provider), "externalAccountId": .string(external),
                "mode": .string(mode), "scopes": .array(scopes.map(JSONValue.string)),
            ], session: session)
    }

    /// `binding.unlink`.
    public func unlink(_ accountId: String, _ provider: String, session: String) async throws -> IdentityClient.Answer {
        try await sendAuthenticated(
            "binding.unlink", ["accountId": .string(accountId), "provider": .string(provider)], session: session)
    }

    /// `migration.start` with `items`.
    public func migrate(_ accountId: String, freeStorageBytes: Int64 = 8 << 30, items: [JSONValue], session: String)
        async throws -> IdentityClient.Answer
    {
        try await sendAuthenticated(
            "migration.start",
            [
                "accountId": .string(accountId),
                "manifest": .object(["freeStorageBytes": .int(freeStorageBytes), "items": .array(items)]),
            ], session: session)
    }

    /// A manifest item.
    public static func item(_ kind: String, at: Date? = Date(), compatible: Bool? = nil) -> JSONValue {
        var item: [String: JSONValue] = ["id": .string(UUID().uuidString), "kind": .string(kind)]
        if let at { item["at"] = .string(CloudEvent.timestamp(at)) }
        if let compatible { item["compatible"] = .bool(compatible) }
        return .object(item)
    }

    /// A fresh external account id.
    public static func externalID() -> String { "ext-\(UUID().uuidString.prefix(12).lowercased())" }

    /// Publishes an event of `service` about an account (as that service would).
    public func publish(_ service: RegistrarService, _ type: String, accountId: String, data: [String: JSONValue] = [:])
        async throws
    {
        var payload = data
        payload["accountId"] = .string(accountId)
        let event = CloudEvent(
            source: service.source, type: type, time: Date(), subject: accountId, data: .object(payload))
        try await client.sendRaw(event.encoded(), topic: service.eventTopic, key: accountId)
    }

    /// A new account with a live session, made known the way identity would (`session.opened`);
    /// for private instances, where identity does not run.
    public func openSession() async throws -> (accountId: String, sessionToken: String) {
        let accountId = UUID().uuidString.lowercased()
        return (accountId, try await SessionStandIn.open(for: accountId, client: client))
    }

    /// `bindings.list` with the session (naming `accountId` when given).
    public func list(session: String, accountId: String? = nil) async throws -> IdentityClient.Answer {
        try await sendAuthenticated(
            "bindings.list", accountId.map { ["accountId": .string($0)] } ?? [:], session: session)
    }

    /// `migration.get` with the session (naming `accountId` when given).
    public func latestPlan(session: String, accountId: String? = nil) async throws -> IdentityClient.Answer {
        try await sendAuthenticated(
            "migration.get", accountId.map { ["accountId": .string($0)] } ?? [:], session: session)
    }

    /// Events of `type` on `binding.events` about `subject`, read from the beginning for `window`.
    public func events(_ type: String, subject: String? = nil, window: Duration = .seconds(8)) async throws
        -> [CloudEvent]
    {
        try await client.read(topic: "binding.events", timeout: window) { _ in false }.compactMap(\.event).filter {
            $0.type == type && (subject == nil || $0.subject == subject)
        }
    }
}
