import Contract
import Foundation
import Messaging
import Platform
import Postgres

/// What the security rows of the reliability suite share: bursts of commands sent before any reply
/// is read, the policy the stack runs with, and small statistics.
public enum Security {
    /// The policy of the shared test stack (`scripts/test` runs it with `deploy/policy.json`, the
    /// defaults), so tests name limits by their policy key, never by number.
    public static let policy = Policy()

    /// Sends every envelope to `topic` before reading any reply, each keyed by `key` (a burst that
    /// spreads over partitions when the keys differ), and returns the replies in the same order.
    public static func burst(
        _ client: RegistrarClient, _ envelopes: [[String: JSONValue]], topic: String,
        key: ([String: JSONValue]) -> String? = { _ in UUID().uuidString }
    ) async throws -> [IdentityClient.Answer] {
        for envelope in envelopes {
            try await client.sendRaw(
                Array(try JSONEncoder().encode(JSONValue.object(envelope))), topic: topic, key: key(envelope))
        }
        var answers: [IdentityClient.Answer] = []
        for envelope in envelopes {
            answers.append(
                IdentityClient.Answer(
                    event: try await client.reply(to: envelope["id"]!.stringValue!, timeout: .seconds(60))))
        }
        return answers
    }

    /// How many of `answers` carry `code`.
    public static func count(_ answers: [IdentityClient.Answer], _ code: String) -> Int {
        answers.filter { $0.code == code }.count
    }

    /// The median of `values` (0 when empty).
    public static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        let mid = sorted.count / 2
        return sorted.count % 2 == 0 ? (sorted[mid - 1] + sorted[mid]) / 2 : sorted[mid]
    }

    /// Milliseconds, one decimal.
    public static func ms(_ value: Double) -> String { String(format: "%.1f ms", value) }

    /// Sends `envelope` and measures command → reply (as this client sees it).
    public static func timed(_ client: RegistrarClient, _ envelope: [String: JSONValue], topic: String) async throws
        -> (
            IdentityClient.Answer, Double
        )
    {
        let started = ContinuousClock.now
        let reply = try await client.request(envelope, topic: topic)
        let elapsed = ContinuousClock.now - started
        return (
            IdentityClient.Answer(event: reply),
            Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        )
    }

    /// Rows of a service's outbox (the pool's schema) on `topic` (full name) with event `type` and `key`.
    public static func outboxCount(_ pool: PostgresPool, topic: String, type: String, key: String) async throws -> Int {
        try await pool.query(
            """
            SELECT count(*)::int AS n FROM outbox
            WHERE topic = \(topic) AND key = \(key) AND payload::jsonb ->> 'type' = \(type)
            """
        ).first?.decode("n", as: Int.self) ?? -1
    }
}
