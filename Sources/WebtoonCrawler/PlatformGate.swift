import WebtoonCore

/// One platform's politeness: a cap on requests in flight, a token bucket, a platform-wide pause (Retry-After on
/// 429) and the circuit breaker. Every request of that platform passes through `acquire`/`release`.
actor PlatformGate {
    let platform: Platform
    private let clock: any CrawlerClock
    private let maxInFlight: Int
    private var inFlight = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var bucket: TokenBucket
    private var breaker: CircuitBreaker
    private var pausedUntil: Duration = .zero
    let tripStatuses: Set<Int>

    init(catalog: EndpointCatalog, clock: any CrawlerClock) {
        platform = catalog.platform
        self.clock = clock
        maxInFlight = catalog.politeness.maxConcurrency
        bucket = TokenBucket(
            rate: catalog.politeness.requestsPerSecond, burst: catalog.politeness.burst, now: clock.now())
        breaker = CircuitBreaker(
            threshold: catalog.circuitBreaker.failureThreshold,
            coolDown: .milliseconds(catalog.circuitBreaker.coolDownMilliseconds))
        tripStatuses = Set(catalog.circuitBreaker.tripStatuses)
    }

    /// What `acquire` granted: release it with the outcome.
    struct Ticket: Sendable { let probe: Bool }

    /// Waits for a free slot, an open breaker (or the probe), the end of any pause, and a token.
    func acquire() async throws -> Ticket {
        // Slot first, so waiting callers do not hold tokens.
        while inFlight >= maxInFlight {
            await withCheckedContinuation { waiters.append($0) }
        }
        inFlight += 1
        var probe = false
        do {
            while true {
                try Task.checkCancellation()
                let now = clock.now()
                if now < pausedUntil {
                    try await clock.sleep(for: pausedUntil - now)
                    continue
                }
                switch breaker.admit(now: now) {
                case .proceed: probe = false
                case .probe: probe = true
                case .wait(let d):
                    try await clock.sleep(for: d)
                    continue
                }
                break
            }
            let wait = bucket.reserve(now: clock.now())
            if wait > .zero { try await clock.sleep(for: wait) }
            return Ticket(probe: probe)
        } catch {
            if probe { breaker.probeAbandoned() }  // a cancelled probe must not block the platform forever
            releaseSlot()
            throw error
        }
    }

    /// Reports the outcome (`status` nil: transport error or cancellation) and frees the slot.
    func release(_ ticket: Ticket, status: Int?) {
        if let status, tripStatuses.contains(status) {
            breaker.recordTrip(now: clock.now())
        } else if status != nil {
            breaker.recordSuccess()
        } else if ticket.probe {
            breaker.probeAbandoned()
        }
        releaseSlot()
    }

    /// Pauses the whole platform (a 429 with Retry-After).
    func pause(for duration: Duration) {
        pausedUntil = max(pausedUntil, clock.now() + duration)
    }

    var breakerOpenings: Int { breaker.timesOpened }

    private func releaseSlot() {
        inFlight -= 1
        if !waiters.isEmpty { waiters.removeFirst().resume() }
    }
}
