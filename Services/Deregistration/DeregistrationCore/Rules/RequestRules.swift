import Foundation
import Platform

/// Why an account may not start a deregistration, whatever device it asks from.
public enum AccountRefusal: Sendable, Equatable {
    /// The account already has a request in its cool-down (`DEREGISTRATION_PENDING`).
    case pending(cooldownEndsAt: Date)
    /// The account administers enterprises it must hand over first (`ADMIN_TRANSFER_REQUIRED`).
    case adminTransferRequired(enterpriseIds: [String])
}

/// What the requesting device decides once the account may deregister.
public enum DeviceDecision: Sendable, Equatable {
    /// The device was locked before (`DEVICE_LOCKED`).
    case locked
    /// This request would be the device's `deviceLockAt`-th in `deviceWindow`: lock the device
    /// instead, publish `device.locked`, and answer `DEVICE_LOCKED`.
    case lock
    /// Accepted: the account is frozen until `cooldownEndsAt` (`account.frozen`).
    case accept(cooldownEndsAt: Date)
}

/// The rules of `deregistration.request` (contract §4), pure over what the handler loaded.
///
/// They come in two steps because the device is recognised (and a new one recorded) only once the
/// account itself may deregister: a refused account leaves no device behind.
public enum RequestRules {
    /// The account's own refusal, if any: an open cool-down first (a second request changes
    /// nothing), then the enterprises it administers (`adminOf`, in reply order).
    public static func accountRefusal(openCooldownEndsAt: Date?, adminOf: [String]) -> AccountRefusal? {
        if let openCooldownEndsAt { return .pending(cooldownEndsAt: openCooldownEndsAt) }
        if !adminOf.isEmpty { return .adminTransferRequired(enterpriseIds: adminOf) }
        return nil
    }

    /// The device's decision on a request at `now`. `earlierRequests` are the times of the
    /// device's earlier requests (any account, any outcome); those within `deviceWindow` count.
    public static func deviceDecision(locked: Bool, earlierRequests: [Date], now: Date, policy: Policy)
        -> DeviceDecision
    {
        if locked { return .locked }
        let earlier = SlidingWindow.count(earlierRequests, in: policy.deregistration.deviceWindow, endingAt: now)
        // This request itself is the `earlier + 1`-th.
        if earlier + 1 >= policy.deregistration.deviceLockAt { return .lock }
        return .accept(cooldownEndsAt: CooldownRules.end(requestedAt: now, policy: policy))
    }
}
