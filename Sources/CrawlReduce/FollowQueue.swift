/// Which finished runs a following reducer (`webtoon reduce --watch`) takes next: those not completed yet, oldest
/// finish first, except a run whose pipeline failed less than `retryAfter` ago (a corrupt file or a failing data
/// test is not retried in a tight loop; a fix, such as restoring the file, is picked up at the next retry).
public struct FollowQueue<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    public let retryAfter: Duration
    private var failedAt: [String: Instant] = [:]

    public init(retryAfter: Duration) {
        self.retryAfter = retryAfter
    }

    /// `finished` in finish order; the result keeps that order.
    public func due(finished: [String], completed: Set<String>, now: Instant) -> [String] {
        finished.filter { run in
            guard !completed.contains(run) else { return false }
            guard let failed = failedAt[run] else { return true }
            return failed.duration(to: now) >= retryAfter
        }
    }

    public mutating func failed(_ run: String, at instant: Instant) { failedAt[run] = instant }

    public mutating func completed(_ run: String) { failedAt[run] = nil }

    /// Runs waiting for their retry.
    public var failing: Int { failedAt.count }
}
