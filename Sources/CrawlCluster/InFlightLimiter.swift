import ClusterCore
import CurlKit
import Synchronization
import WebtoonCrawler

/// Caps the requests in flight to one platform across every unit a worker runs, so the catalog's `maxConcurrency`
/// holds per worker (as in a local crawl) even though each unit has its own fetcher. Waiters are served in
/// arrival order; a cancelled waiter leaves the queue at once.
final class InFlightLimiter: Sendable {
    private struct State {
        var available: Int
        var waiters: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
        var nextID: UInt64 = 0
    }
    private let state: Mutex<State>

    init(limit: Int) { state = Mutex(State(available: max(1, limit))) }

    func acquire() async throws {
        // Fast path: a free slot and nobody queued takes no continuation (no suspension, no executor hop).
        if Task.isCancelled { throw CancellationError() }
        let taken = state.withLock { state -> Bool in
            guard state.available > 0 && state.waiters.isEmpty else { return false }
            state.available -= 1
            return true
        }
        if taken { return }
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resume: Bool = state.withLock { state in
                    if Task.isCancelled { return false }
                    if state.available > 0 && state.waiters.isEmpty {
                        state.available -= 1
                        return true
                    }
                    state.waiters.append((id, continuation))
                    return false
                }
                if resume {
                    continuation.resume()
                } else if Task.isCancelled, !state.withLock({ $0.waiters.contains { $0.id == id } }) {
                    continuation.resume(throwing: CancellationError())
                }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index).continuation
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// Hands the slot to the longest waiter, or returns it.
    func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            guard !state.waiters.isEmpty else {
                state.available += 1
                return nil
            }
            return state.waiters.removeFirst().continuation
        }
        next?.resume()
    }

    /// Slots free right now (tests).
    var available: Int { state.withLock { $0.available } }
}

/// An HTTP client whose requests first take a slot of a shared `InFlightLimiter`, then (if given) a token of the
/// worker's `AllowanceGate`, and whose throttling answers go straight to `signal` (the next heartbeat), so the
/// cluster budget reacts while the unit still runs.
struct LimitedHTTP: HTTPFetching {
    let inner: any HTTPFetching
    let limiter: InFlightLimiter
    var gate: AllowanceGate? = nil
    var allowance: @Sendable () -> PlatformAllowance? = { nil }
    var signal: @Sendable (TaskStats) -> Void = { _ in }

    func fetch(_ request: HTTPRequest) async throws -> HTTPResponse {
        try await limiter.acquire()
        defer { limiter.release() }
        try await gate?.acquire(allowance)
        let response = try await inner.fetch(request)
        if let stats = politenessSignal(response) { signal(stats) }
        return response
    }
}
