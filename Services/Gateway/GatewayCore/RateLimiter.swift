import Synchronization

/// Fixed-window request counters per key (a client address, or an address and a route), in memory
/// per gateway replica: with N replicas behind a balancer a client gets up to N times the limit, so
/// the services' own limits (per phone, device, IP, in PostgreSQL) stay the binding ones.
public final class RateLimiter: Sendable {
    /// A decision.
    public enum Decision: Equatable, Sendable {
        /// Within the limit.
        case allowed
        /// Over it: retry after this many seconds (the window's end, at least 1).
        case limited(retryAfterSeconds: Int)
    }

    private struct Counter {
        var windowStart: ContinuousClock.Instant
        var count: Int
    }

    private let window: Duration
    private let maxKeys: Int
    private let counters = Mutex<[String: Counter]>([:])

    /// Counters over windows of `window`, keeping at most `maxKeys` keys.
    public init(window: Duration, maxKeys: Int) {
        self.window = window
        self.maxKeys = maxKeys
    }

    /// Counts one request for each of `keys` (key, limit) and decides: limited when any key is over
    /// its limit (a refused request still counts).
    public func take(_ keys: [(key: String, limit: Int)], now: ContinuousClock.Instant = .now) -> Decision {
        counters.withLock { counters in
            if counters.count > maxKeys {
                counters = counters.filter { now - $0.value.windowStart < window }
                if counters.count > maxKeys { counters.removeAll(keepingCapacity: true) }
            }
            var worst: Duration? = nil
            for (key, limit) in keys {
                var counter = counters[key] ?? Counter(windowStart: now, count: 0)
                if now - counter.windowStart >= window { counter = Counter(windowStart: now, count: 0) }
                counter.count += 1
                counters[key] = counter
                if counter.count > limit {
                    let remaining = window - (now - counter.windowStart)
                    worst = max(worst ?? .zero, remaining)
                }
            }
            guard let worst else { return .allowed }
            let seconds = Int(
                (Double(worst.components.seconds) + Double(worst.components.attoseconds) / 1e18).rounded(.up))
            return .limited(retryAfterSeconds: max(1, seconds))
        }
    }
}
