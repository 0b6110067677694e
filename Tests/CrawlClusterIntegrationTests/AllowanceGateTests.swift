import ClusterCore
import CurlKit
import Testing
@testable import CrawlCluster

/// The worker side of the cluster budget: one bucket per platform whose rate follows each new allowance.
@Suite struct AllowanceGateTests {
    /// Tokens at 10/s with a burst of 2; re-rating keeps the debt of booked requests and applies at once.
    @Test func bucketFollowsTheRateFromTheNextRequest() {
        var bucket = AllowanceBucket(rate: 10, burst: 2, now: .zero)
        #expect(bucket.reserve(now: .zero) == .zero)
        #expect(bucket.reserve(now: .zero) == .zero)
        #expect(bucket.reserve(now: .zero) == .milliseconds(100), "burst used up: one token per 100 ms")
        // The allowance drops to 2/s: the next booking waits at the new rate (the earlier debt stays booked).
        bucket.setRate(2, now: .zero)
        #expect(bucket.reserve(now: .zero) == .seconds(1))
        // Up to 100/s after a quiet second: the debt is repaid, and the burst is not refilled beyond 2.
        bucket.setRate(100, now: .seconds(2))
        #expect(bucket.rate == 100)
        #expect(bucket.reserve(now: .seconds(10)) == .zero)
        #expect(bucket.reserve(now: .seconds(10)) == .zero)
        #expect(bucket.reserve(now: .seconds(10)) == .milliseconds(10))
    }

    @Test func nonsenseRatesNeverDivideByZero() {
        var bucket = AllowanceBucket(rate: 0, burst: 0, now: .zero)
        #expect(bucket.rate > 0 && bucket.burst == 1)
        bucket.setRate(.nan, now: .zero)
        #expect(bucket.rate > 0)
        #expect(bucket.reserve(now: .zero) == .zero)
    }

    /// The gate takes the allowance's rate when there is one and keeps the last positive rate while paused.
    @Test func gateTakesEachNewAllowance() async throws {
        let gate = AllowanceGate(platform: "kakao", initialRate: 5, burst: 50)
        try await gate.acquire { nil }
        #expect(gate.rate == 5, "before any grant the catalog's rate holds")
        try await gate.acquire { PlatformAllowance(platform: "kakao", requestsPerSecond: 400, pausedUntil: nil) }
        #expect(gate.rate == 400)
        try await gate.acquire { PlatformAllowance(platform: "kakao", requestsPerSecond: 0, pausedUntil: Timestamp(millis: 1)) }
        #expect(gate.rate == 400, "a pause that already ended leaves the last rate")
        try await gate.acquire { PlatformAllowance(platform: "kakao", requestsPerSecond: 200, pausedUntil: nil) }
        #expect(gate.rate == 200)
    }

    /// Throttling answers become heartbeat signals; a 429's Retry-After travels with it (in milliseconds).
    @Test func throttlingAnswersBecomeSignals() {
        func response(_ status: Int, _ headers: [HTTPHeader] = []) -> HTTPResponse {
            HTTPResponse(
                status: status, headers: headers, body: [], url: "http://x/", httpVersion: "1.1",
                timings: HTTPTimings(total: .zero, connect: .zero, firstByte: .zero))
        }
        #expect(politenessSignal(response(200)) == nil)
        #expect(politenessSignal(response(404)) == nil)
        #expect(politenessSignal(response(429, [HTTPHeader("Retry-After", "2")])) == TaskStats(requests: 1, status429: 1, retryAfterMillis: 2_000))
        #expect(politenessSignal(response(429)) == TaskStats(requests: 1, status429: 1))
        #expect(politenessSignal(response(403)) == TaskStats(requests: 1, status403: 1))
        #expect(politenessSignal(response(503, [HTTPHeader("Retry-After", "9")])) == TaskStats(requests: 1, status5xx: 1))
    }
}
