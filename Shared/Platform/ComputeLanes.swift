import Dispatch
import Foundation
import Synchronization

/// Runs blocking CPU work (Argon2id) off Swift's cooperative threads, on one serial lane per core:
/// never more threads than cores, so hashing cannot starve the consumers and the relay, and a
/// batch of logins hashes on every core instead of one.
public final class ComputeLanes: Sendable {
    /// One lane per active core.
    public static let shared = ComputeLanes(count: ProcessInfo.processInfo.activeProcessorCount)

    private let lanes: [DispatchQueue]
    private let next = Atomic<Int>(0)

    /// Creates `count` lanes (at least one).
    public init(count: Int) {
        lanes = (0..<max(1, count)).map { DispatchQueue(label: "registrar.compute.\($0)") }
    }

    /// Runs `body` on the next lane (round robin) and returns its result.
    public func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        let lane = lanes[Int(next.wrappingAdd(1, ordering: .relaxed).oldValue.magnitude % UInt(lanes.count))]
        return await withCheckedContinuation { continuation in
            lane.async { continuation.resume(returning: body()) }
        }
    }
}
