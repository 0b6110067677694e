import Foundation

/// Runs blocking `body` (file I/O) on a new thread and returns its result, so the cooperative pool never waits on it.
public func onDedicatedThread<T: Sendable>(
    name: String = "webtoon-io", _ body: @escaping @Sendable () throws -> T
) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.name = name
        thread.start()
    }
}
