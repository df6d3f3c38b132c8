import Contract
import DeregistrationCore
import Messaging

try await ServiceRuntime.run(.deregistration) { router, environment, pool in
    try DeregistrationService.configure(router: &router, environment: environment, pool: pool)
}
