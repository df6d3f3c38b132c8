import BindingCore
import Contract
import Messaging

try await ServiceRuntime.run(.binding) { router, environment, pool in
    try BindingService.configure(router: &router, environment: environment, pool: pool)
}
