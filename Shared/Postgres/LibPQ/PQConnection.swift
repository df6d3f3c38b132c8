import CLibPQ
import Glibc

/// The one owner of a `PGconn`. Not thread-safe: `PostgresConnection` confines it to one queue.
final class PQConnection {
    private let pointer: OpaquePointer
    /// Statement text → the name it is prepared under on this connection and whether it has run
    /// without error since (a new connection starts empty, so a reconnect re-prepares on first use).
    private var prepared: [String: (name: String, proven: Bool)] = [:]
    /// The most statements kept prepared; a statement beyond it runs unnamed.
    private let statementCacheSize: Int
    /// The last name handed out (names are never reused on a connection).
    private var nextName = 0

    /// Connects with `PQconnectdbParams`; `url` is expanded as a connection URI, never concatenated.
    init(url: String, options: String, applicationName: String, statementCacheSize: Int) throws(PostgresError) {
        self.statementCacheSize = statementCacheSize
        let keys = ["dbname", "options", "application_name", "connect_timeout"]
        let values = [url, options, applicationName, "5"]
        let connection = withCStringArray(keys) { k in
            withCStringArray(values) { v in PQconnectdbParams(k, v, 1) }
        }
        guard let connection else { throw PostgresError(.connection, reason: "out of memory") }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.text(PQerrorMessage(connection))
            // PQfinish is owed even when the connection attempt failed.
            PQfinish(connection)
            throw PostgresError(.connection, reason: message)
        }
        pointer = connection
    }

    deinit {
        PQfinish(pointer)
    }

    /// True when the connection can no longer be used.
    var isBroken: Bool { PQstatus(pointer) != CONNECTION_OK }

    /// Runs one statement (text parameters, text results): a `cacheable` one as a named prepared
    /// statement, prepared with `PQprepare` on its first use on this connection and run with
    /// `PQexecPrepared` after that (parsed and planned once); any other with `PQexecParams`.
    func execute(_ sql: String, _ binds: [String?], cacheable: Bool) throws(PostgresError) -> PostgresRows {
        guard cacheable, Self.isPlannable(sql), let (name, proven) = try preparedName(sql, parameters: binds.count)
        else {
            let result = withOptionalCStringArray(binds) { values in
                PQexecParams(pointer, sql, Int32(binds.count), nil, values, nil, nil, 0)
            }
            let rows = try copy(PQResult(result))
            if Self.dropsPreparedStatements(sql) { prepared.removeAll() }
            return rows
        }
        let result = withOptionalCStringArray(binds) { values in
            PQexecPrepared(pointer, name, Int32(binds.count), values, nil, nil, 0)
        }
        do {
            let rows = try copy(PQResult(result))
            if !proven { prepared[sql]?.proven = true }
            return rows
        } catch {
            // A statement that ran before and now fails as gone (26000, after DEALLOCATE) or with a
            // plan that no longer fits its tables (0A000, after DDL) is stale: prepared again on its
            // next use. The caller's transaction is aborted, so the error propagates, retriable, and
            // the work runs again. A statement that never ran keeps its error as it is (a genuine
            // 0A000 must not be retried for ever).
            guard proven, error.sqlState == "26000" || error.sqlState == "0A000" else { throw error }
            prepared[sql] = nil
            var stale = error
            stale.isStalePreparedStatement = true
            throw stale
        }
    }

    /// The name `sql` is prepared under (and whether it ran before), preparing it now when it is new;
    /// `nil` when the cache is full.
    private func preparedName(_ sql: String, parameters: Int) throws(PostgresError) -> (String, Bool)? {
        if let entry = prepared[sql] { return entry }
        guard prepared.count < statementCacheSize else { return nil }
        nextName += 1
        let name = "registrar_\(nextName)"
        _ = try copy(PQResult(PQprepare(pointer, name, sql, Int32(parameters), nil)))
        prepared[sql] = (name, false)
        return (name, false)
    }

    /// Whether `sql` is a statement PostgreSQL plans (a query or a data change): the only kind worth
    /// preparing. Utility statements (`BEGIN`, `SAVEPOINT`, `COMMIT`, DDL) have no plan to keep.
    private static func isPlannable(_ sql: String) -> Bool {
        let head = sql.drop(while: \.isWhitespace).prefix(7).uppercased()
        return ["SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "VALUES"].contains { head.hasPrefix($0) }
    }

    /// Whether `sql` is `DISCARD` or `DEALLOCATE`, which drop the session's prepared statements: it
    /// runs unnamed and the cache forgets them.
    private static func dropsPreparedStatements(_ sql: String) -> Bool {
        let head = sql.drop(while: \.isWhitespace).prefix(10).uppercased()
        return head.hasPrefix("DISCARD") || head.hasPrefix("DEALLOCATE")
    }

    /// Runs a script of several statements with `PQexec`. Only for trusted, constant SQL shipped with
    /// the project (migration files): it takes no parameters.
    func executeScript(_ sql: String) throws(PostgresError) {
        _ = try copy(PQResult(PQexec(pointer, sql)))
    }

    private func copy(_ result: PQResult?) throws(PostgresError) -> PostgresRows {
        guard let result else {
            throw PostgresError(.connection, reason: Self.text(PQerrorMessage(pointer)))
        }
        return try result.withResult { r throws(PostgresError) in
            let status = PQresultStatus(r)
            guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY else {
                let sqlState = PQresultErrorField(r, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
                let primary = PQresultErrorField(r, Int32(UInt8(ascii: "M"))).map { String(cString: $0) }
                guard !isBroken, let sqlState else {
                    throw PostgresError(.connection, reason: primary ?? Self.text(PQerrorMessage(pointer)))
                }
                // The server's message may quote a bound value: kept apart from the loggable reason.
                throw PostgresError(
                    .server, sqlState: sqlState, reason: "the server refused the statement", serverMessage: primary)
            }
            let rowCount = Int(PQntuples(r))
            let columnCount = Int(PQnfields(r))
            let columns = (0..<columnCount).map { String(cString: PQfname(r, Int32($0))) }
            var values: [[String?]] = []
            values.reserveCapacity(rowCount)
            for row in 0..<rowCount {
                values.append(
                    (0..<columnCount).map { column in
                        PQgetisnull(r, Int32(row), Int32(column)) != 0
                            ? nil : String(cString: PQgetvalue(r, Int32(row), Int32(column)))
                    })
            }
            let affected = Int(String(cString: PQcmdTuples(r))) ?? 0
            return PostgresRows(columns: columns, values: values, affectedRows: affected)
        }
    }

    private static func text(_ message: UnsafePointer<CChar>?) -> String {
        message.map { String(cString: $0) }?.trimmingWhitespace() ?? "unknown libpq error"
    }
}

/// The one owner of a `PGresult`: `PQclear` runs exactly once, after the values were copied out.
final class PQResult {
    private let pointer: OpaquePointer

    init?(_ pointer: OpaquePointer?) {
        guard let pointer else { return nil }
        self.pointer = pointer
    }

    deinit {
        PQclear(pointer)
    }

    func withResult<T, E: Error>(_ body: (OpaquePointer) throws(E) -> T) throws(E) -> T {
        try body(pointer)
    }
}

private func withCStringArray<T>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> T) -> T {
    withOptionalCStringArray(strings) { pointers in
        // The array is NULL-terminated for PQconnectdbParams.
        body(pointers!)
    }
}

/// Duplicates each string into C memory for the duration of `body`; appends a NULL terminator.
private func withOptionalCStringArray<T>(
    _ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> T
) -> T {
    let duplicates: [UnsafeMutablePointer<CChar>?] = strings.map { $0.flatMap { strdup($0) } }
    defer { for pointer in duplicates { free(pointer) } }
    let constants: [UnsafePointer<CChar>?] = duplicates.map { $0.map { UnsafePointer($0) } } + [nil]
    return constants.withUnsafeBufferPointer { body($0.baseAddress) }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let last = s.last, last.isWhitespace { s.removeLast() }
        return String(s)
    }
}
