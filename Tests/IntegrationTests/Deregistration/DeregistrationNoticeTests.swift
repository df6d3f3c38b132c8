import Contract
import Foundation
import Messaging
import Platform
import Postgres
import TestSupport
import Testing

/// Issue 18, deregistration's notifications on `notifications.push`: requested, the reminder before
/// the cool-down ends, completed; each exactly once, across a restart of the service.
@Suite(.enabled(if: TestStack.enabled))
struct DeregistrationNoticeTests {
    static let policy = """
        {"deregistration": {"cooldown": "30s", "reminderBeforeEnd": "20s", "schedulerInterval": "200ms"}}
        """

    @Test func requestedReminderAndCompletedOnceEach() async throws {
        try await ServiceProcess.run(.deregistration, policy: Self.policy, with: [.identity]) { instance, client in
            let identity = IdentityClient(client: client)
            let fingerprint = IdentityClient.fingerprint()
            let account = try await identity.register(device: IdentityClient.device(fingerprint: fingerprint))
            // The request (sent again with a fresh id while the session has not reached the service),
            // then the same command again: the kept reply, and no second notice.
            let data: JSONValue = .object([
                "accountId": .string(account.accountId),
                "deviceFingerprint": .object(fingerprint.mapValues(JSONValue.string)),
            ])
            var command = RegistrarClient.command(
                type: "deregistration.request", data: data, sessionToken: account.sessionToken)
            var requested = IdentityClient.Answer(
                event: try await client.request(command, topic: "deregistration.commands"))
            for _ in 0..<100 where requested.code == "UNAUTHENTICATED" || requested.code == "ACCOUNT_NOT_FOUND" {
                try await Task.sleep(for: .milliseconds(100))
                command = RegistrarClient.command(
                    type: "deregistration.request", data: data, sessionToken: account.sessionToken)
                requested = IdentityClient.Answer(
                    event: try await client.request(command, topic: "deregistration.commands"))
            }
            #expect(requested.code == "OK")
            let resent = try await client.request(command, topic: "deregistration.commands")
            #expect(resent.data == requested.event.data)
            let ends = try #require(requested.string("cooldownEndsAt"))
            let first = try await EnterpriseInvitationTests.push(client, account.accountId, .deregistrationRequested)
            #expect(first.data["params"]?["cooldownEndsAt"] == .string(ends))
            #expect(first.data["locale"] == .string("zh-CN"))

            // 20 s before the end: the reminder, once, even across a restart of the service.
            try instance.advanceClock(by: .seconds(12))
            let reminder = try await EnterpriseInvitationTests.push(
                client, account.accountId, .deregistrationReminder)
            #expect(reminder.data["params"]?["cooldownEndsAt"] == .string(ends))
            instance.kill(.deregistration)
            try instance.start(.deregistration)
            _ = try await client.request(
                RegistrarClient.command(type: "system.ping", data: .emptyObject), topic: "deregistration.commands",
                timeout: .seconds(40))

            // The end: completed, once.
            try instance.advanceClock(by: .seconds(20))
            _ = try await client.event(on: "deregistration.events", timeout: .seconds(30)) {
                $0.type == "account.deregistered" && $0.subject == account.accountId
            }
            let done = try await EnterpriseInvitationTests.push(client, account.accountId, .deregistrationCompleted)
            #expect(done.data["params"]?["phoneBlockedUntil"] != nil)
            // Once per cause: one event id each. The relay may publish a row twice when it is killed
            // between the broker's acknowledgement and marking the row sent (the restart above);
            // both copies carry the same id, on which the gateway, like every consumer, dedupes.
            for template in [
                NotificationTemplate.deregistrationRequested, .deregistrationReminder, .deregistrationCompleted,
            ] {
                let copies = try await EnterpriseInvitationTests.pushes(client, account.accountId, template)
                #expect(Set(copies.map(\.id)).count == 1, "\(template) sent as \(copies.map(\.id))")
            }
        }
    }
}
