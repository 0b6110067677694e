/// A finished run as the ledger reports it.
public struct FinishedRun: Sendable, Hashable {
    public var id: String
    /// Units that ended dead: the run's data is incomplete until they are retried.
    public var deadUnits: Int
    public init(id: String, deadUnits: Int) {
        self.id = id
        self.deadUnits = deadUnits
    }
}

/// Which finished runs a following reducer (`webtoon reduce --watch`) takes next: those not completed yet, oldest
/// finish first, except
/// - a run with dead units, held as `webtoon run` holds it (loading it would replace the day's slices with
///   incomplete data); `webtoon units retry` makes it active again, and once it finishes clean it is due;
/// - a run whose pipeline failed less than `retryAfter` ago (a corrupt file or a failing data test is not retried
///   in a tight loop; a fix, such as restoring the file, is picked up at the next retry).
public struct FollowQueue<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    public let retryAfter: Duration
    private var failedAt: [String: Instant] = [:]
    private var held: Set<String> = []

    public init(retryAfter: Duration) {
        self.retryAfter = retryAfter
    }

    /// `finished` in finish order; `due` keeps that order. `newlyHeld` are the runs held for dead units that were
    /// not held at the previous call (so each is reported once).
    public mutating func next(finished: [FinishedRun], completed: Set<String>, now: Instant) -> (due: [String], newlyHeld: [FinishedRun]) {
        var due: [String] = []
        var newlyHeld: [FinishedRun] = []
        var stillHeld: Set<String> = []
        for run in finished where !completed.contains(run.id) {
            if run.deadUnits > 0 {
                stillHeld.insert(run.id)
                if !held.contains(run.id) { newlyHeld.append(run) }
                continue
            }
            if let failed = failedAt[run.id], failed.duration(to: now) < retryAfter { continue }
            due.append(run.id)
        }
        held = stillHeld
        return (due, newlyHeld)
    }

    public mutating func failed(_ run: String, at instant: Instant) { failedAt[run] = instant }

    public mutating func completed(_ run: String) { failedAt[run] = nil }

    /// Runs waiting for their retry.
    public var failing: Int { failedAt.count }
}
