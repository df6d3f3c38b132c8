import Contract
import Directory
import Foundation
import Messaging
import Platform

/// Sessions made known the way identity makes them known (`session.opened` on `identity.events`,
/// the token's hash only), for private instances where identity does not run.
public enum SessionStandIn {
    /// A live session of `accountId`, valid `validity` seconds from now (a day by default; longer for
    /// tests that move their instance's clock further), announced on `client`'s topics; returns the token.
    public static func open(for accountId: String, client: RegistrarClient, validity: TimeInterval = 86_400)
        async throws -> String
    {
        let token = Sodium.randomBytes(32).hexString
        let event = CloudEvent(
            source: RegistrarService.identity.source, type: EventType.sessionOpened.rawValue, time: Date(),
            subject: accountId,
            data: .object([
                "accountId": .string(accountId), "platform": .string("android"),
                "tokenHash": .string(SessionDirectory.tokenHash(token).hexString),
                "expiresAt": .string(CloudEvent.timestamp(Date().addingTimeInterval(validity))),
            ]))
        try await client.sendRaw(event.encoded(), topic: RegistrarService.identity.eventTopic, key: accountId)
        return token
    }
}
