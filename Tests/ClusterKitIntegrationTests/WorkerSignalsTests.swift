import ClusterCore
import Synchronization
import Testing
@testable import ClusterKit

/// Heartbeat signals: counts since the last heartbeat, and only what is left of a Retry-After when the heartbeat
/// goes out, so a wait that already ended never pauses the cluster.
@Suite struct WorkerSignalsTests {
    final class ManualClock: Sendable {
        let now = Mutex(Timestamp(millis: 1_764_000_000_000))
        func advance(_ millis: Int64) { now.withLock { $0 = $0.adding(millis: millis) } }
    }

    @Test func retryAfterIsSentAsWhatIsLeftOfIt() {
        let clock = ManualClock()
        let shared = WorkerShared(clock: { clock.now.withLock { $0 } })
        shared.report(platform: "kakao", TaskStats(requests: 1, status429: 1, retryAfterMillis: 1_000))
        shared.report(platform: "naver", TaskStats(requests: 1, status5xx: 1))
        clock.advance(400)
        let first = Dictionary(uniqueKeysWithValues: shared.takeSignals().map { ($0.platform, $0.stats) })
        #expect(first == ["kakao": TaskStats(requests: 1, status429: 1, retryAfterMillis: 600), "naver": TaskStats(requests: 1, status5xx: 1)])
        #expect(shared.takeSignals().isEmpty, "taken once")

        shared.report(platform: "kakao", TaskStats(requests: 1, status429: 1, retryAfterMillis: 300))
        shared.report(platform: "kakao", TaskStats(requests: 1, status429: 1, retryAfterMillis: 200))
        clock.advance(600)
        #expect(shared.takeSignals() == [PlatformSignals(platform: "kakao", stats: TaskStats(requests: 2, status429: 2))], "the waits ended before the heartbeat")
    }
}
