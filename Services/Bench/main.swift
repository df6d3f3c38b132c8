import Foundation

/// `registrar-bench`: the load generator of `scripts/bench` (work in progress).
print("registrar-bench")
