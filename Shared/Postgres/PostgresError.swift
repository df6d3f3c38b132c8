/// An error from PostgreSQL or from the wrapper. `description` is safe to log: it carries the kind,
/// the SQLSTATE and the wrapper's own words, never the server's message (which can echo a bound
/// value: `invalid input syntax for type uuid: "…"`); that is kept for `debugDescription` only.
public struct PostgresError: Error, CustomStringConvertible, CustomDebugStringConvertible, Sendable {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// Could not connect, or the connection broke.
        public static let connection = Code(name: "connection")
        /// The server rejected a statement.
        public static let server = Code(name: "server")
        /// A column could not be decoded into the requested type.
        public static let decoding = Code(name: "decoding")
        /// A migration file is missing, changed after it was applied, or failed.
        public static let migration = Code(name: "migration")
        /// The name.
        public var description: String { name }
    }

    /// The kind of failure.
    public var code: Code
    /// The SQLSTATE, for server errors.
    public var sqlState: String?
    /// The wrapper's explanation (never text from the server about a statement).
    public var reason: String
    /// The server's primary message, for server errors: it may quote a bound value, so it appears
    /// only in `debugDescription`, never in logs.
    public var serverMessage: String?
    /// Where it was raised.
    public var file: String
    /// Where it was raised.
    public var line: Int

    /// Creates an error.
    public init(
        _ code: Code, sqlState: String? = nil, reason: String, serverMessage: String? = nil, file: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.sqlState = sqlState
        self.reason = reason
        self.serverMessage = serverMessage
        self.file = file
        self.line = line
    }

    /// True for serialization failures and deadlocks: the whole transaction may be run again.
    public var isSerializationFailure: Bool { sqlState == "40001" || sqlState == "40P01" }

    /// True for a cached prepared statement that ran before and is now gone (`26000`, after
    /// `DEALLOCATE`) or whose plan no longer fits its tables (`0A000` "cached plan must not change
    /// result type", after DDL): the connection prepares it again on its next use.
    public var isStalePreparedStatement = false

    /// True when the same work may succeed later: serialization failures, deadlocks, lost or
    /// refused connections, a server shutting down or starting up, and a stale prepared statement.
    public var isRetriable: Bool {
        if code == .connection || isSerializationFailure || isStalePreparedStatement { return true }
        guard let state = sqlState else { return false }
        return state.hasPrefix("08") || state == "57P01" || state == "57P02" || state == "57P03"
    }

    /// True for a unique-constraint violation.
    public var isUniqueViolation: Bool { sqlState == "23505" }

    /// Logged form: kind, SQLSTATE, the wrapper's words.
    public var description: String {
        "PostgresError(\(code)\(sqlState.map { " \($0)" } ?? ""): \(reason))"
    }

    /// For debugging only (never logged): the description and the server's message.
    public var debugDescription: String {
        description + (serverMessage.map { " server: \($0)" } ?? "")
    }
}
