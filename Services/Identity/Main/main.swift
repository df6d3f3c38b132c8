import Contract
import IdentityCore
import Messaging

try await ServiceRuntime.run(.identity) { router, environment, pool in
    try IdentityService.configure(router: &router, environment: environment, pool: pool)
}
