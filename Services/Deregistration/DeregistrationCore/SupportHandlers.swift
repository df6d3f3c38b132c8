import Contract
import Directory
import Foundation
import Messaging
import Platform
import Postgres

struct DeviceUnlock: Decodable, Sendable {
    var deviceId: String
    var reason: String
}

/// One deregistration request as support sees it, with the device it came from.
struct SupportRequest: Encodable {
    var requestId: String
    var state: String
    var requestedAt: String
    var cooldownEndsAt: String
    var closedAt: String?
    var deviceId: String
    var deviceLocked: Bool
}

/// `result` of `support.deregistration.lookup`.
struct SupportDeregistrationView: Encodable {
    var status: StatusResult
    var requests: [SupportRequest]
}

/// Deregistration's support commands (issue 17): its part of an account lookup, and lifting a
/// device's deregistration lock (`support.device.unlock`, with a mandatory reason). A lifted
/// device starts over: the requests made from it before count no more towards the next lock.
enum SupportHandlers {
    static func register(_ router: inout Router) {
        router.command("support.deregistration.lookup", SupportQuery.self) { session, command, effects in
            let account = try OperatorDirectory.supportLookup(session, command, effects: &effects)
            let latest = try DeregistrationStore.latestRequest(session, accountID: account)
            let requests = try session.query(
                """
                SELECT r.id::text AS id, r.state, r.requested_at, r.cooldown_ends_at, r.closed_at,
                       r.print_id::text AS print_id, p.locked_at IS NOT NULL AS locked
                FROM requests r JOIN device_prints p ON p.id = r.print_id
                WHERE r.account_id = \(account)::uuid ORDER BY r.requested_at DESC, r.id
                """
            ).map { row in
                SupportRequest(
                    requestId: try row.decode("id"), state: try row.decode("state"),
                    requestedAt: CloudEvent.timestamp(try row.decode("requested_at")),
                    cooldownEndsAt: CloudEvent.timestamp(try row.decode("cooldown_ends_at")),
                    closedAt: (try row.decode("closed_at", as: Date?.self)).map(CloudEvent.timestamp),
                    deviceId: try row.decode("print_id"), deviceLocked: try row.decode("locked"))
            }
            return try .ok(
                SupportDeregistrationView(
                    status: StatusResult(
                        accountId: account, CooldownRules.status(of: latest, now: command.receivedAt)),
                    requests: requests))
        }
        router.command("support.device.unlock", DeviceUnlock.self) { session, command, effects in
            let now = command.receivedAt
            _ = try OperatorDirectory.authorize(session, command.envelope, for: .support, now: now, effects: &effects)
            _ = try OperatorDirectory.reason(command.data.reason, effects: &effects)
            guard let id = UUID(uuidString: command.data.deviceId)?.uuidString.lowercased() else {
                throw MalformedMessage.invalid(field: "data.deviceId")
            }
            guard
                let row = try session.query(
                    "SELECT locked_at IS NOT NULL AS locked FROM device_prints WHERE id = \(id)::uuid FOR UPDATE"
                ).first
            else { return .rejected(.deviceNotFound, "no such device") }
            guard try row.decode("locked", as: Bool.self) else {
                return .rejected(.deviceNotLocked, "the device is not locked for deregistration")
            }
            try session.query("UPDATE device_prints SET locked_at = NULL, unlocked_at = \(now) WHERE id = \(id)::uuid")
            try effects.emit(.deviceUnlocked, subject: id, data: DeviceUnlocked(deviceId: id))
            return try .ok(["deviceId": id])
        }
    }
}
