import Platform
import Testing

@testable import IdentityCore

@Suite struct DeviceRulesTests {
    let policy = Policy().registration

    func device(
        _ platform: DevicePlatform, os: String = "17.2", chip: String? = "A12 Bionic", ramMB: Int? = 4096,
        emulator: Bool = false, rooted: Bool = false, customRom: String? = nil, pushWhitelisted: Bool? = nil
    ) -> DeviceInfo {
        DeviceInfo(
            platform: platform, osVersion: os, model: "model", chip: chip, ramMB: ramMB, emulator: emulator,
            rooted: rooted, customRom: customRom, pushWhitelisted: pushWhitelisted, fingerprint: [:])
    }

    func isUnsupported(_ refusal: RegistrationEntryRefusal?) -> Bool {
        if case .deviceUnsupported? = refusal { return true }
        return false
    }

    // MARK: - Entry check

    @Test func currentPhonesPass() {
        #expect(DeviceRules.entryCheck(device: device(.ios), hasValidScanTicket: false, policy: policy) == nil)
        #expect(
            DeviceRules.entryCheck(
                device: device(.android, os: "14", chip: "Snapdragon 660"), hasValidScanTicket: false, policy: policy)
                == nil)
        #expect(
            DeviceRules.entryCheck(
                device: device(.harmonyos, os: "4.0.0", chip: "Kirin 980", ramMB: nil), hasValidScanTicket: false,
                policy: policy) == nil)
    }

    @Test func webIsRefusedFirst() {
        // Even a web client with a scan ticket on an emulator gets the web refusal: it is checked first.
        let web = device(.web, os: "junk", emulator: true)
        #expect(DeviceRules.entryCheck(device: web, hasValidScanTicket: true, policy: policy) == .webNotAvailable)
    }

    @Test(arguments: [DevicePlatform.windows, .macos])
    func desktopsNeedAValidScanTicket(_ platform: DevicePlatform) {
        let desktop = device(platform, os: "10", chip: nil, ramMB: nil)
        #expect(DeviceRules.entryCheck(device: desktop, hasValidScanTicket: false, policy: policy) == .scanRequired)
        #expect(DeviceRules.entryCheck(device: desktop, hasValidScanTicket: true, policy: policy) == nil)
        // The scan check comes before the emulator check.
        let emulated = device(platform, emulator: true)
        #expect(DeviceRules.entryCheck(device: emulated, hasValidScanTicket: false, policy: policy) == .scanRequired)
        #expect(
            DeviceRules.entryCheck(device: emulated, hasValidScanTicket: true, policy: policy) == .emulatorForbidden)
    }

    @Test func emulatorsAreRefusedBeforeTheMinimums() {
        let old = device(.android, os: "5", ramMB: 512, emulator: true)
        #expect(DeviceRules.entryCheck(device: old, hasValidScanTicket: false, policy: policy) == .emulatorForbidden)
    }

    @Test(arguments: [
        ("11", "A9", true), ("10.3.4", "A12", false), ("17.2", "A8", false), ("11.0", "Apple A9", true),
        ("16", "A10X Fusion", true), ("17", "Apple M1", false), ("17", "Bionic", false), ("17", "", false),
        ("abc", "A15", false), ("17.", "A15", false), ("", "A15", false),
    ])
    func iosNeedsVersionAndChip(_ os: String, _ chip: String, _ passes: Bool) {
        let refusal = DeviceRules.entryCheck(
            device: device(.ios, os: os, chip: chip), hasValidScanTicket: false, policy: policy)
        #expect(passes ? refusal == nil : isUnsupported(refusal))
    }

    @Test func iosWithoutAChipIsUnsupported() {
        let refusal = DeviceRules.entryCheck(device: device(.ios, chip: nil), hasValidScanTicket: false, policy: policy)
        #expect(isUnsupported(refusal))
    }

    @Test(
        arguments: [
            ("7", 2048, true), ("7.1.2", 3072, true), ("6.0.1", 4096, false), ("10", 2047, false), ("14", nil, false),
            ("Q", 4096, false),
        ] as [(String, Int?, Bool)])
    func androidNeedsVersionAndMemory(_ os: String, _ ram: Int?, _ passes: Bool) {
        let refusal = DeviceRules.entryCheck(
            device: device(.android, os: os, chip: "Snapdragon 660", ramMB: ram), hasValidScanTicket: false,
            policy: policy)
        #expect(passes ? refusal == nil : isUnsupported(refusal))
    }

    @Test(arguments: [("2", true), ("2.0.1", true), ("3.0", true), ("1.9", false), ("HarmonyOS 3", false)])
    func harmonyosNeedsVersion(_ os: String, _ passes: Bool) {
        let refusal = DeviceRules.entryCheck(
            device: device(.harmonyos, os: os, chip: "Kirin 980", ramMB: 1024), hasValidScanTicket: false,
            policy: policy)
        #expect(passes ? refusal == nil : isUnsupported(refusal))
    }

    @Test func minimumsComeFromThePolicy() {
        var strict = policy
        strict.iosMinVersion = 16
        strict.iosMinChip = 14
        strict.androidMinRamMB = 8192
        #expect(isUnsupported(DeviceRules.entryCheck(device: device(.ios), hasValidScanTicket: false, policy: strict)))
        #expect(
            isUnsupported(
                DeviceRules.entryCheck(device: device(.ios, chip: "A13"), hasValidScanTicket: false, policy: strict)))
        #expect(
            DeviceRules.entryCheck(device: device(.ios, chip: "A14"), hasValidScanTicket: false, policy: strict) == nil)
        #expect(
            isUnsupported(DeviceRules.entryCheck(device: device(.android), hasValidScanTicket: false, policy: strict)))
    }

    @Test func versionsCompareNumerically() {
        #expect(DeviceRules.version("17.2", isAtLeast: 11) == true)
        #expect(DeviceRules.version("7.1.2", isAtLeast: 7) == true)
        #expect(DeviceRules.version("7", isAtLeast: 7) == true)
        #expect(DeviceRules.version("10", isAtLeast: 9) == true)
        #expect(DeviceRules.version("9.9.9", isAtLeast: 10) == false)
        #expect(DeviceRules.version("7.0", isAtLeast: 7.1) == false)
        #expect(DeviceRules.version("7.10", isAtLeast: 7.2) == true)
        #expect(DeviceRules.version(" 12.1 ", isAtLeast: 12) == true)
        #expect(DeviceRules.version("12..1", isAtLeast: 12) == nil)
        #expect(DeviceRules.version("12.1-beta", isAtLeast: 12) == nil)
        #expect(DeviceRules.version("-12", isAtLeast: 12) == nil)
    }

    @Test func appleChipGenerations() {
        #expect(DeviceRules.appleChipGeneration("A12") == 12)
        #expect(DeviceRules.appleChipGeneration("A12 Bionic") == 12)
        #expect(DeviceRules.appleChipGeneration("Apple A9") == 9)
        #expect(DeviceRules.appleChipGeneration("A10X Fusion") == 10)
        #expect(DeviceRules.appleChipGeneration("Apple") == nil)
        #expect(DeviceRules.appleChipGeneration("Snapdragon 660") == nil)
    }

    // MARK: - Outcome flags

    @Test func rootedDevicesAreRestrictedFromPayment() {
        let flags = DeviceRules.outcomeFlags(device: device(.android, rooted: true))
        #expect(flags.restricted == ["payment"])
        #expect(flags.warnings.isEmpty)
        #expect(DeviceRules.outcomeFlags(device: device(.android)).restricted.isEmpty)
    }

    @Test func customRomsWithoutPushWhitelistGetAWarning() {
        #expect(
            DeviceRules.outcomeFlags(device: device(.android, customRom: "MIUI")).warnings == [
                "PUSH_WHITELIST_REQUIRED"
            ])
        #expect(
            DeviceRules.outcomeFlags(device: device(.android, customRom: "EMUI", pushWhitelisted: false)).warnings
                == ["PUSH_WHITELIST_REQUIRED"])
        #expect(
            DeviceRules.outcomeFlags(device: device(.android, customRom: "MIUI", pushWhitelisted: true)).warnings
                .isEmpty)
        #expect(DeviceRules.outcomeFlags(device: device(.android, customRom: nil)).warnings.isEmpty)
        #expect(DeviceRules.outcomeFlags(device: device(.android, customRom: " ")).warnings.isEmpty)
    }

    // MARK: - Fingerprints

    func fingerprint(_ count: Int, prefix: String = "v") -> [String: String] {
        Dictionary(uniqueKeysWithValues: (0..<count).map { ("attr\($0)", "\(prefix)\($0)") })
    }

    @Test func hardwareIdentityKeepsImeiAndSerialHashes() {
        var print = fingerprint(20)
        #expect(DeviceRules.hardwareIdentity(print).isEmpty)
        print["imeiHash"] = "abc"
        print["serialHash"] = "def"
        #expect(DeviceRules.hardwareIdentity(print) == ["imeiHash": "abc", "serialHash": "def"])
        print["serialHash"] = ""
        #expect(DeviceRules.hardwareIdentity(print) == ["imeiHash": "abc"])
    }

    @Test func fingerprintsNeedEnoughNonEmptyAttributes() {
        let devices = Policy().devices
        #expect(DeviceRules.isUsable(fingerprint(20), policy: devices))
        #expect(!DeviceRules.isUsable(fingerprint(19), policy: devices))
        var withBlank = fingerprint(20)
        withBlank["attr3"] = ""
        #expect(!DeviceRules.isUsable(withBlank, policy: devices))
    }
}
