import CRdKafka
import Foundation

// The C calls of producers, consumers and the admin API. Everything here blocks: callers run it on
// a dispatch queue, never on the cooperative pool.

/// librdkafka's `RD_KAFKA_MSG_F_COPY` (a macro Swift does not import): payload and key are copied.
private let messageFlagCopy: Int32 = 0x2
/// librdkafka's `RD_KAFKA_OFFSET_BEGINNING`.
let rdKafkaOffsetBeginning: Int64 = -2
/// librdkafka's `RD_KAFKA_PARTITION_UA`.
private let partitionUnassigned: Int32 = -1

extension RDKafkaHandle {
    // MARK: producing

    /// Queues `messages` and waits for their delivery reports (up to `timeoutMs`).
    func produceAndFlush(_ messages: [KafkaOutgoingMessage], timeoutMs: Int32) -> [KafkaError?] {
        let batch = RDKafkaDeliveryBatch(count: messages.count)
        withHandle { rk in
            for (index, message) in messages.enumerated() {
                while true {
                    let ticket = Unmanaged.passRetained(RDKafkaDeliveryTicket(batch: batch, index: index))
                    if let error = Self.produce(rk, message, opaque: ticket.toOpaque()) {
                        // Not queued: the delivery callback will never run for this ticket.
                        ticket.release()
                        if error.code == .queueFull {
                            rd_kafka_poll(rk, 50)
                            continue
                        }
                        batch.complete(index, error)
                    }
                    break
                }
            }
            let deadline = ContinuousClock.now + .milliseconds(Int(timeoutMs))
            while !batch.isComplete && ContinuousClock.now < deadline {
                _ = rd_kafka_flush(rk, 100)
            }
        }
        return batch.results(
            timedOut: RDKafkaErrors.error(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, reason: "no delivery report in time"))
    }

    private static func produce(
        _ rk: OpaquePointer, _ message: KafkaOutgoingMessage, opaque: UnsafeMutableRawPointer
    ) -> KafkaError? {
        guard let headers = rd_kafka_headers_new(message.headers.count) else {
            return KafkaError.invalid("rd_kafka_headers_new failed")
        }
        for header in message.headers {
            header.value.withUnsafeBytes { bytes in
                _ = rd_kafka_header_add(headers, header.name, -1, bytes.baseAddress, bytes.count)
            }
        }
        let error: OpaquePointer? = message.topic.withCString { topic in
            message.value.withUnsafeBytes { value in
                withOptionalBytes(message.key) { key in
                    var vus = [rd_kafka_vu_t](repeating: rd_kafka_vu_t(), count: 6)
                    vus[0].vtype = RD_KAFKA_VTYPE_TOPIC
                    vus[0].u.cstr = topic
                    vus[1].vtype = RD_KAFKA_VTYPE_VALUE
                    vus[1].u.mem.ptr = UnsafeMutableRawPointer(mutating: value.baseAddress)
                    vus[1].u.mem.size = value.count
                    vus[2].vtype = RD_KAFKA_VTYPE_KEY
                    vus[2].u.mem.ptr = UnsafeMutableRawPointer(mutating: key?.baseAddress)
                    vus[2].u.mem.size = key?.count ?? 0
                    vus[3].vtype = RD_KAFKA_VTYPE_MSGFLAGS
                    vus[3].u.i = messageFlagCopy
                    vus[4].vtype = RD_KAFKA_VTYPE_OPAQUE
                    vus[4].u.ptr = opaque
                    vus[5].vtype = RD_KAFKA_VTYPE_HEADERS
                    vus[5].u.headers = headers
                    return rd_kafka_produceva(rk, vus, vus.count)
                }
            }
        }
        guard let error else { return nil }  // librdkafka now owns the headers.
        rd_kafka_headers_destroy(headers)
        return RDKafkaErrors.consume(error)
    }

    // MARK: consuming

    /// Subscribes a group consumer to `topics`.
    func subscribe(_ topics: [String]) throws(KafkaError) {
        let list = RDKafkaTopicPartitionList(capacity: topics.count)
        for topic in topics { list.add(topic: topic, partition: partitionUnassigned, offset: 0) }
        try withHandle { rk throws(KafkaError) in
            try list.withList { l throws(KafkaError) in try RDKafkaErrors.check(rd_kafka_subscribe(rk, l)) }
        }
    }

    /// Assigns every partition of `topics` from the beginning (no group membership).
    func assignAllFromBeginning(_ topics: [String], timeoutMs: Int32) throws(KafkaError) {
        let list = RDKafkaTopicPartitionList(capacity: topics.count * 4)
        for topic in topics {
            let count = try partitionCountWaitingForCreation(topic, timeoutMs: timeoutMs)
            for partition in 0..<count { list.add(topic: topic, partition: partition, offset: rdKafkaOffsetBeginning) }
        }
        try withHandle { rk throws(KafkaError) in
            try list.withList { l throws(KafkaError) in try RDKafkaErrors.check(rd_kafka_assign(rk, l)) }
        }
    }

    /// Assigns every partition of `topics` at its current end (no group membership): each partition's
    /// high watermark is asked for now, so every message produced after this returns is read, whatever
    /// the first fetch's timing.
    func assignAllFromEnd(_ topics: [String], timeoutMs: Int32) throws(KafkaError) {
        let list = RDKafkaTopicPartitionList(capacity: topics.count * 4)
        for topic in topics {
            let count = try partitionCountWaitingForCreation(topic, timeoutMs: timeoutMs)
            for partition in 0..<count {
                var low: Int64 = 0
                var high: Int64 = 0
                try withHandle { rk throws(KafkaError) in
                    try RDKafkaErrors.check(
                        rd_kafka_query_watermark_offsets(rk, topic, partition, &low, &high, timeoutMs))
                }
                list.add(topic: topic, partition: partition, offset: high)
            }
        }
        try withHandle { rk throws(KafkaError) in
            try list.withList { l throws(KafkaError) in try RDKafkaErrors.check(rd_kafka_assign(rk, l)) }
        }
    }

    /// The partition count of `topic`, asking again while the broker does not know the topic yet:
    /// a topic created a moment ago may take a while to appear in metadata.
    func partitionCountWaitingForCreation(_ topic: String, timeoutMs: Int32) throws(KafkaError) -> Int32 {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeoutMs))
        while true {
            do {
                return try partitionCount(topic, timeoutMs: timeoutMs)
            } catch
                where error.code == .unknownTopicOrPartition && ContinuousClock.now < deadline
            {
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
    }

    /// The partition count of `topic` from the broker's metadata.
    func partitionCount(_ topic: String, timeoutMs: Int32) throws(KafkaError) -> Int32 {
        try withHandle { rk throws(KafkaError) in
            guard let rkt = rd_kafka_topic_new(rk, topic, nil) else {
                throw RDKafkaErrors.error(rd_kafka_last_error())
            }
            defer { rd_kafka_topic_destroy(rkt) }
            var metadata: UnsafePointer<rd_kafka_metadata>?
            try RDKafkaErrors.check(rd_kafka_metadata(rk, 0, rkt, &metadata, timeoutMs))
            guard let metadata else { throw KafkaError.invalid("no metadata for \(topic)") }
            defer { rd_kafka_metadata_destroy(metadata) }
            guard metadata.pointee.topic_cnt > 0 else { throw KafkaError.invalid("topic \(topic) not in metadata") }
            let entry = metadata.pointee.topics[0]
            try RDKafkaErrors.check(entry.err)
            return entry.partition_cnt
        }
    }

    /// Polls one message; `nil` on timeout. Per-message errors that are not fatal come back as `.failure`.
    func consumerPoll(timeoutMs: Int32) -> Result<KafkaMessage, KafkaError>? {
        withHandle { rk in
            guard let raw = rd_kafka_consumer_poll(rk, timeoutMs) else { return nil }
            // Copy out, then destroy: nothing refers to librdkafka's buffers afterwards.
            defer { rd_kafka_message_destroy(raw) }
            let m = raw.pointee
            if m.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                if m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF { return nil }
                var error = RDKafkaErrors.error(m.err, reason: rd_kafka_message_errstr(raw).map { String(cString: $0) })
                if m.err == RD_KAFKA_RESP_ERR__FATAL { error.isFatal = true }
                return .failure(error)
            }
            let topic = m.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
            let value = m.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: m.len)) } ?? []
            let key = m.key.map { Array(UnsafeRawBufferPointer(start: $0, count: m.key_len)) }
            return .success(
                KafkaMessage(
                    topic: topic, partition: m.partition, offset: m.offset, key: key, value: value,
                    headers: Self.headers(of: raw)))
        }
    }

    private static func headers(of message: UnsafeMutablePointer<rd_kafka_message_t>) -> [KafkaHeader] {
        var list: OpaquePointer?
        // The header list belongs to the message; it is read before the message is destroyed.
        guard rd_kafka_message_headers(message, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return [] }
        var result: [KafkaHeader] = []
        var index = 0
        while true {
            var name: UnsafePointer<CChar>?
            var value: UnsafeRawPointer?
            var size = 0
            guard rd_kafka_header_get_all(list, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR,
                let name
            else { break }
            let bytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
            result.append(KafkaHeader(name: String(cString: name), value: bytes))
            index += 1
        }
        return result
    }

    /// Stores `offset + 1` as the next offset to commit for that partition.
    func storeOffset(topic: String, partition: Int32, offset: Int64) throws(KafkaError) {
        let list = RDKafkaTopicPartitionList()
        list.add(topic: topic, partition: partition, offset: offset + 1)
        try withHandle { rk throws(KafkaError) in
            try list.withList { l throws(KafkaError) in try RDKafkaErrors.check(rd_kafka_offsets_store(rk, l)) }
        }
    }

    /// Commits the stored offsets; `_NO_OFFSET` (nothing new) is not an error.
    func commitStored(async: Bool) throws(KafkaError) {
        try withHandle { rk throws(KafkaError) in
            let code = rd_kafka_commit(rk, nil, async ? 1 : 0)
            if code == RD_KAFKA_RESP_ERR__NO_OFFSET { return }
            try RDKafkaErrors.check(code)
        }
    }

    /// Leaves the group (serving the final revoke) and stops fetching.
    func consumerClose() {
        withHandle { rk in _ = rd_kafka_consumer_close(rk) }
    }

    // MARK: admin

    /// Creates topics with their configuration; returns the names of those that existed already
    /// (left as they are: `alterTopicConfig` changes them).
    func createTopics(_ specifications: [KafkaTopicSpecification], timeoutMs: Int32) throws(KafkaError) -> [String] {
        var errstr = [CChar](repeating: 0, count: 512)
        var newTopics: [OpaquePointer?] = []
        defer { for topic in newTopics { rd_kafka_NewTopic_destroy(topic) } }
        for specification in specifications {
            guard
                let topic = rd_kafka_NewTopic_new(
                    specification.name, specification.partitions, specification.replication, &errstr, errstr.count)
            else {
                throw KafkaError.invalid("topic \(specification.name): \(string(fromBuffer: errstr))")
            }
            newTopics.append(topic)
            for (key, value) in specification.config.sorted(by: { $0.key < $1.key }) {
                // Validated by the broker, not here (librdkafka only refuses empty names).
                try RDKafkaErrors.check(rd_kafka_NewTopic_set_config(topic, key, value))
            }
        }
        return try withHandle { rk throws(KafkaError) -> [String] in
            try Self.adminRequest(rk, timeoutMs: timeoutMs, name: "CreateTopics") { queue in
                newTopics.withUnsafeMutableBufferPointer { buffer in
                    rd_kafka_CreateTopics(rk, buffer.baseAddress, buffer.count, nil, queue)
                }
            } result: { event throws(KafkaError) -> [String] in
                guard let result = rd_kafka_event_CreateTopics_result(event) else {
                    throw KafkaError.invalid("unexpected admin event")
                }
                var count = 0
                guard let results = rd_kafka_CreateTopics_result_topics(result, &count) else { return [] }
                var existing: [String] = []
                for i in 0..<count {
                    guard let r = results[i] else { continue }
                    let code = rd_kafka_topic_result_error(r)
                    let name = String(cString: rd_kafka_topic_result_name(r))
                    if code == RD_KAFKA_RESP_ERR_NO_ERROR { continue }
                    if code == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS {
                        existing.append(name)
                        continue
                    }
                    let text = rd_kafka_topic_result_error_string(r).map { String(cString: $0) } ?? ""
                    throw RDKafkaErrors.error(code, reason: "\(name): \(text)")
                }
                return existing
            }
        }
    }

    /// The configuration of `topic` as the broker describes it (defaults included, each marked).
    func describeTopicConfig(_ topic: String, timeoutMs: Int32) throws(KafkaError) -> [KafkaConfigEntry] {
        guard let resource = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic) else {
            throw KafkaError.invalid("rd_kafka_ConfigResource_new failed")
        }
        // The request copies the resource; this one is ours to destroy.
        defer { rd_kafka_ConfigResource_destroy(resource) }
        var resources: [OpaquePointer?] = [resource]
        return try withHandle { rk throws(KafkaError) -> [KafkaConfigEntry] in
            try Self.adminRequest(rk, timeoutMs: timeoutMs, name: "DescribeConfigs") { queue in
                resources.withUnsafeMutableBufferPointer { buffer in
                    rd_kafka_DescribeConfigs(rk, buffer.baseAddress, buffer.count, nil, queue)
                }
            } result: { event throws(KafkaError) -> [KafkaConfigEntry] in
                guard let result = rd_kafka_event_DescribeConfigs_result(event) else {
                    throw KafkaError.invalid("unexpected admin event")
                }
                var count = 0
                guard let described = rd_kafka_DescribeConfigs_result_resources(result, &count), count > 0,
                    let first = described[0]
                else { return [] }
                try Self.checkResource(first)
                var entryCount = 0
                guard let entries = rd_kafka_ConfigResource_configs(first, &entryCount) else { return [] }
                // The entries belong to the event: copied out before it is destroyed.
                return (0..<entryCount).compactMap { i in
                    guard let entry = entries[i] else { return nil }
                    let source = rd_kafka_ConfigEntry_source(entry)
                    return KafkaConfigEntry(
                        name: String(cString: rd_kafka_ConfigEntry_name(entry)),
                        value: rd_kafka_ConfigEntry_value(entry).map { String(cString: $0) },
                        isDefault: rd_kafka_ConfigEntry_is_default(entry) != 0,
                        isTopicOverride: source == RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG)
                }
            }
        }
    }

    /// Replaces the topic-level configuration of `topic` with `config` (AlterConfigs: whatever is not
    /// in `config` reverts to the broker's default).
    func replaceTopicConfig(_ topic: String, _ config: [String: String], timeoutMs: Int32) throws(KafkaError) {
        guard let resource = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic) else {
            throw KafkaError.invalid("rd_kafka_ConfigResource_new failed")
        }
        defer { rd_kafka_ConfigResource_destroy(resource) }
        for (key, value) in config.sorted(by: { $0.key < $1.key }) {
            try RDKafkaErrors.check(rd_kafka_ConfigResource_set_config(resource, key, value))
        }
        var resources: [OpaquePointer?] = [resource]
        try withHandle { rk throws(KafkaError) in
            try Self.adminRequest(rk, timeoutMs: timeoutMs, name: "AlterConfigs") { queue in
                resources.withUnsafeMutableBufferPointer { buffer in
                    rd_kafka_AlterConfigs(rk, buffer.baseAddress, buffer.count, nil, queue)
                }
            } result: { event throws(KafkaError) in
                guard let result = rd_kafka_event_AlterConfigs_result(event) else {
                    throw KafkaError.invalid("unexpected admin event")
                }
                var count = 0
                guard let altered = rd_kafka_AlterConfigs_result_resources(result, &count), count > 0,
                    let first = altered[0]
                else { return }
                try Self.checkResource(first)
            }
        }
    }

    /// Sends one admin request on a queue of its own and reads its result event (destroyed after
    /// `result` copied what it needs).
    private static func adminRequest<T>(
        _ rk: OpaquePointer, timeoutMs: Int32, name: String, send: (OpaquePointer) -> Void,
        result: (OpaquePointer) throws(KafkaError) -> T
    ) throws(KafkaError) -> T {
        guard let queue = rd_kafka_queue_new(rk) else { throw KafkaError.invalid("rd_kafka_queue_new failed") }
        defer { rd_kafka_queue_destroy(queue) }
        send(queue)
        guard let event = rd_kafka_queue_poll(queue, timeoutMs + 1000) else {
            throw RDKafkaErrors.error(RD_KAFKA_RESP_ERR__TIMED_OUT, reason: "\(name) timed out")
        }
        defer { rd_kafka_event_destroy(event) }
        let code = rd_kafka_event_error(event)
        if code != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw RDKafkaErrors.error(code, reason: rd_kafka_event_error_string(event).map { String(cString: $0) })
        }
        return try result(event)
    }

    /// Throws the per-resource error of a config request's result.
    private static func checkResource(_ resource: OpaquePointer) throws(KafkaError) {
        let code = rd_kafka_ConfigResource_error(resource)
        guard code != RD_KAFKA_RESP_ERR_NO_ERROR else { return }
        let name = String(cString: rd_kafka_ConfigResource_name(resource))
        let text = rd_kafka_ConfigResource_error_string(resource).map { String(cString: $0) } ?? ""
        throw RDKafkaErrors.error(code, reason: "\(name): \(text)")
    }
}

/// Runs `body` with the bytes of `bytes`, or `nil`.
private func withOptionalBytes<T>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> T) -> T {
    guard let bytes else { return body(nil) }
    return bytes.withUnsafeBytes { body($0) }
}

/// The NUL-terminated text in a C error buffer.
func string(fromBuffer buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
