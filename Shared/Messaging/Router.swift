import Contract
import Foundation
import Logging
import Platform
import Postgres

/// An incoming command with its typed payload.
public struct Command<Payload: Sendable>: Sendable {
    /// Envelope attributes (id, type, tokens, correlation id).
    public var envelope: IncomingEnvelope
    /// The decoded `data`.
    public var data: Payload
    /// When the service took it (from the injected clock).
    public var receivedAt: Date
    /// What the command's `prepare` step computed before its batch's transaction, if it ran.
    public var prepared: (any Sendable)?
}

/// What a handler writes besides its reply: events and notifications, committed in the same
/// transaction as its state change (the outbox).
public struct MessageEffects: Sendable {
    /// Rows for the outbox, in order.
    public internal(set) var outgoing: [OutboxMessage] = []
    let service: RegistrarService
    let topics: Topics
    let now: Date
    let causation: IncomingEnvelope
    /// The account the message concerns, when the handler named it (`concerns(_:)`).
    public internal(set) var account: String?

    /// Files the reply and the subject-less rows of this message under `accountID`, so that the
    /// account's purge removes them (docs/decisions.md, "Retention of runtime data"). Needed only
    /// where neither the reply's `result.accountId` nor an emitted event's subject names the
    /// account (a read of the caller's own data, say).
    public mutating func concerns(_ accountID: String) {
        account = AccountFiling.accountID(accountID) ?? account
    }

    /// Publishes event `type` about `subject` (an accountId) on the service's event topic.
    public mutating func emit(_ type: EventType, subject: String, data: some Encodable) throws {
        let event = CloudEvent(
            source: service.source, type: type.rawValue, time: now, subject: subject,
            correlationid: causation.correlationid ?? causation.id, causationid: causation.id,
            data: try JSONValue(encoding: data))
        outgoing.append(OutboxMessage(topic: topics.events(service), key: subject, event: event))
    }

    /// Publishes a message on another topic (e.g. `notifications.sms`), keyed by `key`. A
    /// `sensitive` message (one carrying a code) has its outbox copy blanked once it was sent.
    public mutating func publish(
        topic base: String, key: String, type: EventType, data: some Encodable, sensitive: Bool = false
    ) throws {
        let event = CloudEvent(
            source: service.source, type: type.rawValue, time: now,
            correlationid: causation.correlationid ?? causation.id,
            causationid: causation.id, data: try JSONValue(encoding: data))
        outgoing.append(OutboxMessage(topic: topics.name(base), key: key, event: event, sensitive: sensitive))
    }
}

/// One outbox row.
public struct OutboxMessage: Sendable {
    /// Full topic name.
    public var topic: String
    /// Kafka key.
    public var key: String?
    /// The message.
    public var event: CloudEvent
    /// True when the payload carries a secret: blanked in the outbox once sent.
    public var sensitive = false
}

/// Everything a handler may read besides its command.
public struct HandlerEnvironment: Sendable {
    /// The policy in force.
    public var policy: Policy
    /// The injected clock.
    public var clock: any RegistrarClock
    /// The service's logger.
    public var logger: Logger
    /// Topic names.
    public var topics: Topics
    /// The service.
    public var service: RegistrarService
    /// `REGISTRAR_HASH_KEY`, when set.
    public var hashKey: [UInt8]?
    /// `REGISTRAR_PII_KEY`, when set.
    public var piiKey: [UInt8]?

    /// The hash key, or an error naming the variable.
    public func requireHashKey() throws -> [UInt8] {
        guard let hashKey else { throw ConfigurationError(reason: "REGISTRAR_HASH_KEY must be 64 hex characters") }
        return hashKey
    }

    /// The PII key, or an error naming the variable.
    public func requirePIIKey() throws -> [UInt8] {
        guard let piiKey else { throw ConfigurationError(reason: "REGISTRAR_PII_KEY must be 64 hex characters") }
        return piiKey
    }
}

/// Thrown by a command handler to answer with `reply` from wherever it stands; whatever the
/// handler wrote before is rolled back (the runtime wraps each handler in a savepoint).
public struct Refusal: Error, Sendable {
    /// The reply to send.
    public var reply: Reply
    /// Creates a refusal.
    public init(_ reply: Reply) { self.reply = reply }
}

/// A setting a service cannot run without is missing or invalid.
public struct ConfigurationError: Error, CustomStringConvertible {
    /// What is wrong.
    public var reason: String
    /// Creates the error.
    public init(reason: String) { self.reason = reason }
    /// Logged form.
    public var description: String { "ConfigurationError: \(reason)" }
}

/// Handlers by message type. Handlers run synchronously inside the message's database
/// transaction: they read state, call a pure rule, write the outcome and return the reply.
public struct Router: Sendable {
    typealias Erased =
        @Sendable (borrowing PostgresSession, [UInt8], IncomingEnvelope, Date, (any Sendable)?, inout MessageEffects)
        throws -> HandlerOutcome
    typealias ErasedPreparation = @Sendable ([UInt8], IncomingEnvelope, Date) async -> (any Sendable)?

    enum HandlerOutcome {
        case reply(Reply)
        /// The handler threw a `Refusal`: its writes are undone, the reply is sent.
        case refused(Reply)
        case malformed(MalformedMessage)
        case none
    }

    var commands: [String: Erased] = [:]
    /// Commands with work to do before their transaction (see `command(_:_:sensitive:prepare:_:)`).
    var preparations: [String: ErasedPreparation] = [:]
    /// Commands whose replies carry secrets (session tokens): their stored replies are sealed and
    /// their outbox copies blanked once sent.
    var sensitiveCommands: Set<String> = []
    var events: [String: Erased] = [:]
    /// Base names of event topics this service consumes.
    public internal(set) var eventTopics: Set<String> = []
    let decoder: MessageDecoder

    init(decoder: MessageDecoder) { self.decoder = decoder }

    /// Handles command `type` arriving on the service's command topic; `sensitive` when its reply
    /// may carry a secret (a session token).
    public mutating func command<Payload: Decodable & Sendable>(
        _ type: String, _ payload: Payload.Type, sensitive: Bool = false,
        _ handler:
            @escaping @Sendable (borrowing PostgresSession, Command<Payload>, inout MessageEffects) throws -> Reply
    ) {
        if sensitive { sensitiveCommands.insert(type) }
        let decoder = self.decoder
        commands[type] = { session, bytes, envelope, now, prepared, effects in
            switch decoder.data(Payload.self, from: bytes, envelope: envelope) {
            case .failure(let malformed): return .malformed(malformed)
            case .success(let data):
                do {
                    let command = Command(envelope: envelope, data: data, receivedAt: now, prepared: prepared)
                    return .reply(try handler(session, command, &effects))
                } catch let refusal as Refusal {
                    return .refused(refusal.reply)
                } catch var malformed as MalformedMessage {
                    malformed.messageID = envelope.id
                    malformed.correlationID = envelope.correlationid
                    return .malformed(malformed)
                }
            }
        }
    }

    /// Handles command `type` like `command(_:_:sensitive:_:)`, with a `prepare` step that runs
    /// before the transaction of the command's batch, side by side with the other commands' steps:
    /// CPU-heavy work (Argon2id) that would otherwise run one command at a time inside the loop.
    /// `prepare` may read the service's tables but not write them; what it returns reaches the
    /// handler as `command.prepared` (`nil` when it returned `nil` or threw), and the handler must
    /// check it against what it reads under its lock, since the state may change in between.
    public mutating func command<Payload: Decodable & Sendable>(
        _ type: String, _ payload: Payload.Type, sensitive: Bool = false,
        prepare: @escaping @Sendable (Command<Payload>) async throws -> (any Sendable)?,
        _ handler:
            @escaping @Sendable (borrowing PostgresSession, Command<Payload>, inout MessageEffects) throws -> Reply
    ) {
        command(type, payload, sensitive: sensitive, handler)
        let decoder = self.decoder
        preparations[type] = { bytes, envelope, now in
            guard case .success(let data) = decoder.data(Payload.self, from: bytes, envelope: envelope) else {
                return nil
            }
            return try? await prepare(Command(envelope: envelope, data: data, receivedAt: now))
        }
    }

    /// Handles event `type` from another service's event topic `topic` (base name).
    public mutating func event<Payload: Decodable & Sendable>(
        _ type: EventType, on topic: String, _ payload: Payload.Type,
        _ handler:
            @escaping @Sendable (borrowing PostgresSession, Command<Payload>, inout MessageEffects) throws -> Void
    ) {
        eventTopics.insert(topic)
        let decoder = self.decoder
        events[type.rawValue] = { session, bytes, envelope, now, _, effects in
            switch decoder.data(Payload.self, from: bytes, envelope: envelope) {
            case .failure(let malformed): return .malformed(malformed)
            case .success(let data):
                try handler(session, Command(envelope: envelope, data: data, receivedAt: now), &effects)
                return .none
            }
        }
    }
}

extension Reply {
    /// The rejection for a one-time code that was not accepted (`nil` for `.accepted`); `renew`
    /// tells the user how to get a new code.
    public static func rejection(_ verdict: OneTimeCodeVerdict, renew: String) -> Reply? {
        switch verdict {
        case .accepted: nil
        case .locked: .rejected(.smsCodeLocked, "too many wrong codes; \(renew)")
        case .expired: .rejected(.smsCodeExpired, "the code has expired; \(renew)")
        case .wrong(let attemptsLeft):
            .rejected(
                .smsCodeInvalid, "the code is wrong", result: .object(["attemptsLeft": .int(Int64(attemptsLeft))]))
        }
    }
}
