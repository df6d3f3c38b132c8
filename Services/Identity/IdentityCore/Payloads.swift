import Contract
import Foundation
import Messaging

/// `platform` of the contract (§3).
public enum DevicePlatform: String, Codable, Sendable, CaseIterable {
    case ios, android, harmonyos, windows, macos, web

    /// Phones and tablets, which register directly and can approve desktop scans.
    public var isMobile: Bool { self == .ios || self == .android || self == .harmonyos }
}

/// `device` of the contract (§3).
public struct DeviceInfo: Codable, Sendable, Equatable {
    public var platform: DevicePlatform
    public var osVersion: String
    public var model: String
    public var chip: String?
    public var ramMB: Int?
    public var emulator: Bool
    public var rooted: Bool
    public var customRom: String?
    public var pushWhitelisted: Bool?
    /// Attribute name → value; at least `devices.minFingerprintAttributes` of them.
    public var fingerprint: [String: String]

    public init(
        platform: DevicePlatform, osVersion: String, model: String, chip: String? = nil, ramMB: Int? = nil,
        emulator: Bool = false, rooted: Bool = false, customRom: String? = nil, pushWhitelisted: Bool? = nil,
        fingerprint: [String: String]
    ) {
        self.platform = platform
        self.osVersion = osVersion
        self.model = model
        self.chip = chip
        self.ramMB = ramMB
        self.emulator = emulator
        self.rooted = rooted
        self.customRom = customRom
        self.pushWhitelisted = pushWhitelisted
        self.fingerprint = fingerprint
    }
}

/// `ip` of the contract (§3).
public struct IPInfo: Codable, Sendable, Equatable {
    public var address: String
    public var proxy: Bool
    public var country: String
    public var timezone: String

    public init(address: String, proxy: Bool = false, country: String = "CN", timezone: String = "Asia/Shanghai") {
        self.address = address
        self.proxy = proxy
        self.country = country
        self.timezone = timezone
    }
}
