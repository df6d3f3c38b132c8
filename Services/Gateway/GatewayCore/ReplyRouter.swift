import Foundation
import Kafka
import Logging
import Messaging
import ServiceLifecycle
import Synchronization

/// Completes the gateway's waiting requests from `registrar.replies`.
///
/// Each gateway process reads every partition of the replies topic itself, from the topic's end at
/// the moment it starts (`KafkaConsumer(readingFromEnd:)`: no consumer group, nothing committed,
/// nothing to clean up when the process goes), and matches replies to waiting requests by
/// `inreplyto`. Replies to other replicas' commands are read and dropped. A request registers
/// before its command is sent, so its reply cannot be missed; a replica that restarts has lost its
/// waiters, and the client's retry with the same `Idempotency-Key` sends the same command id again,
/// which the service's inbox answers with the kept reply (docs/decisions.md, "HTTP gateway").
public final class ReplyRouter: Service, Sendable {
    private enum Slot {
        case waiting(CheckedContinuation<CloudEvent?, Never>?)
        case done(CloudEvent?)
    }

    private struct State {
        var slots: [String: [Int: Slot]] = [:]
        var nextToken = 0
    }

    private let consumer: KafkaConsumer
    private let logger: Logger
    private let state = Mutex(State())

    /// Starts reading `topic` (full name) from its current end.
    public init(configuration: KafkaConfiguration, topic: String, logger: Logger) throws(KafkaError) {
        consumer = try KafkaConsumer(configuration: configuration, readingFromEnd: [topic], logger: logger)
        self.logger = logger
    }

    /// Reads replies until shutdown.
    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let messages = try await self.consumer.poll(maxMessages: 500, timeout: .milliseconds(50))
                for message in messages {
                    guard let event = try? JSONDecoder().decode(CloudEvent.self, from: Data(message.value)),
                        let target = event.inreplyto
                    else { continue }
                    self.complete(target, with: event)
                }
            }
        }
        await consumer.close()
    }

    /// Number of requests waiting now.
    public var waiting: Int { state.withLock { $0.slots.values.reduce(0) { $0 + $1.count } } }

    /// Registers a wait for the reply to `id`, runs `send`, and returns the reply, or `nil` when none
    /// came within `timeout`. Several requests may wait for one id (a client retrying while its first
    /// request still waits): each gets the reply.
    public func reply(
        to id: String, timeout: Duration, after send: () async throws -> Void
    ) async throws -> CloudEvent? {
        let token = state.withLock { state -> Int in
            state.nextToken += 1
            state.slots[id, default: [:]][state.nextToken] = .waiting(nil)
            return state.nextToken
        }
        defer {
            state.withLock { state in
                state.slots[id]?[token] = nil
                if state.slots[id]?.isEmpty == true { state.slots[id] = nil }
            }
        }
        try await send()
        return await withTaskGroup(of: CloudEvent?.self) { group in
            group.addTask { await self.wait(id, token) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                self.finish(id, token, with: nil)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    private func wait(_ id: String, _ token: Int) async -> CloudEvent? {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> CloudEvent?? in
                switch state.slots[id]?[token] {
                case .done(let event): return .some(event)
                case .waiting, nil:
                    state.slots[id, default: [:]][token] = .waiting(continuation)
                    return .none
                }
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    private func finish(_ id: String, _ token: Int, with event: CloudEvent?) {
        let continuation = state.withLock { state -> CheckedContinuation<CloudEvent?, Never>? in
            guard case .waiting(let continuation) = state.slots[id]?[token] else { return nil }
            state.slots[id]?[token] = .done(event)
            return continuation
        }
        continuation?.resume(returning: event)
    }

    private func complete(_ id: String, with event: CloudEvent) {
        let continuations = state.withLock { state -> [CheckedContinuation<CloudEvent?, Never>] in
            guard let slots = state.slots[id] else { return [] }
            var found: [CheckedContinuation<CloudEvent?, Never>] = []
            for (token, slot) in slots {
                guard case .waiting(let continuation) = slot else { continue }
                state.slots[id]?[token] = .done(event)
                if let continuation { found.append(continuation) }
            }
            return found
        }
        for continuation in continuations { continuation.resume(returning: event) }
    }
}
