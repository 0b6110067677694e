import ClusterCore
import ClusterKit
import CurlKit
import Synchronization
import WebtoonCrawler

/// A token bucket whose rate can change while it runs. Pure: time is passed in.
///
/// Re-rating keeps the tokens earned so far (capped at `burst`) and any debt of booked requests, so a lower rate
/// applies from the very next request and a higher one never refills the burst for free.
struct AllowanceBucket: Sendable, Hashable {
    private(set) var rate: Double
    let burst: Double
    private var tokens: Double
    private var updated: Duration

    init(rate: Double, burst: Int, now: Duration) {
        self.rate = AllowanceBucket.usable(rate)
        self.burst = Double(max(1, burst))
        tokens = Double(max(1, burst))
        updated = now
    }

    static func usable(_ rate: Double) -> Double { rate.isFinite && rate > 0 ? max(rate, 0.001) : 0.001 }

    private mutating func refill(now: Duration) {
        let elapsed = now - updated
        guard elapsed > .zero else { return }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        tokens = min(burst, tokens + seconds * rate)
        updated = now
    }

    /// From `now` on, tokens accrue at `newRate`.
    mutating func setRate(_ newRate: Double, now: Duration) {
        refill(now: now)
        rate = AllowanceBucket.usable(newRate)
    }

    /// Takes one token; returns how long the caller must wait before using it (zero if available now).
    mutating func reserve(now: Duration) -> Duration {
        refill(now: now)
        tokens -= 1
        if tokens >= 0 { return .zero }
        return .nanoseconds(Int64((-tokens / rate * 1e9).rounded(.up)))
    }
}

/// One platform's request rate on one worker, shared by every unit the worker runs: the rate follows the
/// allowance of the latest lease grant or heartbeat reply (the coordinator's cluster budget split among the live
/// workers), and requests wait out the cluster-wide pause the allowance carries. Before any allowance, or while
/// paused (when the allowance says 0), the last positive rate holds.
final class AllowanceGate: Sendable {
    let platform: String
    private let bucket: Mutex<AllowanceBucket>
    private let clock = ContinuousClock()
    private let origin: ContinuousClock.Instant

    init(platform: String, initialRate: Double, burst: Int) {
        self.platform = platform
        origin = clock.now
        bucket = Mutex(AllowanceBucket(rate: initialRate, burst: burst, now: .zero))
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
