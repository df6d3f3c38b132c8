import CRdKafka
import Logging
import Synchronization

/// Turns librdkafka codes and error objects into `KafkaError` (the one place that does).
enum RDKafkaErrors {
    /// Each public code constant beside the C constant it stands for (checked by a unit test).
    static let codes: [(KafkaError.Code, rd_kafka_resp_err_t)] = [
        (.transport, RD_KAFKA_RESP_ERR__TRANSPORT), (.messageTimedOut, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT),
        (.partitionEOF, RD_KAFKA_RESP_ERR__PARTITION_EOF), (.allBrokersDown, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN),
        (.invalidArgument, RD_KAFKA_RESP_ERR__INVALID_ARG), (.timedOut, RD_KAFKA_RESP_ERR__TIMED_OUT),
        (.queueFull, RD_KAFKA_RESP_ERR__QUEUE_FULL), (.noOffset, RD_KAFKA_RESP_ERR__NO_OFFSET),
        (.unsupportedFeature, RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE),
        (.fatal, RD_KAFKA_RESP_ERR__FATAL), (.unknownTopicOrPartition, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART),
        (.leaderNotAvailable, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE),
        (.notLeaderForPartition, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION),
        (.requestTimedOut, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT),
        (.notEnoughReplicas, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS),
        (.topicAlreadyExists, RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS),
    ]

    /// Whether every public constant equals its C value.
    static var codesMatchTheHeader: Bool { codes.allSatisfy { $0.0.rawValue == $0.1.rawValue } }

    /// A `KafkaError` from a response code.
    static func error(
        _ code: rd_kafka_resp_err_t, reason: String? = nil, file: String = #fileID, line: Int = #line
    ) -> KafkaError {
        let name = String(cString: rd_kafka_err2name(code))
        let text = reason ?? String(cString: rd_kafka_err2str(code))
        return KafkaError(
            code: KafkaError.Code(rawValue: code.rawValue), name: name, reason: text, isRetriable: isRetriable(code),
            file: file, line: line)
    }

    /// A `KafkaError` from an `rd_kafka_error_t`, which it destroys.
    static func consume(_ error: OpaquePointer, file: String = #fileID, line: Int = #line) -> KafkaError {
        // rd_kafka_error_t is owned by the caller: copy everything out, then destroy it.
        defer { rd_kafka_error_destroy(error) }
        let code = rd_kafka_error_code(error)
        return KafkaError(
            code: KafkaError.Code(rawValue: code.rawValue), name: String(cString: rd_kafka_error_name(error)),
            reason: String(cString: rd_kafka_error_string(error)),
            isRetriable: rd_kafka_error_is_retriable(error) != 0 || isRetriable(code),
            isFatal: rd_kafka_error_is_fatal(error) != 0, file: file, line: line)
    }

    /// Throws when `code` is not `NO_ERROR`.
    static func check(_ code: rd_kafka_resp_err_t, file: String = #fileID, line: Int = #line) throws(KafkaError) {
        if code != RD_KAFKA_RESP_ERR_NO_ERROR { throw error(code, file: file, line: line) }
    }

    private static func isRetriable(_ code: rd_kafka_resp_err_t) -> Bool {
        switch code {
        case RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_RESP_ERR__TIMED_OUT,
            RD_KAFKA_RESP_ERR__QUEUE_FULL, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN,
            RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
            return true
        default:
            return false
        }
    }
}

/// State the C callbacks reach through librdkafka's opaque pointer.
final class RDKafkaCallbackContext: Sendable {
    let logger: Logger

    init(logger: Logger) { self.logger = logger }
}

/// The one owner of an `rd_kafka_t`.
///
/// `@unchecked Sendable`: librdkafka documents `rd_kafka_t` as thread-safe for every call the wrappers
/// make, the pointer never leaves this type except inside `withHandle`, and `deinit` destroys it once.
final class RDKafkaHandle: @unchecked Sendable {
    /// Producer or consumer.
    enum Kind {
        case producer
        case consumer
    }

    private let pointer: OpaquePointer
    private let context: Unmanaged<RDKafkaCallbackContext>
    let kind: Kind

    init(kind: Kind, properties: [String: String], logger: Logger) throws(KafkaError) {
        self.kind = kind
        guard let conf = rd_kafka_conf_new() else { throw KafkaError.invalid("rd_kafka_conf_new failed") }
        var errstr = [CChar](repeating: 0, count: 512)
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
            let result = rd_kafka_conf_set(conf, key, value, &errstr, errstr.count)
            if result != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                throw KafkaError.invalid("property \(key): \(string(fromBuffer: errstr))")
            }
        }
        let context = Unmanaged.passRetained(RDKafkaCallbackContext(logger: logger))
        rd_kafka_conf_set_opaque(conf, context.toOpaque())
        rd_kafka_conf_set_error_cb(conf) { _, code, reason, opaque in
            guard let opaque else { return }
            let context = Unmanaged<RDKafkaCallbackContext>.fromOpaque(opaque).takeUnretainedValue()
            let text = reason.map { String(cString: $0) } ?? ""
            context.logger.warning(
                "kafka client error",
                metadata: [
                    "kafka.error": "\(String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(code))))",
                    "kafka.reason": "\(text)",
                ])
        }
        rd_kafka_conf_set_log_cb(conf) { rk, level, facility, text in
            // librdkafka's own log lines go through swift-log instead of straight to stderr.
            guard let rk, let opaque = rd_kafka_opaque(rk) else { return }
            let context = Unmanaged<RDKafkaCallbackContext>.fromOpaque(opaque).takeUnretainedValue()
            let swiftLevel: Logger.Level = level <= 3 ? .error : level <= 4 ? .warning : level <= 6 ? .info : .debug
            context.logger.log(
                level: swiftLevel, "librdkafka",
                metadata: [
                    "kafka.facility": "\(facility.map { String(cString: $0) } ?? "")",
                    "kafka.log": "\(text.map { String(cString: $0) } ?? "")",
                ])
        }
        switch kind {
        case .producer:
            rd_kafka_conf_set_dr_msg_cb(conf) { _, message, _ in
                guard let message, let opaque = message.pointee._private else { return }
                // The ticket was retained when the message was queued; this is its one release.
                let ticket = Unmanaged<RDKafkaDeliveryTicket>.fromOpaque(opaque).takeRetainedValue()
                ticket.complete(message.pointee.err)
            }
        case .consumer:
            rd_kafka_conf_set_rebalance_cb(conf) { rk, code, partitions, opaque in
                guard let rk else { return }
                let context = opaque.map { Unmanaged<RDKafkaCallbackContext>.fromOpaque($0).takeUnretainedValue() }
                RDKafkaRebalance.handle(rk, code, partitions, logger: context?.logger)
            }
        }
        let type = kind == .producer ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER
        // rd_kafka_new takes ownership of conf only when it succeeds.
        guard let handle = rd_kafka_new(type, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            context.release()
            throw KafkaError.invalid(
                "rd_kafka_new: \(string(fromBuffer: errstr))"
            )
        }
        self.pointer = handle
        self.context = context
        if kind == .consumer {
            // Serve rebalance and error callbacks from consumer_poll.
            rd_kafka_poll_set_consumer(handle)
        }
    }

    deinit {
        rd_kafka_destroy(pointer)
        // Callbacks can no longer run: the context may go.
        context.release()
    }

    /// Scoped access to the raw handle.
    func withHandle<T, E: Error>(_ body: (OpaquePointer) throws(E) -> T) throws(E) -> T {
        try body(pointer)
    }
}

/// Rebalance handling for eager and cooperative protocols.
enum RDKafkaRebalance {
    static func handle(
        _ rk: OpaquePointer, _ code: rd_kafka_resp_err_t,
        _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?,
        logger: Logger?
    ) {
        let cooperative = String(cString: rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE"
        let names = partitions.map(RDKafkaTopicPartitionList.describe) ?? ""
        switch code {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            logger?.info("partitions assigned", metadata: ["kafka.partitions": "\(names)"])
            if cooperative {
                if let error = rd_kafka_incremental_assign(rk, partitions) {
                    logger?.error("assign failed", metadata: ["kafka.error": "\(RDKafkaErrors.consume(error))"])
                }
            } else {
                _ = rd_kafka_assign(rk, partitions)
            }
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            logger?.info("partitions revoked", metadata: ["kafka.partitions": "\(names)"])
            // Offsets stored so far belong to committed database work: commit them before letting go.
            _ = rd_kafka_commit(rk, nil, 0)
            if cooperative {
                if let error = rd_kafka_incremental_unassign(rk, partitions) {
                    logger?.error("unassign failed", metadata: ["kafka.error": "\(RDKafkaErrors.consume(error))"])
                }
            } else {
                _ = rd_kafka_assign(rk, nil)
            }
        default:
            logger?.error("rebalance error", metadata: ["kafka.error": "\(RDKafkaErrors.error(code))"])
            _ = rd_kafka_assign(rk, nil)
        }
    }
}

/// One queued message's delivery report, shared with the batch that waits for it.
final class RDKafkaDeliveryTicket: Sendable {
    let batch: RDKafkaDeliveryBatch
    let index: Int

    init(batch: RDKafkaDeliveryBatch, index: Int) {
        self.batch = batch
        self.index = index
    }

    func complete(_ code: rd_kafka_resp_err_t) {
        batch.complete(index, code == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : RDKafkaErrors.error(code))
    }
}

/// Delivery results of one batch of sends.
final class RDKafkaDeliveryBatch: Sendable {
    private struct State {
        var results: [KafkaError?]
        var pending: Set<Int>
    }

    private let state: Mutex<State>

    init(count: Int) {
        state = Mutex(State(results: Array(repeating: nil, count: count), pending: Set(0..<count)))
    }

    func complete(_ index: Int, _ error: KafkaError?) {
        state.withLock {
            $0.results[index] = error
            $0.pending.remove(index)
        }
    }

    var isComplete: Bool { state.withLock { $0.pending.isEmpty } }

    /// Results, with `timedOut` for every message whose report has not arrived.
    func results(timedOut: KafkaError) -> [KafkaError?] {
        state.withLock { s in
            s.results.indices.map { s.pending.contains($0) ? timedOut : s.results[$0] }
        }
    }
}
