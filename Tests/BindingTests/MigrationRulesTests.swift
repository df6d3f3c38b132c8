import Foundation
import Platform
import Testing

@testable import BindingCore

@Suite struct MigrationRulesTests {
    let policy = Policy().binding
    let now = Date(timeIntervalSince1970: 1_795_680_000)
    let day = 86_400.0

    func item(_ kind: ManifestItem.Kind, daysAgo: Double = 1, compatible: Bool? = nil) -> ManifestItem {
        ManifestItem(
            id: UUID().uuidString, kind: kind, at: now.addingTimeInterval(-daysAgo * day), compatible: compatible)
    }

    func classify(_ item: ManifestItem) -> MigrationOutcome { MigrationRules.classify(item, now: now, policy: policy) }

    @Test func eachKindHasItsOutcome() {
        #expect(classify(item(.text, daysAgo: 89.9)) == .auto)
        #expect(classify(item(.text, daysAgo: 90)) == .auto)
        #expect(classify(item(.text, daysAgo: 90.01)) == .impossible)
        #expect(classify(item(.image)) == .manual)
        #expect(classify(item(.video)) == .manual)
        #expect(classify(item(.redPacket)) == .impossible)
        #expect(classify(item(.transfer)) == .impossible)
        #expect(classify(item(.friend)) == .needsConfirmation)
        #expect(classify(item(.group)) == .externalGroup)
        #expect(classify(item(.officialAccount)) == .refollow)
        #expect(classify(item(.sticker)) == .auto)
        #expect(classify(item(.wallet)) == .withdrawThenRecharge)
        #expect(classify(item(.sticker, compatible: true)) == .auto)
        #expect(classify(item(.sticker, compatible: false)) == .flagged)
    }

    @Test func refusals() {
        #expect(
            MigrationRules.decide(hasSourceBinding: false, freeStorageBytes: 1 << 40, policy: policy)
                == .bindingRequired)
        let fiveGB: Int64 = 5 * 1024 * 1024 * 1024
        #expect(
            MigrationRules.decide(hasSourceBinding: true, freeStorageBytes: fiveGB - 1, policy: policy)
                == .insufficientStorage(required: fiveGB))
        #expect(MigrationRules.decide(hasSourceBinding: true, freeStorageBytes: fiveGB, policy: policy) == .plan)
    }

    @Test func oneHundredThousandItemsAreCountedWithoutKeepingThem() {
        // Generated lazily: the manifest never exists as an array, and the counts are all that is kept.
        let kinds = ManifestItem.Kind.allCases
        let manifest = (0..<100_000).lazy.map { n -> ManifestItem in
            let kind = kinds[n % kinds.count]
            return ManifestItem(
                id: "item-\(n)", kind: kind, at: now.addingTimeInterval(-Double(n % 200) * day),
                compatible: kind == .sticker ? n % 2 == 0 : nil)
        }
        let counts = MigrationRules.count(manifest, now: now, policy: policy)
        // The expected counts, item by item.
        var expected: [MigrationOutcome: Int] = [:]
        for n in 0..<100_000 {
            let outcome: MigrationOutcome
            switch kinds[n % kinds.count] {
            case .text: outcome = n % 200 <= 90 ? .auto : .impossible
            case .image, .video: outcome = .manual
            case .redPacket, .transfer: outcome = .impossible
            case .friend: outcome = .needsConfirmation
            case .group: outcome = .externalGroup
            case .officialAccount: outcome = .refollow
            case .sticker: outcome = n % 2 == 0 ? .auto : .flagged
            case .wallet: outcome = .withdrawThenRecharge
            }
            expected[outcome, default: 0] += 1
        }
        #expect(counts.total == 100_000)
        for outcome in MigrationOutcome.allCases {
            #expect(counts[outcome] == expected[outcome, default: 0], "\(outcome)")
        }
        #expect(counts.byOutcome.values.reduce(0, +) == 100_000)
        #expect(MemoryLayout<PlanCounts>.size <= 16)
    }

    @Test func itemsAreCheckedWhenDecoded() throws {
        let decoder = JSONDecoder()
        func decode(_ json: String) throws -> ManifestItem {
            try decoder.decode(ManifestItem.self, from: Data(json.utf8))
        }
        let text = try decode(#"{"id": "1", "kind": "text", "at": "2026-11-26T08:00:00.000Z"}"#)
        #expect(text.kind == .text && text.at != nil)
        #expect(try decode(#"{"id": "2", "kind": "text", "at": "2026-11-26T16:00:00+08:00"}"#).at == text.at)
        #expect(try decode(#"{"id": "3", "kind": "red_packet"}"#).kind == .redPacket)
        #expect(try decode(#"{"id": "4", "kind": "sticker", "compatible": false}"#).compatible == false)
        #expect(throws: DecodingError.self) { try decode(#"{"id": "5", "kind": "voice"}"#) }
        #expect(throws: DecodingError.self) { try decode(#"{"id": "6", "kind": "text"}"#) }
        #expect(throws: DecodingError.self) { try decode(#"{"id": "7", "kind": "image", "at": "yesterday"}"#) }
    }
}
