import Contract
import Foundation
import Messaging
import TestSupport
import Testing

/// `deregistration.status` after real requests and revokes (shared stack, identity running) and
/// through a whole cool-down on a private instance whose clock the test moves.
@Suite(.enabled(if: TestStack.enabled))
struct DeregistrationReadTests {
    static func time(_ answer: IdentityClient.Answer, _ key: String) -> Date? {
        answer.string(key).flatMap(Date.init(rfc3339:))
    }

    @Test func noneThenRevokedOnceTheUserSignsInAgain() async throws {
        let identity = IdentityClient()
        let deregistration = DeregistrationClient()
        let phone = IdentityClient.phone()
        let fingerprint = IdentityClient.fingerprint()
        let device = IdentityClient.device(fingerprint: fingerprint)
        let account = try await identity.register(phone: phone, device: device)

        let none = try await deregistration.status(session: account.sessionToken)
        #expect(
            none.code == "OK"
                && none.result == .object(["accountId": .string(account.accountId), "status": .string("none")]))

        let requested = try await deregistration.request(
            account.accountId, session: account.sessionToken, fingerprint: fingerprint)
        #expect(requested.code == "OK", "\(requested.event.data)")
        // Freezing ends the account's sessions (identity revokes them): the status is then refused to
        // the old session, like every session command.
        try await TestStack.eventually("the frozen account's session is refused") {
            try await deregistration.status(session: account.sessionToken, retrying: []).code == "UNAUTHENTICATED"
        }

        // Revoked with the SMS code; the user signs in again and sees the revoke.
        #expect(
            try await deregistration.send(
                "deregistration.send_revoke_code", ["phone": .string(phone)], retrying: []
            ).code == "OK")
        let code = try await identity.smsCode(for: phone, purpose: "revoke")
        let revoked = try await deregistration.send(
            "deregistration.revoke", ["phone": .string(phone), "code": .string(code)], retrying: [])
        #expect(revoked.code == "OK")
        var session = ""
        try await TestStack.eventually("login allowed after revoke") {
            let login = try await identity.login(phone: phone, device: device)
            session = login.string("sessionToken") ?? ""
            return login.code == "OK"
        }
        let status = try await deregistration.status(session: session, accountId: account.accountId)
        #expect(status.code == "OK" && status.string("status") == "revoked", "\(status.event.data)")
        let requestedAt = try #require(Self.time(status, "requestedAt"))
        let revokedAt = try #require(Self.time(status, "revokedAt"))
        #expect(requestedAt < revokedAt && abs(revokedAt.timeIntervalSinceNow) < 600)
        #expect(status.result["cooldownEndsAt"] == nil && status.result["deregisteredAt"] == nil)
    }

    @Test func coolingDownThenDoneOnTheMovedClock() async throws {
        let policy = """
            {"deregistration": {"cooldown": "10m", "schedulerInterval": "200ms"}}
            """
        // Deregistration alone: the test stands in for identity (account and session), which would
        // otherwise revoke the session at the freeze.
        try await ServiceProcess.run(.deregistration, policy: policy) { instance, client in
            let deregistration = DeregistrationClient(client: client)
            let (account, session) = try await deregistration.openAccount()
            #expect(try await deregistration.status(session: session).string("status") == "none")

            let requested = try await deregistration.request(
                account, session: session, fingerprint: IdentityClient.fingerprint())
            #expect(requested.code == "OK", "\(requested.event.data)")
            let cooling = try await deregistration.status(session: session)
            #expect(cooling.string("status") == "cooling_down", "\(cooling.event.data)")
            #expect(cooling.result["cooldownEndsAt"] == requested.result["cooldownEndsAt"])
            #expect(cooling.result["revocable"] == .bool(true))
            let requestedAt = try #require(Self.time(cooling, "requestedAt"))
            #expect(Self.time(cooling, "cooldownEndsAt") == requestedAt.addingTimeInterval(600))

            // Another account's id: refused, whatever its state.
            let stranger = try await deregistration.openAccount()
            #expect(
                try await deregistration.status(session: stranger.sessionToken, accountId: account).code == "FORBIDDEN")

            try instance.advanceClock(by: .seconds(600))
            let deregistered = try await client.event(on: "deregistration.events", timeout: .seconds(30)) {
                $0.type == "account.deregistered" && $0.subject == account
            }
            let done = try await deregistration.status(session: session, accountId: account)
            #expect(done.string("status") == "done", "\(done.event.data)")
            #expect(done.result["deregisteredAt"] == deregistered.data["deregisteredAt"])
            #expect(Self.time(done, "requestedAt") == requestedAt)
        }
    }
}
