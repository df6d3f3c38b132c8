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
    /// Rows for the service's audit trail, in order (written with the outbox rows).
    public internal(set) var auditEntries: [AuditEntry] = []
    /// The operator this message's command was authorized for (`OperatorDirectory.authorize`):
    /// the actor of everything it audits.
    public var operatorID: String?
    /// Why, in the operator's words (support commands' mandatory `reason`): kept with every audit
    /// row of this message.
    public var auditReason: String?
    /// The signed-in account acting, when it acts on another account (an enterprise admin inviting
    /// or removing a member, issue 18): the actor of everything this message audits.
    public var actingAccount: String?
    let service: RegistrarService
    let topics: Topics
    let now: Date
    let causation: IncomingEnvelope
    /// Whether the message is a command (an event or a periodic run otherwise).
    let isCommand: Bool
    /// The account the message concerns, when the handler named it (`concerns(_:)`).
    public internal(set) var account: String?

    /// Files the reply and the subject-less rows of this message under `accountID`, so that the
    /// account's purge removes them (docs/decisions.md, "Retention of runtime data"). Needed only
    /// where neither the reply's `result.accountId` nor an emitted event's subject names the
    /// account (a read of the caller's own data, say).
    public mutating func concerns(_ accountID: String) {
        account = AccountFiling.accountID(accountID) ?? account
    }

    init(service: RegistrarService, topics: Topics, now: Date, causation: IncomingEnvelope, isCommand: Bool) {
        self.service = service
        self.topics = topics
        self.now = now
        self.causation = causation
        self.isCommand = isCommand
    }

    /// Publishes event `type` about `subject` (an accountId) on the service's event topic; a
    /// security event (`EventType.audited`), or any event of an operator's command, is also
    /// appended to the audit trail.
    public mutating func emit(_ type: EventType, subject: String, data: some Encodable) throws {
        let payload = try JSONValue(encoding: data)
        let event = CloudEvent(
            source: service.source, type: type.rawValue, time: now, subject: subject,
            correlationid: causation.correlationid ?? causation.id, causationid: causation.id,
            data: payload)
        outgoing.append(OutboxMessage(topic: topics.events(service), key: subject, event: event))
        if EventType.audited.contains(type) || operatorID != nil {
            audit(type.rawValue, subject: subject, reason: payload["reason"]?.stringValue)
        }
    }

    /// Appends `action` on `subject` (an account, device, operator or task id) to the audit trail,
    /// with `auditReason` when set, else `reason`.
    public mutating func audit(_ action: String, subject: String, reason: String? = nil) {
        auditEntries.append(
            AuditEntry(
                at: now, actor: actor(of: subject), action: action, subject: subject,
                correlationID: causation.correlationid ?? causation.id, messageID: causation.id,
                reason: auditReason ?? reason))
    }

    /// Who acts: the authorized operator; else a session's own account (a session acts only on its
    /// own account, contract §2, so the subject is the signed-in account); else an unauthenticated
    /// client for a command; else the system (events, periodic work).
    private func actor(of subject: String) -> AuditActor {
        if let operatorID { return .operator(operatorID) }
        if let actingAccount, isCommand { return .account(actingAccount) }
        guard isCommand else { return .system }
        if let token = causation.sessiontoken, !token.isEmpty { return .account(subject) }
        return .client
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

/// Who caused an audited action.
public enum AuditActor: Sendable, Equatable {
    /// A signed-in account acting on itself.
    case account(String)
    /// An operator, by id.
    case `operator`(String)
    /// An unauthenticated caller (a sign-in attempt, a password-reset request).
    case client
    /// The service itself: an event it followed, periodic work.
    case system

    /// `actor_kind` in the trail.
    public var kind: String {
        switch self {
        case .account: "account"
        case .operator: "operator"
        case .client: "client"
        case .system: "system"
        }
    }

    /// `actor_id` in the trail.
    public var id: String? {
        switch self {
        case .account(let id), .operator(let id): id
        case .client, .system: nil
        }
    }
}

/// One row of a service's audit trail (`audit_trail`): no raw PII, ids and names only.
public struct AuditEntry: Sendable {
    public var at: Date
    public var actor: AuditActor
    public var action: String
    public var subject: String
    public var correlationID: String?
    public var messageID: String?
    public var reason: String?
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
