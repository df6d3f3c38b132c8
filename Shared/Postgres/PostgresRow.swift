import Foundation

/// Rows copied out of a result, plus the affected-row count of the command.
public struct PostgresRows: Sendable, Sequence {
    /// Column names in order.
    public let columns: [String]
    /// Each row's values in text format.
    let values: [[String?]]
    /// `PQcmdTuples`: rows inserted, updated or deleted (0 for others).
    public let affectedRows: Int

    init(columns: [String], values: [[String?]], affectedRows: Int) {
        self.columns = columns
        self.values = values
        self.affectedRows = affectedRows
    }

    /// The number of rows.
    public var count: Int { values.count }

    /// The first row, if any.
    public var first: PostgresRow? { values.first.map { PostgresRow(columns: columns, values: $0) } }

    /// Iterates the rows.
    public func makeIterator() -> some IteratorProtocol<PostgresRow> {
        values.lazy.map { PostgresRow(columns: columns, values: $0) }.makeIterator()
    }
}

/// One row; values are decoded by column name.
public struct PostgresRow: Sendable {
    let columns: [String]
    let values: [String?]

    /// Decodes column `name` as `T`; a NULL decodes only into an `Optional`.
    public func decode<T: PostgresDecodable>(_ name: String, as type: T.Type = T.self) throws(PostgresError) -> T {
        guard let index = columns.firstIndex(of: name) else {
            throw PostgresError(.decoding, reason: "no column \(name)")
        }
        guard let value = T(postgresText: values[index]) else {
            throw PostgresError(
                .decoding, reason: "column \(name) is \(values[index] == nil ? "NULL" : "not a \(T.self)")")
        }
        return value
    }
}

/// A value that can be read from the text format.
public protocol PostgresDecodable {
    /// `nil` when the text (or NULL) is not a value of this type.
    init?(postgresText: String?)
}

extension String: PostgresDecodable {
    /// The text itself.
    public init?(postgresText: String?) {
        guard let text = postgresText else { return nil }
        self = text
    }
}

extension Int: PostgresDecodable {
    /// Decimal digits.
    public init?(postgresText: String?) {
        guard let text = postgresText, let value = Int(text) else { return nil }
        self = value
    }
}

extension Int64: PostgresDecodable {
    /// Decimal digits.
    public init?(postgresText: String?) {
        guard let text = postgresText, let value = Int64(text) else { return nil }
        self = value
    }
}

extension Double: PostgresDecodable {
    /// Decimal number.
    public init?(postgresText: String?) {
        guard let text = postgresText, let value = Double(text) else { return nil }
        self = value
    }
}

extension Bool: PostgresDecodable {
    /// `t` or `f`.
    public init?(postgresText: String?) {
        switch postgresText {
        case "t": self = true
        case "f": self = false
        default: return nil
        }
    }
}

extension UUID: PostgresDecodable {
    /// Canonical form.
    public init?(postgresText: String?) {
        guard let text = postgresText, let value = UUID(uuidString: text) else { return nil }
        self = value
    }
}

extension Date: PostgresDecodable {
    /// A `timestamptz` in the server's ISO output.
    public init?(postgresText: String?) {
        guard let text = postgresText, let value = PostgresTime.parse(text) else { return nil }
        self = value
    }
}

extension PostgresBytes: PostgresDecodable {
    /// `bytea` hex output (`\x…`).
    public init?(postgresText: String?) {
        guard let text = postgresText, text.hasPrefix("\\x") else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity((text.utf8.count - 2) / 2)
        var high: UInt8?
        for c in text.utf8.dropFirst(2) {
            let nibble: UInt8
            switch c {
            case 48...57: nibble = c - 48
            case 97...102: nibble = c - 87
            case 65...70: nibble = c - 55
            default: return nil
            }
            if let h = high {
                bytes.append(h << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        guard high == nil else { return nil }
        self.init(bytes)
    }
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    /// NULL is `nil`; anything else must decode as `Wrapped`.
    public init?(postgresText: String?) {
        guard let text = postgresText else {
            self = .none
            return
        }
        guard let value = Wrapped(postgresText: text) else { return nil }
        self = .some(value)
    }
}

extension Array: PostgresDecodable where Element == String {
    /// A one-dimensional `text[]` in the server's output form (`{a,"b c",NULL}`); NULL elements
    /// are not supported and fail the decoding.
    public init?(postgresText: String?) {
        guard let text = postgresText, text.first == "{", text.last == "}" else { return nil }
        var elements: [String] = []
        var current = ""
        var quoted = false
        var wasQuoted = false
        var escaped = false
        for character in text.dropFirst().dropLast() {
            if escaped {
                current.append(character)
                escaped = false
            } else if quoted {
                switch character {
                case "\\": escaped = true
                case "\"": quoted = false
                default: current.append(character)
                }
            } else {
                switch character {
                case "\"":
                    quoted = true
                    wasQuoted = true
                case ",":
                    if !wasQuoted && current == "NULL" { return nil }
                    elements.append(current)
                    current = ""
                    wasQuoted = false
                default: current.append(character)
                }
            }
        }
        if !current.isEmpty || wasQuoted {
            if !wasQuoted && current == "NULL" { return nil }
            elements.append(current)
        }
        self = elements
    }
}
