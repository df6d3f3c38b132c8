import Contract
import Messaging
import Platform
import Postgres

/// The identity service: registration, login, devices, sessions, real-name verification and the
/// review queue (contract §4 identity rows, §6).
public enum IdentityService {
    /// Registers the service's command and event handlers; returns its periodic tasks.
    public static func configure(router: inout Router, environment: HandlerEnvironment, pool: PostgresPool) throws
        -> [PeriodicTask]
    {
        let context = IdentityContext(
            policy: environment.policy, hashKey: try environment.requireHashKey(),
            piiKey: try environment.requirePIIKey(), pool: pool)
        RegistrationHandlers.register(&router, context)
        LoginHandlers.register(&router, context)
        DeviceKeyHandlers.register(&router, context)
        LifecycleEvents.register(&router, context)
        VerificationHandlers.register(&router, context)
        ReviewHandlers.register(&router, context)
        OperatorHandlers.register(&router, context)
        SupportHandlers.register(&router, context)
        SessionHandlers.register(&router, context)
        RecoveryHandlers.register(&router, context)
        PhoneChangeHandlers.register(&router, context)
        SelfServiceHandlers.register(&router, context)
        PrivacyHandlers.register(&router, context)
        return [
            VerificationHandlers.expirySweep(context), OperatorHandlers.operatorAnnouncer(context),
            PrivacyHandlers.expirySweep(context),
        ]
    }
}
