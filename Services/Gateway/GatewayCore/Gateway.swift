import Contract
import Foundation
import Logging
import Messaging
import Platform

/// An HTTP request as the gateway sees it (whatever server read it).
public struct GatewayRequest: Sendable {
    /// `GET`, `POST`, ...
    public var method: String
    /// The request target (path and optional query).
    public var target: String
    /// Header fields in order (names as sent).
    public var headers: [(String, String)]
    /// The body bytes.
    public var body: [UInt8]
    /// The socket's peer address.
    public var peer: IPAddress

    /// Creates a request.
    public init(method: String, target: String, headers: [(String, String)], body: [UInt8], peer: IPAddress) {
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        self.peer = peer
    }

    /// Every value of header `name` (case-insensitive).
    public func values(_ name: String) -> [String] {
        headers.filter { $0.0.caseInsensitiveCompare(name) == .orderedSame }.map(\.1)
    }
}

/// An HTTP response.
public struct GatewayResponse: Sendable {
    /// Status code.
    public var status: Int
    /// Extra header fields (`Content-Type: application/json` is always sent).
    public var headers: [(String, String)]
    /// JSON body.
    public var body: [UInt8]
}

/// What the gateway needs from the outside world to answer a request.
public struct GatewayConfiguration: Sendable {
    /// `REGISTRAR_GATEWAY_HOST`. Default: `127.0.0.1`.
    public var host: String
    /// `REGISTRAR_GATEWAY_PORT`. Default: 18080.
    public var port: Int
    /// `REGISTRAR_GATEWAY_TRUSTED_PROXIES`: CIDRs whose `X-Forwarded-For` is believed. Default: none.
    public var trustedProxies: [CIDR]
    /// `REGISTRAR_GATEWAY_PROXY_CIDRS`: ranges stamped `ip.proxy = true` when the IP database has no
    /// anonymiser flags. Default: none.
    public var proxyRanges: [CIDR]
    /// `REGISTRAR_GEOIP_DB`: path of the `.mmdb` file. Default: none (every address is `ZZ`).
    public var ipDatabasePath: String?
    /// This replica's name in logs and the command `source`: the host name and process id.
    public var replicaID: String

    /// Reads the configuration; a malformed CIDR list is an error naming the variable.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        host = environment["REGISTRAR_GATEWAY_HOST"] ?? "127.0.0.1"
        port = environment["REGISTRAR_GATEWAY_PORT"].flatMap { Int($0) } ?? 18080
        func cidrs(_ key: String) throws -> [CIDR] {
            guard let text = environment[key] else { return [] }
            guard let list = CIDR.list(text) else { throw ConfigurationError(variable: key) }
            return list
        }
        trustedProxies = try cidrs("REGISTRAR_GATEWAY_TRUSTED_PROXIES")
        proxyRanges = try cidrs("REGISTRAR_GATEWAY_PROXY_CIDRS")
        ipDatabasePath = environment["REGISTRAR_GEOIP_DB"].flatMap { $0.isEmpty ? nil : $0 }
        replicaID = "\(ProcessInfo.processInfo.hostName)-\(getpid())"
    }

    /// A variable that cannot be used.
    public struct ConfigurationError: Error, CustomStringConvertible {
        /// The variable.
        public var variable: String
        /// Logged form.
        public var description: String { "\(variable) is not a list of CIDRs" }
    }
}

/// The HTTP edge: maps a request to a command, publishes it, waits for its reply and answers.
public final class Gateway: Sendable {
    /// Sends a command's bytes to a topic (full name) with a key.
    public typealias Send = @Sendable (_ topic: String, _ key: String?, _ bytes: [UInt8]) async throws -> Void

    private let configuration: GatewayConfiguration
    private let policy: Policy
    private let facts: ClientFactsResolver
    private let topics: Topics
    private let replies: ReplyRouter
    private let send: Send
    private let limiter: RateLimiter
    private let logger: Logger

    /// Creates the gateway.
    public init(
        configuration: GatewayConfiguration, policy: Policy, facts: ClientFactsResolver, topics: Topics,
        replies: ReplyRouter, logger: Logger, send: @escaping Send
    ) {
        self.configuration = configuration
        self.policy = policy
        self.facts = facts
        self.topics = topics
        self.replies = replies
        self.send = send
        self.logger = logger
        limiter = RateLimiter(
            window: policy.gateway.rateWindow.duration, maxKeys: policy.gateway.maxTrackedAddresses)
    }

    /// The largest body the gateway reads (the services' message limit).
    public var maxBodyBytes: Int { policy.runtime.maxMessageBytes }

    /// Answers one request and writes its access-log line.
    public func handle(_ request: GatewayRequest) async -> GatewayResponse {
        let started = ContinuousClock.now
        var log = AccessLogLine(method: request.method)
        let response = await answer(request, log: &log)
        log.status = response.status
        log.durationMs =
            Double((ContinuousClock.now - started).components.attoseconds) / 1e15
            + Double((ContinuousClock.now - started).components.seconds) * 1000
        log.write(to: logger)
        return response
    }

    /// A response for a request the server refused before the gateway saw it whole (413, 408).
    public static func refusal(status: Int, code: String, message: String) -> GatewayResponse {
        GatewayResponse(status: status, headers: [], body: json(["code": .string(code), "message": .string(message)]))
    }

    private func answer(_ request: GatewayRequest, log: inout AccessLogLine) async -> GatewayResponse {
        let (path, queryItems) = Self.split(request.target)
        log.path = path
        guard let route = Routes.match(method: request.method, path: path) else {
            if Routes.exists(path: path) {
                return Self.refusal(status: 405, code: "METHOD_NOT_ALLOWED", message: "method not allowed here")
            }
            return Self.refusal(status: 404, code: "NOT_FOUND", message: "no such route")
        }
        log.type = route.type

        let client = ClientAddress.resolve(
            peer: request.peer, forwardedFor: request.values("X-Forwarded-For"),
            trustedProxies: configuration.trustedProxies)
        log.client = AccessLogLine.masked(client)

        let limit = policy.gateway.routeLimits[route.type] ?? policy.gateway.requestsPerIPPerRoutePerWindow
        let decision = limiter.take([
            (key: client.description, limit: policy.gateway.requestsPerIPPerWindow),
            (key: "\(client.description) \(route.type)", limit: limit),
        ])
        if case .limited(let seconds) = decision {
            var response = Self.refusal(status: 429, code: "RATE_LIMITED", message: "too many requests")
            response.headers.append(("Retry-After", String(seconds)))
            return response
        }

        // The command id: the client's Idempotency-Key (a retry re-sends the same command), else new.
        let commandID: String
        let keys = request.values("Idempotency-Key")
        if let key = keys.first {
            guard keys.count == 1, Self.validIdempotencyKey(key) else {
                return Self.malformed("Idempotency-Key", "Idempotency-Key must be a UUID")
            }
            commandID = key.lowercased()
        } else {
            commandID = UUID().uuidString.lowercased()
        }
        log.commandID = commandID

        // Credentials: only the bearer token, only into the extension the route takes.
        var token: String?
        if route.auth != .none {
            guard let bearer = Self.bearer(request.values("Authorization")) else {
                return Self.reply(
                    status: 401, commandID: commandID, replyStatus: "rejected", code: "UNAUTHENTICATED",
                    message: "a bearer token is required", extraHeaders: [("WWW-Authenticate", "Bearer")])
            }
            token = bearer
        }

        // data: the JSON body (POST) or the query (GET).
        var data: [String: JSONValue]
        if request.method == "POST" {
            if request.body.isEmpty {
                data = [:]
            } else {
                guard Self.surrogatesPaired(request.body),
                    let value = try? JSONDecoder().decode(JSONValue.self, from: Data(request.body)),
                    case .object(let object) = value
                else { return Self.malformed("body", "the body must be a JSON object") }
                data = object
            }
        } else {
            data = [:]
            for (name, value) in queryItems where route.query.contains(name) {
                if route.integerQuery.contains(name) {
                    guard let number = Int64(value) else { return Self.malformed(name, "\(name) must be an integer") }
                    data[name] = .int(number)
                } else {
                    data[name] = .string(value)
                }
            }
        }
        if let phone = data["phone"]?.stringValue { log.phone = PhoneNumber.parse(phone)?.masked }
        // Whatever the client claims about its network is replaced by what the gateway saw.
        data["ip"] = nil
        if route.stampsIP { data["ip"] = facts.facts(for: client).json }

        var envelope: [String: JSONValue] = [
            "specversion": .string("1.0"), "id": .string(commandID),
            "source": .string("/gateway/\(configuration.replicaID)"), "type": .string(route.type),
            "time": .string(CloudEvent.timestamp(Date())), "datacontenttype": .string("application/json"),
            "schemaversion": .int(1), "correlationid": .string(commandID), "data": .object(data),
        ]
        switch route.auth {
        case .session: envelope["sessiontoken"] = token.map(JSONValue.string)
        case .operator: envelope["operatortoken"] = token.map(JSONValue.string)
        case .none: break
        }
        let key = data["accountId"]?.stringValue ?? data["registrationId"]?.stringValue ?? data["phone"]?.stringValue
        let bytes: [UInt8]
        do {
            bytes = Array(try JSONEncoder().encode(JSONValue.object(envelope)))
        } catch {
            return Self.malformed("body", "the body cannot be re-encoded")
        }
        let topic = topics.name(route.topic)
        let reply: CloudEvent?
        do {
            reply = try await replies.reply(to: commandID, timeout: policy.gateway.replyTimeout.duration) {
                try await self.send(topic, key, bytes)
            }
        } catch {
            log.note = "send_failed"
            return Self.reply(
                status: 503, commandID: commandID, replyStatus: "unavailable", code: "UNAVAILABLE",
                message: "the command could not be published; retry with the same Idempotency-Key",
                extraHeaders: [("Retry-After", "1")])
        }
        guard let reply else {
            return Self.reply(
                status: 504, commandID: commandID, replyStatus: "timeout", code: "TIMEOUT",
                message: "no reply in time; retry with the same Idempotency-Key to get the reply")
        }
        let replyStatus = reply.data["status"]?.stringValue ?? "rejected"
        let code = reply.data["code"]?.stringValue ?? "INTERNAL_ERROR"
        log.code = code
        let status = StatusMapping.status(replyStatus: replyStatus, code: code)
        var headers: [(String, String)] = [("X-Command-Id", commandID)]
        if status == 429 || code == "ACCOUNT_TEMPORARILY_LOCKED" {
            let seconds = reply.data["result"]?["retryAfterSeconds"].flatMap(Self.integer) ?? 1
            headers.append(("Retry-After", String(max(1, seconds))))
        }
        var body = reply.data.objectValue ?? [:]
        body["commandId"] = .string(commandID)
        return GatewayResponse(status: status, headers: headers, body: Self.json(body))
    }

    // MARK: helpers

    static func split(_ target: String) -> (String, [(String, String)]) {
        guard let mark = target.firstIndex(of: "?") else { return (target, []) }
        let path = String(target[..<mark])
        let items = target[target.index(after: mark)...].split(separator: "&").compactMap { pair -> (String, String)? in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = parts.first.flatMap({ String($0).removingPercentEncoding }) else { return nil }
            let value = parts.count > 1 ? String(parts[1]).replacingOccurrences(of: "+", with: " ") : ""
            return (name, value.removingPercentEncoding ?? value)
        }
        return (path, items)
    }

    /// False when a `\\u` escape is an unpaired UTF-16 surrogate (RFC 8259 allows the text, but it
    /// is no Unicode string: Foundation and the services' decoder disagree about it), or a NUL, which
    /// the services dead-letter without a reply (PostgreSQL text cannot hold it).
    static func surrogatesPaired(_ body: [UInt8]) -> Bool {
        func hex(_ at: Int) -> Int? {
            guard at + 4 <= body.count else { return nil }
            return Int(String(decoding: body[at..<at + 4], as: UTF8.self), radix: 16)
        }
        var index = 0
        while index < body.count {
            guard body[index] == UInt8(ascii: "\\"), index + 1 < body.count else {
                index += 1
                continue
            }
            guard body[index + 1] == UInt8(ascii: "u"), let unit = hex(index + 2) else {
                index += 2
                continue
            }
            if unit == 0 || (0xDC00...0xDFFF).contains(unit) { return false }
            if (0xD800...0xDBFF).contains(unit) {
                guard body.count >= index + 12, body[index + 6] == UInt8(ascii: "\\"),
                    body[index + 7] == UInt8(ascii: "u"), let low = hex(index + 8), (0xDC00...0xDFFF).contains(low)
                else { return false }
                index += 12
            } else {
                index += 6
            }
        }
        return true
    }

    /// A UUID (36 characters, any case).
    static func validIdempotencyKey(_ key: String) -> Bool {
        key.utf8.count == 36 && UUID(uuidString: key) != nil
    }

    /// The token of the one `Authorization: Bearer <token>` field, if well formed (RFC 6750
    /// token68 characters, at most 512).
    static func bearer(_ values: [String]) -> String? {
        guard values.count == 1, let value = values.first else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].caseInsensitiveCompare("Bearer") == .orderedSame else { return nil }
        let token = String(parts[1])
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=")
        guard (1...512).contains(token.count), token.allSatisfy({ allowed.contains($0) }) else { return nil }
        return token
    }

    static func integer(_ value: JSONValue) -> Int? {
        switch value {
        case .int(let n): return Int(n)
        case .double(let d): return Int(d.rounded(.up))
        default: return nil
        }
    }

    static func malformed(_ field: String, _ message: String) -> GatewayResponse {
        GatewayResponse(
            status: 400, headers: [],
            body: json([
                "status": .string("rejected"), "code": .string("MALFORMED"), "message": .string(message),
                "warnings": .array([]), "result": .object(["field": .string(field)]),
            ]))
    }

    static func reply(
        status: Int, commandID: String, replyStatus: String, code: String, message: String,
        extraHeaders: [(String, String)] = []
    ) -> GatewayResponse {
        GatewayResponse(
            status: status, headers: [("X-Command-Id", commandID)] + extraHeaders,
            body: json([
                "commandId": .string(commandID), "status": .string(replyStatus), "code": .string(code),
                "message": .string(message), "warnings": .array([]), "result": .object([:]),
            ]))
    }

    static func json(_ object: [String: JSONValue]) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(JSONValue.object(object))) ?? Data("{}".utf8))
    }
}

extension JSONValue {
    fileprivate var objectValue: [String: JSONValue]? {
        if case .object(let object) = self { return object }
        return nil
    }
}
