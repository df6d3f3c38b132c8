import Contract
import Foundation
import Postgres

/// The account as `login` needs it.
struct LoginAccount {
    var id: String
    var status: String
    var passwordHash: String
    var hasSecurityQuestions: Bool
    var counters: LoginCounters
    /// Locked for good (security answers); only support unlocks it.
    var locked: Bool
    /// When the account was created: its stage (issue 18).
    var createdAt: Date
}

/// An open device challenge.
struct Challenge {
    var id: String
    var accountID: String
    var printID: String
    var fingerprint: [String: String]
    var platform: String
    var model: String
    /// The step-up the security answers must pass besides the answers (issue 18).
    var requiredLevel: StepUpLevel
}

/// What the security-answer step needs of an account.
struct SecurityState {
    /// `nil` when the account set no questions.
    var questions: [StoredQuestion]?
    var wrongAnswers: Int
    var locked: Bool
    var status: String
}

/// The SQL of `login`, its device challenges and device unbinding.
enum LoginStore {
    /// Loads and locks the live or frozen account of a phone.
    static func account(_ session: borrowing PostgresSession, phone: String) throws -> LoginAccount? {
        try account(session, where: "phone = \(phone) AND status <> 'deregistered'")
    }

    /// Loads and locks an account by id.
    static func account(_ session: borrowing PostgresSession, id: String) throws -> LoginAccount? {
        try account(session, where: "id = \(id)::uuid")
    }

    private static func account(_ session: borrowing PostgresSession, where condition: PostgresQuery) throws
        -> LoginAccount?
    {
        guard
            let row = try session.query(
                """
                SELECT id::text AS id, status, password_hash, security_questions IS NOT NULL AS has_questions,
                       failed_logins, failure_window_start, lockouts, locked_until, locked, created_at
                FROM accounts WHERE \(subquery: condition) FOR UPDATE
                """
            ).first
        else { return nil }
        return LoginAccount(
            id: try row.decode("id"), status: try row.decode("status"), passwordHash: try row.decode("password_hash"),
            hasSecurityQuestions: try row.decode("has_questions"),
            counters: LoginCounters(
                failures: try row.decode("failed_logins"), windowStart: try row.decode("failure_window_start"),
                lockouts: try row.decode("lockouts"), lockedUntil: try row.decode("locked_until")),
            locked: try row.decode("locked"), createdAt: try row.decode("created_at"))
    }

    /// The stored password hash of an account, unlocked (for `prepare`).
    static func passwordHash(_ session: borrowing PostgresSession, accountID: String) throws -> String? {
        try session.query("SELECT password_hash FROM accounts WHERE id = \(accountID)::uuid").first?.decode(
            "password_hash")
    }

    /// The stored password hash and temporary-lock end of a phone's account, unlocked (for `prepare`).
    static func passwordState(_ session: borrowing PostgresSession, phone: String) throws
        -> (hash: String, lockedUntil: Date?)?
    {
        guard
            let row = try session.query(
                """
                SELECT password_hash, locked_until FROM accounts
                WHERE phone = \(phone) AND status <> 'deregistered'
                """
            ).first
        else { return nil }
        return (try row.decode("password_hash"), try row.decode("locked_until"))
    }

    /// Stores an account's wrong-password counters.
    static func saveCounters(_ session: borrowing PostgresSession, accountID: String, _ counters: LoginCounters) throws
    {
        try session.query(
            """
            UPDATE accounts SET failed_logins = \(counters.failures), failure_window_start = \(counters.windowStart),
                lockouts = \(counters.lockouts), locked_until = \(counters.lockedUntil)
            WHERE id = \(accountID)::uuid
            """)
    }

    /// Opens a device challenge.
    static func openChallenge(
        _ session: borrowing PostgresSession, id: String, accountID: String, printID: String, device: DeviceInfo,
        methods: [String], requiredLevel: StepUpLevel, riskLevel: AccountStage.RiskLevel, now: Date, expiresAt: Date
    ) throws {
        try session.query(
            """
            INSERT INTO challenges (id, account_id, print_id, fingerprint, platform, model, methods, created_at, expires_at,
                                    required_level, risk_level)
            VALUES (\(id)::uuid, \(accountID)::uuid, \(printID)::uuid,
                    \(try IdentityStore.json(device.fingerprint))::jsonb, \(device.platform.rawValue),
                    \(device.model), \(methods)::text[], \(now), \(expiresAt), \(requiredLevel.rawValue),
                    \(riskLevel.rawValue))
            """)
    }

    /// Loads and locks an open challenge.
    static func challenge(_ session: borrowing PostgresSession, id: String, now: Date) throws -> Challenge? {
        guard UUID(uuidString: id) != nil,
            let row = try session.query(
                """
                SELECT id::text AS id, account_id::text AS account_id, print_id::text AS print_id,
                       fingerprint::text AS fingerprint, platform, model, required_level
                FROM challenges WHERE id = \(id)::uuid AND resolved_at IS NULL AND expires_at > \(now) FOR UPDATE
                """
            ).first
        else { return nil }
        return Challenge(
            id: try row.decode("id"), accountID: try row.decode("account_id"), printID: try row.decode("print_id"),
            fingerprint: try JSONDecoder().decode(
                [String: String].self, from: Data(try row.decode("fingerprint", as: String.self).utf8)),
            platform: try row.decode("platform"), model: try row.decode("model"),
            requiredLevel: StepUpLevel(rawValue: try row.decode("required_level")) ?? .high)
    }

    /// Closes a challenge with its outcome.
    static func resolveChallenge(_ session: borrowing PostgresSession, id: String, outcome: String, now: Date) throws {
        try session.query("UPDATE challenges SET resolved_at = \(now), outcome = \(outcome) WHERE id = \(id)::uuid")
    }

    /// Loads and locks what the security-answer step needs of an account.
    static func securityState(_ session: borrowing PostgresSession, accountID: String) throws -> SecurityState? {
        guard
            let row = try session.query(
                """
                SELECT security_questions::text AS questions, wrong_answers, locked, status
                FROM accounts WHERE id = \(accountID)::uuid FOR UPDATE
                """
            ).first
        else { return nil }
        let questions = try (try row.decode("questions", as: String?.self)).map {
            try JSONDecoder().decode([StoredQuestion].self, from: Data($0.utf8))
        }
        return SecurityState(
            questions: questions, wrongAnswers: try row.decode("wrong_answers"), locked: try row.decode("locked"),
            status: try row.decode("status"))
    }

    /// Stores the count of wrong security answers and whether the account is now locked.
    static func setWrongAnswers(
        _ session: borrowing PostgresSession, accountID: String, count: Int, locked: Bool? = nil
    ) throws {
        if let locked {
            try session.query(
                "UPDATE accounts SET wrong_answers = \(count), locked = \(locked) WHERE id = \(accountID)::uuid")
        } else {
            try session.query("UPDATE accounts SET wrong_answers = \(count) WHERE id = \(accountID)::uuid")
        }
    }

    /// The account and platform of a bound device, locked.
    static func boundDevice(_ session: borrowing PostgresSession, id: String) throws
        -> (accountID: String, platform: String)?
    {
        guard UUID(uuidString: id) != nil,
            let row = try session.query(
                """
                SELECT account_id::text AS account_id, platform FROM devices
                WHERE id = \(id)::uuid AND unbound_at IS NULL FOR UPDATE
                """
            ).first
        else { return nil }
        return (try row.decode("account_id"), try row.decode("platform"))
    }

    /// Unbinds a device.
    static func unbind(_ session: borrowing PostgresSession, deviceID: String, now: Date) throws {
        try session.query("UPDATE devices SET unbound_at = \(now) WHERE id = \(deviceID)::uuid")
    }
}
