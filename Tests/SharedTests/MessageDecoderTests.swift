import Contract
import Foundation
import Testing

@testable import Messaging

@Suite struct MessageDecoderTests {
    let decoder = MessageDecoder(maxBytes: 65_536, maxDepth: 64)

    func envelope(_ json: String) -> Result<IncomingEnvelope, MalformedMessage> {
        decoder.envelope(Array(json.utf8))
    }

    struct Start: Decodable, Sendable {
        struct Device: Decodable, Sendable {
            var osVersion: String
            var ramMB: Int
        }
        var phone: String
        var device: Device
    }

    @Test func aWellFormedCommandDecodes() throws {
        let text =
            #"{"specversion":"1.0","id":"c1","source":"/t","type":"x.y","schemaversion":1,"correlationid":"k","data":{"phone":"+8613800138000","device":{"osVersion":"17.2","ramMB":4096}}}"#
        let env = try envelope(text).get()
        #expect(env.id == "c1")
        #expect(env.correlationid == "k")
        let data = try decoder.data(Start.self, from: Array(text.utf8), envelope: env).get()
        #expect(data.device.ramMB == 4096)
    }

    @Test func aMissingOrIllTypedFieldIsNamed() throws {
        let missing =
            #"{"specversion":"1.0","id":"c1","source":"/t","type":"x.y","data":{"device":{"osVersion":"17","ramMB":1}}}"#
        let env = try envelope(missing).get()
        guard case .failure(let m1) = decoder.data(Start.self, from: Array(missing.utf8), envelope: env) else {
            Issue.record("accepted a command without phone")
            return
        }
        #expect(m1.field == "data.phone")
        #expect(m1.reason == "missing_field")
        #expect(m1.messageID == "c1")
        let wrong =
            #"{"specversion":"1.0","id":"c1","source":"/t","type":"x.y","data":{"phone":"p","device":{"osVersion":"17","ramMB":"lots"}}}"#
        guard case .failure(let m2) = decoder.data(Start.self, from: Array(wrong.utf8), envelope: env) else {
            Issue.record("accepted a string for ramMB")
            return
        }
        #expect(m2.field == "data.device.ramMB")
        #expect(m2.reason == "invalid_field")
        #expect(m2.reply.code == .malformed)
        #expect(m2.reply.result["field"] == .string("data.device.ramMB"))
    }

    @Test func envelopeProblemsNameTheAttribute() throws {
        let cases: [(String, String, String?)] = [
            (#"{"specversion":"1.0","id":"c1","type":"x","data":{}}"#, "not_cloudevent", "source"),
            (#"{"specversion":"0.3","id":"c1","source":"/t","type":"x","data":{}}"#, "not_cloudevent", "specversion"),
            (#"{"specversion":"1.0","id":"c1","source":"/t","type":"x"}"#, "missing_field", "data"),
            (#"{"specversion":"1.0","id":5,"source":"/t","type":"x","data":{}}"#, "invalid_field", "id"),
        ]
        for (text, reason, field) in cases {
            guard case .failure(let m) = envelope(text) else {
                Issue.record("accepted \(text)")
                continue
            }
            #expect(m.reason == reason, "\(text)")
            #expect(m.field == field, "\(text)")
        }
    }

    @Test func anUnknownSchemaVersionIsUnsupported() {
        guard
            case .failure(let m) = envelope(
                #"{"specversion":"1.0","id":"c1","source":"/t","type":"x","schemaversion":2,"data":{}}"#)
        else {
            Issue.record("accepted schemaversion 2")
            return
        }
        #expect(m.code == .unsupportedVersion)
        #expect(m.messageID == "c1")
    }

    @Test func poisonIsRefusedBeforeParsing() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        let nul = #"{"specversion":"1.0","id":"c1","source":"/t","type":"x","data":{"a":"x\u0000y"}}"#
        var invalid = Array(#"{"specversion":"1.0","id":"c1","source":"/t","type":"x","data":{"a":""}}"#.utf8)
        invalid.insert(0xff, at: invalid.count - 3)
        let large = #"{"id":"c1","data":""# + String(repeating: "a", count: 65_536) + #""}"#
        let cases: [([UInt8], String)] = [
            (Array(#"{"specversion":"1.0","id":"c1""#.utf8), "not_json"),
            (Array(deep.utf8), "too_deep"),
            (Array(nul.utf8), "nul_character"),
            (invalid, "invalid_utf8"),
            (Array(large.utf8), "too_large"),
            (Array("[1,2]".utf8), "not_json"),
        ]
        for (bytes, reason) in cases {
            guard case .failure(let m) = decoder.envelope(bytes) else {
                Issue.record("accepted poison \(reason)")
                continue
            }
            #expect(m.reason == reason)
        }
    }

    @Test func anOversizedMessageIsAnsweredByTheIdAtItsStart() {
        let decoder = MessageDecoder(maxBytes: 64, maxDepth: 8)
        let padding = String(repeating: "a", count: 100)
        let large =
            #"{"data":{"id":"inner"},"note":"\"id\":\"fake\"","id":"c\u0031","correlationid":"k","x":""#
            + padding + #""}"#
        guard case .failure(let refusal) = decoder.envelope(Array(large.utf8)) else {
            Issue.record("accepted an oversized message")
            return
        }
        #expect(refusal.reason == "too_large")
        #expect(refusal.messageID == "c1" && refusal.correlationID == "k")
        // An id beyond the bounded prefix, or none at all, is not read: no reply is owed then.
        let late = #"{"x":""# + String(repeating: "a", count: MessageDecoder.oversizedPrefixBytes) + #"","id":"c1"}"#
        guard case .failure(let unanswered) = decoder.envelope(Array(late.utf8)) else { return }
        #expect(unanswered.messageID == nil)
        #expect(MessageDecoder.topLevelStrings(in: Array(#"["id","x"]"#.utf8)[...], keys: ["id"]).isEmpty)
    }

    @Test func escapedBackslashBeforeUIsNotANul() throws {
        let text = #"{"specversion":"1.0","id":"c1","source":"/t","type":"x","data":{"a":"x\\u0000y"}}"#
        #expect(throws: Never.self) { try envelope(text).get() }
    }
}
