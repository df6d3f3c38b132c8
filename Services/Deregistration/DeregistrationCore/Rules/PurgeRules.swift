import Foundation

/// When a deregistered account counts as purged: every service has confirmed every category of
/// its data (`purge.completed`), and only then does `account.purged` follow, once.
public enum PurgeRules {
    /// Every `service:category` that must confirm before an account counts as purged.
    public static let expected: Set<String> = [
        "identity:personal", "permissions:personal", "permissions:financial", "permissions:contacts",
        "binding:personal",
    ]

    /// The key of one confirmation, as in `expected`.
    public static func key(service: String, category: String) -> String { "\(service):\(category)" }

    /// Whether the `confirmed` keys include every expected one.
    public static func isComplete(confirmed: Set<String>) -> Bool { expected.isSubset(of: confirmed) }
}
