import Contract
import Foundation
import Platform

/// Why a device may not start a registration (§4 `registration.start`, the device rows).
public enum RegistrationEntryRefusal: Equatable, Sendable {
    /// `REGISTRATION_NOT_AVAILABLE_ON_WEB`.
    case webNotAvailable
    /// `SCAN_REQUIRED`: a desktop without a valid scan ticket.
    case scanRequired
    /// `EMULATOR_FORBIDDEN`.
    case emulatorForbidden
    /// `DEVICE_UNSUPPORTED`, with a human-readable reason for the reply's `message`.
    case deviceUnsupported(reason: String)
}

/// Device entry rules, outcome flags and hardware identity (§3 `device`, §4); what counts as the
/// same device is `DeviceRecognition` (Contract).
public enum DeviceRules {
    /// The first entry rule `device` breaks, in the contract's order, or `nil` when it may register.
    ///
    /// Order: web, then desktop without a valid scan ticket, then emulator, then the minimums. Desktops
    /// that arrive with a valid ticket have no minimum of their own (the scanning phone was checked
    /// when it registered). Anything the minimum check cannot read — an unparsable OS version, an iOS
    /// chip without an `A<n>` number, an Android device without `ramMB` — is unsupported: the rule
    /// fails closed.
    public static func entryCheck(
        device: DeviceInfo, hasValidScanTicket: Bool, policy: Policy.Registration
    ) -> RegistrationEntryRefusal? {
        if device.platform == .web { return .webNotAvailable }
        if device.platform == .windows || device.platform == .macos, !hasValidScanTicket { return .scanRequired }
        if device.emulator { return .emulatorForbidden }
        return minimumRefusal(device: device, policy: policy)
    }

    /// The account flags a device that passed `entryCheck` brings with it.
    ///
    /// Rooted or jailbroken → `restricted: ["payment"]`; a custom ROM (a non-blank `customRom`) not on
    /// the push whitelist → warning `PUSH_WHITELIST_REQUIRED`. A missing `pushWhitelisted` counts as not
    /// whitelisted.
    public static func outcomeFlags(device: DeviceInfo) -> (restricted: [String], warnings: [String]) {
        let restricted = device.rooted ? ["payment"] : []
        let hasCustomRom = !(device.customRom ?? "").trimmingCharacters(in: .whitespaces).isEmpty
        let warnings = hasCustomRom && device.pushWhitelisted != true ? ["PUSH_WHITELIST_REQUIRED"] : []
        return (restricted, warnings)
    }

    /// Whether a device is below the device matrix's recommended configuration (issue 18): an
    /// Apple chip before `A<recommendedAppleChip>`, a Snapdragon below `recommendedSnapdragon` or a
    /// Kirin below `recommendedKirin` (any platform). A chip of another family, or none, is not
    /// judged: the matrix names no bar for it (docs/decisions.md).
    public static func isBelowRecommended(device: DeviceInfo, policy: Policy.Registration) -> Bool {
        guard let chip = device.chip else { return false }
        if device.platform == .ios, let generation = appleChipGeneration(chip) {
            return generation < policy.recommendedAppleChip
        }
        if let model = chipModel(chip, family: "snapdragon") { return model < policy.recommendedSnapdragon }
        if let model = chipModel(chip, family: "kirin") { return model < policy.recommendedKirin }
        return false
    }

    /// The model number after `family` in `chip` (`"Snapdragon 660"` → 660, `"HiSilicon Kirin 980"`
    /// → 980). A numbered generation (`"Snapdragon 8 Gen 2"`) is newer than any three-digit model:
    /// `Int.max`. `nil` when the family is not named or no number follows it.
    public static func chipModel(_ chip: String, family: String) -> Int? {
        let words = chip.lowercased().split(whereSeparator: { $0 == " " || $0 == "-" || $0 == "_" }).map(String.init)
        guard let index = words.firstIndex(of: family), index + 1 < words.count else { return nil }
        let digits = words[index + 1].prefix { $0.isASCII && $0.isNumber }
        guard let number = Int(digits) else { return nil }
        if index + 2 < words.count, words[index + 2].hasPrefix("gen") { return Int.max }
        return number
    }

    /// The accounts to sign out of a device before one more signs in (issue 18: at most
    /// `devices.maxSignedInAccountsPerDevice` accounts signed in on one device). The least recently
    /// used go first (docs/decisions.md: signing the oldest out, as a phone's account switcher does,
    /// rather than refusing the newest). `others` are the other accounts signed in there, with
    /// when each last used it.
    public static func accountsToSignOut(others: [(accountId: String, lastUsed: Date)], policy: Policy.Devices)
        -> [String]
    {
        let excess = others.count - (policy.maxSignedInAccountsPerDevice - 1)
        guard excess > 0 else { return [] }
        return others.sorted { ($0.lastUsed, $0.accountId) < ($1.lastUsed, $1.accountId) }.prefix(excess).map(
            \.accountId)
    }

    /// The fingerprint attribute an Android registration must carry (the article's "Android reads
    /// the IMEI"); iOS is never asked for it.
    public static let androidIMEIKey = "imeiHash"

    /// Whether a registering device carries what its platform must: Android the IMEI hash.
    public static func hasRequiredIdentifiers(_ device: DeviceInfo) -> Bool {
        device.platform != .android || !(device.fingerprint[androidIMEIKey] ?? "").isEmpty
    }

    /// The hardware identity of a fingerprint: its non-empty `imeiHash` and `serialHash` entries.
    ///
    /// A login whose identity equals a bound device's but whose similarity is below the threshold is a
    /// fingerprint mismatch (hardware changed). Empty values are left out so that two devices that
    /// both lack an IMEI are not taken for the same device.
    public static func hardwareIdentity(_ fingerprint: [String: String]) -> [String: String] {
        fingerprint.filter { key, value in hardwareIdentityKeys.contains(key) && !value.isEmpty }
    }

    /// The fingerprint attributes that identify the hardware itself.
    public static let hardwareIdentityKeys: Set<String> = ["imeiHash", "serialHash"]

    /// Whether `fingerprint` is usable under the policy (`DeviceRecognition.isUsable`).
    public static func isUsable(_ fingerprint: [String: String], policy: Policy.Devices) -> Bool {
        DeviceRecognition.isUsable(
            fingerprint, minAttributes: policy.minFingerprintAttributes,
            maxValueLength: policy.maxFingerprintValueLength)
    }

    /// Whether dotted version `version` is at least `minimum` (`"17.2"` ≥ 11, `"7.1.2"` ≥ 7, `"10"` ≥ 9).
    ///
    /// Compares numerically, component by component, missing components counting as 0. `nil` when
    /// `version` is not dotted decimal numbers.
    public static func version(_ version: String, isAtLeast minimum: Double) -> Bool? {
        guard let have = versionComponents(version), let need = versionComponents(minimumText(minimum)) else {
            return nil
        }
        for index in 0..<max(have.count, need.count) {
            let a = index < have.count ? have[index] : 0
            let b = index < need.count ? need[index] : 0
            if a != b { return a > b }
        }
        return true
    }

    /// The generation number of an Apple A-series chip: `"A12"`, `"A12 Bionic"`, `"Apple A9"`, `"A10X Fusion"`
    /// → 12, 12, 9, 10. `nil` when no word starts with `A` followed by digits.
    public static func appleChipGeneration(_ chip: String) -> Int? {
        for word in chip.split(whereSeparator: { $0 == " " || $0 == "-" || $0 == "_" }) {
            guard word.first == "A" else { continue }
            let digits = word.dropFirst().prefix { $0.isASCII && $0.isNumber }
            if !digits.isEmpty, let number = Int(digits) { return number }
        }
        return nil
    }

    // MARK: - Minimums

    private static func minimumRefusal(device: DeviceInfo, policy: Policy.Registration) -> RegistrationEntryRefusal? {
        switch device.platform {
        case .ios:
            if let refusal = osRefusal(device, name: "iOS", minimum: policy.iosMinVersion) { return refusal }
            guard let generation = device.chip.flatMap(appleChipGeneration) else {
                return .deviceUnsupported(
                    reason: "unrecognised chip \(device.chip ?? "(none)"); A\(policy.iosMinChip) or later is required")
            }
            if generation < policy.iosMinChip {
                return .deviceUnsupported(reason: "chip A\(generation) is below the minimum A\(policy.iosMinChip)")
            }
        case .android:
            if let refusal = osRefusal(device, name: "Android", minimum: policy.androidMinVersion) { return refusal }
            guard let ram = device.ramMB else {
                return .deviceUnsupported(
                    reason: "memory not reported; \(policy.androidMinRamMB) MB or more is required")
            }
            if ram < policy.androidMinRamMB {
                return .deviceUnsupported(
                    reason: "\(ram) MB of memory is below the minimum \(policy.androidMinRamMB) MB")
            }
        case .harmonyos:
            return osRefusal(device, name: "HarmonyOS", minimum: policy.harmonyosMinVersion)
        case .windows, .macos, .web:
            break
        }
        return nil
    }

    private static func osRefusal(_ device: DeviceInfo, name: String, minimum: Double) -> RegistrationEntryRefusal? {
        switch version(device.osVersion, isAtLeast: minimum) {
        case true?: return nil
        case false?:
            return .deviceUnsupported(
                reason: "\(name) \(device.osVersion) is below the minimum \(minimumText(minimum))")
        case nil:
            return .deviceUnsupported(reason: "unreadable \(name) version \(device.osVersion)")
        }
    }

    /// The policy's minimum as a dotted version: 11.0 → `11`, 7.1 → `7.1`.
    ///
    /// The policy stores minimums as numbers, so `10.10` cannot be told from `10.1`; no minimum in the
    /// contract needs a two-digit minor version.
    private static func minimumText(_ minimum: Double) -> String {
        minimum == minimum.rounded() && abs(minimum) < 1e15 ? String(Int(minimum)) : String(minimum)
    }

    private static func versionComponents(_ text: String) -> [Int]? {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: ".", omittingEmptySubsequences: false)
        guard !parts.isEmpty else { return nil }
        var numbers: [Int] = []
        for part in parts {
            // Only ASCII digits: Int("+1") and non-ASCII numerals are not version components.
            guard !part.isEmpty, part.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(part) else {
                return nil
            }
            numbers.append(number)
        }
        return numbers
    }
}
