import BindingCore
import Contract
import Messaging
import Platform

try await ServiceRuntime.run(.binding, clock: try RegistrarClocks.fromEnvironment()) { router, environment, pool in
    try BindingService.configure(router: &router, environment: environment, pool: pool)
}
