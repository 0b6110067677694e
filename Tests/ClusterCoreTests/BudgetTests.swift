import ClusterCore
import Testing

@Suite struct BudgetTests {
    let policy = BudgetPolicy(initialRate: 4, floor: 0.5, ceiling: 8, increaseStep: 1, increaseIntervalMillis: 10_000, decreaseFactor: 0.5, forbiddenDecreaseFactor: 0.25, forbiddenBurst: 3, cooldownMillis: 5_000, maxPauseMillis: 60_000)

    @Test func additiveIncreaseUpToTheCeiling() {
        var clock = TestClock()
        var budget = AIMDBudget(policy: policy, now: clock.now)
        clock.advance(9_999)
        budget.advance(to: clock.now)
        #expect(budget.rate == 4)
        clock.advance(1)
        budget.advance(to: clock.now)
        #expect(budget.rate == 5)
        clock.advance(25_000)
        budget.advance(to: clock.now)
        #expect(budget.rate == 7, "two more whole intervals; the partial one carries over")
        clock.advance(5_000)
        budget.advance(to: clock.now)
        #expect(budget.rate == 8)
        clock.advance(1_000_000)
        budget.advance(to: clock.now)
        #expect(budget.rate == 8)
    }

    @Test func multiplicativeDecreaseOncePerCooldownDownToTheFloor() {
        var clock = TestClock()
        var budget = AIMDBudget(policy: policy, now: clock.now)
        budget.observe(TaskStats(requests: 10, status429: 1), now: clock.now)
        #expect(budget.rate == 2)
        // Four more workers report the same throttling within the cooldown: one decrease, not five.
        for _ in 0..<4 { budget.observe(TaskStats(status429: 2), now: clock.now.adding(millis: 100)) }
        #expect(budget.rate == 2 && budget.decreases == 1)
        for _ in 0..<5 {
            clock.advance(5_000)
            budget.observe(TaskStats(status429: 1), now: clock.now)
        }
        #expect(budget.rate == 0.5)
    }

    @Test func forbiddenBurstDecreasesHarderButIsolated403sDoNot() {
        var budget = AIMDBudget(policy: policy, now: TestClock().now)
        budget.observe(TaskStats(status403: 2), now: TestClock().now)
        #expect(budget.rate == 4)
        budget.observe(TaskStats(status403: 3), now: TestClock().now)
        #expect(budget.rate == 1)
    }

    @Test func retryAfterPausesThePlatformAndIsCapped() {
        var clock = TestClock()
        var budget = AIMDBudget(policy: policy, now: clock.now)
        budget.observe(TaskStats(retryAfterMillis: 30_000), now: clock.now)
        #expect(budget.isPaused(at: clock.now) && budget.share(workers: 2, now: clock.now) == 0)
        #expect(budget.rate == 4, "a Retry-After alone pauses but does not decrease")
        clock.advance(30_000)
        #expect(!budget.isPaused(at: clock.now))
        #expect(budget.share(workers: 2, now: clock.now) == 2)
        budget.observe(TaskStats(retryAfterMillis: 86_400_000), now: clock.now)
        #expect(budget.pausedUntil == clock.now.adding(millis: 60_000))
        // No additive increase is earned while paused.
        clock.advance(60_000)
        budget.advance(to: clock.now)
        #expect(budget.rate == 4)
    }

    @Test(arguments: 0..<20)
    func randomSignalsKeepTheRateWithinBoundsAndOnlyThrottlingDecreasesIt(seedValue: Int) {
        var rng = SplitMix64(seed: UInt64(seedValue) &+ 1_000)
        var clock = TestClock()
        let randomPolicy = BudgetPolicy(
            initialRate: Double(rng.next() % 100) / 10, floor: Double(rng.next() % 10 + 1) / 10, ceiling: Double(rng.next() % 50 + 1),
            increaseStep: Double(rng.next() % 20) / 10, increaseIntervalMillis: Int64(rng.next() % 20_000 + 1), cooldownMillis: Int64(rng.next() % 10_000))
        var budget = AIMDBudget(policy: randomPolicy, now: clock.now)
        for _ in 0..<500 {
            let before = budget.rate
            clock.advance(Int64(rng.next() % 5_000))
            let stats = TaskStats(
                requests: Int64(rng.next() % 10), status429: rng.next() % 4 == 0 ? 1 : 0, status403: Int64(rng.next() % 5),
                retryAfterMillis: rng.next() % 10 == 0 ? Int64(rng.next() % 100_000) : nil)
            let throttled = stats.status429 > 0 || stats.status403 >= randomPolicy.forbiddenBurst
            let wasPaused = budget.isPaused(at: clock.now)
            budget.observe(stats, now: clock.now)
            #expect(budget.rate >= randomPolicy.floor && budget.rate <= randomPolicy.ceiling)
            if !throttled { #expect(budget.rate >= before, "only throttling decreases") }
            if wasPaused && !throttled { #expect(budget.rate == before, "no increase while paused") }
            if throttled { #expect(budget.rate <= before) }
            #expect(budget.share(workers: 3, now: clock.now) <= budget.rate / 3 + 1e-9)
        }
    }

    @Test func policyClampsNonsense() {
        let odd = BudgetPolicy(initialRate: .nan, floor: -1, ceiling: -5, increaseStep: -.infinity, decreaseFactor: 7)
        #expect(odd.floor > 0 && odd.ceiling >= odd.floor && odd.initialRate == odd.floor && odd.increaseStep == 0 && odd.decreaseFactor == 0.5)
    }
}
