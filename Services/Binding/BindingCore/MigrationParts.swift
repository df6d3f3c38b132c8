import Contract
import Foundation
import Messaging
import Platform
import Postgres

/// Manifests in parts: every part's items are counted as they arrive and only the counts are kept,
/// so a plan of 100,000 items never holds more than one message's worth of items in memory.
/// `migration.planned` goes out once, when the last missing part arrived; a part sent twice is
/// counted once.
enum MigrationParts {
    static func receive(
        _ session: borrowing PostgresSession, _ part: MigrationStart.Part, counts: PlanCounts, account: String,
        _ command: Command<MigrationStart>, _ effects: inout MessageEffects
    ) throws -> Reply {
        guard part.total >= 1, (0..<part.total).contains(part.index) else {
            throw MalformedMessage.invalid(field: "data.manifest.part")
        }
        let now = command.receivedAt
        var plan: (id: String, counts: PlanCounts, received: Set<Int>, total: Int)
        if part.index == 0 && part.planId == nil {
            let id = UUID().uuidString.lowercased()
            try session.query(
                """
                INSERT INTO migration_plans (plan_id, account_id, items, counts, free_storage_bytes, created_at,
                    parts_total, parts_received, state)
                VALUES (\(id)::uuid, \(account)::uuid, 0, '{}'::jsonb, \(command.data.manifest.freeStorageBytes), \(now),
                        \(part.total), '{}', 'collecting')
                """)
            plan = (id, PlanCounts(), [], part.total)
        } else {
            guard let planID = part.planId, UUID(uuidString: planID) != nil else {
                throw MalformedMessage.invalid(field: "data.manifest.part.planId")
            }
            guard
                let row = try session.query(
                    """
                    SELECT counts::text AS counts, parts_received::text AS received, parts_total, state FROM migration_plans
                    WHERE plan_id = \(planID)::uuid AND account_id = \(account)::uuid FOR UPDATE
                    """
                ).first
            else { return .rejected(.migrationPlanNotFound, "no migration plan with that id") }
            let stored = try JSONDecoder().decode(
                [String: Int].self, from: Data(try row.decode("counts", as: String.self).utf8))
            let received = Set(try row.decode("received", as: [String].self).compactMap { Int($0) })
            plan = (planID.lowercased(), PlanCounts(byOutcome: stored), received, try row.decode("parts_total"))
            guard plan.total == part.total else { throw MalformedMessage.invalid(field: "data.manifest.part.total") }
        }
        let complete: Bool
        if plan.received.contains(part.index) {
            complete = plan.received.count == plan.total  // Sent again: counted already.
        } else {
            plan.counts.merge(counts)
            plan.received.insert(part.index)
            complete = plan.received.count == plan.total
            let json = String(decoding: try JSONEncoder().encode(plan.counts), as: UTF8.self)
            try session.query(
                """
                UPDATE migration_plans SET counts = \(json)::jsonb, items = \(plan.counts.total),
                    parts_received = array_append(parts_received, \(part.index)),
                    state = \(complete ? "planned" : "collecting")
                WHERE plan_id = \(plan.id)::uuid
                """)
            if complete {
                try effects.emit(
                    .migrationPlanned, subject: account,
                    data: Planned(accountId: account, planId: plan.id, items: plan.counts.total, counts: plan.counts))
            }
        }
        return try .ok(
            PartResult(
                planId: plan.id, items: plan.counts.total, plan: plan.counts, partsReceived: plan.received.count,
                partsTotal: plan.total, complete: complete))
    }
}

/// `result` of one part of `migration.start`.
struct PartResult: Encodable {
    var planId: String
    var items: Int
    var plan: PlanCounts
    var partsReceived: Int
    var partsTotal: Int
    var complete: Bool
}
