import Contract
import Foundation
import GatewayCore
import GeoIP
import Kafka
import Messaging
import Platform
import ServiceLifecycle

// registrar-gateway: the HTTP edge for apps (issue 19). It speaks only Kafka to the services.
let configuration = RegistrarConfiguration()
let logger = RegistrarLogging.bootstrap(label: "registrar-gateway", level: configuration.logLevel)
let gatewayConfiguration = try GatewayConfiguration()
let policy = try Policy.load(path: configuration.policyPath)
let topics = Topics(prefix: configuration.topicPrefix)
let kafka = KafkaConfiguration(
    brokers: configuration.kafkaBrokers, clientID: "registrar-gateway", fetchWaitMaxMs: configuration.fetchWaitMaxMs,
    sessionTimeoutMs: configuration.sessionTimeoutMs, maxPollIntervalMs: configuration.maxPollIntervalMs)

var database: IPDatabase?
if let path = gatewayConfiguration.ipDatabasePath {
    let opened = try IPDatabase(path: path)
    logger.info(
        "ip database opened",
        metadata: [
            "geoip.type": "\(opened.databaseType)",
            "geoip.built": "\(Date(timeIntervalSince1970: TimeInterval(opened.buildEpoch)))",
        ])
    database = opened
} else {
    logger.warning("no ip database (REGISTRAR_GEOIP_DB): every address is stamped country ZZ")
}

let producer = try KafkaProducer(configuration: kafka, logger: logger)
let replies = try ReplyRouter(configuration: kafka, topic: topics.replies, logger: logger)
let gateway = Gateway(
    configuration: gatewayConfiguration, policy: policy,
    facts: ClientFactsResolver(database: database, proxyRanges: gatewayConfiguration.proxyRanges), topics: topics,
    replies: replies, logger: logger
) { topic, key, bytes in
    try await producer.send(
        KafkaOutgoingMessage(
            topic: topic, key: key.map { Array($0.utf8) }, value: bytes,
            headers: [KafkaHeader(name: "content-type", string: cloudEventsContentType)]))
}
let server = HTTPServer(
    gateway: gateway, host: gatewayConfiguration.host, port: gatewayConfiguration.port, policy: policy, logger: logger)
logger.info(
    "starting",
    metadata: [
        "replica": "\(gatewayConfiguration.replicaID)", "kafka.brokers": "\(configuration.kafkaBrokers)",
        "topic.prefix": "\(configuration.topicPrefix)",
        "trusted_proxies": "\(gatewayConfiguration.trustedProxies.map(\.description).joined(separator: ","))",
    ])
// Shutdown runs in reverse: the server stops accepting and finishes its requests, then replies stop.
let group = ServiceGroup(
    services: [replies, server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
try await group.run()
logger.info("stopped")
