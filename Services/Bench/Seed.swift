import Foundation
import Postgres

/// Accounts written straight into the services' own tables and read models (far faster than
/// registering them through commands). Ids are `bench id(kind, i)`; every statement takes its
/// values as parameters.
enum Seed {
    /// The uuid of the `i`-th seeded row of `kind` (a 4-hex-digit tag).
    static func id(_ kind: String, _ i: Int) -> String {
        let hex = String(i, radix: 16)
        return "00000000-0000-4000-\(kind)-" + String(repeating: "0", count: max(0, 12 - hex.count)) + hex
    }

    /// SQL for the same uuid (`$kind` and the series variable `i`).
    private static let sqlID = "('00000000-0000-4000-' || $3::text || '-' || lpad(to_hex(i), 12, '0'))::uuid"

    /// The phone of seeded identity account `i`.
    static func phone(_ i: Int) -> String { "+86139" + String(format: "%08d", i) }

    /// The fingerprint attribute names.
    static let attributes = [
        "cpuSerial", "basebandVersion", "boardId", "imeiHash", "serialHash", "screen", "kernel", "bootloader",
        "wifiMac", "bluetoothMac", "buildId", "locale", "timezone", "fonts", "gpu", "sensorSet", "storage",
        "cameraIds", "abi", "vendor", "radio", "hardware",
    ]

    /// A fingerprint to vary per device (`name-bench`).
    static let fingerprint: [String: String] = Dictionary(uniqueKeysWithValues: attributes.map { ($0, "\($0)-bench") })

    /// The fingerprint of seeded identity account `i`'s own device (`name-bench-i`): each account
    /// is on a device of its own, as the device rules expect (at most 3 accounts per device).
    static func fingerprint(_ i: Int) -> [String: String] { fingerprint.mapValues { "\($0)-\(i)" } }

    /// The session token of seeded session `i` of `service`.
    static func token(_ service: String, _ i: Int) -> String { "bench-\(service)-\(i)" }

    /// Permissions' read model: accounts `from...to` registered 60 days ago with an ID card
    /// (stage 3), or, `quota`, 10 days ago with a bank card, 20 active days and 5 logins (stage 2,
    /// `payment.transfer` consumes a daily quota).
    static func permissions(_ db: PostgresConnection, _ range: ClosedRange<Int>, quota: Bool = false) async throws {
        try await run(
            db, range, kind: quota ? "9000" : "8000",
            [
                """
                INSERT INTO permissions.accounts (account_id, registered_at, tier, tier_expires_at, successful_logins)
                SELECT \(sqlID), now() - make_interval(days => $4::int), $5::text, now() + interval '300 days', 10
                FROM generate_series($1::int, $2::int) i ON CONFLICT DO NOTHING
                """
            ], extra: [quota ? "10" : "60", quota ? "bank_card" : "id_card"])
        if quota {
            try await run(
                db, range, kind: "9000",
                [
                    """
                    INSERT INTO permissions.active_days (account_id, day)
                    SELECT \(sqlID), d FROM generate_series($1::int, $2::int) i, generate_series(1, 20) d
                    ON CONFLICT DO NOTHING
                    """
                ])
        }
    }

    /// Identity accounts `from...to` with `passwordHash`; devices (bound, with `fingerprint`) only
    /// for those `devices` contains, since only those sign in.
    static func identity(
        _ db: PostgresConnection, _ range: ClosedRange<Int>, devices: ClosedRange<Int>, passwordHash: String
    ) async throws {
        let print = "00000000-0000-4000-a000-000000000000"
        try await db.run { session in
            try session.query(
                """
                INSERT INTO identity.device_prints (id, attribute_count, created_at)
                VALUES (\(print)::uuid, 22, now()) ON CONFLICT DO NOTHING
                """)
        }
        try await run(
            db, range, kind: "b000",
            [
                """
                INSERT INTO identity.accounts (id, phone, display_name, password_hash, registration_id, registered_on,
                                               created_at)
                SELECT \(sqlID), '+86139' || lpad(i::text, 8, '0'), 'Bench', $4::text,
                       ('00000000-0000-4000-c000-' || lpad(to_hex(i), 12, '0'))::uuid, $5::uuid, now()
                FROM generate_series($1::int, $2::int) i ON CONFLICT DO NOTHING
                """
            ], extra: [passwordHash, print])
        let low = max(devices.lowerBound, range.lowerBound)
        let high = min(devices.upperBound, range.upperBound)
        guard low <= high else { return }
        // A print and a device per account, fingerprint `Seed.fingerprint(i)`.
        let names = "{" + attributes.joined(separator: ",") + "}"
        try await run(
            db, low...high, kind: "a300",
            [
                """
                INSERT INTO identity.device_prints (id, attribute_count, created_at)
                SELECT \(sqlID), 22, now() FROM generate_series($1::int, $2::int) i ON CONFLICT DO NOTHING
                """
            ])
        try await run(
            db, low...high, kind: "b000",
            [
                """
                INSERT INTO identity.devices (id, account_id, print_id, fingerprint, platform, model, bound_at)
                SELECT ('00000000-0000-4000-d000-' || lpad(to_hex(i), 12, '0'))::uuid, \(sqlID),
                       ('00000000-0000-4000-a300-' || lpad(to_hex(i), 12, '0'))::uuid,
                       (SELECT jsonb_object_agg(n, n || '-bench-' || i) FROM unnest($4::text[]) n), 'android', 'Bench',
                       now()
                FROM generate_series($1::int, $2::int) i ON CONFLICT DO NOTHING
                """
            ], extra: [names])
    }

    /// Two identity sessions of each seeded identity account `range`: one read with access token
    /// `bench-identity-i` (`account.get`), one refreshed from refresh token `bench-refresh-i`
    /// (`session.refresh`; each refresh replaces it, so the workload keeps the new one).
    static func identitySessions(_ db: PostgresConnection, _ range: ClosedRange<Int>) async throws {
        try await run(
            db, range, kind: "b000",
            [
                """
                INSERT INTO identity.sessions (id, token_hash, refresh_hash, account_id, device_id, platform, created_at,
                                               last_used_at, expires_at, refresh_expires_at)
                SELECT ('00000000-0000-4000-' || s.tag || '-' || lpad(to_hex(i), 12, '0'))::uuid,
                       sha256(convert_to(s.access || i, 'UTF8')), sha256(convert_to(s.refresh || i, 'UTF8')),
                       \(sqlID), ('00000000-0000-4000-d000-' || lpad(to_hex(i), 12, '0'))::uuid, 'android', now(),
                       now(), now() + interval '1 day', now() + interval '30 days'
                FROM generate_series($1::int, $2::int) i,
                     (VALUES ('a100', 'bench-identity-', 'bench-unused-'),
                             ('a200', 'bench-unused-access-', 'bench-refresh-')) AS s (tag, access, refresh)
                ON CONFLICT DO NOTHING
                """
            ])
    }

    /// Sessions (token `bench-<service>-i`) for accounts `from...to` in the `sessions` read model of
    /// `schema`, and, for deregistration, its `accounts` read model.
    static func sessions(_ db: PostgresConnection, schema: String, _ range: ClosedRange<Int>) async throws {
        let kind = schema == "binding" ? "e000" : "f000"
        try await run(
            db, range, kind: kind,
            [
                """
                INSERT INTO \(schema).sessions (token_hash, account_id, platform, expires_at)
                SELECT sha256(convert_to($4::text || i, 'UTF8')), \(sqlID), 'android', now() + interval '1 day'
                FROM generate_series($1::int, $2::int) i ON CONFLICT DO NOTHING
                """
            ], extra: ["bench-\(schema)-"])
        if schema == "deregistration" {
            try await run(
                db, range, kind: kind,
                [
                    """
                    INSERT INTO deregistration.accounts (account_id, phone_hash, registered_at)
                    SELECT \(sqlID), 'bench-' || i, now() - interval '60 days'
                    FROM generate_series($1::int, $2::int) i ON CONFLICT DO NOTHING
                    """
                ])
        }
    }

    /// Runs each statement over `range` in chunks of 50,000 rows, one transaction per chunk.
    /// Binds: $1 from, $2 to, $3 kind, then `extra`.
    private static func run(
        _ db: PostgresConnection, _ range: ClosedRange<Int>, kind: String, _ statements: [String],
        extra: [String] = []
    ) async throws {
        var from = range.lowerBound
        while from <= range.upperBound {
            let to = min(range.upperBound, from + 49_999)
            let binds: [String?] = [String(from), String(to), kind] + extra.map { Optional($0) }
            try await db.transaction { session in
                for sql in statements {
                    _ = try session.query(PostgresQuery(trusted: sql, binds: binds))
                }
            }
            from = to + 1
        }
    }
}
