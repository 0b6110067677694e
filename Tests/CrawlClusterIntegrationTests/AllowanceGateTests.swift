import ClusterCore
import CurlKit
import Testing
@testable import CrawlCluster

/// The worker side of the cluster budget: one bucket per platform whose rate follows each new allowance.
@Suite struct AllowanceGateTests {
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
