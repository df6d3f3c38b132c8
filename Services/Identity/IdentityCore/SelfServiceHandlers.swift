import Contract
import Foundation
import Messaging
import Platform
import Postgres

struct UpdateProfile: Decodable, Sendable {
    var displayName: String?
    var avatarRef: String?
}

/// `profile.update`, and the owner's reads `account.get` and `devices.list` (issue 16). Each acts
/// on the caller's own account: the session names it, so there is no account to get wrong.
enum SelfServiceHandlers {
    static func register(_ router: inout Router, _ context: IdentityContext) {
        router.command("profile.update", UpdateProfile.self) { session, command, _ in
            let caller = try LoginHandlers.signedIn(session, command.envelope, now: command.receivedAt)
            let data = command.data
            guard data.displayName != nil || data.avatarRef != nil else {
                throw MalformedMessage.invalid(field: "data.displayName")
            }
            let name = try data.displayName.map { name in
                guard let valid = ProfileRules.displayName(name) else {
                    throw MalformedMessage.invalid(field: "data.displayName")
                }
                return valid
            }
            if let ref = data.avatarRef, !ProfileRules.avatarRefIsValid(ref) {
                throw MalformedMessage.invalid(field: "data.avatarRef")
            }
            try AccountStore.updateProfile(
                session, accountID: caller.accountID, displayName: name, avatarRef: data.avatarRef)
            return try .ok(AccountStore.view(session, accountID: caller.accountID, now: command.receivedAt))
        }
        router.command("account.get", EmptyPayload.self) { session, command, _ in
            let now = command.receivedAt
            let caller = try LoginHandlers.signedIn(session, command.envelope, now: now)
            return try .ok(AccountStore.view(session, accountID: caller.accountID, now: now))
        }
        router.command("devices.list", EmptyPayload.self) { session, command, effects in
            let caller = try LoginHandlers.signedIn(session, command.envelope, now: command.receivedAt)
            effects.concerns(caller.accountID)  // The reply names no account: filed for the purge.
            return try .ok(
                ["devices": try AccountStore.devices(session, accountID: caller.accountID, current: caller.deviceID)])
        }
    }
}
