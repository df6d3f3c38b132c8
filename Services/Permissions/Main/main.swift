import Contract
import Messaging
import PermissionsCore

try await ServiceRuntime.run(.permissions) { router, environment, pool in
    try PermissionsService.configure(router: &router, environment: environment, pool: pool)
}
