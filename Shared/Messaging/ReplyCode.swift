/// A reply code of the contract. Codes are stable strings that clients switch on.
public struct ReplyCode: RawRepresentable, Hashable, Codable, Sendable, CustomStringConvertible {
    /// The code as sent.
    public let rawValue: String
    /// Wraps a code.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// The code.
    public var description: String { rawValue }

    /// Accepted.
    public static let ok = ReplyCode(rawValue: "OK")
    /// Not JSON, not a CloudEvent, unknown type, missing or ill-typed field, too large.
    public static let malformed = ReplyCode(rawValue: "MALFORMED")
    /// `schemaversion` other than 1.
    public static let unsupportedVersion = ReplyCode(rawValue: "UNSUPPORTED_VERSION")
    /// Missing or invalid session or operator token.
    public static let unauthenticated = ReplyCode(rawValue: "UNAUTHENTICATED")
    /// Valid token, not allowed.
    public static let forbidden = ReplyCode(rawValue: "FORBIDDEN")
    /// Not in the contract: the service failed on a well-formed command (a bug); the command is
    /// dead-lettered and this reply stored, so re-sending it answers the same.
    public static let internalError = ReplyCode(rawValue: "INTERNAL_ERROR")
}
