import Foundation
import Postgres

/// Device recognition shared by the services that count per device (identity: accounts per device;
/// deregistration: deregistrations per device). Each keeps `device_prints` and
/// `device_print_attributes` tables of the same shape in its own schema (found through
/// `search_path`). Similarity = matching attributes ÷ attributes of the stored print (contract §3).
public enum DevicePrints {
    /// The stored print most similar to `fingerprint` at or above `threshold`, with its similarity.
    public static func recognise(_ session: borrowing PostgresSession, fingerprint: [String: String], threshold: Double)
        throws
        -> (id: String, similarity: Double)?
    {
        let names = Array(fingerprint.keys)
        let values = names.map { fingerprint[$0]! }
        let row = try session.query(
            """
            SELECT a.print_id::text AS id, count(*)::float8 / p.attribute_count AS similarity
            FROM device_print_attributes a
            JOIN unnest(\(names)::text[], \(values)::text[]) AS c(name, value) ON a.name = c.name AND a.value = c.value
            JOIN device_prints p ON p.id = a.print_id
            GROUP BY a.print_id, p.attribute_count
            HAVING count(*)::float8 / p.attribute_count >= \(threshold)
            ORDER BY similarity DESC, a.print_id
            LIMIT 1
            """
        ).first
        guard let row else { return nil }
        return (try row.decode("id"), try row.decode("similarity"))
    }

    /// Stores a new print.
    public static func insertPrint(_ session: borrowing PostgresSession, fingerprint: [String: String], now: Date)
        throws
        -> String
    {
        let id = UUID().uuidString.lowercased()
        try session.query(
            "INSERT INTO device_prints (id, attribute_count, created_at) VALUES (\(id)::uuid, \(fingerprint.count), \(now))"
        )
        let names = Array(fingerprint.keys)
        let values = names.map { fingerprint[$0]! }
        try session.query(
            """
            INSERT INTO device_print_attributes (print_id, name, value)
            SELECT \(id)::uuid, name, value FROM unnest(\(names)::text[], \(values)::text[]) AS c(name, value)
            """)
        return id
    }

}
