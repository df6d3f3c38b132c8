import Messaging
import Platform
import Postgres

/// The permissions service's handlers and background work.
public enum PermissionsService {
    /// Registers the service's command and event handlers; returns its periodic tasks.
    public static func configure(router: inout Router, environment: HandlerEnvironment, pool: PostgresPool) throws
        -> [PeriodicTask]
    {
        SessionDirectory.follow(&router)
        return []
    }
}
