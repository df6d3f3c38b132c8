import Contract
import Directory
import Foundation
import Messaging
import Platform
import Postgres

/// `data` of `deregistration.status`: the account is the session's own; `accountId`, when sent,
/// must be it.
struct StatusQuery: Decodable, Sendable {
    var accountId: String?
}

/// `deregistration.status`: where the caller's own account stands (`CooldownRules.status` over its
/// latest request). A read: no lock, no write.
///
/// It needs a live session like every session command, and freezing ends the account's sessions
/// (identity revokes them at `account.frozen`): `cooling_down` is therefore seen only until that
/// revocation reaches this service, `revoked` once the user has signed in again, and `done` never by
/// the account itself (docs/decisions.md, Deregistration).
enum StatusHandler {
    static func register(_ router: inout Router) {
        router.command("deregistration.status", StatusQuery.self) { session, command, _ in
            let now = command.receivedAt
            guard
                let caller = try SessionDirectory.authenticate(session, token: command.envelope.sessiontoken, now: now)
            else { return .rejected(.unauthenticated, "a valid session token is required") }
            if let accountId = command.data.accountId,
                UUID(uuidString: accountId)?.uuidString.lowercased() != caller.accountId
            {
                return .rejected(.forbidden, "a session reads only its own account")
            }
            let latest = try DeregistrationStore.latestRequest(session, accountID: caller.accountId)
            return try .ok(StatusResult(accountId: caller.accountId, CooldownRules.status(of: latest, now: now)))
        }
    }
}

/// `result` of `deregistration.status`: `status` and the times that belong to it.
struct StatusResult: Encodable {
    var accountId: String
    /// `none`, `cooling_down`, `revoked` or `done`.
    var status: String
    var requestedAt: String?
    var cooldownEndsAt: String?
    var revocable: Bool?
    var revokedAt: String?
    var deregisteredAt: String?

    init(accountId: String, _ status: DeregistrationStatus) {
        self.accountId = accountId
        switch status {
        case .none:
            self.status = "none"
        case .coolingDown(let requested, let ends, let revocable):
            self.status = "cooling_down"
            requestedAt = CloudEvent.timestamp(requested)
            cooldownEndsAt = CloudEvent.timestamp(ends)
            self.revocable = revocable
        case .revoked(let requested, let revoked):
            self.status = "revoked"
            requestedAt = CloudEvent.timestamp(requested)
            revokedAt = CloudEvent.timestamp(revoked)
        case .done(let requested, let deregistered):
            self.status = "done"
            requestedAt = CloudEvent.timestamp(requested)
            deregisteredAt = CloudEvent.timestamp(deregistered)
        }
    }
}
