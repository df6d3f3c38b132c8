import Contract
import Foundation
import Messaging
import Platform
import Postgres

/// `data` of `account.export.get`.
struct GetExport: Decodable, Sendable {
    var exportId: String
    /// The bundle's part to read, from 0 (default 0).
    var part: Int?
}

/// `data` of `consent.withdraw` and `consent.grant`.
struct ChangeConsent: Decodable, Sendable {
    var kind: String
}

/// Identity's part of an export: what it holds of the account, numbers masked, no secrets or hashes.
struct IdentityExportPart: Encodable {
    var profile: AccountView?
    var devices: [DeviceView]
    var sessions: [ListedSession]
    var verifications: [VerificationView]
    var consents: [ConsentView]
}

/// Data export (`account.export`, `account.export.get`, the services' `account.export_part`) and
/// consents (`consents.list`, `consent.withdraw`, `consent.grant`), issue 17. Each acts on the
/// session's own account.
enum PrivacyHandlers {
    static func register(_ router: inout Router, _ context: IdentityContext) {
        let policy = context.policy.privacy
        router.command("account.export", EmptyPayload.self) { session, command, effects in
            try requestExport(session, command, &effects, context)
        }
        router.command("account.export.get", GetExport.self) { session, command, _ in
            let now = command.receivedAt
            let caller = try LoginHandlers.signedIn(session, command.envelope, now: now)
            guard let exportID = UUID(uuidString: command.data.exportId)?.uuidString.lowercased() else {
                throw MalformedMessage.invalid(field: "data.exportId")
            }
            let part = command.data.part ?? 0
            switch ExportRules.answer(
                try PrivacyStore.export(session, id: exportID), caller: caller.accountID, part: part, now: now)
            {
            case .notFound:
                return .rejected(.exportNotFound, "no such export, or it has expired")
            case .forbidden:
                return .rejected(.forbidden, "the export belongs to another account")
            case .noSuchPart:
                throw MalformedMessage.invalid(field: "data.part")
            case .pending(let missing):
                return try .ok(
                    JSONValue.object([
                        "exportId": .string(exportID), "state": .string("pending"), "parts": .int(0),
                        "part": .int(Int64(part)), "data": .null, "waitingFor": .array(missing.map(JSONValue.string)),
                    ]))
            case .ready(let parts, let part):
                guard let data = try PrivacyStore.chunk(session, exportID: exportID, part: part) else {
                    throw MalformedMessage.invalid(field: "data.part")
                }
                return try .ok(
                    JSONValue.object([
                        "exportId": .string(exportID), "state": .string("ready"), "parts": .int(Int64(parts)),
                        "part": .int(Int64(part)), "data": .string(data),
                    ]))
            }
        }
        for service in [RegistrarService.permissions, .binding, .deregistration] {
            router.event(.accountExportPart, on: service.eventTopic, ExportPart<JSONValue>.self) {
                session, event, _ in
                try receivePart(session, event, policy: policy)
            }
        }
        router.command("consents.list", EmptyPayload.self) { session, command, _ in
            let caller = try LoginHandlers.signedIn(session, command.envelope, now: command.receivedAt)
            return try .ok(
                ["consents": try PrivacyStore.consentViews(session, accountID: caller.accountID, policy: policy)])
        }
        router.command("consent.withdraw", ChangeConsent.self) { session, command, effects in
            try withdraw(session, command, &effects, context)
        }
        router.command("consent.grant", ChangeConsent.self) { session, command, effects in
            let now = command.receivedAt
            let caller = try LoginHandlers.signedIn(session, command.envelope, now: now)
            guard let kind = ConsentKind(rawValue: command.data.kind) else {
                throw MalformedMessage.invalid(field: "data.kind")
            }
            try PrivacyStore.setConsent(
                session, accountID: caller.accountID, kind: kind, granted: true,
                version: kind == .privacyPolicy ? policy.policyVersion : nil, now: now)
            effects.audit("consent.granted", subject: caller.accountID, reason: kind.rawValue)
            return try .ok(
                ["consents": try PrivacyStore.consentViews(session, accountID: caller.accountID, policy: policy)])
        }
    }

    // MARK: export

    static func requestExport(
        _ session: borrowing PostgresSession, _ command: Command<EmptyPayload>, _ effects: inout MessageEffects,
        _ context: IdentityContext
    ) throws -> Reply {
        let now = command.receivedAt
        let policy = context.policy.privacy
        let caller = try LoginHandlers.signedIn(session, command.envelope, now: now)
        let account = caller.accountID
        // Two requests of one account at once must not both pass the count.
        try IdentityStore.lock(session, ["export:" + account])
        let recent = try PrivacyStore.exportsSince(
            session, accountID: account, since: now.addingTimeInterval(-policy.exportWindow.timeInterval))
        guard ExportRules.mayRequest(recentExports: recent, policy: policy) else {
            return .rejected(
                .rateLimited, "too many exports; try again later",
                result: .object(["limit": .int(Int64(policy.exportsPerWindow))]))
        }
        let exportID = IdentityStore.newID()
        let expires = ExportRules.expiry(requestedAt: now, policy: policy)
        try PrivacyStore.insertExport(session, id: exportID, accountID: account, requestedAt: now, expiresAt: expires)
        // Identity's own part is written here, in the same transaction; the others arrive as events.
        let own = IdentityExportPart(
            profile: try AccountStore.view(session, accountID: account, now: now),
            devices: try AccountStore.devices(session, accountID: account, current: caller.deviceID),
            sessions: try SessionStore.list(session, accountID: account, current: caller.id, now: now),
            verifications: try PrivacyStore.verifications(session, accountID: account),
            consents: try PrivacyStore.consentViews(session, accountID: account, policy: policy))
        try PrivacyStore.savePart(
            session, exportID: exportID, service: ExportService.identity.rawValue, data: try JSONValue(encoding: own),
            now: now)
        try effects.emit(
            .accountExportRequested, subject: account,
            data: ExportRequested(
                exportId: exportID, accountId: account, requestedAt: CloudEvent.timestamp(now),
                expiresAt: CloudEvent.timestamp(expires)))
        return try .ok(
            JSONValue.object([
                "exportId": .string(exportID), "state": .string("pending"),
                "expiresAt": .string(CloudEvent.timestamp(expires)),
            ]))
    }

    /// Keeps a service's part; the last one to arrive assembles the bundle and cuts it into parts.
    /// A part for an export that is unknown, assembled, expired or purged is dropped.
    static func receivePart(
        _ session: borrowing PostgresSession, _ event: Command<ExportPart<JSONValue>>, policy: Policy.Privacy
    ) throws {
        let data = event.data
        guard let exportID = UUID(uuidString: data.exportId)?.uuidString.lowercased() else {
            throw MalformedMessage.invalid(field: "data.exportId")
        }
        // A service answers only for itself, on its own topic.
        guard let service = RegistrarService(rawValue: data.service), service != .identity,
            event.envelope.source == service.source
        else { throw MalformedMessage.invalid(field: "data.service") }
        guard let export = try PrivacyStore.pendingExport(session, id: exportID),
            export.accountID == data.accountId.lowercased()
        else { return }
        try PrivacyStore.savePart(
            session, exportID: exportID, service: service.rawValue, data: data.data, now: event.receivedAt)
        let parts = try PrivacyStore.parts(session, exportID: exportID)
        guard ExportRules.isComplete(received: Set(parts.keys)) else { return }
        let bundle = JSONValue.object([
            "exportId": .string(exportID), "accountId": .string(export.accountID),
            "requestedAt": .string(CloudEvent.timestamp(export.requestedAt)),
            "expiresAt": .string(CloudEvent.timestamp(export.expiresAt)), "services": .object(parts),
        ])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let text = String(decoding: try encoder.encode(bundle), as: UTF8.self)
        try PrivacyStore.storeBundle(
            session, exportID: exportID, chunks: ExportRules.chunk(text, maxBytes: policy.exportPartBytes),
            now: event.receivedAt)
    }

    /// Deletes expired exports (`privacy.exportValidity`), a batch per run.
    static func expirySweep(_ context: IdentityContext) -> PeriodicTask {
        let policy = context.policy.privacy
        return PeriodicTask(name: "export-expiry", interval: policy.exportSweepInterval.duration) { session, now, _ in
            try PrivacyStore.deleteExpired(session, now: now, limit: policy.exportSweepBatch)
        }
    }

    // MARK: consents

    static func withdraw(
        _ session: borrowing PostgresSession, _ command: Command<ChangeConsent>, _ effects: inout MessageEffects,
        _ context: IdentityContext
    ) throws -> Reply {
        let now = command.receivedAt
        let caller = try LoginHandlers.signedIn(session, command.envelope, now: now)
        let account = caller.accountID
        guard let kind = ConsentKind(rawValue: command.data.kind) else {
            throw MalformedMessage.invalid(field: "data.kind")
        }
        guard let facts = try PrivacyStore.tierFacts(session, accountID: account) else {
            throw Refusal(.rejected(.unauthenticated, "a valid session token is required"))
        }
        let current = try VerificationStore.tier(session, accountID: account)
        guard
            let outcome = ConsentRules.withdrawal(
                kind, current: current, bankCardVerifiedAt: facts.bankCardVerifiedAt, registeredAt: facts.registeredAt,
                now: now, policy: context.policy.verification)
        else {
            return .rejected(
                .consentNotWithdrawable,
                "the privacy policy cannot be withdrawn while the account exists; deregister the account to end it")
        }
        var removed: [String: JSONValue] = [:]
        if outcome.deleteLiveness {
            removed["livenessRecords"] = .int(Int64(try PrivacyStore.deleteLiveness(session, accountID: account)))
        }
        if outcome.deleteIDNumbers {
            removed["idNumbers"] = .int(Int64(try PrivacyStore.deleteIDNumbers(session, accountID: account)))
        }
        if outcome.stripDeviceIdentifiers {
            removed["devices"] = .int(Int64(try PrivacyStore.stripDeviceIdentifiers(session, accountID: account)))
        }
        var result: [String: JSONValue] = ["kind": .string(kind.rawValue), "granted": .bool(false)]
        if let tier = outcome.tier, let current {
            try PrivacyStore.setTier(session, accountID: account, tier, now: now)
            try effects.emit(
                .accountVerificationWithdrawn, subject: account,
                data: VerificationWithdrawn(
                    accountId: account, withdrawnTier: current.tier.rawValue, tier: tier.tier.rawValue,
                    expiresAt: tier.expiresAt.map(CloudEvent.timestamp), reason: "consent_withdrawn:" + kind.rawValue))
            result["tier"] = .string(tier.tier.rawValue)
            result["tierExpiresAt"] = tier.expiresAt.map { .string(CloudEvent.timestamp($0)) } ?? .null
        }
        try PrivacyStore.setConsent(session, accountID: account, kind: kind, granted: false, version: nil, now: now)
        effects.audit("consent.withdrawn", subject: account, reason: kind.rawValue)
        result["removed"] = .object(removed)
        return try .ok(JSONValue.object(result))
    }
}
