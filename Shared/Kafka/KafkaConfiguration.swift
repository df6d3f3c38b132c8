/// Client settings shared by producers and consumers.
///
/// The reliability-relevant librdkafka properties are fixed by the wrapper (see `producerProperties`
/// and `consumerProperties`); this type carries what differs between deployments.
public struct KafkaConfiguration: Sendable {
    /// Bootstrap brokers, `host:port[,host:port]`. Default: `127.0.0.1:19092`.
    public var brokers: String
    /// Client id reported to the broker. Default: `registrar`.
    public var clientID: String
    /// `fetch.wait.max.ms`. Default: 500 (librdkafka's). Tansu waits the full time, so the local
    /// stack uses 10; Apache Kafka answers as soon as data arrives.
    public var fetchWaitMaxMs: Int
    /// `session.timeout.ms`. Default: 45000. A group joins in about half of it on Tansu; tests use 6000.
    public var sessionTimeoutMs: Int
    /// `max.poll.interval.ms`, also the rebalance timeout a group waits for its members to rejoin.
    /// Default: 600000, so a handler waiting out a PostgreSQL outage is not evicted. Tansu waits that
    /// long for a member that died in the middle of joining, stalling the group: the local stack and
    /// the tests use 20000.
    public var maxPollIntervalMs: Int
    /// `linger.ms` for producers. Default: 1.
    public var lingerMs: Int
    /// Extra librdkafka properties, applied last (they win).
    public var extra: [String: String]

    /// Creates a configuration.
    public init(
        brokers: String = "127.0.0.1:19092", clientID: String = "registrar", fetchWaitMaxMs: Int = 500,
        sessionTimeoutMs: Int = 45000, maxPollIntervalMs: Int = 600_000, lingerMs: Int = 1,
        extra: [String: String] = [:]
    ) {
        self.brokers = brokers
        self.clientID = clientID
        self.fetchWaitMaxMs = fetchWaitMaxMs
        self.sessionTimeoutMs = sessionTimeoutMs
        self.maxPollIntervalMs = maxPollIntervalMs
        self.lingerMs = lingerMs
        self.extra = extra
    }

    /// Properties of the idempotent producer: every send completes with its delivery report.
    var producerProperties: [String: String] {
        var p: [String: String] = [
            "bootstrap.servers": brokers,
            "client.id": clientID,
            "enable.idempotence": "true",
            "acks": "all",
            "linger.ms": String(lingerMs),
            // Long enough to ride out a broker restart; the relay re-sends what is not confirmed.
            "message.timeout.ms": "30000",
            "socket.keepalive.enable": "true",
        ]
        p.merge(extra) { _, new in new }
        return p
    }

    /// Properties of a group consumer that never commits an offset before the database did.
    func consumerProperties(groupID: String) -> [String: String] {
        var p: [String: String] = [
            "bootstrap.servers": brokers,
            "client.id": clientID,
            "group.id": groupID,
            "enable.auto.commit": "false",
            "enable.auto.offset.store": "false",
            "auto.offset.reset": "earliest",
            "allow.auto.create.topics": "false",
            "enable.partition.eof": "false",
            "check.crcs": "true",
            "fetch.wait.max.ms": String(fetchWaitMaxMs),
            "session.timeout.ms": String(sessionTimeoutMs),
            "heartbeat.interval.ms": String(max(100, sessionTimeoutMs / 3)),
            // A handler waiting out a PostgreSQL outage must not be evicted from the group too early.
            "max.poll.interval.ms": String(max(maxPollIntervalMs, sessionTimeoutMs)),
            "socket.keepalive.enable": "true",
        ]
        p.merge(extra) { _, new in new }
        return p
    }

    /// Properties of a consumer without a group, reading partitions it assigns itself.
    var assignedConsumerProperties: [String: String] {
        var p = consumerProperties(groupID: "registrar-unused-\(UInt64.random(in: 0...UInt64.max))")
        p["enable.auto.commit"] = "false"
        return p
    }
}
