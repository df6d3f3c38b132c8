import Contract
import Directory
import Foundation
import Messaging
import Postgres

/// The identity schema's SQL, one function per statement family. Handlers call these; rules never do.
enum IdentityStore {
    // MARK: locks

    /// Serializes work on one subject (a phone, a print, an IP) until the transaction ends.
    static func lock(_ session: borrowing PostgresSession, _ subjects: [String]) throws {
        // Sorted, so two transactions never wait on each other in opposite orders.
        for subject in subjects.sorted() {
            try session.query("SELECT pg_advisory_xact_lock(hashtextextended(\(subject), 0))")
        }
    }

    // MARK: devices

    /// Binds a device to an account.
    static func bindDevice(
        _ session: borrowing PostgresSession, accountID: String, printID: String, fingerprint: [String: String],
        platform: String, model: String, now: Date
    ) throws -> String {
        let id = newID()
        try session.query(
            """
            INSERT INTO devices (id, account_id, print_id, fingerprint, platform, model, bound_at)
            VALUES (\(id)::uuid, \(accountID)::uuid, \(printID)::uuid, \(try json(fingerprint))::jsonb, \(platform),
                    \(model), \(now))
            """)
        return id
    }

    /// Devices bound to an account, with their fingerprints.
    static func boundDevices(_ session: borrowing PostgresSession, accountID: String) throws -> [BoundDevice] {
        try session.query(
            """
            SELECT id::text AS id, print_id::text AS print_id, fingerprint::text AS fingerprint
            FROM devices WHERE account_id = \(accountID)::uuid AND unbound_at IS NULL ORDER BY bound_at
            """
        ).map { row in
            BoundDevice(
                id: try row.decode("id"), printID: try row.decode("print_id"),
                fingerprint: try JSONDecoder().decode(
                    [String: String].self, from: Data(try row.decode("fingerprint", as: String.self).utf8)))
        }
    }

    /// A fresh lowercase UUID.
    static func newID() -> String { UUID().uuidString.lowercased() }

    /// JSON text of an `Encodable` (for `jsonb` parameters).
    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

/// A device bound to an account.
struct BoundDevice: Sendable {
    var id: String
    var printID: String
    var fingerprint: [String: String]
}
