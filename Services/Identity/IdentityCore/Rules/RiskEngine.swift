import Contract
import Foundation
import Platform

/// The verification a registration must pass before its account is created (§6), weakest first.
public enum StepUpLevel: String, Codable, Sendable, Comparable, CaseIterable {
    /// SMS verification only (every registration passes it).
    case basic
    /// Behaviour scores (`typingRhythmScore`, `swipeScore`) at or above `risk.behaviorMinScore`.
    case medium
    /// A passed liveness check.
    case high

    /// Orders by strength: basic < medium < high.
    public static func < (lhs: StepUpLevel, rhs: StepUpLevel) -> Bool { lhs.rank < rhs.rank }

    private var rank: Int {
        switch self {
        case .basic: 0
        case .medium: 1
        case .high: 2
        }
    }
}

/// A risk factor of §6, named as in `risk.assessed` and the policy's step-up table.
public enum RiskFactor: String, Codable, Sendable, CaseIterable {
    /// No stored fingerprint matches at or above the similarity threshold.
    case newDevice = "new_device"
    /// The IP is a known proxy.
    case proxyIP = "proxy_ip"
    /// Started between `lateNightStartHour` and `lateNightEndHour` in the IP's time zone.
    case lateNight = "late_night"
    /// The IP's country differs from the phone's.
    case geoAnomaly = "geo_anomaly"
    /// At least `burstStarts` starts from the device or IP within `burstWindow`.
    case burst
}

/// What the risk engine knows about one registration. The handler gathers it; the engine reads no state.
public struct RiskInput: Sendable {
    /// The registration, the unit of the deterministic draw.
    public var registrationId: String
    /// Whether a stored fingerprint matches at or above `devices.similarityThreshold`.
    public var knownDevice: Bool
    /// The IP of `registration.start`.
    public var ip: IPInfo
    /// The phone's ISO 3166 alpha-2 country (`PhoneNumber.isoCountry`), `nil` when unknown.
    public var phoneCountry: String?
    /// Starts from this device or IP within `risk.burstWindow`, this one included.
    public var startsFromDeviceOrIPInWindow: Int
    /// When the registration started.
    public var startedAt: Date

    /// Creates an input.
    public init(
        registrationId: String, knownDevice: Bool, ip: IPInfo, phoneCountry: String?,
        startsFromDeviceOrIPInWindow: Int, startedAt: Date
    ) {
        self.registrationId = registrationId
        self.knownDevice = knownDevice
        self.ip = ip
        self.phoneCountry = phoneCountry
        self.startsFromDeviceOrIPInWindow = startsFromDeviceOrIPInWindow
        self.startedAt = startedAt
    }
}

/// The engine's verdict, recorded and published as `risk.assessed`.
public struct RiskAssessment: Codable, Sendable, Equatable {
    /// The level the registration must pass.
    public var level: StepUpLevel
    /// The factors shown, by name (`new_device`, …), sorted.
    public var factors: [String]

    /// Creates an assessment.
    public init(level: StepUpLevel, factors: [String]) {
        self.level = level
        self.factors = factors
    }
}

/// The risk engine of §6: factors, then a deterministic per-factor draw against the step-up table.
public enum RiskEngine {
    /// The factors `input` shows and the level they require.
    ///
    /// Each factor with a row in `policy.stepUp` draws `u` in [0, 1) from the keyed hash of
    /// `registrationId:factor` (`draw(key:registrationId:factor:)`): `u < high` → high, else
    /// `u < medium` → medium, else basic — so among registrations showing the factor the shares
    /// match the table, and a replay draws the same. A factor without a row (by default
    /// `geo_anomaly` and `burst`) forces at least medium. The level is the highest of all; no factor → basic.
    public static func assess(_ input: RiskInput, policy: Policy.Risk, key: [UInt8]) -> RiskAssessment {
        let shown = factors(input, policy: policy)
        var level = StepUpLevel.basic
        for factor in shown {
            let required: StepUpLevel
            if let share = policy.stepUp[factor] {
                let u = draw(key: key, registrationId: input.registrationId, factor: factor)
                required = u < share.high ? .high : u < share.medium ? .medium : .basic
            } else {
                required = .medium
            }
            level = max(level, required)
        }
        return RiskAssessment(level: level, factors: shown)
    }

    /// The names of the factors `input` shows, sorted.
    public static func factors(_ input: RiskInput, policy: Policy.Risk) -> [String] {
        var shown: [RiskFactor] = []
        if !input.knownDevice { shown.append(.newDevice) }
        if input.ip.proxy { shown.append(.proxyIP) }
        if isLateNight(input.startedAt, timeZone: input.ip.timezone, policy: policy) { shown.append(.lateNight) }
        // ISO codes are uppercase by definition; compare case-insensitively so "cn" and "CN" agree.
        if let phoneCountry = input.phoneCountry, input.ip.country.uppercased() != phoneCountry.uppercased() {
            shown.append(.geoAnomaly)
        }
        if input.startsFromDeviceOrIPInWindow >= policy.burstStarts { shown.append(.burst) }
        return shown.map(\.rawValue).sorted()
    }

    /// Whether `date`'s local hour in `timeZone` lies in [`lateNightStartHour`, `lateNightEndHour`).
    ///
    /// An unknown time-zone identifier is read as UTC. A start hour after the end hour wraps past
    /// midnight (22 → 6 means 22:00–05:59).
    public static func isLateNight(_ date: Date, timeZone: String, policy: Policy.Risk) -> Bool {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: timeZone) ?? .gmt
        let hour = calendar.component(.hour, from: date)
        let start = policy.lateNightStartHour
        let end = policy.lateNightEndHour
        return start <= end ? (start..<end).contains(hour) : (hour >= start || hour < end)
    }

    /// The deterministic draw in [0, 1) for `factor` of `registrationId`.
    ///
    /// HMAC-SHA256(key, UTF-8 of `registrationId:factor`); the first 8 bytes, big-endian, as a fraction
    /// of 2^64. Only the top 53 bits are used (a `Double`'s precision), so the result is exactly
    /// representable and never rounds up to 1.
    public static func draw(key: [UInt8], registrationId: String, factor: String) -> Double {
        let mac = Sodium.hmacSHA256(key: key, message: Array("\(registrationId):\(factor)".utf8))
        let bits = mac.prefix(8).reduce(UInt64(0)) { ($0 << 8) | UInt64($1) }
        return Double(bits >> 11) / 9_007_199_254_740_992  // 2^53
    }
}
