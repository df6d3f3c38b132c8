import Foundation
import Platform

/// One item of a WeChat migration manifest (contract §4 `migration.start`).
///
/// Decoding checks what the classification needs, so a bad item is `MALFORMED` naming its field
/// (`data.manifest.items[3].kind`): `kind` must be one of `Kind`, and a text item needs `at` (an
/// RFC 3339 time, also checked when other kinds carry it).
public struct ManifestItem: Decodable, Sendable, Equatable {
    /// What the item is.
    public enum Kind: String, Decodable, Sendable, CaseIterable {
        case text, image, video
        case redPacket = "red_packet"
        case transfer, friend, group
        case officialAccount = "official_account"
        case sticker
        /// Not in the contract (issue 18): a WeChat Pay balance.
        case wallet
    }

    /// The client's id of the item.
    public var id: String
    /// What it is.
    public var kind: Kind
    /// When it was sent or created; required for text.
    public var at: Date?
    /// Stickers only: `false` when the sticker's format cannot be shown on the platform (the
    /// client knows the format; absent means compatible).
    public var compatible: Bool?

    /// Creates an item.
    public init(id: String, kind: Kind, at: Date? = nil, compatible: Bool? = nil) {
        self.id = id
        self.kind = kind
        self.at = at
        self.compatible = compatible
    }

    private enum CodingKeys: String, CodingKey { case id, kind, at, compatible }

    /// Decodes and checks an item.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        let kindText = try container.decode(String.self, forKey: .kind)
        guard let kind = Kind(rawValue: kindText) else {
            throw DecodingError.dataCorruptedError(forKey: .kind, in: container, debugDescription: "unknown kind")
        }
        self.kind = kind
        if let text = try container.decodeIfPresent(String.self, forKey: .at) {
            guard let at = Date(rfc3339: text) else {
                throw DecodingError.dataCorruptedError(forKey: .at, in: container, debugDescription: "not RFC 3339")
            }
            self.at = at
        } else if kind == .text {
            throw DecodingError.keyNotFound(
                CodingKeys.at, .init(codingPath: container.codingPath, debugDescription: "text needs at"))
        }
        compatible = try container.decodeIfPresent(Bool.self, forKey: .compatible)
    }
}

/// Where an item ends up in a migration plan.
public enum MigrationOutcome: String, Codable, Sendable, CaseIterable {
    /// Moved without the user: text within the window, compatible stickers.
    case auto
    /// The user moves it by hand: images and videos.
    case manual
    /// Cannot move: red packets, transfers, text older than the window.
    case impossible
    /// Friends: each must confirm, and gets a new identifier on the platform when it does.
    case needsConfirmation = "needs_confirmation"
    /// Groups become external-contact groups.
    case externalGroup = "external_group"
    /// Official accounts must be followed again.
    case refollow
    /// Stickers whose format is incompatible (`compatible: false`).
    case flagged
    /// Wallets (issue 18): separate payment systems; the balance is never transferred, the user
    /// withdraws it in WeChat and recharges the new wallet.
    case withdrawThenRecharge = "withdraw_then_recharge"
}

/// Counts per outcome: the whole of a stored plan (items themselves are never kept).
public struct PlanCounts: Sendable, Equatable, Encodable {
    /// Items seen.
    public private(set) var total = 0
    private var counts = [Int](repeating: 0, count: MigrationOutcome.allCases.count)

    /// No items.
    public init() {}

    /// The count of `outcome`.
    public subscript(outcome: MigrationOutcome) -> Int {
        counts[MigrationOutcome.allCases.firstIndex(of: outcome) ?? 0]
    }

    /// Counts one more item with `outcome`.
    public mutating func add(_ outcome: MigrationOutcome) {
        counts[MigrationOutcome.allCases.firstIndex(of: outcome) ?? 0] += 1
        total += 1
    }

    /// Counts read back from `byOutcome` (unknown names are ignored).
    public init(byOutcome: [String: Int]) {
        for outcome in MigrationOutcome.allCases {
            let n = byOutcome[outcome.rawValue] ?? 0
            counts[MigrationOutcome.allCases.firstIndex(of: outcome) ?? 0] = n
            total += n
        }
    }

    /// Adds another part's counts.
    public mutating func merge(_ other: PlanCounts) {
        for index in counts.indices { counts[index] += other.counts[index] }
        total += other.total
    }

    /// Every outcome by its wire name (zeros included, so clients need no defaults).
    public var byOutcome: [String: Int] {
        Dictionary(uniqueKeysWithValues: MigrationOutcome.allCases.map { ($0.rawValue, self[$0]) })
    }

    /// Encodes `byOutcome`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(byOutcome)
    }
}

/// What `migration.start` decides before planning.
public enum MigrationDecision: Sendable, Equatable {
    /// No active wechat binding (`BINDING_REQUIRED`).
    case bindingRequired
    /// Less free storage than `binding.migrationMinFreeBytes` (`INSUFFICIENT_STORAGE`).
    case insufficientStorage(required: Int64)
    /// Plan it.
    case plan
}

/// The seed's migration rules, pure over items, the time and the policy.
///
/// Classification is one item at a time and a plan is only its counts, so `count(_:)` walks any
/// `Sequence` in memory independent of its length (a lazily generated or streamed manifest of
/// 100,000 items never exists as an array). A command carries at most `runtime.maxMessageBytes`
/// (64 KiB, several hundred items); a larger manifest is counted by the same function over its
/// source.
public enum MigrationRules {
    /// The provider a migration comes from.
    public static let sourceProvider = "wechat"

    /// Whether planning may start: a wechat binding, then enough free storage.
    public static func decide(hasSourceBinding: Bool, freeStorageBytes: Int64, policy: Policy.Binding)
        -> MigrationDecision
    {
        guard hasSourceBinding else { return .bindingRequired }
        guard freeStorageBytes >= policy.migrationMinFreeBytes else {
            return .insufficientStorage(required: policy.migrationMinFreeBytes)
        }
        return .plan
    }

    /// The outcome of one item at `now`: text older than `binding.migrationTextWindow` (3 months
    /// by default) is impossible; a sticker is flagged when `compatible` is `false`.
    public static func classify(_ item: ManifestItem, now: Date, policy: Policy.Binding) -> MigrationOutcome {
        switch item.kind {
        case .text:
            let oldest = now.addingTimeInterval(-policy.migrationTextWindow.timeInterval)
            return (item.at ?? .distantPast) >= oldest ? .auto : .impossible
        case .image, .video: return .manual
        case .redPacket, .transfer: return .impossible
        case .friend: return .needsConfirmation
        case .group: return .externalGroup
        case .officialAccount: return .refollow
        case .sticker: return item.compatible == false ? .flagged : .auto
        case .wallet: return .withdrawThenRecharge
        }
    }

    /// Counts the outcomes of `items`, keeping nothing per item.
    public static func count(_ items: some Sequence<ManifestItem>, now: Date, policy: Policy.Binding) -> PlanCounts {
        var counts = PlanCounts()
        for item in items { counts.add(classify(item, now: now, policy: policy)) }
        return counts
    }
}
