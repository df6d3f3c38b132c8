import Foundation
import Platform
import Testing

@testable import IdentityCore

@Suite struct RiskEngineTests {
    let policy = Policy().risk
    let key = Array("risk-engine-test-key".utf8)

    /// 2026-11-26 02:00 UTC = 10:00 in Shanghai: daytime there, late night in UTC.
    static let shanghaiMorning = Date(timeIntervalSince1970: 1_795_658_400)

    func input(
        id: String = "reg-1", knownDevice: Bool = true, proxy: Bool = false, country: String = "CN",
        timezone: String = "Asia/Shanghai", phoneCountry: String? = "CN", starts: Int = 1,
        at date: Date = shanghaiMorning
    ) -> RiskInput {
        RiskInput(
            registrationId: id, knownDevice: knownDevice,
            ip: IPInfo(address: "203.0.113.7", proxy: proxy, country: country, timezone: timezone),
            phoneCountry: phoneCountry, startsFromDeviceOrIPInWindow: starts, startedAt: date)
    }

    @Test func theMorningFixtureIsDaytimeInShanghai() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = try #require(TimeZone(identifier: "Asia/Shanghai"))
        #expect(calendar.component(.hour, from: Self.shanghaiMorning) == 10)
    }

    @Test func noFactorsIsBasic() {
        #expect(RiskEngine.assess(input(), policy: policy, key: key) == RiskAssessment(level: .basic, factors: []))
    }

    @Test func factorsAreDetectedAndSorted() {
        let everything = input(
            knownDevice: false, proxy: true, country: "US", phoneCountry: "CN", starts: 3,
            at: Self.shanghaiMorning.addingTimeInterval(-8 * 3600))
        #expect(
            RiskEngine.assess(everything, policy: policy, key: key).factors == [
                "burst", "geo_anomaly", "late_night", "new_device", "proxy_ip",
            ])
        #expect(RiskEngine.factors(input(starts: 2), policy: policy).isEmpty)
        #expect(RiskEngine.factors(input(phoneCountry: nil), policy: policy).isEmpty)
        #expect(RiskEngine.factors(input(country: "cn"), policy: policy).isEmpty)
    }

    @Test func assessmentIsDeterministic() {
        let subject = input(id: "reg-42", knownDevice: false, proxy: true)
        let first = RiskEngine.assess(subject, policy: policy, key: key)
        for _ in 0..<10 { #expect(RiskEngine.assess(subject, policy: policy, key: key) == first) }
        #expect(
            RiskEngine.draw(key: key, registrationId: "reg-42", factor: "proxy_ip")
                == RiskEngine.draw(key: key, registrationId: "reg-42", factor: "proxy_ip"))
        #expect(
            RiskEngine.draw(key: key, registrationId: "reg-42", factor: "proxy_ip")
                != RiskEngine.draw(key: key, registrationId: "reg-42", factor: "new_device"))
        #expect(
            RiskEngine.draw(key: key, registrationId: "reg-42", factor: "proxy_ip")
                != RiskEngine.draw(key: Array("other".utf8), registrationId: "reg-42", factor: "proxy_ip"))
    }

    @Test func theDrawIsTheFirstEightBytesOfTheHMACOverTwoToThe64() {
        let mac = Sodium.hmacSHA256(key: key, message: Array("reg-7:late_night".utf8))
        let bits = mac.prefix(8).reduce(UInt64(0)) { ($0 << 8) | UInt64($1) }
        let expected = Double(bits) / 18_446_744_073_709_551_616
        let u = RiskEngine.draw(key: key, registrationId: "reg-7", factor: "late_night")
        #expect(abs(u - expected) < 1e-15)
        #expect((0..<1).contains(u))
    }

    @Test(arguments: [
        ("proxy_ip", 0.75, 0.25), ("new_device", 0.30, 0.05), ("late_night", 0.50, 0.15),
    ])
    func observedSharesMatchTheTable(_ factor: String, _ medium: Double, _ high: Double) {
        let count = 20_000
        let key = Sodium.randomBytes(32)
        var atLeastMedium = 0
        var atHigh = 0
        for _ in 0..<count {
            let id = UUID().uuidString
            let subject: RiskInput
            switch factor {
            case "proxy_ip": subject = input(id: id, proxy: true)
            case "new_device": subject = input(id: id, knownDevice: false)
            default: subject = input(id: id, at: Self.shanghaiMorning.addingTimeInterval(-8 * 3600))
            }
            let assessment = RiskEngine.assess(subject, policy: policy, key: key)
            #expect(assessment.factors == [factor])
            if assessment.level >= .medium { atLeastMedium += 1 }
            if assessment.level == .high { atHigh += 1 }
        }
        #expect(abs(Double(atLeastMedium) / Double(count) - medium) <= 0.02)
        #expect(abs(Double(atHigh) / Double(count) - high) <= 0.02)
    }

    @Test func factorsWithoutARowForceAtLeastMedium() {
        for index in 0..<200 {
            let geo = RiskEngine.assess(input(id: "g\(index)", country: "US"), policy: policy, key: key)
            #expect(geo.factors == ["geo_anomaly"])
            #expect(geo.level == .medium)
            let burst = RiskEngine.assess(input(id: "b\(index)", starts: 5), policy: policy, key: key)
            #expect(burst.factors == ["burst"])
            #expect(burst.level == .medium)
            // With a drawn factor too, the level is the higher of the two.
            let both = RiskEngine.assess(input(id: "p\(index)", proxy: true, starts: 3), policy: policy, key: key)
            let drawn = RiskEngine.assess(input(id: "p\(index)", proxy: true), policy: policy, key: key)
            #expect(both.level == max(.medium, drawn.level))
        }
    }

    /// A step-up row (its memberwise initialiser is internal to Platform; policy files build rows from JSON).
    func share(medium: Double, high: Double) throws -> Policy.StepUpShare {
        try JSONDecoder().decode(Policy.StepUpShare.self, from: Data(#"{"medium": \#(medium), "high": \#(high)}"#.utf8))
    }

    @Test func aPolicyRowForAFactorMakesItDrawn() throws {
        var custom = policy
        custom.stepUp["burst"] = try share(medium: 0, high: 0)
        #expect(RiskEngine.assess(input(starts: 3), policy: custom, key: key).level == .basic)
        custom.stepUp["proxy_ip"] = try share(medium: 1, high: 1)
        #expect(RiskEngine.assess(input(proxy: true), policy: custom, key: key).level == .high)
    }

    @Test func lateNightBoundariesInTheIPsTimeZone() throws {
        let formatter = ISO8601DateFormatter()
        // Asia/Shanghai is UTC+8: 21:59:59 UTC is 05:59:59, 22:00 UTC is 06:00, 16:00 UTC is 00:00.
        let late = try #require(formatter.date(from: "2026-11-25T21:59:59Z"))
        let morning = try #require(formatter.date(from: "2026-11-25T22:00:00Z"))
        let midnight = try #require(formatter.date(from: "2026-11-25T16:00:00Z"))
        let evening = try #require(formatter.date(from: "2026-11-25T15:59:59Z"))
        #expect(RiskEngine.isLateNight(late, timeZone: "Asia/Shanghai", policy: policy))
        #expect(!RiskEngine.isLateNight(morning, timeZone: "Asia/Shanghai", policy: policy))
        #expect(RiskEngine.isLateNight(midnight, timeZone: "Asia/Shanghai", policy: policy))
        #expect(!RiskEngine.isLateNight(evening, timeZone: "Asia/Shanghai", policy: policy))
        #expect(RiskEngine.factors(input(at: late), policy: policy) == ["late_night"])
        #expect(RiskEngine.factors(input(at: morning), policy: policy).isEmpty)
    }

    @Test func anUnknownTimeZoneIsUTC() throws {
        let threeUTC = try #require(ISO8601DateFormatter().date(from: "2026-11-25T03:00:00Z"))
        #expect(RiskEngine.isLateNight(threeUTC, timeZone: "Not/AZone", policy: policy))
        #expect(RiskEngine.isLateNight(threeUTC, timeZone: "", policy: policy))
        #expect(!RiskEngine.isLateNight(threeUTC, timeZone: "Asia/Shanghai", policy: policy))
    }

    @Test func aWindowPastMidnightWraps() throws {
        var wrapping = policy
        wrapping.lateNightStartHour = 22
        wrapping.lateNightEndHour = 6
        let formatter = ISO8601DateFormatter()
        for (time, late) in [("21:59:59", false), ("22:00:00", true), ("03:00:00", true), ("06:00:00", false)] {
            let date = try #require(formatter.date(from: "2026-11-25T\(time)Z"))
            #expect(RiskEngine.isLateNight(date, timeZone: "UTC", policy: wrapping) == late, "\(time)")
        }
    }

    @Test func levelsAreOrderedAndEncodeAsTheirNames() throws {
        #expect(StepUpLevel.basic < .medium && StepUpLevel.medium < .high)
        #expect(StepUpLevel.allCases.sorted() == [.basic, .medium, .high])
        let json = try JSONEncoder().encode(RiskAssessment(level: .high, factors: ["proxy_ip"]))
        let decoded = try JSONDecoder().decode(RiskAssessment.self, from: json)
        #expect(decoded == RiskAssessment(level: .high, factors: ["proxy_ip"]))
        #expect(String(decoding: json, as: UTF8.self).contains("\"high\""))
    }
}
