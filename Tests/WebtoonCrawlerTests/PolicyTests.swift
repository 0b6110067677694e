import CurlKit
import Logging
import MetricsTestKit
import Synchronization
import Testing
import WebtoonCore
@testable import WebtoonCrawler

/// Virtual time: `sleep` advances the clock at once, so tests of seconds-long backoff run in microseconds.
final class VirtualClock: CrawlerClock, Sendable {
    let current = Mutex<Duration>(.zero)
    let sleeps = Mutex<[Duration]>([])
    func now() -> Duration { current.withLock { $0 } }
    func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        sleeps.withLock { $0.append(duration) }
        current.withLock { $0 += max(duration, .zero) }
        await Task.yield()
    }
    func epochMilliseconds() -> Int64 { 1_795_532_400_000 + now().components.seconds * 1000 }
}

/// An in-memory HTTP peer answering from a script (by call number), recording requests and peak concurrency.
final class ScriptedHTTP: HTTPFetching, Sendable {
    enum Step: Sendable {
        case status(Int, headers: [HTTPHeader] = [], body: String = "{}")
        case error(HTTPFetchError.Code)
    }
    let script: @Sendable (Int, HTTPRequest) -> Step
    let calls = Mutex<[HTTPRequest]>([])
    let inFlight = Mutex<(now: Int, peak: Int)>((0, 0))

    init(_ script: @escaping @Sendable (Int, HTTPRequest) -> Step) { self.script = script }

    var count: Int { calls.withLock { $0.count } }

    func fetch(_ request: HTTPRequest) async throws -> HTTPResponse {
        let n = calls.withLock { calls in
            calls.append(request)
            return calls.count
        }
        inFlight.withLock { $0.now += 1; $0.peak = max($0.peak, $0.now) }
        for _ in 0..<5 { await Task.yield() }
        inFlight.withLock { $0.now -= 1 }
        switch script(n, request) {
        case .status(let status, let headers, let body):
            return HTTPResponse(
                status: status, headers: headers, body: Array(body.utf8), url: request.url, httpVersion: "1.1",
                timings: HTTPTimings(total: .zero, connect: .zero, firstByte: .zero))
        case .error(let code):
            throw HTTPFetchError(code: code, url: request.url, message: "scripted \(code)")
        }
    }
}

let quietLogger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

func fetcher(
    _ http: ScriptedHTTP, clock: VirtualClock, naverRate: Double = 1000, kakaoRate: Double = 1000, inFlight: Int = 4,
    maxAttempts: Int = 4, stats: CrawlStats = CrawlStats(), cookies: [Platform: String] = [:]
) -> EndpointHTTPFetcher {
    let retry = EndpointCatalog.RetryPolicy(
        maxAttempts: maxAttempts, baseDelayMilliseconds: 1000, maxDelayMilliseconds: 8000,
        maxRetryAfterMilliseconds: 30_000, timeoutMilliseconds: 5000)
    let naver = EndpointCatalog.builtIn(.naver).withPoliteness(requestsPerSecond: naverRate, burst: 1, maxConcurrency: inFlight)
        .withRetry(retry)
    let kakao = EndpointCatalog.builtIn(.kakao).withPoliteness(requestsPerSecond: kakaoRate, burst: 1, maxConcurrency: inFlight)
        .withRetry(retry, circuitBreaker: .init(tripStatuses: [403], failureThreshold: 3, coolDownMilliseconds: 60_000))
    return EndpointHTTPFetcher(
        catalogs: [naver, kakao], http: http, clock: clock, stats: stats, cookies: cookies, logger: quietLogger)
}

let likeRequest = EndpointCatalog.builtIn(.kakao).request(.episodeLikes, EndpointParameters(titleId: 1, episodeId: 2))
let infoRequest = EndpointCatalog.builtIn(.naver).request(.titleInfo, EndpointParameters(titleId: 7))

@Suite struct PolicyTests {
    /// Tokens at 10/s with a burst of 2; re-rating keeps the debt of booked requests and applies at once.
    @Test func bucketFollowsTheRateFromTheNextRequest() {
        var bucket = TokenBucket(rate: 10, burst: 2, now: .zero)
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
        var bucket = TokenBucket(rate: 0, burst: 0, now: .zero)
        #expect(bucket.rate > 0 && bucket.burst == 1)
        bucket.setRate(.nan, now: .zero)
        #expect(bucket.rate > 0)
        #expect(bucket.reserve(now: .zero) == .zero)
    }

    @Test func tokenBucketAllowsTheBurstThenSpacesAtTheRate() {
        var bucket = TokenBucket(rate: 10, burst: 3, now: .zero)
        #expect((0..<3).map { _ in bucket.reserve(now: .zero) } == [.zero, .zero, .zero])
        #expect(bucket.reserve(now: .zero) == .milliseconds(100))
        #expect(bucket.reserve(now: .zero) == .milliseconds(200))
        // After a quiet second the bucket refills to its burst, never beyond.
        var later = TokenBucket(rate: 10, burst: 3, now: .zero)
        _ = later.reserve(now: .zero)
        #expect((0..<3).map { _ in later.reserve(now: .seconds(5)) } == [.zero, .zero, .zero])
        #expect(later.reserve(now: .seconds(5)) == .milliseconds(100))
    }

    @Test func breakerOpensAfterThresholdThenProbes() {
        var breaker = CircuitBreaker(threshold: 3, coolDown: .seconds(10))
        #expect(breaker.admit(now: .zero) == .proceed)
        breaker.recordTrip(now: .zero)
        breaker.recordTrip(now: .zero)
        #expect(breaker.admit(now: .zero) == .proceed)
        breaker.recordTrip(now: .seconds(1))
        #expect(breaker.timesOpened == 1)
        breaker.recordTrip(now: .seconds(2))  // a late answer to a request sent before it opened
        #expect(breaker.timesOpened == 1)
        #expect(breaker.admit(now: .seconds(2)) == .wait(.seconds(9)))
        #expect(breaker.admit(now: .seconds(11)) == .probe)
        if case .wait = breaker.admit(now: .seconds(11)) {} else { Issue.record("a second caller must wait for the probe") }
        breaker.recordTrip(now: .seconds(11))  // the probe tripped: open again
        #expect(breaker.timesOpened == 2)
        #expect(breaker.admit(now: .seconds(21)) == .probe)
        breaker.recordSuccess()
        #expect(breaker.admit(now: .seconds(21)) == .proceed)
        // A success between trips resets the count.
        breaker.recordTrip(now: .seconds(30))
        breaker.recordTrip(now: .seconds(30))
        breaker.recordSuccess()
        breaker.recordTrip(now: .seconds(30))
        #expect(breaker.admit(now: .seconds(30)) == .proceed)
    }

    @Test func backoffGrowsWithJitterAndRetryAfterWins() {
        let schedule = RetrySchedule(
            policy: .init(maxAttempts: 5, baseDelayMilliseconds: 1000, maxDelayMilliseconds: 5000,
                          maxRetryAfterMilliseconds: 20_000, timeoutMilliseconds: 1))
        var generator = SplitMix(state: 3)
        for attempt in 1...6 {
            let ceiling = min(5000, 1000 << (attempt - 1))
            for _ in 0..<200 {
                let unit = Double(generator.next() >> 11) / Double(1 << 53)
                let d = schedule.delay(afterAttempt: attempt, retryAfter: nil, unit: unit)
                #expect(d >= .milliseconds(ceiling / 2) && d <= .milliseconds(ceiling), "attempt \(attempt): \(d)")
            }
        }
        #expect(schedule.delay(afterAttempt: 1, retryAfter: .seconds(7), unit: 0.5) == .seconds(7))
        #expect(schedule.delay(afterAttempt: 1, retryAfter: .seconds(700), unit: 0.5) == .seconds(20))
        #expect(RetrySchedule.parseRetryAfter(" 12 ") == .seconds(12))
        for bad in [nil, "", "-1", "soon", "Wed, 21 Oct 2015 07:28:00 GMT", "99999999999"] as [String?] {
            #expect(RetrySchedule.parseRetryAfter(bad) == nil)
        }
    }

    @Test func fiveHundredsAreRetriedWithBackoffThenSucceed() async throws {
        let http = ScriptedHTTP { n, _ in n <= 2 ? .status(503) : .status(200, body: "ok") }
        let clock = VirtualClock()
        let stats = CrawlStats()
        let response = try await fetcher(http, clock: clock, stats: stats).fetch(likeRequest)
        #expect(response.status == 200 && response.body == Array("ok".utf8))
        #expect(http.count == 3)
        let s = stats.snapshot(.kakao)
        #expect(s.requests == 3 && s.retries == 2 && s.status5xx == 2 && s.status2xx == 1 && s.giveUps == 0)
        let waits = clock.sleeps.withLock { $0 }.filter { $0 >= .milliseconds(500) }
        #expect(waits.count == 2)
        #expect(waits[0] <= .seconds(1) && waits[1] >= .seconds(1) && waits[1] <= .seconds(2))
    }

    @Test func retryAfterIsHonouredAndPausesThePlatform() async throws {
        let http = ScriptedHTTP { n, _ in
            n == 1 ? .status(429, headers: [HTTPHeader("Retry-After", "7")]) : .status(200)
        }
        let clock = VirtualClock()
        let f = fetcher(http, clock: clock)
        _ = try await f.fetch(infoRequest)
        #expect(clock.now() >= .seconds(7))
        #expect(clock.sleeps.withLock { $0 }.contains(.seconds(7)))
    }

    @Test func exhaustedRetriesNameTheURLAndAttempts() async throws {
        let http = ScriptedHTTP { n, _ in n % 2 == 0 ? .error(.connectionReset) : .status(502) }
        let stats = CrawlStats()
        let error = await #expect(throws: CrawlFetchError.self) {
            try await fetcher(http, clock: VirtualClock(), maxAttempts: 4, stats: stats).fetch(infoRequest)
        }
        #expect(error?.code == .retriesExhausted)
        #expect(error?.attempts == 4)
        #expect(error?.url == infoRequest.url)
        #expect(error?.lastError?.contains("scripted") == true)
        #expect(error?.description.contains("titleInfo") == true)
        #expect(stats.snapshot(.naver).giveUps == 1 && stats.snapshot(.naver).transportErrors == 2)
    }

    @Test func notRetryableOutcomesReturnAtOnce() async throws {
        let tooLarge = ScriptedHTTP { _, _ in .error(.bodyTooLarge) }
        let error = await #expect(throws: CrawlFetchError.self) {
            try await fetcher(tooLarge, clock: VirtualClock()).fetch(infoRequest)
        }
        #expect(error?.code == .notRetryable && tooLarge.count == 1)
        // 401 and 404 are answers for the task to interpret, not failures to retry.
        for status in [401, 404, 400] {
            let http = ScriptedHTTP { _, _ in .status(status) }
            #expect(try await fetcher(http, clock: VirtualClock()).fetch(infoRequest).status == status)
            #expect(http.count == 1)
        }
        // Naver's catalog does not treat 403 as a burst signal: returned, not retried.
        let forbidden = ScriptedHTTP { _, _ in .status(403) }
        #expect(try await fetcher(forbidden, clock: VirtualClock()).fetch(infoRequest).status == 403)
        #expect(forbidden.count == 1)
    }

    @Test func kakaoForbiddenBurstOpensTheBreakerAndPausesThePlatform() async throws {
        // Three 403s open the breaker; after the cool-down one probe goes through and closes it.
        let http = ScriptedHTTP { n, _ in n <= 3 ? .status(403) : .status(200) }
        let clock = VirtualClock()
        let stats = CrawlStats()
        let response = try await fetcher(http, clock: clock, maxAttempts: 6, stats: stats).fetch(likeRequest)
        #expect(response.status == 200)
        #expect(http.count == 4)
        #expect(clock.now() >= .seconds(60))  // the cool-down, not a hammering retry loop
        let s = stats.snapshot(.kakao)
        #expect(s.status403 == 3 && s.breakerOpenings == 1)
    }

    @Test func rateAndInFlightCapsHold() async throws {
        let http = ScriptedHTTP { _, _ in .status(200) }
        let clock = VirtualClock()
        let f = fetcher(http, clock: clock, naverRate: 10, inFlight: 3)
        for _ in 0..<20 { _ = try await f.fetch(infoRequest) }
        #expect(clock.now() >= .milliseconds(1900))  // burst 1, then one per 100 ms
        let parallel = fetcher(http, clock: VirtualClock(), inFlight: 3)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<40 { group.addTask { _ = try await parallel.fetch(infoRequest) } }
            try await group.waitForAll()
        }
        #expect(http.inFlight.withLock { $0.peak } <= 3)
        #expect(http.inFlight.withLock { $0.peak } >= 2)
    }

    @Test func cookiesComeFromTheEnvironmentOnly() async throws {
        let catalogs = [EndpointCatalog.builtIn(.naver), EndpointCatalog.builtIn(.kakao)]
        let cookies = EndpointHTTPFetcher.cookiesFromEnvironment(
            catalogs, environment: ["WEBTOON_NAVER_COOKIE": "NID_AUT=a; NID_SES=b", "WEBTOON_KAKAO_COOKIE": "x\r\ny"])
        #expect(cookies == [.naver: "NID_AUT=a; NID_SES=b"])
        let http = ScriptedHTTP { _, _ in .status(200) }
        _ = try await fetcher(http, clock: VirtualClock(), cookies: cookies).fetch(infoRequest)
        let sent = try #require(http.calls.withLock { $0.first })
        #expect(sent.headers.contains(HTTPHeader("Cookie", "NID_AUT=a; NID_SES=b")))
        #expect(sent.headers.contains(HTTPHeader("Accept-Language", "ko")))
    }

    @Test func countersReachAnInjectedMetricsFactory() async throws {
        let metrics = TestMetrics()
        let stats = CrawlStats(metricsFactory: metrics)
        let http = ScriptedHTTP { n, _ in n == 1 ? .status(500) : .status(200) }
        _ = try await fetcher(http, clock: VirtualClock(), stats: stats).fetch(infoRequest)
        let retries = try metrics.expectCounter("webtoon_crawler_retries", [("platform", "naver")])
        #expect(retries.totalValue == 1)
        let requests = try metrics.expectCounter("webtoon_crawler_requests", [("platform", "naver")])
        #expect(requests.totalValue == 2)
    }
}
