/// "The same device" (contract §3), defined once for every service that counts per device:
/// similarity = attributes of the stored print that the presented fingerprint matches ÷ attributes
/// of the stored print; a device is recognised by a stored print at or above the threshold; the
/// most similar print wins, ties going to the smallest id.
public enum DeviceRecognition {
    /// A stored print (or bound device) as seen from one presented fingerprint.
    public struct Candidate: Sendable, Equatable {
        /// The stored print's (or device's) id.
        public var id: String
        /// Attributes of the stored print whose value the presented fingerprint has too.
        public var matchingAttributes: Int
        /// Attributes of the stored print.
        public var storedAttributes: Int

        /// Creates a candidate from counts (as the SQL of `DevicePrints` loads them).
        public init(id: String, matchingAttributes: Int, storedAttributes: Int) {
            self.id = id
            self.matchingAttributes = matchingAttributes
            self.storedAttributes = storedAttributes
        }

        /// Creates a candidate by comparing a presented fingerprint with a stored one.
        public init(id: String, presented: [String: String], stored: [String: String]) {
            self.init(
                id: id, matchingAttributes: stored.count(where: { key, value in presented[key] == value }),
                storedAttributes: stored.count)
        }

        /// Matching ÷ stored attributes; 0 for an empty stored print (it matches nothing).
        ///
        /// Asymmetric on purpose: the stored print is the reference, so attributes a newer client
        /// adds do not dilute the match.
        public var similarity: Double {
            storedAttributes > 0 ? Double(matchingAttributes) / Double(storedAttributes) : 0
        }
    }

    /// Whether a presented fingerprint can be recognised at all: at least `minAttributes` attributes
    /// with a non-empty value and none longer than `maxValueLength` (policy `devices.*`); otherwise
    /// the command is `MALFORMED` naming the fingerprint.
    public static func isUsable(_ fingerprint: [String: String], minAttributes: Int, maxValueLength: Int) -> Bool {
        fingerprint.values.count(where: { !$0.isEmpty }) >= minAttributes
            && fingerprint.values.allSatisfy { $0.count <= maxValueLength }
    }

    /// Fingerprint similarity of `presented` to `stored`.
    public static func similarity(presented: [String: String], stored: [String: String]) -> Double {
        Candidate(id: "", presented: presented, stored: stored).similarity
    }

    /// Whether a similarity recognises the device (at or above `threshold`).
    public static func isRecognised(similarity: Double, threshold: Double) -> Bool {
        similarity >= threshold
    }

    /// The recognised candidate: the most similar at or above `threshold`, ties by the smallest id;
    /// `nil` when none reaches it.
    public static func bestMatch(_ candidates: [Candidate], threshold: Double) -> Candidate? {
        candidates.filter { isRecognised(similarity: $0.similarity, threshold: threshold) }
            .min { a, b in a.similarity != b.similarity ? a.similarity > b.similarity : a.id < b.id }
    }
}
