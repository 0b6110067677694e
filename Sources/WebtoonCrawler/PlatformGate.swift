import Synchronization
import WebtoonCore

/// One platform's politeness: a cap on requests in flight, a token bucket, a platform-wide pause (Retry-After on
/// 429) and the circuit breaker. Every request of that platform passes through `acquire`/`release`.
///
/// A mutex-guarded class rather than an actor: a unit's episodes all pass through one gate at once, and as an
/// actor every contended call queued a job and woke a pool thread; here the common path takes a lock and never
/// suspends. Waiting (for a slot, a pause, the breaker or a token) suspends outside the lock, as before.
final class PlatformGate: Sendable {
    let platform: Platform
    private let clock: any CrawlerClock
    private let maxInFlight: Int
    let tripStatuses: Set<Int>

    private struct State {
        var inFlight = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
        var bucket: TokenBucket
        var breaker: CircuitBreaker
        var pausedUntil: Duration = .zero
    }
    private let state: Mutex<State>

    init(catalog: EndpointCatalog, clock: any CrawlerClock) {
        platform = catalog.platform
        self.clock = clock
        maxInFlight = catalog.politeness.maxConcurrency
        state = Mutex(
            State(
                bucket: TokenBucket(
                    rate: catalog.politeness.requestsPerSecond, burst: catalog.politeness.burst, now: clock.now()),
                breaker: CircuitBreaker(
                    threshold: catalog.circuitBreaker.failureThreshold,
                    coolDown: .milliseconds(catalog.circuitBreaker.coolDownMilliseconds))))
        tripStatuses = Set(catalog.circuitBreaker.tripStatuses)
    }

    /// What `acquire` granted: release it with the outcome.
    struct Ticket: Sendable { let probe: Bool }

    private enum Step {
        case sleep(Duration)
        case proceed(probe: Bool)
    }

    /// Waits for a free slot, an open breaker (or the probe), the end of any pause, and a token.
    func acquire() async throws -> Ticket {
        // Slot first, so waiting callers do not hold tokens. A woken waiter checks again (another caller may have
        // taken the slot first), as the actor did.
        let maxInFlight = maxInFlight
        while !state.withLock({ state in
            guard state.inFlight < maxInFlight else { return false }
            state.inFlight += 1
            return true
        }) {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let free = state.withLock { state in
                    if state.inFlight < maxInFlight { return true }
                    state.waiters.append(continuation)
                    return false
                }
                if free { continuation.resume() }
            }
        }
        var probe = false
        do {
            while true {
                try Task.checkCancellation()
                let now = clock.now()
                let step = state.withLock { state -> Step in
                    if now < state.pausedUntil { return .sleep(state.pausedUntil - now) }
                    switch state.breaker.admit(now: now) {
                    case .proceed: return .proceed(probe: false)
                    case .probe: return .proceed(probe: true)
                    case .wait(let d): return .sleep(d)
                    }
                }
                switch step {
                case .sleep(let duration):
                    try await clock.sleep(for: duration)
                    continue
                case .proceed(let isProbe):
                    probe = isProbe
                }
                break
            }
            let now = clock.now()
            let wait = state.withLock { $0.bucket.reserve(now: now) }
            if wait > .zero { try await clock.sleep(for: wait) }
            return Ticket(probe: probe)
        } catch {
            if probe { state.withLock { $0.breaker.probeAbandoned() } }  // a cancelled probe must not block the platform forever
            releaseSlot()
            throw error
        }
    }

    /// Reports the outcome (`status` nil: transport error or cancellation) and frees the slot.
    func release(_ ticket: Ticket, status: Int?) {
        let now = clock.now()
        state.withLock { state in
            if let status, tripStatuses.contains(status) {
                state.breaker.recordTrip(now: now)
            } else if status != nil {
                state.breaker.recordSuccess()
            } else if ticket.probe {
                state.breaker.probeAbandoned()
            }
        }
        releaseSlot()
    }

    /// Pauses the whole platform (a 429 with Retry-After).
    func pause(for duration: Duration) {
        let until = clock.now() + duration
        state.withLock { $0.pausedUntil = max($0.pausedUntil, until) }
    }

    var breakerOpenings: Int { state.withLock { $0.breaker.timesOpened } }

    private func releaseSlot() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.inFlight -= 1
            return state.waiters.isEmpty ? nil : state.waiters.removeFirst()
        }
        next?.resume()
    }
}
