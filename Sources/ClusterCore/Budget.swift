/// How a platform's cluster-wide request rate adapts: additive increase while calm, multiplicative decrease on
/// 429s or a 403 burst, a pause for Retry-After, always within `[floor, ceiling]`.
public struct BudgetPolicy: Hashable, Sendable, Codable {
    /// Requests per second for the whole cluster at start.
    public var initialRate: Double
    public var floor: Double
    public var ceiling: Double
    /// Added to the rate after each calm `increaseIntervalMillis`.
    public var increaseStep: Double
    public var increaseIntervalMillis: Int64
    /// Rate multiplier on 429s (0 < factor < 1).
    public var decreaseFactor: Double
    /// Rate multiplier on a 403 burst; smaller, because a Kakao 403 burst can mean hours of blocking.
    public var forbiddenDecreaseFactor: Double
    /// 403s in one report that count as a burst.
    public var forbiddenBurst: Int64
    /// Reports within this time after a decrease do not decrease again (many workers see the same throttling).
    public var cooldownMillis: Int64
    /// Longest Retry-After honoured; larger values are capped.
    public var maxPauseMillis: Int64

    public init(
        initialRate: Double, floor: Double, ceiling: Double, increaseStep: Double = 0.5, increaseIntervalMillis: Int64 = 30_000,
        decreaseFactor: Double = 0.5, forbiddenDecreaseFactor: Double = 0.25, forbiddenBurst: Int64 = 3,
        cooldownMillis: Int64 = 10_000, maxPauseMillis: Int64 = 3_600_000
    ) {
        let low = floor.isFinite && floor > 0 ? floor : 0.01
        let high = ceiling.isFinite ? max(low, ceiling) : low
        self.floor = low
        self.ceiling = high
        self.initialRate = initialRate.isFinite ? min(high, max(low, initialRate)) : low
        self.increaseStep = increaseStep.isFinite ? max(0, increaseStep) : 0
        self.increaseIntervalMillis = max(1, increaseIntervalMillis)
        self.decreaseFactor = decreaseFactor.isFinite && decreaseFactor > 0 && decreaseFactor < 1 ? decreaseFactor : 0.5
        self.forbiddenDecreaseFactor = forbiddenDecreaseFactor.isFinite && forbiddenDecreaseFactor > 0 && forbiddenDecreaseFactor < 1 ? forbiddenDecreaseFactor : 0.25
        self.forbiddenBurst = max(1, forbiddenBurst)
        self.cooldownMillis = max(0, cooldownMillis)
        self.maxPauseMillis = max(0, maxPauseMillis)
    }
}

/// One platform's adaptive, cluster-wide request budget. Pure: time is passed in.
public struct AIMDBudget: Hashable, Sendable, Codable {
    public let policy: BudgetPolicy
    /// Current cluster-wide rate in requests per second.
    public private(set) var rate: Double
    public private(set) var lastDecreaseAt: Timestamp?
    /// Start of the current calm interval.
    public private(set) var calmSince: Timestamp
    /// No requests at all before this time (Retry-After).
    public private(set) var pausedUntil: Timestamp?
    public private(set) var decreases: Int64 = 0

    public init(policy: BudgetPolicy, now: Timestamp) {
        self.policy = policy
        self.rate = policy.initialRate
        self.calmSince = now
    }

    /// Applies additive increases for every whole calm interval since `calmSince` (none while paused).
    public mutating func advance(to now: Timestamp) {
        if let paused = pausedUntil {
            guard now >= paused else { return }
            pausedUntil = nil
            calmSince = max(calmSince, paused)
        }
        guard now > calmSince else { return }
        let intervals = now.millis(since: calmSince) / policy.increaseIntervalMillis
        guard intervals > 0 else { return }
        rate = min(policy.ceiling, rate + Double(intervals) * policy.increaseStep)
        calmSince = calmSince.adding(millis: intervals * policy.increaseIntervalMillis)
    }

    /// Feeds what a worker saw. 429s (or a 403 burst) decrease the rate once per cooldown and forfeit the increase of
    /// the current interval; a Retry-After pauses the platform; either restarts the calm interval.
    public mutating func observe(_ stats: TaskStats, now: Timestamp) {
        let burst403 = stats.status403 >= policy.forbiddenBurst
        let throttled = stats.status429 > 0 || burst403
        // The interval that ends in throttling was not calm: it earns no increase.
        if !throttled { advance(to: now) }
        if throttled {
            let cooledDown = lastDecreaseAt.map { now.millis(since: $0) >= policy.cooldownMillis } ?? true
            if cooledDown {
                var factor = 1.0
                if stats.status429 > 0 { factor = min(factor, policy.decreaseFactor) }
                if burst403 { factor = min(factor, policy.forbiddenDecreaseFactor) }
                rate = max(policy.floor, rate * factor)
                lastDecreaseAt = now
                decreases += 1
            }
            calmSince = max(calmSince, now)
        }
        if let retryAfter = stats.retryAfterMillis, retryAfter > 0 {
            let until = now.adding(millis: min(retryAfter, policy.maxPauseMillis))
            pausedUntil = max(pausedUntil ?? until, until)
            calmSince = max(calmSince, now)
        }
    }

    /// Whether the platform is paused at `now`.
    public func isPaused(at now: Timestamp) -> Bool { pausedUntil.map { now < $0 } ?? false }

    /// The rate one of `workers` live workers may use: an equal share, zero while paused.
    public func share(workers: Int, now: Timestamp) -> Double {
        isPaused(at: now) ? 0 : rate / Double(max(1, workers))
    }
}
