import CurlKit
import WebtoonCore

/// The slice of an HTTP client the crawler needs; `HTTPClient` conforms, and tests use an in-memory fetcher.
public protocol HTTPFetching: Sendable {
    func fetch(_ request: HTTPRequest) async throws -> HTTPResponse
    /// The executor fetches are cheapest from (the HTTP client's own thread, see `HTTPClient.taskExecutor`), or nil.
    var preferredTaskExecutor: (any TaskExecutor)? { get }
}

extension HTTPFetching {
    public var preferredTaskExecutor: (any TaskExecutor)? { nil }
}

extension HTTPClient: HTTPFetching {
    public var preferredTaskExecutor: (any TaskExecutor)? { taskExecutor }
}

/// Monotonic time and sleeping, injected so retry, rate-limit and breaker tests run in virtual time.
public protocol CrawlerClock: Sendable {
    /// Monotonic time since an arbitrary origin.
    func now() -> Duration
    func sleep(for duration: Duration) async throws
    /// Wall-clock milliseconds since the Unix epoch (for `fetchedAt`).
    func epochMilliseconds() -> Int64
}

/// The real clocks.
public struct SystemCrawlerClock: CrawlerClock {
    private let origin = ContinuousClock.now
    public init() {}
    public func now() -> Duration { ContinuousClock.now - origin }
    public func sleep(for duration: Duration) async throws {
        if duration > .zero { try await Task.sleep(for: duration) }
    }
    public func epochMilliseconds() -> Int64 { WallClock.epochMilliseconds() }
}

/// A token bucket: `rate` tokens per second, at most `burst` stored. `reserve` takes a token now or books the next
/// one and says how long to wait for it, so concurrent callers queue fairly without polling. The rate may change
/// while it runs (`setRate`): tokens earned so far and the debt of booked requests are kept, so a lower rate applies
/// from the very next request and a higher one never refills the burst for free. A rate that is not positive and
/// finite is taken as 0.001/s, so a wait is always finite.
public struct TokenBucket: Sendable, Hashable {
    public private(set) var rate: Double
    public let burst: Double
    private var tokens: Double
    private var updated: Duration

    public init(rate: Double, burst: Int, now: Duration) {
        self.rate = Self.usable(rate)
        self.burst = Double(max(1, burst))
        tokens = Double(max(1, burst))
        updated = now
    }

    /// From `now` on, tokens accrue at `newRate`.
    public mutating func setRate(_ newRate: Double, now: Duration) {
        refill(now: now)
        rate = Self.usable(newRate)
    }

    /// Takes one token; returns how long the caller must wait before using it (zero if available now).
    public mutating func reserve(now: Duration) -> Duration {
        refill(now: now)
        tokens -= 1
        if tokens >= 0 { return .zero }
        return .nanoseconds(Int64((-tokens / rate * 1e9).rounded(.up)))
    }

    private mutating func refill(now: Duration) {
        let elapsed = Self.seconds(now - updated)
        guard elapsed > 0 else { return }
        tokens = min(burst, tokens + elapsed * rate)
        updated = now
    }

    static func usable(_ rate: Double) -> Double { rate.isFinite && rate > 0 ? max(rate, 0.001) : 0.001 }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}

/// Closed → (threshold consecutive trips) → open for the cool-down → half-open: one probe; its success closes the
/// breaker, another trip reopens it. Pure state; the gate does the waiting.
public struct CircuitBreaker: Sendable, Hashable {
    public enum State: Sendable, Hashable {
        case closed(consecutiveTrips: Int)
        case open(until: Duration)
        case halfOpen(probing: Bool)
    }

    public enum Admission: Sendable, Hashable {
        case proceed
        /// The caller is the half-open probe: report its outcome.
        case probe
        case wait(Duration)
    }

    public private(set) var state: State = .closed(consecutiveTrips: 0)
    public let threshold: Int
    public let coolDown: Duration
    public private(set) var timesOpened = 0

    public init(threshold: Int, coolDown: Duration) {
        self.threshold = max(1, threshold)
        self.coolDown = coolDown
    }

    public mutating func admit(now: Duration) -> Admission {
        switch state {
        case .closed:
            return .proceed
        case .open(let until):
            if now < until { return .wait(until - now) }
            state = .halfOpen(probing: true)
            return .probe
        case .halfOpen(let probing):
            if probing { return .wait(min(coolDown, .milliseconds(50))) }
            state = .halfOpen(probing: true)
            return .probe
        }
    }

    /// A response that does not trip (any non-trip status, or a transport error).
    public mutating func recordSuccess() {
        state = .closed(consecutiveTrips: 0)
    }

    public mutating func recordTrip(now: Duration) {
        switch state {
        case .closed(let trips):
            if trips + 1 >= threshold {
                open(now)
            } else {
                state = .closed(consecutiveTrips: trips + 1)
            }
        case .halfOpen:
            open(now)
        case .open:
            break  // answers to requests sent before the breaker opened: already counted
        }
    }

    /// The probe ended without an answer (cancelled, transport error): let another caller probe.
    public mutating func probeAbandoned() {
        if case .halfOpen = state { state = .halfOpen(probing: false) }
    }

    private mutating func open(_ now: Duration) {
        state = .open(until: now + coolDown)
        timesOpened += 1
    }
}

/// Retry timing: exponential backoff with jitter, and `Retry-After` honoured (capped).
public struct RetrySchedule: Sendable, Hashable {
    public let policy: EndpointCatalog.RetryPolicy

    public init(policy: EndpointCatalog.RetryPolicy) { self.policy = policy }

    /// Delay before attempt `attempt + 1` (attempt counts from 1), with `unit` ∈ [0, 1) the jitter draw.
    public func delay(afterAttempt attempt: Int, retryAfter: Duration?, unit: Double) -> Duration {
        let exponent = min(max(attempt - 1, 0), 30)
        let ceiling = min(Double(policy.maxDelayMilliseconds), Double(policy.baseDelayMilliseconds) * pow2(exponent))
        // "Equal jitter": half fixed, half random, so retries spread out but never collapse to zero.
        let backoff = Duration.milliseconds(Int64(ceiling / 2 + ceiling / 2 * min(max(unit, 0), 1)))
        guard let retryAfter else { return backoff }
        let capped = min(retryAfter, .milliseconds(policy.maxRetryAfterMilliseconds))
        return max(backoff, capped)
    }

    private func pow2(_ n: Int) -> Double { Double(UInt64(1) << UInt64(n)) }

    /// `Retry-After` as delta-seconds (HTTP-dates are ignored: the backoff applies).
    public static func parseRetryAfter(_ value: String?) -> Duration? {
        guard let value else { return nil }
        let trimmed = value.trimmingCharacters(in: " \t")
        guard !trimmed.isEmpty, trimmed.count <= 9, trimmed.allSatisfy(\.isASCII), let seconds = Int64(trimmed),
            seconds >= 0
        else { return nil }
        return .seconds(seconds)
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
