import Messaging
import Platform
import Postgres
import ServiceLifecycle

/// The permissions service's handlers and background work.
public enum PermissionsService {
    /// Registers the service's command and event handlers; returns its schedulers.
    public static func configure(router: inout Router, environment: HandlerEnvironment, pool: PostgresPool) throws
        -> [any Service]
    {
        SessionDirectory.follow(&router)
        return []
    }
}
