import Dispatch
import Logging
import Synchronization

/// A consumer that never commits on its own: the application stores a message's offset after its
/// database work committed (`storeOffset`), and the consumer commits stored offsets when idle, at
/// most every `commitInterval`, and on `close`.
public final class KafkaConsumer: Sendable {
    private struct CommitState {
        var dirty = false
        var lastCommit = ContinuousClock.now
        var closed = false
    }

    private let handle: RDKafkaHandle
    private let queue: DispatchQueue
    private let logger: Logger
    private let state = Mutex(CommitState())
    private let commitInterval: Duration

    /// A group member subscribed to `topics` (rebalances assign partitions).
    public init(
        configuration: KafkaConfiguration, groupID: String, topics: [String], logger: Logger,
        commitInterval: Duration = .milliseconds(250)
    ) throws(KafkaError) {
        handle = try RDKafkaHandle(
            kind: .consumer, properties: configuration.consumerProperties(groupID: groupID), logger: logger)
        queue = DispatchQueue(label: "registrar.kafka.consumer")
        self.logger = logger
        self.commitInterval = commitInterval
        try handle.subscribe(topics)
    }

    /// A reader of every partition of `topics` from the beginning, outside any group (no commits).
    public init(configuration: KafkaConfiguration, readingFromBeginning topics: [String], logger: Logger)
        throws(KafkaError)
    {
        handle = try RDKafkaHandle(
            kind: .consumer, properties: configuration.assignedConsumerProperties, logger: logger)
        queue = DispatchQueue(label: "registrar.kafka.reader")
        self.logger = logger
        self.commitInterval = .seconds(3600)
        try handle.assignAllFromBeginning(topics, timeoutMs: 10_000)
    }

    /// A reader of every partition of `topics` from their current end, outside any group (no commits):
    /// it reads exactly the messages produced after `init` returns (the gateway's reply reader).
    public init(configuration: KafkaConfiguration, readingFromEnd topics: [String], logger: Logger)
        throws(KafkaError)
    {
        handle = try RDKafkaHandle(
            kind: .consumer, properties: configuration.assignedConsumerProperties, logger: logger)
        queue = DispatchQueue(label: "registrar.kafka.tail")
        self.logger = logger
        self.commitInterval = .seconds(3600)
        try handle.assignAllFromEnd(topics, timeoutMs: 10_000)
    }

    /// The next message, or `nil` when none arrived within `timeout`. Transient client errors are
    /// logged and read as "no message"; fatal ones throw.
    public func poll(timeout: Duration = .milliseconds(100)) async throws(KafkaError) -> KafkaMessage? {
        let handle = self.handle
        let ms = Int32(
            clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let result = await onQueue(queue) { () -> Result<KafkaMessage, KafkaError>? in
            let result = handle.consumerPoll(timeoutMs: ms)
            self.commitIfDue(idle: result == nil)
            return result
        }
        switch result {
        case .none: return nil
        case .success(let message): return message
        case .failure(let error):
            if error.isFatal { throw error }
            logger.warning("kafka consume error", metadata: ["kafka.error": "\(error)"])
            return nil
        }
    }

    /// Up to `maxMessages` messages: waits up to `timeout` for the first, then takes only what is
    /// already fetched (non-blocking polls), in one hop to the consumer queue. Empty when none
    /// arrived. Transient client errors end the batch and are logged; fatal ones throw.
    public func poll(maxMessages: Int, timeout: Duration = .milliseconds(100)) async throws(KafkaError)
        -> [KafkaMessage]
    {
        let handle = self.handle
        let ms = Int32(
            clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let limit = max(1, maxMessages)
        let (batch, failure) = await onQueue(queue) { () -> ([KafkaMessage], KafkaError?) in
            var batch: [KafkaMessage] = []
            var failure: KafkaError?
            while batch.count < limit {
                guard let result = handle.consumerPoll(timeoutMs: batch.isEmpty ? ms : 0) else { break }
                switch result {
                case .success(let message): batch.append(message)
                case .failure(let error): failure = error
                }
                if failure != nil { break }
            }
            self.commitIfDue(idle: batch.isEmpty)
            return (batch, failure)
        }
        if let failure {
            if failure.isFatal { throw failure }
            logger.warning("kafka consume error", metadata: ["kafka.error": "\(failure)"])
        }
        return batch
    }

    /// Marks `message` done: its offset + 1 is committed with the next commit.
    public func storeOffset(of message: KafkaMessage) throws(KafkaError) {
        try handle.storeOffset(topic: message.topic, partition: message.partition, offset: message.offset)
        state.withLock { $0.dirty = true }
    }

    /// Commits stored offsets, leaves the group and stops fetching. Idempotent.
    public func close() async {
        let handle = self.handle
        await onQueue(queue) {
            let alreadyClosed = self.state.withLock { s in
                defer { s.closed = true }
                return s.closed
            }
            if alreadyClosed { return }
            do { try handle.commitStored(async: false) } catch {
                self.logger.warning("final offset commit failed", metadata: ["kafka.error": "\(error)"])
            }
            handle.consumerClose()
        }
    }

    /// Called on the consumer queue after each poll.
    private func commitIfDue(idle: Bool) {
        let due = state.withLock { s in
            s.dirty && !s.closed && (idle || ContinuousClock.now - s.lastCommit >= commitInterval)
        }
        guard due else { return }
        do {
            try handle.commitStored(async: true)
            state.withLock {
                $0.dirty = false
                $0.lastCommit = .now
            }
        } catch {
            logger.warning("offset commit failed", metadata: ["kafka.error": "\(error)"])
        }
    }
}
