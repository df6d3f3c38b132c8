import Contract
import Foundation
import Kafka
import Logging
import Messaging
import Synchronization

/// Sends commands and matches their replies by Kafka key (services key a reply by the command's
/// id; the echo keys it like the request), many thousands in flight at once: sends are queued
/// and produced in batches by `sendLoop`, replies are read in batches by `replyLoop`.
final class Caller: Sendable {
    private struct Waiter {
        var continuation: CheckedContinuation<[UInt8]?, Never>
        var deadline: ContinuousClock.Instant
    }

    private let producer: KafkaProducer
    private let replies: KafkaConsumer
    private let sms: KafkaConsumer?
    private let waiting = Mutex<[String: Waiter]>([:])
    private let queued = Mutex<[KafkaOutgoingMessage]>([])
    private let codes = Mutex<[String: String]>([:])
    private let timeout: Duration
    /// Replies that arrived after their caller gave up.
    let timedOut = Atomic<Int>(0)

    /// Reads `repliesTopic` (and `smsTopic`, when given) from the beginning.
    init(
        configuration: KafkaConfiguration, repliesTopic: String, smsTopic: String?, logger: Logger,
        timeout: Duration = .seconds(30)
    ) throws {
        producer = try KafkaProducer(configuration: configuration, logger: logger)
        replies = try KafkaConsumer(configuration: configuration, readingFromBeginning: [repliesTopic], logger: logger)
        sms = try smsTopic.map {
            try KafkaConsumer(configuration: configuration, readingFromBeginning: [$0], logger: logger)
        }
        self.timeout = timeout
    }

    /// Sends `value` to `topic` keyed `key` and returns the reply's bytes (`nil` on timeout). The
    /// reply is matched by `replyKey` (default: `key`).
    func call(topic: String, key: String, value: [UInt8], replyKey: String? = nil) async -> [UInt8]? {
        let match = replyKey ?? key
        return await withCheckedContinuation { continuation in
            waiting.withLock { $0[match] = Waiter(continuation: continuation, deadline: .now + timeout) }
            let message = KafkaOutgoingMessage(
                topic: topic, key: Array(key.utf8), value: value,
                headers: [KafkaHeader(name: "content-type", string: cloudEventsContentType)])
            queued.withLock { $0.append(message) }
        }
    }

    /// Sends a command envelope and decodes its reply.
    func command(
        _ type: String, _ data: [String: JSONValue], topic: String, key: String? = nil, session: String? = nil
    ) async -> CloudEvent? {
        let id = UUID().uuidString.lowercased()
        let envelope = RegistrarClient.command(type: type, data: .object(data), id: id, sessionToken: session)
        guard let bytes = try? JSONEncoder().encode(JSONValue.object(envelope)),
            let reply = await call(topic: topic, key: key ?? id, value: Array(bytes), replyKey: id)
        else { return nil }
        return try? JSONDecoder().decode(CloudEvent.self, from: Data(reply))
    }

    /// The SMS code sent to `phone`, waiting up to 30 s for it.
    func smsCode(for phone: String) async -> String? {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let code = codes.withLock({ $0.removeValue(forKey: phone) }) { return code }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return nil
    }

    /// Commands still waiting for a reply.
    var inFlight: Int { waiting.withLock { $0.count } }

    /// Produces queued messages in batches until cancelled.
    func sendLoop() async {
        while !Task.isCancelled {
            let batch = queued.withLock { queue -> [KafkaOutgoingMessage] in
                defer { queue.removeAll(keepingCapacity: true) }
                return queue
            }
            if batch.isEmpty {
                try? await Task.sleep(for: .microseconds(500))
                continue
            }
            _ = await producer.send(batch)
        }
    }

    /// Reads replies in batches and wakes their callers until cancelled; gives up on callers past
    /// their deadline.
    func replyLoop() async {
        var lastSweep = ContinuousClock.now
        while !Task.isCancelled {
            let batch = (try? await replies.poll(maxMessages: 1000, timeout: .milliseconds(20))) ?? []
            var woken: [(CheckedContinuation<[UInt8]?, Never>, [UInt8])] = []
            waiting.withLock { waiting in
                for message in batch {
                    guard let key = message.key,
                        let waiter = waiting.removeValue(forKey: String(decoding: key, as: UTF8.self))
                    else { continue }
                    woken.append((waiter.continuation, message.value))
                }
            }
            for (continuation, value) in woken { continuation.resume(returning: value) }
            if ContinuousClock.now - lastSweep > .seconds(1) {
                lastSweep = .now
                let now = ContinuousClock.now
                let expired = waiting.withLock { waiting -> [CheckedContinuation<[UInt8]?, Never>] in
                    let gone = waiting.filter { $0.value.deadline < now }
                    for key in gone.keys { waiting.removeValue(forKey: key) }
                    return gone.values.map(\.continuation)
                }
                timedOut.add(expired.count, ordering: .relaxed)
                for continuation in expired { continuation.resume(returning: nil) }
            }
        }
        let rest = waiting.withLock { waiting in
            defer { waiting.removeAll() }
            return waiting.values.map(\.continuation)
        }
        for continuation in rest { continuation.resume(returning: nil) }
    }

    /// Reads `notifications.sms` and keeps the last code per phone until cancelled.
    func smsLoop() async {
        guard let sms else { return }
        while !Task.isCancelled {
            let batch = (try? await sms.poll(maxMessages: 500, timeout: .milliseconds(20))) ?? []
            for message in batch {
                guard let event = try? JSONDecoder().decode(CloudEvent.self, from: Data(message.value)),
                    let phone = event.data["phone"]?.stringValue, let code = event.data["code"]?.stringValue
                else { continue }
                codes.withLock { $0[phone] = code }
            }
        }
    }

    /// Skips what the reply topic already holds (replies of earlier runs), up to `limit`.
    func catchUp(limit: Duration = .seconds(60)) async {
        let deadline = ContinuousClock.now + limit
        var idle = 0
        while ContinuousClock.now < deadline, idle < 3 {
            let batch = (try? await replies.poll(maxMessages: 5000, timeout: .milliseconds(200))) ?? []
            idle = batch.isEmpty ? idle + 1 : 0
        }
    }

    /// Closes the consumers.
    func close() async {
        await replies.close()
        await sms?.close()
    }
}
