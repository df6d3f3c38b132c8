import Contract
import Foundation
import Messaging
import Platform
import Postgres
import TestSupport
import Testing

/// Data export and consents (issue 17), driven through the topics as a client would: an export
/// that every service contributes to, read back in parts; its expiry; consents and the effects of
/// withdrawing them, as permissions and binding see them.
@Suite(.enabled(if: TestStack.enabled))
struct IdentityPrivacyTests {
    let identity = IdentityClient()
    let pool = PostgresPool(configuration: TestStack.postgres(searchPath: ["identity"]))

    /// `account.export.get` until the export is ready; returns every part's reply.
    static func readExport(_ identity: IdentityClient, _ exportId: String, session: String) async throws
        -> [IdentityClient.Answer]
    {
        var answers: [IdentityClient.Answer] = []
        var total = 1
        let deadline = ContinuousClock.now + .seconds(60)
        while answers.count < total {
            let answer = try await identity.send(
                "account.export.get", ["exportId": .string(exportId), "part": .int(Int64(answers.count))],
                session: session)
            try #require(answer.code == "OK", "\(answer.event.data)")
            guard answer.string("state") == "ready", case .int(let parts) = answer.result["parts"] ?? .null else {
                try #require(answer.string("state") == "pending")
                try #require(ContinuousClock.now < deadline, "export still pending: \(answer.result)")
                try await Task.sleep(for: .milliseconds(200))
                continue
            }
            total = Int(parts)
            answers.append(answer)
        }
        return answers
    }

    @Test func anExportAssemblesEveryServicesPartIsReadInPartsAndExpires() async throws {
        let policy = #"{"privacy": {"exportPartBytes": 1024, "exportValidity": "30m", "exportSweepInterval": "1s"}}"#
        try await ServiceProcess.run(
            .identity, policy: policy, with: [.permissions, .binding, .deregistration]
        ) { instance, client in
            let identity = IdentityClient(client: client)
            let binding = BindingClient(client: client)
            let phone = IdentityClient.phone()
            let owner = try await identity.register(phone: phone)
            let other = try await identity.register()
            let card = IdentityClient.cardNumber()
            #expect(try await identity.verifyCard(card, session: owner.sessionToken).code == "OK")
            let linked = try await binding.link(
                owner.accountId, "wechat", scopes: ["login", "messaging"], session: owner.sessionToken)
            #expect(linked.code == "OK")

            // Authorization: no token, a forged one.
            for token in [nil, "forged-token"] as [String?] {
                #expect(try await identity.send("account.export", [:], session: token).code == "UNAUTHENTICATED")
                let get = try await identity.send(
                    "account.export.get", ["exportId": .string(UUID().uuidString)], session: token)
                #expect(get.code == "UNAUTHENTICATED")
            }
            let requested = try await identity.send("account.export", [:], session: owner.sessionToken)
            #expect(requested.code == "OK")
            let exportId = try #require(requested.string("exportId"))
            let audited = try await instance.pool(.identity).query(
                "SELECT actor_kind, actor_id FROM audit_trail WHERE subject = \(owner.accountId) AND action = 'account.export_requested'"
            ).map { "\(try $0.decode("actor_kind", as: String.self)):\(try $0.decode("actor_id", as: String.self))" }
            #expect(audited == ["account:\(owner.accountId)"])
            let answers = try await Self.readExport(identity, exportId, session: owner.sessionToken)
            // Small parts (1 KiB by this policy): the bundle spans several replies, each far under 64 KiB.
            #expect(answers.count > 1)
            var text = ""
            for (index, answer) in answers.enumerated() {
                #expect(answer.result["part"] == .int(Int64(index)))
                let data = try #require(answer.string("data"))
                #expect(ExportRulesProbe.escapedSize(data) <= 1024)
                #expect(answer.event.encoded().count < 64 * 1024)
                text += data
            }
            let bundle = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
            #expect(bundle["exportId"]?.stringValue == exportId)
            let services = try #require(bundle["services"])
            for service in ["identity", "permissions", "binding", "deregistration"] {
                #expect(services[service] != nil, "missing part \(service)")
            }
            #expect(services["identity"]?["profile"]?["accountId"]?.stringValue == owner.accountId)
            #expect(services["permissions"]?["entitlements"]?["tier"]?.stringValue == "bank_card")
            guard case .array(let bindings) = services["binding"]?["bindings"] ?? .null else {
                Issue.record("no bindings in \(services["binding"] ?? .null)")
                return
            }
            #expect(bindings.compactMap { $0["provider"]?.stringValue } == ["wechat"])
            #expect(services["deregistration"]?["status"]?["status"]?.stringValue == "none")
            // No secrets, hashes or raw numbers in the bundle.
            for secret in [phone, card, owner.sessionToken, "Sunflower-42", "imeiHash-"] {
                #expect(!text.contains(secret), "the bundle contains \(secret)")
            }
            #expect(text.contains(String(card.suffix(4))))

            // Another account's session; an unknown export; a part past the end.
            let foreign = try await identity.send(
                "account.export.get", ["exportId": .string(exportId)], session: other.sessionToken)
            #expect(foreign.code == "FORBIDDEN")
            let unknown = try await identity.send(
                "account.export.get", ["exportId": .string(UUID().uuidString)], session: owner.sessionToken)
            #expect(unknown.code == "EXPORT_NOT_FOUND")
            let past = try await identity.send(
                "account.export.get", ["exportId": .string(exportId), "part": .int(Int64(answers.count))],
                session: owner.sessionToken)
            #expect(past.code == "MALFORMED")

            // Past privacy.exportValidity (30 min here; the access token holds 1 h): gone, and the
            // sweep deletes the rows.
            try instance.advanceClock(by: .seconds(31 * 60))
            let expired = try await identity.send(
                "account.export.get", ["exportId": .string(exportId)], session: owner.sessionToken)
            #expect(expired.code == "EXPORT_NOT_FOUND")
            let rows = instance.pool(.identity)
            try await TestStack.eventually("the sweep deleted the expired export") {
                try await rows.run { session in
                    try session.query(
                        "SELECT count(*) AS n FROM exports WHERE id = \(exportId)::uuid"
                    ).first?.decode("n", as: Int.self) == 0
                        && (try session.query(
                            "SELECT count(*) AS n FROM export_chunks WHERE export_id = \(exportId)::uuid"
                        ).first?.decode("n", as: Int.self)) == 0
                }
            }
        }
    }

    @Test func exportsAreRateLimitedAndDeletedByThePurge() async throws {
        let owner = try await identity.register()
        var codes: [String] = []
        var first: String?
        for _ in 0..<(Policy().privacy.exportsPerWindow + 1) {
            let answer = try await identity.send("account.export", [:], session: owner.sessionToken)
            codes.append(answer.code ?? "")
            first = first ?? answer.string("exportId")
        }
        #expect(codes == Array(repeating: "OK", count: Policy().privacy.exportsPerWindow) + ["RATE_LIMITED"])
        let exportId = try #require(first)
        _ = try await Self.readExport(identity, exportId, session: owner.sessionToken)
        // Deregistration's finalization: identity's personal-data purge deletes the exports.
        try await identity.publishLifecycle(
            "account.deregistered", accountId: owner.accountId, phoneBlockedUntil: Date().addingTimeInterval(86_400))
        try await TestStack.eventually("the purge deleted the exports") {
            try await pool.run { session in
                try session.query(
                    "SELECT count(*) AS n FROM exports WHERE account_id = \(owner.accountId)::uuid"
                ).first?.decode("n", as: Int.self) == 0
            }
        }
    }

    @Test func consentsAreListedAndThePrivacyPolicyCannotBeWithdrawn() async throws {
        let owner = try await identity.register()
        let listed = try await identity.send("consents.list", [:], session: owner.sessionToken)
        #expect(listed.code == "OK")
        guard case .array(let consents) = listed.result["consents"] ?? .null else {
            Issue.record("no consents: \(listed.result)")
            return
        }
        #expect(
            consents.compactMap { $0["kind"]?.stringValue }
                == ["privacy_policy", "id_number", "biometric", "device_identifiers"])
        #expect(consents.allSatisfy { $0["granted"] == .bool(true) })
        #expect(consents.first?["version"]?.stringValue == Policy().privacy.policyVersion)
        let refused = try await identity.send(
            "consent.withdraw", ["kind": .string("privacy_policy")], session: owner.sessionToken)
        #expect(refused.code == "CONSENT_NOT_WITHDRAWABLE")
        let unknown = try await identity.send(
            "consent.withdraw", ["kind": .string("horoscope")], session: owner.sessionToken)
        #expect(unknown.code == "MALFORMED")
        // Authorization of every consent command: no token, a forged one.
        let binding = BindingClient(client: identity.client)
        for token in [nil, "forged-token"] as [String?] {
            for (type, data) in [
                ("consents.list", [:]), ("consent.withdraw", ["kind": JSONValue.string("biometric")]),
                ("consent.grant", ["kind": .string("biometric")]),
            ] as [(String, [String: JSONValue])] {
                #expect(try await identity.send(type, data, session: token).code == "UNAUTHENTICATED", "\(type)")
            }
            #expect(try await binding.send("consents.list", [:], session: token).code == "UNAUTHENTICATED")
            let withdraw = try await binding.send(
                "consent.withdraw", ["kind": .string("binding_sharing"), "provider": .string("wechat")], session: token)
            #expect(withdraw.code == "UNAUTHENTICATED")
        }
    }

    @Test func withdrawingBiometricConsentDeletesLivenessAndDropsTheIDTier() async throws {
        let owner = try await identity.register()
        let permissions = PermissionsClient(client: identity.client)
        #expect(try await identity.verifyID(IdentityClient.residentID(), session: owner.sessionToken).code == "OK")
        try await TestStack.eventually("permissions sees id_card") {
            try await permissions.entitlements(session: owner.sessionToken).string("tier") == "id_card"
        }
        let withdrawn = try await identity.send(
            "consent.withdraw", ["kind": .string("biometric")], session: owner.sessionToken)
        #expect(withdrawn.code == "OK")
        #expect(withdrawn.string("tier") == "none")
        let event = try await identity.client.event(on: "identity.events") {
            $0.type == "account.verification_withdrawn" && $0.subject == owner.accountId
        }
        #expect(event.data["withdrawnTier"]?.stringValue == "id_card")
        #expect(event.data["reason"]?.stringValue == "consent_withdrawn:biometric")
        try await TestStack.eventually("permissions sees the tier drop") {
            try await permissions.entitlements(session: owner.sessionToken).string("tier") == "none"
        }
        try await pool.run { session in
            let checks = try session.query(
                "SELECT count(*) AS n FROM liveness_checks WHERE account_id = \(owner.accountId)::uuid"
            ).first?.decode("n", as: Int.self)
            #expect(checks == 0)
            let fields = try session.query(
                """
                SELECT count(*) AS n FROM verifications
                WHERE account_id = \(owner.accountId)::uuid AND liveness_passed IS NOT NULL
                """
            ).first?.decode("n", as: Int.self)
            #expect(fields == 0)
            let tier = try session.query(
                "SELECT tier FROM account_tiers WHERE account_id = \(owner.accountId)::uuid"
            ).first?.decode("tier", as: String.self)
            #expect(tier == "none")
        }
        // Without the consent no new ID verification is taken; given again, it is.
        let blocked = try await identity.verifyID(IdentityClient.residentID(), session: owner.sessionToken)
        #expect(blocked.code == "CONSENT_REQUIRED")
        let granted = try await identity.send(
            "consent.grant", ["kind": .string("biometric")], session: owner.sessionToken)
        #expect(granted.code == "OK")
        #expect(try await identity.verifyID(IdentityClient.residentID(), session: owner.sessionToken).code == "OK")
        // The account's own consent changes and the tier drop are in its audit trail.
        let audited = try await pool.run { session in
            try session.query(
                """
                SELECT action || ' ' || actor_kind || ':' || coalesce(actor_id, '-') || ' ' || coalesce(reason, '-') AS line
                FROM audit_trail WHERE subject = \(owner.accountId) ORDER BY id
                """
            ).map { try $0.decode("line", as: String.self) }
        }
        for line in [
            "account.verification_withdrawn account:\(owner.accountId) consent_withdrawn:biometric",
            "consent.withdrawn account:\(owner.accountId) biometric",
            "consent.granted account:\(owner.accountId) biometric",
        ] {
            #expect(audited.contains(line), "\(line) not in \(audited)")
        }
    }

    @Test func withdrawingIDNumberConsentDeletesTheNumberAndFallsBackToTheBankCard() async throws {
        let owner = try await identity.register()
        let permissions = PermissionsClient(client: identity.client)
        #expect(try await identity.verifyCard(IdentityClient.cardNumber(), session: owner.sessionToken).code == "OK")
        #expect(try await identity.verifyID(IdentityClient.residentID(), session: owner.sessionToken).code == "OK")
        try await TestStack.eventually("permissions sees id_card") {
            try await permissions.entitlements(session: owner.sessionToken).string("tier") == "id_card"
        }
        let withdrawn = try await identity.send(
            "consent.withdraw", ["kind": .string("id_number")], session: owner.sessionToken)
        #expect(withdrawn.code == "OK")
        #expect(withdrawn.string("tier") == "bank_card")
        #expect(withdrawn.result["removed"]?["idNumbers"] == .int(1))
        try await TestStack.eventually("permissions sees bank_card") {
            try await permissions.entitlements(session: owner.sessionToken).string("tier") == "bank_card"
        }
        try await pool.run { session in
            let methods: [String] = try session.query(
                "SELECT method FROM verifications WHERE account_id = \(owner.accountId)::uuid ORDER BY method"
            ).map { try $0.decode("method") }
            #expect(methods == ["bank_card"])
        }
        let listed = try await identity.send("consents.list", [:], session: owner.sessionToken)
        guard case .array(let consents) = listed.result["consents"] ?? .null else {
            Issue.record("no consents")
            return
        }
        #expect(consents.first { $0["kind"]?.stringValue == "id_number" }?["granted"] == .bool(false))
    }

    @Test func withdrawingDeviceIdentifiersStripsThemAndBindingSharingUnlinks() async throws {
        let owner = try await identity.register()
        let withdrawn = try await identity.send(
            "consent.withdraw", ["kind": .string("device_identifiers")], session: owner.sessionToken)
        #expect(withdrawn.code == "OK")
        #expect(withdrawn.result["removed"]?["devices"] == .int(1))
        try await pool.run { session in
            let left = try session.query(
                """
                SELECT count(*) AS n FROM devices
                WHERE account_id = \(owner.accountId)::uuid AND fingerprint ?| array['imeiHash', 'serialHash']
                """
            ).first?.decode("n", as: Int.self)
            #expect(left == 0)
        }
        let devices = try await identity.send("devices.list", [:], session: owner.sessionToken)
        #expect(devices.result["devices"].map { "\($0)" }?.contains("imeiHash") == false)

        let binding = BindingClient(client: identity.client)
        #expect(
            try await binding.link(owner.accountId, "feishu", scopes: ["login"], session: owner.sessionToken).code
                == "OK")
        let listed = try await binding.sendAuthenticated("consents.list", [:], session: owner.sessionToken)
        guard case .array(let sharing) = listed.result["consents"] ?? .null else {
            Issue.record("no binding consents: \(listed.result)")
            return
        }
        #expect(sharing.compactMap { $0["provider"]?.stringValue } == ["feishu"])
        #expect(sharing.first?["kind"]?.stringValue == "binding_sharing")
        let withdraw = try await binding.sendAuthenticated(
            "consent.withdraw", ["kind": .string("binding_sharing"), "provider": .string("feishu")],
            session: owner.sessionToken)
        #expect(withdraw.code == "OK")
        let unlinked = try await identity.client.event(on: "binding.events") {
            $0.type == "binding.unlinked" && $0.subject == owner.accountId
        }
        #expect(unlinked.data["reason"]?.stringValue == "consent_withdrawn")
        let after = try await binding.list(session: owner.sessionToken)
        #expect(after.result["bindings"] == .array([]))
        let again = try await binding.sendAuthenticated(
            "consent.withdraw", ["kind": .string("binding_sharing"), "provider": .string("feishu")],
            session: owner.sessionToken)
        #expect(again.code == "BINDING_NOT_FOUND")
    }
}

/// The reply-size measure of `ExportRules` (the rule's own is internal to IdentityCore).
enum ExportRulesProbe {
    static func escapedSize(_ text: String) -> Int {
        text.unicodeScalars.reduce(0) { total, scalar in
            switch scalar.value {
            case 0x22, 0x5C, 0x2F: total + 2
            case 0..<0x20: total + 6
            default: total + String(scalar).utf8.count
            }
        }
    }
}
