import ClusterCore
import ClusterKit
import CurlKit
import Synchronization
import WebtoonCrawler

/// One platform's request rate on one worker, shared by every unit the worker runs: the rate follows the
/// allowance of the latest lease grant or heartbeat reply (the coordinator's cluster budget split among the live
/// workers), and requests wait out the cluster-wide pause the allowance carries. Before any allowance, or while
/// paused (when the allowance says 0), the last positive rate holds.
final class AllowanceGate: Sendable {
    let platform: String
    private let bucket: Mutex<TokenBucket>
    private let clock = ContinuousClock()
    private let origin: ContinuousClock.Instant

    init(platform: String, initialRate: Double, burst: Int) {
        self.platform = platform
        origin = clock.now
        bucket = Mutex(TokenBucket(rate: initialRate, burst: burst, now: .zero))
    }

    /// The rate requests currently get (tests, logs).
    var rate: Double { bucket.withLock { $0.rate } }

    /// Waits for the end of any cluster pause, then for a token at the current allowance.
    func acquire(_ allowance: @Sendable () -> PlatformAllowance?) async throws {
        while let until = allowance()?.pausedUntil {
            let wait = until.millis - systemTimestamp().millis
            guard wait > 0 else { break }
            try await Task.sleep(for: .milliseconds(wait))
        }
        let current = allowance()
        let now = clock.now - origin
        let wait = bucket.withLock { bucket -> Duration in
            if let rate = current?.requestsPerSecond, rate > 0, rate != bucket.rate { bucket.setRate(rate, now: now) }
            return bucket.reserve(now: now)
        }
        if wait > .zero { try await Task.sleep(for: wait) }
    }
}

/// What a response tells the coordinator's budget: the throttling statuses and any Retry-After, as a signal for the
/// next heartbeat (nil for a response that says nothing about politeness). Accounting comes from complete/fail.
func politenessSignal(_ response: HTTPResponse) -> TaskStats? {
    switch response.status {
    case 429:
        // As in the crawler, only a 429's Retry-After pauses the platform.
        let retryAfter = RetrySchedule.parseRetryAfter(response.header("Retry-After")).map {
            $0.components.seconds * 1_000 + $0.components.attoseconds / 1_000_000_000_000_000
        }
        return TaskStats(requests: 1, status429: 1, retryAfterMillis: retryAfter)
    case 403: return TaskStats(requests: 1, status403: 1)
    case 500..<600: return TaskStats(requests: 1, status5xx: 1)
    default: return nil
    }
}
