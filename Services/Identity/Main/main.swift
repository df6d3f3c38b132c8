import Contract
import IdentityCore
import Messaging
import Platform

try await ServiceRuntime.run(.identity, clock: try RegistrarClocks.fromEnvironment()) { router, environment, pool in
    try IdentityService.configure(router: &router, environment: environment, pool: pool)
}
