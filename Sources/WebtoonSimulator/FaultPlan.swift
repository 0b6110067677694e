/// What happens to one platform request before (or instead of) its normal response.
enum SimFault: String, Sendable, CaseIterable {
    case none, reset, serverError, tooManyRequests, truncate, malformed, kakaoBurst403

    /// The key used in `SimulatorStats.faults`.
    var statsKey: String {
        switch self {
        case .none: "none"
        case .reset: "reset"
        case .serverError: "5xx"
        case .tooManyRequests: "429"
        case .truncate: "truncate"
        case .malformed: "malformed"
        case .kakaoBurst403: "kakao403"
        }
    }
}

/// Decides faults and latency from the seed and the request's sequence number, so a run is reproducible for a given
/// arrival order; the Kakao burst limiter is a token bucket over wall-clock time.
struct FaultPlanner: Sendable {
    let faults: SimulatorFaults
    let seed: UInt64
    private var tokens: Double
    private var lastRefillNanos: UInt64 = 0
    private var cooldownUntilNanos: UInt64 = 0

    init(faults: SimulatorFaults, seed: UInt64) {
        self.faults = faults
        self.seed = seed
        tokens = Double(faults.kakao403AboveRequestsPerSecond)
    }

    /// The fault for request number `sequence` (0-based), given whether it is a Kakao path and the current time.
    mutating func decide(sequence: UInt64, kakao: Bool, nowNanos: UInt64) -> SimFault {
        if kakao, faults.kakao403AboveRequestsPerSecond > 0, admitKakao(nowNanos: nowNanos) == false {
            return .kakaoBurst403
        }
        let u = SimHash.unit(SimHash.hash(seed, 0xFA17, sequence))
        var edge = faults.resetRate
        if u < edge { return .reset }
        edge += faults.serverErrorRate
        if u < edge { return .serverError }
        edge += faults.tooManyRequestsRate
        if u < edge { return .tooManyRequests }
        edge += faults.truncateRate
        if u < edge { return .truncate }
        edge += faults.malformedRate
        if u < edge { return .malformed }
        return .none
    }

    /// The delay before answering request `sequence`, in nanoseconds (latency ± uniform jitter, never negative).
    func delayNanos(sequence: UInt64) -> Int64 {
        guard faults.latencyMilliseconds > 0 || faults.jitterMilliseconds > 0 else { return 0 }
        let jitter = faults.jitterMilliseconds
        let offset = jitter > 0
            ? SimHash.unit(SimHash.hash(seed, 0x1A7E, sequence)) * Double(2 * jitter) - Double(jitter) : 0
        return max(0, Int64((Double(faults.latencyMilliseconds) + offset) * 1_000_000))
    }

    /// Token bucket of capacity and rate N per second; an empty bucket starts a cooldown during which every Kakao
    /// request is refused, like the real gateway's long 403 bans.
    private mutating func admitKakao(nowNanos: UInt64) -> Bool {
        if nowNanos < cooldownUntilNanos { return false }
        let rate = Double(faults.kakao403AboveRequestsPerSecond)
        if lastRefillNanos == 0 { lastRefillNanos = nowNanos }
        let elapsed = Double(nowNanos &- lastRefillNanos) / 1e9
        lastRefillNanos = nowNanos
        tokens = min(rate, tokens + elapsed * rate)
        if tokens >= 1 {
            tokens -= 1
            return true
        }
        cooldownUntilNanos = nowNanos + UInt64(faults.kakaoCooldownMilliseconds) * 1_000_000
        tokens = rate
        return false
    }
}
