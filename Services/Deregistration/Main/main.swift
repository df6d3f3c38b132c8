import Contract
import DeregistrationCore
import Messaging
import Platform

try await ServiceRuntime.run(.deregistration, clock: try RegistrarClocks.fromEnvironment()) {
    router, environment, pool in
    try DeregistrationService.configure(router: &router, environment: environment, pool: pool)
}
