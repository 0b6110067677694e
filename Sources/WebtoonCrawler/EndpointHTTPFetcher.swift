import CurlKit
import Logging
import Synchronization
import WebtoonCore

/// The crawler gave up on a request: which URL, after how many attempts, and the last status or transport error.
public struct CrawlFetchError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable { case retriesExhausted, notRetryable, cancelled }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        /// Every attempt failed with a retryable outcome (timeout, reset, 5xx, 429, a trip status).
        public static let retriesExhausted = Code(.retriesExhausted)
        /// A transport failure that retrying cannot fix (invalid request, body too large, TLS).
        public static let notRetryable = Code(.notRetryable)
        public static let cancelled = Code(.cancelled)
        public var description: String {
            switch base {
            case .retriesExhausted: "retries exhausted"
            case .notRetryable: "not retryable"
            case .cancelled: "cancelled"
            }
        }
    }

    public let code: Code
    public let platform: Platform
    public let endpoint: Endpoint
    public let url: String
    public let attempts: Int
    /// The last HTTP status, if the last attempt got one.
    public let lastStatus: Int?
    /// The last transport error, if the last attempt got no response.
    public let lastError: String?

    public var description: String {
        "\(platform) \(endpoint): \(code) after \(attempts) attempt(s) for \(url): "
            + (lastStatus.map { "last status \($0)" } ?? lastError ?? "no outcome")
    }
}

/// Implements the task runner's `EndpointFetching` over HTTP: per-platform gate (in-flight cap, token bucket,
/// pause, circuit breaker), retries with backoff and jitter for timeouts, resets and 5xx/429/trip statuses, and
/// counters. A non-retryable status (200, 401, 404 …) is returned to the task, which decides what it means.
public final class EndpointHTTPFetcher: EndpointFetching, Sendable {
    private let http: any HTTPFetching
    private let clock: any CrawlerClock
    private let gates: [Platform: PlatformGate]
    private let schedules: [Platform: RetrySchedule]
    private let timeouts: [Platform: Duration]
    private let cookies: [Platform: String]
    public let stats: CrawlStats
    private let logger: Logger
    private let random: Mutex<SplitMix>

    /// - Parameters:
    ///   - cookies: optional `Cookie` header per platform (read from the catalog's environment variable by
    ///     `EndpointHTTPFetcher.cookiesFromEnvironment`), never from a file.
    ///   - seed: seeds the jitter so runs reproduce.
    public init(
        catalogs: [EndpointCatalog], http: any HTTPFetching, clock: any CrawlerClock = SystemCrawlerClock(),
        stats: CrawlStats = CrawlStats(), cookies: [Platform: String] = [:], logger: Logger, seed: UInt64 = 0x5EED
    ) {
        self.http = http
        self.clock = clock
        var gates: [Platform: PlatformGate] = [:]
        var schedules: [Platform: RetrySchedule] = [:]
        var timeouts: [Platform: Duration] = [:]
        for catalog in catalogs {
            gates[catalog.platform] = PlatformGate(catalog: catalog, clock: clock)
            schedules[catalog.platform] = RetrySchedule(policy: catalog.retry)
            timeouts[catalog.platform] = .milliseconds(catalog.retry.timeoutMilliseconds)
        }
        self.gates = gates
        self.schedules = schedules
        self.timeouts = timeouts
        self.cookies = cookies
        self.stats = stats
        self.logger = logger
        random = Mutex(SplitMix(state: seed))
    }

    /// Reads each catalog's cookie variable (e.g. `WEBTOON_NAVER_COOKIE`); empty or absent means anonymous.
    public static func cookiesFromEnvironment(_ catalogs: [EndpointCatalog], environment: [String: String])
        -> [Platform: String]
    {
        var cookies: [Platform: String] = [:]
        for catalog in catalogs {
            guard let name = catalog.cookieEnvironmentVariable, let value = environment[name], !value.isEmpty,
                !value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" })
            else { continue }
            cookies[catalog.platform] = value
        }
        return cookies
    }

    public func fetch(_ request: EndpointRequest) async throws -> FetchedResponse {
        guard let gate = gates[request.platform], let schedule = schedules[request.platform] else {
            throw CrawlFetchError(
                code: .notRetryable, platform: request.platform, endpoint: request.endpoint, url: request.url,
                attempts: 0, lastStatus: nil, lastError: "no catalog for \(request.platform)")
        }
        var headers = request.headers.map { HTTPHeader($0.name, $0.value) }
        if let cookie = cookies[request.platform] { headers.append(HTTPHeader("Cookie", cookie)) }
        let httpRequest = HTTPRequest(
            url: request.url, method: "GET", headers: headers, body: nil, timeout: timeouts[request.platform])
        let maxAttempts = schedule.policy.maxAttempts
        var attempt = 0
        while true {
            attempt += 1
            let ticket: PlatformGate.Ticket
            do {
                ticket = try await gate.acquire()
            } catch {
                throw giveUp(.cancelled, request, attempt - 1, status: nil, error: "\(error)")
            }
            stats.add(.requests, request.platform)
            let outcome: Result<HTTPResponse, any Error>
            do {
                outcome = .success(try await http.fetch(httpRequest))
            } catch {
                outcome = .failure(error)
            }
            let openingsBefore = gate.breakerOpenings
            var retryAfter: Duration?
            let retryable: Bool
            let status: Int?
            let failureText: String?
            switch outcome {
            case .success(let response):
                status = response.status
                failureText = nil
                gate.release(ticket, status: response.status)
                count(response, request.platform)
                switch response.status {
                case 429, 503:
                    retryAfter = RetrySchedule.parseRetryAfter(response.header("Retry-After"))
                    if response.status == 429, let retryAfter {
                        // The whole platform waits, not just this request (capped like the retry delay).
                        gate.pause(
                            for: min(retryAfter, .milliseconds(schedule.policy.maxRetryAfterMilliseconds)))
                    }
                    retryable = true
                case 408, 500..<600:
                    retryable = true
                default:
                    retryable = gate.tripStatuses.contains(response.status)
                }
                if !retryable {
                    return FetchedResponse(
                        status: response.status, body: response.body, url: response.url,
                        fetchedAt: clock.epochMilliseconds())
                }
            case .failure(let error):
                status = nil
                failureText = "\(error)"
                gate.release(ticket, status: nil)
                stats.add(.transportErrors, request.platform)
                if let fetchError = error as? HTTPFetchError {
                    switch fetchError.code {
                    case .timeout, .connectionReset, .connectFailed, .protocolError, .dnsFailure, .other:
                        retryable = true
                    case .cancelled, .shutdown:
                        throw giveUp(.cancelled, request, attempt, status: nil, error: failureText)
                    default:
                        retryable = false
                    }
                } else if error is CancellationError {
                    throw giveUp(.cancelled, request, attempt, status: nil, error: failureText)
                } else {
                    retryable = true
                }
                if !retryable { throw giveUp(.notRetryable, request, attempt, status: nil, error: failureText) }
            }
            let openingsAfter = gate.breakerOpenings
            if openingsAfter > openingsBefore { stats.add(.breakerOpenings, request.platform, openingsAfter - openingsBefore) }
            if attempt >= maxAttempts {
                throw giveUp(.retriesExhausted, request, attempt, status: status, error: failureText)
            }
            let unit = random.withLock { Double($0.next() >> 11) / Double(1 << 53) }
            let delay = schedule.delay(afterAttempt: attempt, retryAfter: retryAfter, unit: unit)
            stats.add(.retries, request.platform)
            logger.debug(
                "retrying",
                metadata: [
                    "url": "\(request.url)", "attempt": "\(attempt)", "status": "\(status.map(String.init) ?? "-")",
                    "error": "\(failureText ?? "-")", "delayMs": "\(delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000)",
                ])
            do {
                try await clock.sleep(for: delay)
            } catch {
                throw giveUp(.cancelled, request, attempt, status: status, error: "\(error)")
            }
        }
    }

    private func count(_ response: HTTPResponse, _ platform: Platform) {
        stats.add(.responses, platform)
        stats.add(.bytes, platform, response.body.count)
        switch response.status {
        case 200..<300: stats.add(.status2xx, platform)
        case 403:
            stats.add(.status4xx, platform)
            stats.add(.status403, platform)
        case 429:
            stats.add(.status4xx, platform)
            stats.add(.status429, platform)
        case 400..<500: stats.add(.status4xx, platform)
        case 500..<600: stats.add(.status5xx, platform)
        default: break
        }
    }

    private func giveUp(
        _ code: CrawlFetchError.Code, _ request: EndpointRequest, _ attempts: Int, status: Int?, error: String?
    ) -> CrawlFetchError {
        if code != .cancelled { stats.add(.giveUps, request.platform) }
        let failure = CrawlFetchError(
            code: code, platform: request.platform, endpoint: request.endpoint, url: request.url, attempts: attempts,
            lastStatus: status, lastError: error)
        logger.warning("gave up", metadata: ["error": "\(failure)"])
        return failure
    }
}

/// The SplitMix64 generator, for reproducible jitter.
struct SplitMix: Sendable {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
