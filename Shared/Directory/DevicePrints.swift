import Contract
import Foundation
import Postgres

/// Device recognition shared by the services that count per device (identity: accounts per device;
/// deregistration: deregistrations per device). Each keeps `device_prints` and
/// `device_print_attributes` tables of the same shape in its own schema (found through
/// `search_path`). What counts as the same device is `DeviceRecognition` (contract §3); the SQL here
/// only loads candidate prints.
public enum DevicePrints {
    /// The stored print most similar to `fingerprint` at or above `threshold`, with its similarity
    /// (`DeviceRecognition.bestMatch` decides).
    public static func recognise(_ session: borrowing PostgresSession, fingerprint: [String: String], threshold: Double)
        throws
        -> (id: String, similarity: Double)?
    {
        let found = try candidates(session, fingerprint: fingerprint, threshold: threshold)
        return DeviceRecognition.bestMatch(found, threshold: threshold).map { ($0.id, $0.similarity) }
    }

    /// The stored prints that could be recognised as `fingerprint` at `threshold`, with their
    /// matching and stored attribute counts. The database prunes with the rule's own inequality
    /// (`matching ≥ threshold × stored`): attribute values that many devices share (a screen size, a
    /// kernel) would otherwise bring back every print; `DeviceRecognition.bestMatch` still decides.
    public static func candidates(
        _ session: borrowing PostgresSession, fingerprint: [String: String], threshold: Double
    ) throws -> [DeviceRecognition.Candidate] {
        let names = Array(fingerprint.keys)
        let values = names.map { fingerprint[$0]! }
        // Planned at every run: the attribute table grows with every new device, and a plan cached
        // while it was small (a scan) would stay one after it grew (the bench measured it).
        let query: PostgresQuery = """
            SELECT a.print_id::text AS id, count(*)::int8 AS matching, p.attribute_count::int8 AS stored
            FROM device_print_attributes a
            JOIN unnest(\(names)::text[], \(values)::text[]) AS c(name, value) ON a.name = c.name AND a.value = c.value
            JOIN device_prints p ON p.id = a.print_id
            GROUP BY a.print_id, p.attribute_count
            HAVING count(*)::float8 >= \(threshold)::float8 * p.attribute_count
            """
        return try session.query(query.plannedEachTime).map {
            DeviceRecognition.Candidate(
                id: try $0.decode("id"), matchingAttributes: try $0.decode("matching"),
                storedAttributes: try $0.decode("stored"))
        }
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
