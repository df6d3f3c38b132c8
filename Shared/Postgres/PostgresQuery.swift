import Foundation

/// A statement whose interpolated values become `$n` parameters, sent apart from the SQL text
/// (`PQexecParams`). Values never become part of the SQL string.
///
///     let q: PostgresQuery = "SELECT name FROM accounts WHERE id = \(id)"   // SQL: ... WHERE id = $1
public struct PostgresQuery: ExpressibleByStringInterpolation, Sendable, CustomStringConvertible {
    /// The SQL text with `$n` placeholders.
    public private(set) var sql: String
    /// Parameter values in text format (`nil` = SQL NULL).
    public private(set) var binds: [String?]
    /// True when the text is written in the source (a literal, with interpolated parameters): one of
    /// a fixed set, so it is kept as a prepared statement. `trusted:` text is not.
    public private(set) var isLiteral: Bool

    /// A statement without parameters.
    public init(stringLiteral value: String) {
        sql = value
        binds = []
        isLiteral = true
    }

    /// The same statement, planned at every execution (run unnamed, never from the statement
    /// cache): for a statement over a table that grows fast under it. A plan cached while the table
    /// was small stays a small table's plan after it grew, until the next ANALYZE.
    public var plannedEachTime: PostgresQuery {
        var query = self
        query.isLiteral = false
        return query
    }

    /// SQL text the program composed itself at run time (a generated database or schema name, a
    /// statement read from the project's own files, an expression a test wrote), with parameters
    /// for its `$n` placeholders. The one way to send text that is not a literal: grep `trusted:`
    /// to review every such place. Never pass input through it.
    public init(trusted sql: String, binds: [String?] = []) {
        self.sql = sql
        self.binds = binds
        isLiteral = false
    }

    /// A statement built by interpolation.
    public init(stringInterpolation: StringInterpolation) {
        sql = stringInterpolation.sql
        binds = stringInterpolation.binds
        isLiteral = stringInterpolation.isLiteral
    }

    /// Logged form: the SQL only, never the values.
    public var description: String { sql }

    /// Collects literal SQL and parameters.
    public struct StringInterpolation: StringInterpolationProtocol {
        var sql = ""
        var binds: [String?] = []
        var isLiteral = true

        /// Reserves space.
        public init(literalCapacity: Int, interpolationCount: Int) {
            sql.reserveCapacity(literalCapacity + interpolationCount * 3)
        }

        /// SQL text.
        public mutating func appendLiteral(_ literal: String) { sql += literal }

        /// A parameter.
        public mutating func appendInterpolation(_ value: some PostgresEncodable) {
            binds.append(value.postgresText)
            sql += "$\(binds.count)"
        }

        /// Another statement as a subquery (`WITH q AS (\(subquery: insert)) …`): its text is spliced
        /// and its `$n` placeholders renumbered after the parameters already collected, so its values
        /// stay parameters. Quoted strings and identifiers are left as they are.
        public mutating func appendInterpolation(subquery: PostgresQuery) {
            sql += PostgresQuery.renumbered(subquery.sql, by: binds.count)
            binds += subquery.binds
            isLiteral = isLiteral && subquery.isLiteral
        }

        /// An optional parameter (`nil` = NULL).
        public mutating func appendInterpolation(_ value: (some PostgresEncodable)?) {
            binds.append(value?.postgresText)
            sql += "$\(binds.count)"
        }
    }
}

extension PostgresQuery {
    /// `sql` with every placeholder `$n` outside quotes turned into `$(n + offset)`.
    static func renumbered(_ sql: String, by offset: Int) -> String {
        guard offset > 0 else { return sql }
        var result = ""
        var quote: Character?
        var index = sql.startIndex
        while index < sql.endIndex {
            let character = sql[index]
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "'" || character == "\"" {
                quote = character
            } else if character == "$" {
                let digits = sql[sql.index(after: index)...].prefix(while: \.isASCII).prefix(while: \.isNumber)
                if let number = Int(digits) {
                    result += "$\(number + offset)"
                    index = digits.endIndex
                    continue
                }
            }
            result.append(character)
            index = sql.index(after: index)
        }
        return result
    }
}

/// A value that can be sent as a text-format parameter.
public protocol PostgresEncodable: Sendable {
    /// The PostgreSQL text representation.
    var postgresText: String? { get }
}

extension String: PostgresEncodable {
    /// Itself.
    public var postgresText: String? { self }
}

extension Int: PostgresEncodable {
    /// Decimal digits.
    public var postgresText: String? { String(self) }
}

extension Int32: PostgresEncodable {
    /// Decimal digits.
    public var postgresText: String? { String(self) }
}

extension Int64: PostgresEncodable {
    /// Decimal digits.
    public var postgresText: String? { String(self) }
}

extension Double: PostgresEncodable {
    /// Shortest round-tripping decimal.
    public var postgresText: String? { "\(self)" }
}

extension Bool: PostgresEncodable {
    /// `t` or `f`.
    public var postgresText: String? { self ? "t" : "f" }
}

extension UUID: PostgresEncodable {
    /// Canonical lowercase form.
    public var postgresText: String? { uuidString.lowercased() }
}

extension Date: PostgresEncodable {
    /// Seconds since the epoch as a timestamptz literal (`to_timestamp` precision).
    public var postgresText: String? { PostgresTime.format(self) }
}

extension Array: PostgresEncodable where Element: PostgresArrayElement {
    /// A one-dimensional array literal, e.g. `{1,2}` or `{"a","b"}`.
    public var postgresText: String? {
        "{" + map { $0.arrayLiteralText }.joined(separator: ",") + "}"
    }
}

/// Values that can appear in an array parameter.
public protocol PostgresArrayElement: Sendable {
    /// The element as written inside `{…}`.
    var arrayLiteralText: String { get }
}

extension Int64: PostgresArrayElement {
    /// Decimal digits.
    public var arrayLiteralText: String { String(self) }
}

extension Int32: PostgresArrayElement {
    /// Decimal digits.
    public var arrayLiteralText: String { String(self) }
}

extension Bool: PostgresArrayElement {
    /// `t` or `f`.
    public var arrayLiteralText: String { self ? "t" : "f" }
}

extension Date: PostgresArrayElement {
    /// The timestamptz literal, double-quoted.
    public var arrayLiteralText: String { "\"" + PostgresTime.format(self) + "\"" }
}

extension Optional: PostgresArrayElement where Wrapped: PostgresArrayElement {
    /// The element, or an unquoted `NULL`.
    public var arrayLiteralText: String { map(\.arrayLiteralText) ?? "NULL" }
}

extension String: PostgresArrayElement {
    /// Double-quoted with `\` and `"` escaped.
    public var arrayLiteralText: String {
        var bytes: [UInt8] = [UInt8(ascii: "\"")]
        bytes.reserveCapacity(utf8.count + 2)
        for byte in utf8 {
            if byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "\"") { bytes.append(UInt8(ascii: "\\")) }
            bytes.append(byte)
        }
        bytes.append(UInt8(ascii: "\""))
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Byte strings, sent and read as `bytea` hex.
public struct PostgresBytes: PostgresEncodable, Equatable {
    /// The bytes.
    public var bytes: [UInt8]

    /// Wraps bytes.
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// `\x` followed by hex digits.
    public var postgresText: String? {
        "\\x" + bytes.map { String(format: "%02x", $0) }.joined()
    }
}

/// Text forms of `timestamptz`.
enum PostgresTime {
    static func format(_ date: Date) -> String {
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        let seconds = micros.floorDiv(1_000_000)
        let fraction = micros - seconds * 1_000_000
        let days = seconds.floorDiv(86_400)
        let secondOfDay = seconds - days * 86_400
        let (y, m, d) = civil(fromDays: days)
        return String(
            format: "%04lld-%02lld-%02lld %02lld:%02lld:%02lld.%06lld+00", y, m, d, secondOfDay / 3600,
            secondOfDay % 3600 / 60, secondOfDay % 60, fraction)
    }

    /// Parses `YYYY-MM-DD HH:MM:SS[.ffffff]±HH[:MM]`, the server's output for `timestamptz`.
    static func parse(_ text: String) -> Date? {
        let chars = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int64? {
            guard range.upperBound <= chars.count else { return nil }
            var n: Int64 = 0
            for c in chars[range] {
                guard c >= 48 && c <= 57 else { return nil }
                n = n * 10 + Int64(c - 48)
            }
            return n
        }
        guard chars.count >= 22, let y = number(0..<4), let mo = number(5..<7), let d = number(8..<10),
            let h = number(11..<13), let mi = number(14..<16), let s = number(17..<19)
        else { return nil }
        var index = 19
        var micros: Int64 = 0
        if index < chars.count && chars[index] == UInt8(ascii: ".") {
            index += 1
            var digits = 0
            while index < chars.count, chars[index] >= 48, chars[index] <= 57 {
                if digits < 6 { micros = micros * 10 + Int64(chars[index] - 48) }
                digits += 1
                index += 1
            }
            for _ in digits..<6 where digits < 6 { micros *= 10 }
        }
        guard index + 3 <= chars.count, let offsetHours = number((index + 1)..<(index + 3)) else { return nil }
        var offset = offsetHours * 3600
        if index + 6 <= chars.count, chars[index + 3] == UInt8(ascii: ":"), let om = number((index + 4)..<(index + 6)) {
            offset += om * 60
        }
        if chars[index] == UInt8(ascii: "-") { offset = -offset }
        let seconds = days(fromCivil: y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset
        return Date(timeIntervalSince1970: Double(seconds) + Double(micros) / 1_000_000)
    }

    // Howard Hinnant's days-from-civil algorithms (proleptic Gregorian calendar).
    private static func days(fromCivil y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = y.floorDiv(400)
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    private static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = z.floorDiv(146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? yoe + era * 400 + 1 : yoe + era * 400, m, d)
    }
}

extension Int64 {
    fileprivate func floorDiv(_ divisor: Int64) -> Int64 {
        let q = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? q - 1 : q
    }
}
