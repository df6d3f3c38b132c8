import Contract
import Foundation
import IdentityCore
import Messaging
import Platform
import TestSupport
import Testing

/// Registers 2,000 accounts through the topics and compares the step-up levels the service chose
/// with the contract's table (§6).
@Suite(.enabled(if: TestStack.enabled))
struct IdentityRiskRateTests {
    /// Cheap hashing and no rate limits or bursts, so that only the factor under test shows.
    static let policy = """
        {
          "password": {"argon2MemoryKiB": 1024, "argon2Iterations": 1},
          "risk": {"burstStarts": 1000000},
          "registration": {"startsPerPhonePerWindow": 1000000, "startsPerDevicePerWindow": 1000000,
                           "startsPerIPPerWindow": 1000000}
        }
        """

    @Test func observedStepUpRatesMatchTheTable() async throws {
        try await ServiceProcess.run(.identity, policy: Self.policy) { _, client in
            try await run(IdentityClient(client: client))
        }
    }

    func run(_ identity: IdentityClient) async throws {
        let late = IdentityClient.zone(localHour: 2)
        let day = IdentityClient.zone(localHour: 12)
        let perCohort = 667
        // Cohort 1: new devices only. Each of its devices is then reused (known) once by cohort 2
        // (behind a proxy) and once by cohort 3 (late at night): 3 accounts per device at most.
        let fingerprints = (0..<perCohort).map { _ in IdentityClient.fingerprint() }
        let started = ContinuousClock.now
        var registrations: [(cohort: String, id: String)] = []
        for (cohort, proxy, zone) in [("new_device", false, day), ("proxy_ip", true, day), ("late_night", false, late)]
        {
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                var ids: [String] = []
                for (index, fingerprint) in fingerprints.enumerated() {
                    if index >= 24 { ids.append(try await group.next()!) }
                    group.addTask {
                        try await identity.register(
                            device: IdentityClient.device(fingerprint: fingerprint),
                            ip: IdentityClient.ip(proxy: proxy, timezone: zone)
                        ).registrationId
                    }
                }
                for try await id in group { ids.append(id) }
                return ids
            }
            registrations += ids.map { (cohort, $0) }
        }
        let elapsed = ContinuousClock.now - started
        #expect(registrations.count == 3 * perCohort)

        let assessed = try await identity.client.read(topic: "identity.events", timeout: .seconds(240)) { read in
            read.filter { $0.event?.type == "risk.assessed" }.count >= registrations.count
        }.compactMap(\.event).filter { $0.type == "risk.assessed" }
        let byRegistration = Dictionary(
            assessed.map { ($0.subject ?? "", $0) }, uniquingKeysWith: { first, _ in first })
        let table = Policy().risk.stepUp
        let key = try #require(TestStack.configuration.hashKey)
        var report: [String] = []
        for factor in ["new_device", "proxy_ip", "late_night"] {
            let ids = registrations.filter { $0.cohort == factor }.map(\.id)
            var medium = 0
            var high = 0
            for id in ids {
                let event = try #require(byRegistration[id], "no risk.assessed for \(id)")
                #expect(event.data["factors"] == .array([.string(factor)]), "\(id)")
                let level = event.data["level"]?.stringValue
                if level == "medium" || level == "high" { medium += 1 }
                if level == "high" { high += 1 }
                // Deterministic: the same draw as the engine's for this registration.
                let draw = RiskEngine.draw(key: key, registrationId: id, factor: factor)
                let expected = draw < table[factor]!.high ? "high" : draw < table[factor]!.medium ? "medium" : "basic"
                #expect(level == expected, "\(id)")
            }
            let n = Double(ids.count)
            let row = try #require(table[factor])
            let observedMedium = Double(medium) / n
            let observedHigh = Double(high) / n
            report.append(
                "\(factor): ≥medium \(String(format: "%.1f", observedMedium * 100))% (table \(Int(row.medium * 100))%), "
                    + "high \(String(format: "%.1f", observedHigh * 100))% (table \(Int(row.high * 100))%), n=\(ids.count)"
            )
            // 4 standard deviations of a binomial share: a correct engine fails this about once in 16,000 runs.
            #expect(
                abs(observedMedium - row.medium) <= 4 * (row.medium * (1 - row.medium) / n).squareRoot(), "\(factor)")
            #expect(abs(observedHigh - row.high) <= 4 * (row.high * (1 - row.high) / n).squareRoot(), "\(factor)")
        }
        print(
            "step-up rates over \(registrations.count) registrations in \(elapsed):\n  "
                + report.joined(separator: "\n  "))
    }
}
