import Contract
import Directory
import Foundation
import Messaging
import Platform
import Postgres

/// Drives `permissions.commands`, and stands in for identity and deregistration by publishing
/// their events (with chosen times), as those services would.
public struct PermissionsClient: Sendable {
    public let client: RegistrarClient

    public init(client: RegistrarClient = TestStack.client) { self.client = client }

    /// `permissions.check`; returns `(allowed, reason, limits)`.
    public func check(_ accountId: String, _ action: String, _ context: [String: JSONValue] = [:]) async throws
        -> (allowed: Bool, reason: String, limits: JSONValue)
    {
        let reply = try await client.request(
            RegistrarClient.command(
                type: "permissions.check",
                data: .object(["accountId": .string(accountId), "action": .string(action), "context": .object(context)])
            ),
            topic: "permissions.commands")
        let result = reply.data["result"] ?? .null
        return (result["allowed"] == .bool(true), result["reason"]?.stringValue ?? "", result["limits"] ?? .null)
    }

    /// A command on `permissions.commands`.
    public func send(_ type: String, _ data: [String: JSONValue], session: String? = nil, operatorToken: String? = nil)
        async throws -> IdentityClient.Answer
    {
        IdentityClient.Answer(
            event: try await client.request(
                RegistrarClient.command(
                    type: type, data: .object(data), sessionToken: session, operatorToken: operatorToken),
                topic: "permissions.commands"))
    }

    /// Publishes an event of `service` (as that service would), happening at `time`.
    public func publish(
        _ service: RegistrarService, _ type: String, accountId: String, data: [String: JSONValue] = [:],
        time: Date = Date()
    )
        async throws
    {
        var payload = data
        payload["accountId"] = .string(accountId)
        let event = CloudEvent(
            source: service.source, type: type, time: time, subject: accountId, data: .object(payload))
        try await client.sendRaw(event.encoded(), topic: service.eventTopic, key: accountId)
    }

    /// A new operator, announced as identity would (`operator.added`, token hash only); returns its
    /// operator token.
    public func addOperator() async throws -> String {
        let token = Sodium.randomBytes(32).hexString
        try await publish(
            .identity, "operator.added", accountId: "ops",
            data: [
                "operatorId": .string("op-\(UUID().uuidString.prefix(6))"),
                "tokenHash": .string(SessionDirectory.tokenHash(token).hexString), "role": .string("admin"),
            ])
        return token
    }

    /// A new account registered `age` seconds ago, known to permissions once this returns.
    public func account(age: TimeInterval = 0, restricted: [String] = [], tier: String? = nil) async throws -> String {
        let accountId = UUID().uuidString.lowercased()
        try await publish(
            .identity, "account.registered", accountId: accountId,
            data: IdentityClient.registeredEvent(at: Date().addingTimeInterval(-age), restricted: restricted))
        if let tier {
            try await publish(.identity, "account.verified", accountId: accountId, data: ["tier": .string(tier)])
        }
        try await known(accountId, tier: tier)
        return accountId
    }

    /// Waits until permissions answers for the account (and has its tier, when given).
    public func known(_ accountId: String, tier: String? = nil) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let reason = try await check(accountId, "chat.internal").reason
            if reason != "unknown_account" {
                guard let tier else { return }
                // Tier known once a tier-gated action reflects it.
                let group = try await check(accountId, "group.create", ["size": .int(201)])
                if (tier == "id_card") == group.allowed { return }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw IdentityClient.Failure("permissions never learnt of \(accountId)")
    }

    /// Successful logins on `days` distinct past days (one each), then waits until counted.
    public func logins(_ accountId: String, daysAgo: [Int]) async throws {
        for day in daysAgo {
            try await publish(
                .identity, "login.succeeded", accountId: accountId,
                time: Date().addingTimeInterval(-Double(day) * 86_400 - 3600))
        }
    }

    /// A live session for `accountId`, valid `validity` seconds, announced as identity would (for
    /// private instances).
    public func openSession(_ accountId: String, validity: TimeInterval = 86_400) async throws -> String {
        try await SessionStandIn.open(for: accountId, client: client, validity: validity)
    }

    /// `entitlements.get` with the session (naming `accountId` when given), sent again while the
    /// session has not reached permissions yet.
    public func entitlements(session: String, accountId: String? = nil) async throws -> IdentityClient.Answer {
        try await TestStack.retrying {
            try await send("entitlements.get", accountId.map { ["accountId": .string($0)] } ?? [:], session: session)
        }
    }

    /// One page of `enterprise.members.list` with the session.
    public func members(_ enterpriseId: String, session: String, after: String? = nil, limit: Int? = nil)
        async throws -> IdentityClient.Answer
    {
        var data: [String: JSONValue] = ["enterpriseId": .string(enterpriseId)]
        if let after { data["after"] = .string(after) }
        if let limit { data["limit"] = .int(Int64(limit)) }
        return try await TestStack.retrying { try await send("enterprise.members.list", data, session: session) }
    }

    /// A day (86,400 s) in seconds.
    public static let day: TimeInterval = 86_400
}

extension PermissionsClient {
    /// Waits until the read model shows `condition` for the account (reading permissions' own table,
    /// as ops would).
    public func waitForState(_ accountId: String, schemaPool: PostgresPool, _ sql: String, equals expected: Int)
        async throws
    {
        // `sql` is an expression written by the test; the account id goes as a parameter.
        let query = PostgresQuery(
            trusted: "SELECT (\(sql)) AS v FROM accounts WHERE account_id = $1::uuid", binds: [accountId])
        try await TestStack.eventually("\(sql) of \(accountId) becomes \(expected)") {
            try await schemaPool.query(query).first?.decode("v", as: Int?.self) == expected
        }
    }
}
