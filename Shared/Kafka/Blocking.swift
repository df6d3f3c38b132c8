import Dispatch

/// Runs blocking client work on `queue`, off Swift's cooperative thread pool.
func onQueue<T: Sendable, E: Error>(_ queue: DispatchQueue, _ body: @escaping @Sendable () throws(E) -> T)
    async throws(E) -> T
{
    let result: Result<T, E> = await withCheckedContinuation { continuation in
        queue.async { continuation.resume(returning: Result { () throws(E) -> T in try body() }) }
    }
    return try result.get()
}
