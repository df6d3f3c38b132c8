/// An error from PostgreSQL or from the wrapper. `description` is safe to log: it carries the
/// SQLSTATE and the server's primary message, never bound values or the DETAIL field.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
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
    /// The server's primary message or the wrapper's explanation.
    public var reason: String
    /// Where it was raised.
    public var file: String
    /// Where it was raised.
    public var line: Int

    /// Creates an error.
    public init(_ code: Code, sqlState: String? = nil, reason: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.sqlState = sqlState
        self.reason = reason
        self.file = file
        self.line = line
    }

    /// True for serialization failures and deadlocks: the whole transaction may be run again.
    public var isSerializationFailure: Bool { sqlState == "40001" || sqlState == "40P01" }

    /// True when the same work may succeed later: serialization failures, deadlocks, lost or
    /// refused connections, and a server shutting down or starting up.
    public var isRetriable: Bool {
        if code == .connection || isSerializationFailure { return true }
        guard let state = sqlState else { return false }
        return state.hasPrefix("08") || state == "57P01" || state == "57P02" || state == "57P03"
    }

    /// True for a unique-constraint violation.
    public var isUniqueViolation: Bool { sqlState == "23505" }

    /// Logged form.
    public var description: String {
        "PostgresError(\(code)\(sqlState.map { " \($0)" } ?? ""): \(reason))"
    }
}
