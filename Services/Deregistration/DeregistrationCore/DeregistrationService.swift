import Contract
import Directory
import Foundation
import Messaging
import Platform
import Postgres

/// The deregistration service: the revocable cool-down, the device lock, and finalization
/// (contract §4 deregistration rows and the end-of-cool-down rules).
public enum DeregistrationService {
    /// Registers the service's command and event handlers; returns its periodic tasks.
    public static func configure(router: inout Router, environment: HandlerEnvironment, pool: PostgresPool) throws
        -> [PeriodicTask]
    {
        let context = DeregistrationContext(policy: environment.policy, hashKey: try environment.requireHashKey())
        SessionDirectory.follow(&router)
        OperatorDirectory.follow(&router)
        ReadModel.register(&router)
        RequestHandlers.register(&router, context)
        StatusHandler.register(&router)
        SupportHandlers.register(&router)
        ExportHandler.register(&router, policy: environment.policy)
        Purges.register(&router)
        return [Finalizer.task(context), Finalizer.reminderTask(context)]
    }
}

/// What the handlers share.
struct DeregistrationContext: Sendable {
    /// The policy in force.
    var policy: Policy
    /// `REGISTRAR_HASH_KEY`: phones are known by their keyed hash, revoke codes stored as one.
    var hashKey: [UInt8]
}

// MARK: read model

struct EnterpriseAdmin: Decodable, Sendable {
    var enterpriseId: String
    var adminAccountId: String?
    var toAccountId: String?
}

/// Accounts (phone as keyed hash, following phone changes) from identity, enterprise admins from
/// permissions.
enum ReadModel {
    static func register(_ router: inout Router) {
        router.event(.accountRegistered, on: RegistrarService.identity.eventTopic, AccountRegistered.self) {
            session, event, _ in
            guard UUID(uuidString: event.data.accountId) != nil,
                let registered = Date(rfc3339: event.data.registeredAt)
            else { throw MalformedMessage.invalid(field: "data.registeredAt") }
            guard let phoneHash = event.data.phoneHash else { throw MalformedMessage.invalid(field: "data.phoneHash") }
            try session.query(
                """
                INSERT INTO accounts (account_id, phone_hash, registered_at)
                VALUES (\(event.data.accountId)::uuid, \(phoneHash), \(registered))
                ON CONFLICT (account_id) DO NOTHING
                """)
        }
        // Revoke-by-phone follows the account to its new number (issue 16).
        router.event(.accountPhoneChanged, on: RegistrarService.identity.eventTopic, PhoneChanged.self) {
            session, event, _ in
            guard UUID(uuidString: event.data.accountId) != nil else {
                throw MalformedMessage.invalid(field: "data.accountId")
            }
            guard event.data.phoneHash.count == 64 else { throw MalformedMessage.invalid(field: "data.phoneHash") }
            try session.query(
                """
                UPDATE accounts SET phone_hash = \(event.data.phoneHash) WHERE account_id = \(event.data.accountId)::uuid
                """)
        }
        let permissions = RegistrarService.permissions.eventTopic
        router.event(.enterpriseCreated, on: permissions, EnterpriseAdmin.self) { session, event, _ in
            try setAdmin(session, event.data.enterpriseId, event.data.adminAccountId)
        }
        router.event(.enterpriseAdminTransferred, on: permissions, EnterpriseAdmin.self) { session, event, _ in
            try setAdmin(session, event.data.enterpriseId, event.data.toAccountId)
        }
    }

    static func setAdmin(_ session: borrowing PostgresSession, _ enterprise: String, _ admin: String?) throws {
        guard let admin, UUID(uuidString: admin) != nil else {
            throw MalformedMessage.invalid(field: "data.adminAccountId")
        }
        try session.query(
            """
            INSERT INTO enterprise_admins (enterprise_id, account_id) VALUES (\(enterprise), \(admin)::uuid)
            ON CONFLICT (enterprise_id) DO UPDATE SET account_id = EXCLUDED.account_id
            """)
    }
}
