import Foundation
import Logging
import Platform
import Postgres
import ServiceLifecycle

/// Work a service does on a timer (sweeps, expiries, end-of-cool-down finalization).
///
/// Each run is one PostgreSQL transaction: the body claims the rows that are due (with
/// `FOR UPDATE SKIP LOCKED`, so replicas never take the same row), changes them and emits events
/// into `effects`; the events go to the outbox in the same transaction. A crash before the commit
/// leaves the rows due for the next run; after it, the relay publishes the events. Either way each
/// due item is handled exactly once.
public struct PeriodicTask: Sendable {
    /// Names the task in logs and in its events' `causationid` (`task:<name>:<run id>`).
    public var name: String
    /// Time between runs.
    public var interval: Duration
    /// One run: returns how many items it handled (for the log).
    public var body: @Sendable (borrowing PostgresSession, Date, inout MessageEffects) throws -> Int

    /// Creates a task.
    public init(
        name: String, interval: Duration,
        body: @escaping @Sendable (borrowing PostgresSession, Date, inout MessageEffects) throws -> Int
    ) {
        self.name = name
        self.interval = interval
        self.body = body
    }
}

/// Runs a `PeriodicTask` until graceful shutdown.
final class PeriodicService: Service {
    private let task: PeriodicTask
    private let pool: PostgresPool
    private let doorbell: Doorbell
    private let environment: HandlerEnvironment

    init(task: PeriodicTask, pool: PostgresPool, doorbell: Doorbell, environment: HandlerEnvironment) {
        self.task = task
        self.pool = pool
        self.doorbell = doorbell
        self.environment = environment
    }

    func run() async throws {
        while !Task.isShuttingDownGracefully {
            do {
                try await runOnce()
            } catch {
                environment.logger.warning(
                    "periodic task failed", metadata: ["task": "\(task.name)", "error": "\(error)"])
            }
            // Wakes early on graceful shutdown (the sleep is cancelled).
            let interval = task.interval
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    /// One run in one transaction.
    func runOnce() async throws {
        let now = environment.clock.now()
        let runID = "task:\(task.name):\(UUID().uuidString.lowercased())"
        let causation = IncomingEnvelope(
            specversion: "1.0", id: runID, source: environment.service.source, type: task.name, correlationid: runID)
        let effects = MessageEffects(
            service: environment.service, topics: environment.topics, now: now, causation: causation,
            isCommand: false)
        let task = self.task
        let (handled, wrote) = try await pool.transaction { session -> (Int, Bool) in
            var effects = effects
            let handled = try task.body(session, now, &effects)
            try MessageStore.enqueue(session, effects.outgoing)
            try MessageStore.appendAudit(session, effects.auditEntries)
            return (handled, !effects.outgoing.isEmpty)
        }
        if wrote { doorbell.ring() }
        if handled > 0 {
            environment.logger.info("periodic task ran", metadata: ["task": "\(task.name)", "items": "\(handled)"])
        }
    }
}
