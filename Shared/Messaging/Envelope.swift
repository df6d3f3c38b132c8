import Contract
import Foundation

/// A CloudEvents 1.0 event in structured JSON mode, as Registrar writes it (replies, events, SMS
/// notifications, dead letters).
public struct CloudEvent: Codable, Sendable, Equatable {
    public var specversion = "1.0"
    public var id: String
    public var source: String
    public var type: String
    public var time: String
    public var datacontenttype = "application/json"
    public var subject: String?
    public var inreplyto: String?
    public var correlationid: String?
    public var causationid: String?
    public var data: JSONValue

    /// Creates an event with a fresh random id.
    public init(
        source: String, type: String, time: Date, subject: String? = nil, inreplyto: String? = nil,
        correlationid: String? = nil, causationid: String? = nil, data: JSONValue
    ) {
        self.id = UUID().uuidString.lowercased()
        self.source = source
        self.type = type
        self.time = CloudEvent.timestamp(time)
        self.subject = subject
        self.inreplyto = inreplyto
        self.correlationid = correlationid
        self.causationid = causationid
        self.data = data
    }

    /// RFC 3339 UTC with milliseconds.
    public static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// The JSON bytes (keys sorted, so equal events serialize equally).
    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings and JSONValue cannot fail.
        return Array((try? encoder.encode(self)) ?? Data())
    }
}

/// Kafka header for every Registrar message.
public let cloudEventsContentType = "application/cloudevents+json"

/// The `data` of a reply (`registrar.reply`).
public struct Reply: Codable, Sendable, Equatable {
    /// `ok`, `rejected` or `pending_review`.
    public enum Status: String, Codable, Sendable {
        case ok
        case rejected
        case pendingReview = "pending_review"
    }

    public var status: Status
    public var code: ReplyCode
    public var message: String
    public var warnings: [String]
    public var result: JSONValue

    /// Creates a reply.
    public init(
        status: Status, code: ReplyCode, message: String, warnings: [String] = [], result: JSONValue = .emptyObject
    ) {
        self.status = status
        self.code = code
        self.message = message
        self.warnings = warnings
        self.result = result
    }

    /// `OK` with `result`.
    public static func ok(_ result: some Encodable, message: String = "ok", warnings: [String] = []) throws -> Reply {
        Reply(status: .ok, code: .ok, message: message, warnings: warnings, result: try JSONValue(encoding: result))
    }

    /// A rejection with `code`.
    public static func rejected(_ code: ReplyCode, _ message: String, result: JSONValue = .emptyObject) -> Reply {
        Reply(status: .rejected, code: code, message: message, result: result)
    }
}

/// The envelope attributes of an incoming command or event (everything but `data`).
public struct IncomingEnvelope: Decodable, Sendable {
    public var specversion: String
    public var id: String
    public var source: String
    public var type: String
    public var time: String?
    public var subject: String?
    public var schemaversion: Int?
    public var correlationid: String?
    public var causationid: String?
    public var sessiontoken: String?
    public var operatortoken: String?
}

/// `data` of a `registrar.deadletter` event.
public struct DeadLetter: Codable, Sendable {
    /// Why the message could not be processed (a stable word, then details).
    public var reason: String
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    /// The original bytes, base64 — at most the first `runtime.maxMessageBytes` of them, so a
    /// dead letter always fits the broker's message size limit.
    public var original: String
    /// Not in the contract: the original's size in bytes.
    public var originalBytes: Int
    /// Not in the contract: true when `original` holds only the first bytes of a larger message.
    public var truncated: Bool
}
