import Contract
import Foundation
import Platform
import Testing

/// Every notification template exists in every locale, with the same placeholders (issue 18).
@Suite struct NotificationTemplateTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../deploy/templates").standardized

    static func placeholders(_ text: String) -> Set<String> {
        var found: Set<String> = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            found.insert(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return found
    }

    @Test func everyTemplateInEveryLocaleWithTheSamePlaceholders() throws {
        let locales = Policy().notifications.locales
        #expect(locales.contains(Policy().notifications.defaultLocale))
        for template in NotificationTemplate.all {
            var seen: [Set<String>] = []
            for locale in locales {
                let path = Self.directory.appendingPathComponent("\(locale)/\(template.rawValue).txt").path
                let bytes = try #require(FileManager.default.contents(atPath: path), "\(path) is missing")
                let names = Self.placeholders(String(decoding: bytes, as: UTF8.self))
                #expect(!names.isEmpty || template == .enterpriseMemberRemoved)
                seen.append(names)
            }
            #expect(Set(seen).count == 1, "\(template): placeholders differ between locales: \(seen)")
        }
    }

    @Test func thePushPayloadHasTheContractFields() throws {
        let payload = PushRequested(
            accountId: "a", template: NotificationTemplate.deregistrationReminder.rawValue, locale: "zh-CN",
            params: ["cooldownEndsAt": "2026-12-01T00:00:00.000Z"])
        let object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(payload)) as? [String: Any]
        #expect(Set(object?.keys.map { $0 } ?? []) == ["accountId", "template", "locale", "params"])
        #expect(Topics.all.contains("notifications.push"))
    }
}
