import Contract
import Messaging
import PermissionsCore
import Platform

try await ServiceRuntime.run(.permissions, clock: try RegistrarClocks.fromEnvironment()) { router, environment, pool in
    try PermissionsService.configure(router: &router, environment: environment, pool: pool)
}
