import Foundation
import Logging
import Metrics
import Platform
import Postgres
import ServiceLifecycle

/// Deletes the runtime's rows once their policy windows have passed (docs/decisions.md, "Retention
/// of runtime data"): inbox rows of commands after `runtime.commandInboxRetention`, of events after
/// `runtime.eventInboxRetention`, outbox rows `runtime.sentOutboxRetention` after the broker
/// confirmed them (an unsent row is never touched), dead letters after `runtime.deadLetterRetention`.
///
/// Every service runs one (the runtime adds it). A run deletes, table by table, at most
/// `runtime.pruneBatchSize` rows per statement, each statement its own transaction, so row locks
/// last one short statement and nothing else waits on them (old rows are read by nobody but a
/// re-sent command, which reads without locking). A table's statements stop when one deletes
/// fewer rows than the batch size, or after `runtime.pruneBatchesPerRun`: a run is bounded and a
/// backlog is worked off over several runs. Rows another replica's pruner holds are skipped
/// (`SKIP LOCKED`). Windows are measured on the service's clock, which stamps the rows.
public final class RuntimePruner: Service {
    private let pool: PostgresPool
    private let clock: any RegistrarClock
    private let policy: Policy.Runtime
    private let commandTopics: [String]
    private let eventTopics: [String]
    private let logger: Logger

    /// Rows one run removed, per table.
    public struct Removed: Equatable, Sendable {
        /// Inbox rows of commands (with their kept replies).
        public var commandInbox = 0
        /// Inbox rows of events.
        public var eventInbox = 0
        /// Sent outbox rows.
        public var outbox = 0
        /// Dead letters.
        public var deadLetters = 0

        /// All of them.
        public var total: Int { commandInbox + eventInbox + outbox + deadLetters }
    }

    /// A pruner for the service whose command topic is `commandTopics` and that consumes
    /// `eventTopics` (full names): inbox rows are kept per topic kind. (`registrar-bench` runs
    /// one on its own to measure pruning at scale.)
    public init(
        pool: PostgresPool, clock: any RegistrarClock, policy: Policy.Runtime, commandTopics: [String],
        eventTopics: [String], logger: Logger
    ) {
        self.pool = pool
        self.clock = clock
        self.policy = policy
        self.commandTopics = commandTopics
        self.eventTopics = eventTopics
        self.logger = logger
    }

    /// Runs every `runtime.pruneInterval` until graceful shutdown.
    public func run() async throws {
        while !Task.isShuttingDownGracefully {
            do {
                try await runOnce()
            } catch {
                logger.warning("pruning failed, will retry", metadata: ["error": "\(error)"])
            }
            // Wakes early on graceful shutdown (the sleep is cancelled).
            let interval = policy.pruneInterval.duration
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    /// One run; logs and returns what it removed.
    @discardableResult
    public func runOnce() async throws -> Removed {
        let now = clock.now()
        func cutoff(_ window: PolicyDuration) -> Date { now.addingTimeInterval(-window.timeInterval) }
        var removed = Removed()
        let (commands, events) = (commandTopics, eventTopics)
        let commandCutoff = cutoff(policy.commandInboxRetention)
        removed.commandInbox = try await drain("inbox") { session, limit in
            try MessageStore.pruneInbox(session, topics: commands, before: commandCutoff, limit: limit)
        }
        if !events.isEmpty {
            let eventCutoff = cutoff(policy.eventInboxRetention)
            removed.eventInbox = try await drain("inbox") { session, limit in
                try MessageStore.pruneInbox(session, topics: events, before: eventCutoff, limit: limit)
            }
        }
        let outboxCutoff = cutoff(policy.sentOutboxRetention)
        removed.outbox = try await drain("outbox") { session, limit in
            try MessageStore.pruneSentOutbox(session, before: outboxCutoff, limit: limit)
        }
        let deadLetterCutoff = cutoff(policy.deadLetterRetention)
        removed.deadLetters = try await drain("dead_letters") { session, limit in
            try MessageStore.pruneDeadLetters(session, before: deadLetterCutoff, limit: limit)
        }
        if removed.total > 0 {
            logger.info(
                "runtime rows pruned",
                metadata: [
                    "pruned.inbox.commands": "\(removed.commandInbox)", "pruned.inbox.events": "\(removed.eventInbox)",
                    "pruned.outbox": "\(removed.outbox)", "pruned.dead_letters": "\(removed.deadLetters)",
                ])
        }
        return removed
    }

    /// Runs `statement` (one bounded DELETE, its own transaction) until it removes less than a
    /// batch or the run's statements are used up; returns the rows removed.
    private func drain(
        _ table: String, _ statement: @escaping @Sendable (borrowing PostgresSession, Int) throws -> Int
    ) async throws -> Int {
        let limit = policy.pruneBatchSize
        var total = 0
        for _ in 0..<policy.pruneBatchesPerRun {
            let removed = try await pool.run { session in try statement(session, limit) }
            total += removed
            if removed < limit || Task.isShuttingDownGracefully { break }
        }
        if total > 0 {
            Counter(label: "registrar_pruned_rows_total", dimensions: [("table", table)]).increment(by: total)
        }
        return total
    }
}
