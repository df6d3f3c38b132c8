import Foundation

/// The article's stage table (issue 18), shared by permissions (entitlements by stage) and identity
/// (the stage's risk level as a step-up factor for a sign-in from a new device): days 0…`stageOneLastDay`
/// are stage 1 (risk `high`), …`stageTwoLastDay` stage 2 (`medium`), later stage 3 (`low`).
///
/// A pure function of the account's registration time and the policy's numbers (passed as values:
/// Contract imports nothing of ours), so the two services cannot disagree about a boundary.
public enum AccountStage {
    /// The stage's risk level, as `permissions.check` and `entitlements.get` report it.
    public enum RiskLevel: String, Sendable, Codable, CaseIterable {
        case high, medium, low
    }

    /// The account's day number: whole `dayLength`s since `registeredAt` (day 0 is the first).
    public static func day(registeredAt: Date, now: Date, dayLength: TimeInterval) -> Int {
        guard dayLength > 0 else { return 0 }
        return Int((now.timeIntervalSince(registeredAt) / dayLength).rounded(.down))
    }

    /// Stage 1 (days 0…`stageOneLastDay`), 2 (…`stageTwoLastDay`) or 3.
    public static func stage(
        registeredAt: Date, now: Date, dayLength: TimeInterval, stageOneLastDay: Int, stageTwoLastDay: Int
    ) -> Int {
        let day = day(registeredAt: registeredAt, now: now, dayLength: dayLength)
        if day <= stageOneLastDay { return 1 }
        if day <= stageTwoLastDay { return 2 }
        return 3
    }

    /// The stage's risk level: stage 1 `high`, stage 2 `medium`, stage 3 `low`.
    public static func riskLevel(stage: Int) -> RiskLevel {
        switch stage {
        case ...1: .high
        case 2: .medium
        default: .low
        }
    }
}
