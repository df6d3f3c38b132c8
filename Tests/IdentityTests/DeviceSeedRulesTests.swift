import Contract
import Foundation
import Platform
import Testing

@testable import IdentityCore

/// Issue 18's device rows: the recommended configuration, Android's IMEI, signed-in accounts per device.
@Suite struct DeviceSeedRulesTests {
    let policy = Policy()

    func device(_ platform: DevicePlatform, chip: String?, fingerprint: [String: String] = [:]) -> DeviceInfo {
        DeviceInfo(platform: platform, osVersion: "14", model: "m", chip: chip, ramMB: 4096, fingerprint: fingerprint)
    }

    @Test func theRecommendedConfigurationOfTheDeviceMatrix() {
        let registration = policy.registration
        func below(_ platform: DevicePlatform, _ chip: String?) -> Bool {
            DeviceRules.isBelowRecommended(device: device(platform, chip: chip), policy: registration)
        }
        #expect(below(.ios, "A11 Bionic"))
        #expect(!below(.ios, "A12"))
        #expect(!below(.ios, "A17 Pro"))
        #expect(below(.android, "Snapdragon 450"))
        #expect(!below(.android, "Snapdragon 660"))
        #expect(!below(.android, "Qualcomm Snapdragon 865"))
        #expect(!below(.android, "Snapdragon 8 Gen 2"))
        #expect(below(.android, "Kirin 970"))
        #expect(!below(.harmonyos, "Kirin 980"))
        #expect(below(.harmonyos, "HiSilicon Kirin 710"))
        // No bar is named for other families or a missing chip.
        #expect(!below(.android, "MediaTek Helio G35"))
        #expect(!below(.android, nil))
        #expect(!below(.windows, "Core i7"))
    }

    @Test func chipModels() {
        #expect(DeviceRules.chipModel("Snapdragon 660", family: "snapdragon") == 660)
        #expect(DeviceRules.chipModel("snapdragon-680", family: "snapdragon") == 680)
        #expect(DeviceRules.chipModel("Snapdragon 8 Gen 1", family: "snapdragon") == Int.max)
        #expect(DeviceRules.chipModel("Snapdragon", family: "snapdragon") == nil)
        #expect(DeviceRules.chipModel("Kirin 980", family: "snapdragon") == nil)
    }

    @Test func androidMustCarryTheIMEIAndIOSIsNeverAsked() {
        #expect(!DeviceRules.hasRequiredIdentifiers(device(.android, chip: nil)))
        #expect(!DeviceRules.hasRequiredIdentifiers(device(.android, chip: nil, fingerprint: ["imeiHash": ""])))
        #expect(DeviceRules.hasRequiredIdentifiers(device(.android, chip: nil, fingerprint: ["imeiHash": "h"])))
        #expect(DeviceRules.hasRequiredIdentifiers(device(.ios, chip: "A15")))
        #expect(DeviceRules.hasRequiredIdentifiers(device(.harmonyos, chip: nil)))
    }

    @Test func theLeastRecentlyUsedAccountsMakeRoom() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let devices = policy.devices
        let others = [("c", now), ("a", now.addingTimeInterval(-60)), ("b", now.addingTimeInterval(-30))]
        // Three signed in at most, the new one included: two others stay, a third makes room.
        #expect(DeviceRules.accountsToSignOut(others: [others[0], others[2]], policy: devices).isEmpty)
        #expect(DeviceRules.accountsToSignOut(others: others, policy: devices) == ["a"])
        let crowded = others + [("d", now.addingTimeInterval(-10))]
        #expect(DeviceRules.accountsToSignOut(others: crowded, policy: devices) == ["a", "b"])
    }
}

/// Issue 18: real-name guidance after the SMS step.
@Suite struct VerificationGuidanceTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func theNextStepFollowsTheTierInForce() {
        let later = now.addingTimeInterval(86_400)
        let none = VerificationRules.guidance(TierState(tier: .none, expiresAt: later), now: now)
        #expect(none == VerificationGuidance(tier: "none", tierExpiresAt: later, next: ["bank_card", "id_card"]))
        let card = VerificationRules.guidance(TierState(tier: .bankCard, expiresAt: later), now: now)
        #expect(card == VerificationGuidance(tier: "bank_card", tierExpiresAt: later, next: ["id_card"]))
        #expect(VerificationRules.guidance(TierState(tier: .idCard, expiresAt: nil), now: now) == nil)
        // A lapsed tier counts as none, with no end to show.
        let lapsed = VerificationRules.guidance(TierState(tier: .bankCard, expiresAt: now), now: now)
        #expect(lapsed == VerificationGuidance(tier: "none", tierExpiresAt: nil, next: ["bank_card", "id_card"]))
        #expect(VerificationRules.guidance(nil, now: now)?.next == ["bank_card", "id_card"])
    }
}
