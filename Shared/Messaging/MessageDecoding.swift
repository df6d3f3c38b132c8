import Contract
import Foundation

/// Why an incoming message was refused before any handler saw it.
public struct MalformedMessage: Error, Sendable, Equatable {
    /// `MALFORMED` or `UNSUPPORTED_VERSION`.
    public var code: ReplyCode
    /// A stable word for the dead-letter record: `too_large`, `invalid_utf8`, `too_deep`,
    /// `nul_character`, `not_json`, `not_cloudevent`, `unknown_type`, `unsupported_version`,
    /// `missing_field`, `invalid_field`.
    public var reason: String
    /// The offending field as a dotted path (`data.phone`), when there is one.
    public var field: String?
    /// The message's `id`, when it could be read (then a reply is owed).
    public var messageID: String?
    /// The message's `correlationid`, when it could be read.
    public var correlationID: String?

    /// Creates a refusal.
    public init(
        code: ReplyCode, reason: String, field: String? = nil, messageID: String? = nil, correlationID: String? = nil
    ) {
        self.code = code
        self.reason = reason
        self.field = field
        self.messageID = messageID
        self.correlationID = correlationID
    }

    /// The reply to send when an id could be read.
    public var reply: Reply {
        var result: [String: JSONValue] = ["reason": .string(reason)]
        if let field { result["field"] = .string(field) }
        let text = field.map { "\(reason): \($0)" } ?? reason
        return Reply.rejected(code, text, result: .object(result))
    }
}

extension MalformedMessage {
    /// For a handler to throw when a field has the right type but unusable content: the command is
    /// answered `MALFORMED` naming `field` and dead-lettered, like a decoding error; what the
    /// handler wrote before is rolled back.
    public static func invalid(field: String) -> MalformedMessage {
        MalformedMessage(code: .malformed, reason: "invalid_field", field: field)
    }
}

/// Turns raw bytes into an envelope and typed data, reporting the offending field.
public struct MessageDecoder: Sendable {
    /// Largest accepted message. Default: 64 KiB (policy `runtime.maxMessageBytes`).
    public var maxBytes: Int
    /// Deepest accepted nesting of arrays and objects (policy `runtime.maxJSONDepth`).
    public var maxDepth: Int

    /// Creates a decoder.
    public init(maxBytes: Int, maxDepth: Int) {
        self.maxBytes = maxBytes
        self.maxDepth = maxDepth
    }

    /// Checks size, UTF-8, depth and NUL escapes, then decodes the envelope attributes.
    public func envelope(_ bytes: [UInt8]) -> Result<IncomingEnvelope, MalformedMessage> {
        if bytes.count > maxBytes {
            // Answered when its id can be read without parsing the whole message (contract §2).
            let prefix = Self.topLevelStrings(
                in: bytes.prefix(Self.oversizedPrefixBytes), keys: ["id", "correlationid"])
            return .failure(
                MalformedMessage(
                    code: .malformed, reason: "too_large", messageID: prefix["id"].flatMap { $0.isEmpty ? nil : $0 },
                    correlationID: prefix["correlationid"]))
        }
        guard String(validating: bytes, as: UTF8.self) != nil else {
            return .failure(MalformedMessage(code: .malformed, reason: "invalid_utf8"))
        }
        if let problem = Self.scan(bytes, maxDepth: maxDepth) {
            return .failure(MalformedMessage(code: .malformed, reason: problem, messageID: nil))
        }
        let data = Data(bytes)
        // The common case in one parse; a message that does not decode is parsed again loosely to
        // name the problem and to answer it by its id when one can be read.
        if let probe = try? JSONDecoder().decode(EnvelopeProbe.self, from: data) {
            return validate(
                probe.envelope, hasData: probe.hasData, id: probe.envelope.id,
                correlationID: probe.envelope.correlationid)
        }
        let loose = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        guard let loose else {
            return .failure(MalformedMessage(code: .malformed, reason: "not_json"))
        }
        let id = loose["id"] as? String
        let correlation = loose["correlationid"] as? String
        do {
            let envelope = try JSONDecoder().decode(IncomingEnvelope.self, from: data)
            return validate(envelope, hasData: loose["data"] != nil, id: id, correlationID: correlation)
        } catch let error as DecodingError {
            let (reason, field) = Self.describe(error)
            return .failure(
                MalformedMessage(
                    code: .malformed, reason: reason == "missing_field" ? "not_cloudevent" : reason, field: field,
                    messageID: id, correlationID: correlation))
        } catch {
            return .failure(
                MalformedMessage(code: .malformed, reason: "not_cloudevent", messageID: id, correlationID: correlation))
        }
    }

    /// How much of an oversized message is read to find its `id` and `correlationid`: CloudEvents
    /// attributes come before `data` in every client we know, and an id longer than this is no id.
    static let oversizedPrefixBytes = 4096

    /// The string values of `keys` among the top-level members found in `bytes` (a prefix of a JSON
    /// object), without parsing the rest: a single pass tracking nesting and strings, so a key inside
    /// `data` or inside a string is never taken for a top-level one.
    static func topLevelStrings(in bytes: ArraySlice<UInt8>, keys: Set<String>) -> [String: String] {
        var found: [String: String] = [:]
        var depth = 0
        var index = bytes.startIndex
        var expectingKey = false
        var pendingKey: String?
        /// The end (exclusive) of the JSON string starting at `start` (a quote), `nil` if cut off.
        func stringEnd(from start: Int) -> Int? {
            var cursor = start + 1
            while cursor < bytes.endIndex {
                switch bytes[cursor] {
                case UInt8(ascii: "\\"): cursor += 2
                case UInt8(ascii: "\""): return cursor + 1
                default: cursor += 1
                }
            }
            return nil
        }
        func decoded(_ range: Range<Int>) -> String? {
            try? JSONDecoder().decode(String.self, from: Data(bytes[range]))
        }
        while index < bytes.endIndex {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                guard let end = stringEnd(from: index) else { return found }
                if depth == 1 {
                    if expectingKey {
                        pendingKey = decoded(index..<end)
                        expectingKey = false
                    } else if let key = pendingKey, keys.contains(key), found[key] == nil {
                        found[key] = decoded(index..<end)
                    }
                }
                index = end
                continue
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                expectingKey = depth == 1 && byte == UInt8(ascii: "{")
                if depth > 1 { pendingKey = nil }
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
            case UInt8(ascii: ","):
                if depth == 1 {
                    expectingKey = true
                    pendingKey = nil
                }
            default: break
            }
            index += 1
        }
        return found
    }

    /// The envelope rules beyond its types; a failure carries `id` and `correlationID` (what the
    /// message holds there, if strings) for its answer.
    private func validate(
        _ envelope: IncomingEnvelope, hasData: Bool, id: String?, correlationID: String?
    ) -> Result<IncomingEnvelope, MalformedMessage> {
        func failure(_ reason: String, _ field: String?, code: ReplyCode = .malformed) -> Result<
            IncomingEnvelope, MalformedMessage
        > {
            .failure(
                MalformedMessage(
                    code: code, reason: reason, field: field, messageID: id,
                    correlationID: correlationID))
        }
        if envelope.specversion != "1.0" { return failure("not_cloudevent", "specversion") }
        if envelope.id.isEmpty { return failure("missing_field", "id") }
        if envelope.type.isEmpty { return failure("missing_field", "type") }
        if !hasData { return failure("missing_field", "data") }
        if let version = envelope.schemaversion, version != 1 {
            return failure("unsupported_version", "schemaversion", code: .unsupportedVersion)
        }
        return .success(envelope)
    }

    /// Decodes `data` as `T`; errors name the field (`data.device.osVersion`).
    public func data<T: Decodable>(_ type: T.Type, from bytes: [UInt8], envelope: IncomingEnvelope)
        -> Result<T, MalformedMessage>
    {
        do {
            return .success(try JSONDecoder().decode(DataMember<T>.self, from: Data(bytes)).data)
        } catch let error as DecodingError {
            let (reason, field) = Self.describe(error)
            return .failure(
                MalformedMessage(
                    code: .malformed, reason: reason, field: field, messageID: envelope.id,
                    correlationID: envelope.correlationid))
        } catch let error as FieldError {
            return .failure(
                MalformedMessage(
                    code: .malformed, reason: "invalid_field", field: "data." + error.field, messageID: envelope.id,
                    correlationID: envelope.correlationid))
        } catch {
            return .failure(
                MalformedMessage(
                    code: .malformed, reason: "invalid_field", field: "data", messageID: envelope.id,
                    correlationID: envelope.correlationid))
        }
    }

    private struct DataMember<T: Decodable>: Decodable {
        var data: T
    }

    static func describe(_ error: DecodingError) -> (String, String) {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
                .replacingOccurrences(of: ".[", with: "[").trimmingPrefix(".").description
        }
        switch error {
        case .keyNotFound(let key, let context):
            return ("missing_field", path(context.codingPath + [key]))
        case .valueNotFound(_, let context):
            return ("missing_field", path(context.codingPath))
        case .typeMismatch(_, let context), .dataCorrupted(let context):
            return ("invalid_field", path(context.codingPath))
        @unknown default:
            return ("invalid_field", "")
        }
    }

    /// One pass over the bytes: nesting depth outside strings, and `\u0000` inside them (which
    /// PostgreSQL's jsonb refuses). Returns the reason word of the first problem.
    static func scan(_ bytes: [UInt8], maxDepth: Int) -> String? {
        var depth = 0
        var inString = false
        var index = 0
        let nulEscape: [UInt8] = Array("u0000".utf8)
        while index < bytes.count {
            let byte = bytes[index]
            if inString {
                if byte == UInt8(ascii: "\\") {
                    if index + 5 < bytes.count, Array(bytes[(index + 1)...(index + 5)]) == nulEscape {
                        return "nul_character"
                    }
                    index += 2
                    continue
                }
                if byte == UInt8(ascii: "\"") { inString = false }
                if byte == 0 { return "nul_character" }
            } else {
                switch byte {
                case UInt8(ascii: "\""): inString = true
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                    if depth > maxDepth { return "too_deep" }
                case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
                case 0: return "nul_character"
                default: break
                }
            }
            index += 1
        }
        return nil
    }
}

/// Thrown by a payload's `init(from:)` when a field has the right type but an invalid value.
public struct FieldError: Error, Sendable {
    /// The field, relative to `data`.
    public var field: String
    /// Creates the error.
    public init(field: String) { self.field = field }
}

/// A command or event without payload fields (`system.ping`).
public struct EmptyPayload: Codable, Sendable {}

/// An envelope and whether the message has a `data` member, from one parse.
private struct EnvelopeProbe: Decodable {
    var envelope: IncomingEnvelope
    var hasData: Bool

    private enum Keys: String, CodingKey { case data }

    init(from decoder: any Decoder) throws {
        envelope = try IncomingEnvelope(from: decoder)
        hasData = try decoder.container(keyedBy: Keys.self).contains(.data)
    }
}
