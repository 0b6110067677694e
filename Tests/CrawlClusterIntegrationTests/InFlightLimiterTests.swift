import Synchronization
import Testing
@testable import CrawlCluster

/// Counts tasks inside the limited section and the most at once.
final class Gauge: Sendable {
    private let state = Mutex((current: 0, peak: 0))
    func enter() { state.withLock { $0.current += 1; $0.peak = max($0.peak, $0.current) } }
    func leave() { state.withLock { $0.current -= 1 } }
    var peak: Int { state.withLock { $0.peak } }
}

@Suite struct InFlightLimiterTests {
    /// Never more than the limit at once, every slot comes back, and a cancelled waiter leaves without a slot.
    @Test func capsConcurrencyAndSurvivesCancellation() async throws {
        let limiter = InFlightLimiter(limit: 2)
        let gauge = Gauge()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<12 {
                group.addTask {
                    do { try await limiter.acquire() } catch { return }
                    gauge.enter()
                    try? await Task.sleep(for: .milliseconds(5))
                    gauge.leave()
                    limiter.release()
                }
            }
        }
        #expect(gauge.peak == 2)
        #expect(limiter.available == 2)

        try await limiter.acquire()
        try await limiter.acquire()
        let waiter = Task { try await limiter.acquire() }
        try await Task.sleep(for: .milliseconds(20))
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        limiter.release()
        limiter.release()
        #expect(limiter.available == 2, "the cancelled waiter took no slot")
    }
}
