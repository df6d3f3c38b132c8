import Contract
import Directory
import Foundation
import Platform
import Postgres

/// What the request rules need to know about an account.
struct AccountStanding: Sendable {
    /// The end of the account's open cool-down, when it has one.
    var openCooldownEndsAt: Date?
    /// The enterprises the account administers, by id.
    var adminOf: [String]
}

/// The requesting device, recognised by fingerprint and locked for the rest of the transaction.
struct DeviceStanding: Sendable {
    /// The device print's id.
    var id: String
    /// Whether the device is locked for deregistration.
    var locked: Bool
    /// When the device's earlier requests were made (any account, any outcome).
    var requestTimes: [Date]
}

/// A request that a revoke code or a revoke acts on.
struct RevocableRequest: Sendable {
    /// The request.
    var id: String
    /// Its account.
    var accountId: String
    /// Its state (`cooling` or `finalized`).
    var state: RequestState
    /// When its cool-down ends.
    var cooldownEndsAt: Date
    /// The keyed hash of the outstanding revoke code; `nil` when none was sent.
    var codeHash: [UInt8]?
    /// When the outstanding code expires.
    var codeExpiresAt: Date?
    /// Wrong codes presented since the code was sent.
    var codeAttempts: Int

    /// Whether it can be revoked at `now` (`CooldownRules.revokeWindow`).
    func revokeWindow(at now: Date) -> RevokeWindow {
        CooldownRules.revokeWindow(state: state, cooldownEndsAt: cooldownEndsAt, now: now)
    }
}

/// A request whose cool-down has ended.
struct DueRequest: Sendable {
    /// The request.
    var id: String
    /// Its account.
    var accountId: String
}

/// The deregistration schema's SQL for the handlers, the finalizer and the purge tracker.
enum DeregistrationStore {
    /// Requests the finalizer claims at once; more wait for its next round.
    static let finalizeBatch = 100

    // MARK: requests

    /// The account's standing (one statement); `nil` when the account is not known.
    static func standing(_ session: borrowing PostgresSession, _ accountID: String) throws -> AccountStanding? {
        guard
            let row = try session.query(
                """
                SELECT (SELECT cooldown_ends_at FROM requests WHERE account_id = a.account_id AND state = 'cooling')
                           AS open_ends_at,
                       ARRAY(SELECT enterprise_id FROM enterprise_admins WHERE account_id = a.account_id
                             ORDER BY enterprise_id) AS admin_of
                FROM accounts a WHERE a.account_id = \(accountID)::uuid
                """
            ).first
        else { return nil }
        return AccountStanding(openCooldownEndsAt: try row.decode("open_ends_at"), adminOf: try row.decode("admin_of"))
    }

    /// The device that `fingerprint` is recognised as, recorded first when it is new, and locked
    /// until the transaction ends so that parallel requests from it are counted one after another.
    static func device(
        _ session: borrowing PostgresSession, fingerprint: [String: String], now: Date, policy: Policy
    ) throws -> DeviceStanding {
        let known = try DevicePrints.recognise(
            session, fingerprint: fingerprint, threshold: policy.devices.similarityThreshold)
        let id = try known?.id ?? DevicePrints.insertPrint(session, fingerprint: fingerprint, now: now)
        // The lock first, in a statement of its own: what the next one reads is then read after every
        // earlier request from the device has committed (a statement reads as of its own start).
        try session.query("SELECT pg_advisory_xact_lock(hashtextextended(\("print:" + id), 0))")
        // The device's lock state and all its requests since support last lifted its lock (the
        // device lock keeps them few, and the rules decide which are in the window): one row per
        // request, or one without a request.
        let rows = try session.query(
            """
            SELECT p.locked_at IS NOT NULL AS locked, r.requested_at
            FROM device_prints p
            LEFT JOIN requests r ON r.print_id = p.id AND (p.unlocked_at IS NULL OR r.requested_at > p.unlocked_at)
            WHERE p.id = \(id)::uuid FOR UPDATE OF p
            """)
        let locked = try rows.first?.decode("locked", as: Bool.self) ?? false
        let times: [Date] = try rows.compactMap { try $0.decode("requested_at", as: Date?.self) }
        return DeviceStanding(id: id, locked: locked, requestTimes: times)
    }

    /// Locks the device for deregistration from `now` on.
    static func lockDevice(_ session: borrowing PostgresSession, _ printID: String, now: Date) throws {
        try session.query("UPDATE device_prints SET locked_at = \(now) WHERE id = \(printID)::uuid")
    }

    /// Records a new request in its cool-down.
    static func insertRequest(
        _ session: borrowing PostgresSession, id: String, accountID: String, printID: String, requestedAt: Date,
        cooldownEndsAt: Date
    ) throws {
        try session.query(
            """
            INSERT INTO requests (id, account_id, print_id, state, requested_at, cooldown_ends_at)
            VALUES (\(id)::uuid, \(accountID)::uuid, \(printID)::uuid, 'cooling', \(requestedAt), \(cooldownEndsAt))
            """)
    }

    // MARK: revoke codes

    /// The times of the phone's earlier code requests, under a lock on the phone held until the
    /// transaction ends (parallel requests are counted one after another); requests at or before
    /// `windowStart` are forgotten first, since no rule counts them any more.
    static func codeRequests(_ session: borrowing PostgresSession, phoneHash: String, windowStart: Date) throws
        -> [Date]
    {
        try session.query("SELECT pg_advisory_xact_lock(hashtextextended(\("revoke-code:" + phoneHash), 0))")
        try session.query("DELETE FROM revoke_code_requests WHERE requested_at <= \(windowStart)")
        return try session.query("SELECT requested_at FROM revoke_code_requests WHERE phone_hash = \(phoneHash)")
            .map { try $0.decode("requested_at") }
    }

    /// Counts one code request for the phone.
    static func recordCodeRequest(_ session: borrowing PostgresSession, phoneHash: String, now: Date) throws {
        try session.query("INSERT INTO revoke_code_requests (phone_hash, requested_at) VALUES (\(phoneHash), \(now))")
    }

    /// The latest cooling or finalized request of an account with this phone, locked for update.
    static func latestRequest(_ session: borrowing PostgresSession, phoneHash: String) throws -> RevocableRequest? {
        guard
            let row = try session.query(
                """
                SELECT r.id::text AS id, r.account_id::text AS account_id, r.state, r.cooldown_ends_at,
                       r.revoke_code_hash, r.revoke_code_expires_at, r.revoke_attempts
                FROM requests r JOIN accounts a ON a.account_id = r.account_id
                WHERE a.phone_hash = \(phoneHash) AND r.state IN ('cooling', 'finalized')
                ORDER BY r.requested_at DESC LIMIT 1 FOR UPDATE OF r
                """
            ).first
        else { return nil }
        return RevocableRequest(
            id: try row.decode("id"), accountId: try row.decode("account_id"), state: try row.decode("state"),
            cooldownEndsAt: try row.decode("cooldown_ends_at"),
            codeHash: try row.decode("revoke_code_hash", as: PostgresBytes?.self)?.bytes,
            codeExpiresAt: try row.decode("revoke_code_expires_at"), codeAttempts: try row.decode("revoke_attempts"))
    }

    /// The account's latest request (the last one made), for a read (no lock).
    static func latestRequest(_ session: borrowing PostgresSession, accountID: String) throws -> RequestSummary? {
        try requests(session, accountID: accountID, limit: 1).first
    }

    /// The account's requests, newest first, at most `limit` (no lock).
    static func requests(_ session: borrowing PostgresSession, accountID: String, limit: Int) throws
        -> [RequestSummary]
    {
        try session.query(
            """
            SELECT state, requested_at, cooldown_ends_at, closed_at FROM requests
            WHERE account_id = \(accountID)::uuid ORDER BY requested_at DESC, id DESC LIMIT \(limit)
            """
        ).map { row in
            RequestSummary(
                state: try row.decode("state"), requestedAt: try row.decode("requested_at"),
                cooldownEndsAt: try row.decode("cooldown_ends_at"), closedAt: try row.decode("closed_at"))
        }
    }

    /// Stores a new revoke code (its keyed hash) for the request, with a fresh budget of tries.
    static func storeCode(
        _ session: borrowing PostgresSession, requestID: String, codeHash: [UInt8], expiresAt: Date
    ) throws {
        try session.query(
            """
            UPDATE requests SET revoke_code_hash = \(PostgresBytes(codeHash)), revoke_code_expires_at = \(expiresAt),
                revoke_attempts = 0
            WHERE id = \(requestID)::uuid
            """)
    }

    /// Counts one wrong code against the request.
    static func countWrongCode(_ session: borrowing PostgresSession, requestID: String) throws {
        try session.query("UPDATE requests SET revoke_attempts = revoke_attempts + 1 WHERE id = \(requestID)::uuid")
    }

    /// Closes the request as revoked at `now`; its code is spent.
    static func revoke(_ session: borrowing PostgresSession, requestID: String, now: Date) throws {
        try close(session, requestID: requestID, as: .revoked, now: now)
    }

    // MARK: finalization

    /// Claims the requests whose cool-down has ended by `now` (`cooldown_ends_at <= now`, where
    /// `CooldownRules.revokeWindow` closes), skipping those another replica holds.
    static func claimDue(_ session: borrowing PostgresSession, now: Date) throws -> [DueRequest] {
        try session.query(
            """
            SELECT id::text AS id, account_id::text AS account_id FROM requests
            WHERE state = 'cooling' AND cooldown_ends_at <= \(now)
            ORDER BY cooldown_ends_at LIMIT \(finalizeBatch) FOR UPDATE SKIP LOCKED
            """
        ).map { DueRequest(id: try $0.decode("id"), accountId: try $0.decode("account_id")) }
    }

    /// Cooling requests not reminded yet whose cool-down ends by `horizon`, claimed (issue 18).
    static func claimUnreminded(_ session: borrowing PostgresSession, horizon: Date) throws
        -> [(id: String, accountId: String, cooldownEndsAt: Date)]
    {
        try session.query(
            """
            SELECT id::text AS id, account_id::text AS account_id, cooldown_ends_at FROM requests
            WHERE state = 'cooling' AND reminded_at IS NULL AND cooldown_ends_at <= \(horizon)
            ORDER BY cooldown_ends_at LIMIT \(finalizeBatch) FOR UPDATE SKIP LOCKED
            """
        ).map { (try $0.decode("id"), try $0.decode("account_id"), try $0.decode("cooldown_ends_at")) }
    }

    /// Marks the request reminded (or past reminding) at `now`: never claimed for a reminder again.
    static func markReminded(_ session: borrowing PostgresSession, requestID: String, now: Date) throws {
        try session.query("UPDATE requests SET reminded_at = \(now) WHERE id = \(requestID)::uuid")
    }

    /// Closes the request as finalized at `now`; an outstanding code is dropped.
    static func finalize(_ session: borrowing PostgresSession, requestID: String, now: Date) throws {
        try close(session, requestID: requestID, as: .finalized, now: now)
    }

    /// Deletes the account's sessions as this service knew them (identity revoked them at the
    /// freeze; the rows kept its id and device ids).
    static func deleteSessions(_ session: borrowing PostgresSession, _ accountID: String) throws {
        try session.query("DELETE FROM sessions WHERE account_id = \(accountID)::uuid")
    }

    private static func close(
        _ session: borrowing PostgresSession, requestID: String, as state: RequestState, now: Date
    ) throws {
        try session.query(
            """
            UPDATE requests SET state = \(state.rawValue), closed_at = \(now), revoke_code_hash = NULL
            WHERE id = \(requestID)::uuid
            """)
    }

    // MARK: purges

    /// Records a service's confirmation; false when it was recorded before.
    static func recordPurge(_ session: borrowing PostgresSession, _ purge: PurgeCompleted, now: Date) throws -> Bool {
        try session.query(
            """
            INSERT INTO purges (account_id, service, category, confirmed_at)
            VALUES (\(purge.accountId)::uuid, \(purge.service), \(purge.category), \(now)) ON CONFLICT DO NOTHING
            """
        ).affectedRows == 1
    }

    /// The account's confirmations, as `PurgeRules.key(service:category:)`.
    static func confirmedPurges(_ session: borrowing PostgresSession, _ accountID: String) throws -> Set<String> {
        Set(
            try session.query("SELECT service, category FROM purges WHERE account_id = \(accountID)::uuid").map {
                PurgeRules.key(service: try $0.decode("service"), category: try $0.decode("category"))
            })
    }

    /// Marks the account's finalized request purged; false when there is none not yet marked.
    static func markPurged(_ session: borrowing PostgresSession, _ accountID: String, now: Date) throws -> Bool {
        try session.query(
            """
            UPDATE requests SET purged_at = \(now)
            WHERE account_id = \(accountID)::uuid AND state = 'finalized' AND purged_at IS NULL
            """
        ).affectedRows > 0
    }

    // MARK: audit

    /// Appends a step to the audit trail (no personal data; it outlives every purge).
    static func audit(
        _ session: borrowing PostgresSession, _ accountID: String, _ step: String, _ detail: [String: String] = [:],
        at: Date
    ) throws {
        let encoder = JSONEncoder()
        // Stable text for equal details.
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(detail), as: UTF8.self)
        try session.query(
            """
            INSERT INTO audit (account_id, step, detail, at) VALUES (\(accountID)::uuid, \(step), \(json)::jsonb, \(at))
            """)
    }
}

extension RequestState: PostgresDecodable {
    /// The `requests.state` text; any other text does not decode.
    public init?(postgresText: String?) {
        guard let postgresText else { return nil }
        self.init(rawValue: postgresText)
    }
}
