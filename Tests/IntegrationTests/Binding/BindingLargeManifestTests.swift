import Contract
import Foundation
import Messaging
import TestSupport
import Testing

/// A manifest of 100,000 items, sent in parts that each fit one message, counted item by item.
@Suite(.enabled(if: TestStack.enabled))
struct BindingLargeManifestTests {
    /// Item `n` of the manifest: every kind, text both inside and outside the 3-month window,
    /// stickers compatible and not.
    static func item(_ n: Int, now: Date) -> (json: String, outcome: String) {
        let kinds = [
            "text", "text", "image", "video", "red_packet", "transfer", "friend", "group", "official_account",
            "sticker",
        ]
        let kind = kinds[n % kinds.count]
        let id = "i\(n)"
        switch kind {
        case "text":
            let old = n % 20 == 0
            let at = CloudEvent.timestamp(now.addingTimeInterval(old ? -200 * 86_400 : -86_400))
            return (#"{"id":"\#(id)","kind":"text","at":"\#(at)"}"#, old ? "impossible" : "auto")
        case "sticker":
            let compatible = n % 3 != 0
            return (#"{"id":"\#(id)","kind":"sticker","compatible":\#(compatible)}"#, compatible ? "auto" : "flagged")
        default:
            let outcome = [
                "image": "manual", "video": "manual", "red_packet": "impossible", "transfer": "impossible",
                "friend": "needs_confirmation", "group": "external_group", "official_account": "refollow",
            ][kind]!
            return (#"{"id":"\#(id)","kind":"\#(kind)"}"#, outcome)
        }
    }

    @Test func aHundredThousandItemsInPartsArePlannedOnceWithExactCounts() async throws {
        let binding = BindingClient()
        let identity = IdentityClient()
        let account = try await identity.register()
        let link = try await binding.link(
            account.accountId, "wechat", scopes: ["login", "messaging"], session: account.sessionToken)
        #expect(link.code == "OK")

        let total = 100_000
        let perPart = 800  // about 50 KB of items: well inside the 64 KiB message limit
        let parts = (total + perPart - 1) / perPart
        let now = Date()
        var expected: [String: Int] = [:]
        var planId: String?
        var last: IdentityClient.Answer?
        for index in 0..<parts {
            let range = (index * perPart)..<min(total, (index + 1) * perPart)
            var items: [String] = []
            for n in range {
                let (json, outcome) = Self.item(n, now: now)
                items.append(json)
                expected[outcome, default: 0] += 1
            }
            var part = #"{"index":\#(index),"total":\#(parts)"#
            if let planId { part += #","planId":"\#(planId)""# }
            part += "}"
            let data =
                #"{"accountId":"\#(account.accountId)","manifest":{"freeStorageBytes":8589934592,"part":\#(part),"items":[\#(items.joined(separator: ","))]}}"#
            let envelope = RegistrarClient.command(
                type: "migration.start", data: try JSONDecoder().decode(JSONValue.self, from: Data(data.utf8)),
                sessionToken: account.sessionToken)
            let answer = IdentityClient.Answer(
                event: try await binding.client.request(envelope, topic: "binding.commands"))
            #expect(answer.code == "OK", "part \(index): \(answer.event.data)")
            planId = planId ?? answer.string("planId")
            last = answer
            if index == 1 {
                // A part sent twice (a new command id) is counted once.
                let again = RegistrarClient.command(
                    type: "migration.start", data: try JSONDecoder().decode(JSONValue.self, from: Data(data.utf8)),
                    sessionToken: account.sessionToken)
                _ = try await binding.client.request(again, topic: "binding.commands")
            }
        }
        let final = try #require(last)
        #expect(final.result["complete"] == .bool(true))
        #expect(final.result["items"] == .int(Int64(total)))
        for (outcome, count) in expected {
            #expect(final.result["plan"]?[outcome] == .int(Int64(count)), "\(outcome)")
        }
        let plan = planId
        let planned = try await binding.client.event(on: "binding.events", timeout: .seconds(30)) {
            $0.type == "migration.planned" && $0.data["planId"]?.stringValue == plan
        }
        #expect(planned.data["items"] == .int(Int64(total)))
        #expect(planned.data["counts"] == final.result["plan"])
    }
}
