import Contract
import Foundation
import Messaging
import Platform
import Postgres
import Synchronization

/// The pruner at scale (issue 17): permissions' inbox is filled with `rows` command rows stamped
/// older than `runtime.commandInboxRetention` (one `INSERT … SELECT generate_series` per chunk, at
/// the database), then the runtime's own `RuntimePruner` runs, run after run, until they are gone,
/// while `permissions.check` runs at a fixed rate. Reports the pruner's rows/s, PostgreSQL's
/// execution time per pruned row (`pg_stat_statements`, where loaded) and the command latency
/// before and during pruning.
struct PrunePhase {
    /// Old inbox rows to fill and prune.
    let rows: Int
    /// Commands per second of the steady load.
    let rate: Double
    /// Length of each latency window.
    let window: Duration
    /// The stack's policy (windows, batch sizes).
    let policy: Policy
    /// A connection for filling and counting (any search path: names are qualified).
    let db: PostgresConnection

    /// Rows per fill transaction.
    static let fillChunk = 500_000

    /// The reply kept with each filled row: a typical `permissions.check` reply's size.
    static let reply =
        #"{"data":{"code":"OK","message":"ok","result":{"allowed":true,"limits":{},"reason":"ok"},"status":"ok","#
        + #""warnings":[]},"datacontenttype":"application/json","id":"00000000-0000-4000-8000-000000000000","#
        + #""inreplyto":"00000000-0000-4000-8000-000000000000","source":"/registrar/permissions","specversion":"1.0","#
        + #""time":"2026-01-01T00:00:00.000Z","type":"registrar.reply"}"#

    /// Fills the inbox; returns the seconds it took.
    func fill(topic: String, before cutoff: Date) async throws -> Double {
        let start = ContinuousClock.now
        var from = 1
        while from <= rows {
            let (low, to) = (from, min(rows, from + Self.fillChunk - 1))
            try await db.transaction { session in
                // Spread over an hour before the cutoff, as a day's traffic would be.
                try session.query(
                    """
                    INSERT INTO permissions.inbox (consumer, message_id, topic, partition, "offset", received_at, reply)
                    SELECT 'permissions', 'bench-old-' || i, \(topic), i % 3, i,
                           \(cutoff)::timestamptz - make_interval(secs => (i % 3600) + 1), \(Self.reply)
                    FROM generate_series(\(low)::int, \(to)::int) i ON CONFLICT DO NOTHING
                    """)
            }
            from = to + 1
        }
        try await db.run { try $0.query("ANALYZE permissions.inbox") }
        return seconds(ContinuousClock.now - start)
    }

    /// Old rows still in the inbox.
    func remaining(before cutoff: Date) async throws -> Int {
        try await db.run { session in
            try session.query(
                "SELECT count(*)::bigint AS n FROM permissions.inbox WHERE received_at < \(cutoff)"
            ).first?.decode("n", as: Int.self) ?? 0
        }
    }

    /// PostgreSQL's execution time (ms) and rows of the inbox DELETEs since the last reset; `nil`
    /// without `pg_stat_statements`.
    func deleteStatistics() async -> (milliseconds: Double, rows: Int, calls: Int)? {
        try? await db.run { session in
            guard
                let row = try session.query(
                    """
                    SELECT coalesce(sum(total_exec_time), 0)::float8 AS ms, coalesce(sum(rows), 0)::bigint AS n,
                           coalesce(sum(calls), 0)::bigint AS calls
                    FROM public.pg_stat_statements WHERE query LIKE 'DELETE FROM inbox%'
                    """
                ).first
            else { return nil }
            return (try row.decode("ms"), try row.decode("n"), try row.decode("calls"))
        }
    }

    /// Fills, measures the load alone, then prunes under the load; the figures for `suite.json`.
    func run(load: Load, operation: @escaping Operation) async throws -> [String: Any] {
        let topic = topics.commands(.permissions)
        let cutoff = Date().addingTimeInterval(-policy.runtime.commandInboxRetention.timeInterval)
        say("prune: filling permissions.inbox with \(rows) rows older than the command window")
        let filled = try await fill(topic: topic, before: cutoff)
        let old = try await remaining(before: cutoff)
        say(String(format: "prune: %d old rows in %.1fs", old, filled))

        await load.settle()
        let before = await load.fixedRate(rate, duration: window, operation: operation)
        say(
            String(
                format: "prune: before, at %.0f/s p50 %.1f ms p99 %.1f ms", rate, before.p50 / 1000, before.p99 / 1000))

        _ = try? await db.run { try $0.query("SELECT public.pg_stat_statements_reset()") }
        let pool = PostgresPool(
            configuration: PostgresConfiguration(
                url: configuration.databaseURL, searchPath: ["permissions"], applicationName: "registrar-bench-pruner",
                poolSize: 1))
        // The runtime's pruner as every service runs it (same statements, batch size and batches per
        // run), run after run without the interval between runs: the cost of working off a backlog.
        let pruner = RuntimePruner(
            pool: pool, clock: SystemClock(), policy: policy.runtime, commandTopics: [topic], eventTopics: [],
            logger: logger)
        let done = Flag()
        let start = ContinuousClock.now
        async let pruned: (rows: Int, runs: Int, seconds: Double) = { () async throws -> (Int, Int, Double) in
            defer { done.raise() }
            var total = 0
            var runs = 0
            while true {
                let removed = try await pruner.runOnce()
                total += removed.commandInbox
                runs += 1
                // A run that did not use all its statements found the range drained.
                if removed.commandInbox < policy.runtime.pruneBatchSize * policy.runtime.pruneBatchesPerRun {
                    break
                }
            }
            return (total, runs, seconds(ContinuousClock.now - start))
        }()
        var during: [LoadResult] = []
        while !done.isRaised {
            during.append(await load.fixedRate(rate, duration: window, operation: operation))
        }
        let result = try await pruned
        let left = try await remaining(before: cutoff)
        let statistics = await deleteStatistics()
        let removed = old - left
        var figures: [String: Any] = [
            "rows": rows, "fill_seconds": filled, "old_rows": old, "left": left, "pruned_by_bench": result.rows,
            "pruned": removed, "runs": result.runs, "seconds": result.seconds,
            "rows_per_s": result.seconds > 0 ? Double(removed) / result.seconds : 0,
            "batch_size": policy.runtime.pruneBatchSize, "batches_per_run": policy.runtime.pruneBatchesPerRun,
            "rate": rate, "before": before.json, "during": during.map(\.json), "windows_during": during.count,
        ]
        if !during.isEmpty {
            let p50 = during.map(\.p50).sorted()[during.count / 2]
            let p99 = during.map(\.p99).max() ?? 0
            figures["during_p50_us_median"] = p50
            figures["during_p99_us_max"] = p99
            figures["during_failed"] = during.map(\.failed).reduce(0, +)
        }
        if let statistics, statistics.rows > 0 {
            figures["db_ms"] = statistics.milliseconds
            figures["db_us_per_row"] = statistics.milliseconds * 1000 / Double(statistics.rows)
            figures["delete_statements"] = statistics.calls
        }
        say(
            String(
                format: "prune: %d rows in %.1fs (%.0f rows/s, %@ µs DB/row); p50 %.1f → %.1f ms, p99 %.1f → %.1f ms",
                removed, result.seconds, figures["rows_per_s"] as? Double ?? 0,
                (figures["db_us_per_row"] as? Double).map { String(format: "%.1f", $0) } ?? "n/a",
                before.p50 / 1000, (figures["during_p50_us_median"] as? Double ?? 0) / 1000, before.p99 / 1000,
                (figures["during_p99_us_max"] as? Double ?? 0) / 1000))
        return figures
    }
}

/// A flag one task raises and another reads.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    /// Raises it.
    func raise() { value.store(true, ordering: .relaxed) }
    /// Whether it was raised.
    var isRaised: Bool { value.load(ordering: .relaxed) }
}
