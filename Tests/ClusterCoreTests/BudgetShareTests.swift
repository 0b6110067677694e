import ClusterCore
import Testing

/// The cluster budget as workers see it: every grant and heartbeat reply carries the platform's rate split among
/// the live workers serving it, so a join, a goodbye or a silent worker re-splits it, and throttling seen by one
/// worker cuts (or pauses) everyone's share.
@Suite struct BudgetShareTests {
    var clock = TestClock()
    var rng = SplitMix64(seed: 11)

    static let kakao = BudgetPolicy(
        initialRate: 12, floor: 1, ceiling: 12, increaseStep: 0, increaseIntervalMillis: 10_000, decreaseFactor: 0.5,
        forbiddenDecreaseFactor: 0.25, forbiddenBurst: 3, cooldownMillis: 1_000, maxPauseMillis: 60_000)

    func config() -> CoordinatorConfig {
        CoordinatorConfig(
            ledger: LedgerConfig(leaseMillis: 30_000, maxAttempts: 3), workerTimeoutMillis: 45_000, budgets: ["kakao": Self.kakao])
    }

    mutating func send(_ core: inout CoordinatorCore, from sender: String, _ message: ClusterMessage) -> ClusterMessage {
        core.handle(Envelope(id: MessageID.random(using: &rng), sender: worker(sender), sentAt: clock.now, message: message), now: clock.now)
    }

    /// `sender`'s kakao allowance from a heartbeat reply (nil if the reply has none).
    mutating func kakaoAllowance(_ core: inout CoordinatorCore, _ sender: String, signals: [PlatformSignals] = []) -> PlatformAllowance? {
        guard case .heartbeatAck(let ack) = send(&core, from: sender, .heartbeat(Heartbeat(tokens: [], signals: signals))) else { return nil }
        return ack.allowances.first { $0.platform == "kakao" }
    }

    mutating func hello(_ core: inout CoordinatorCore, _ sender: String, _ platforms: [String]) {
        _ = send(&core, from: sender, .hello(Hello(capacity: 2, platforms: platforms, softwareVersion: "t")))
    }

    @Test mutating func sharesFollowTheLiveWorkersServingThePlatform() throws {
        var core = CoordinatorCore(config: config())
        try core.createRun(spec(), roots: [seed("k1", platform: "kakao")], now: clock.now)
        hello(&core, "w1", ["kakao", "naver"])
        guard case .leaseGrant(let grant) = send(&core, from: "w1", .leaseRequest(LeaseRequest(maxUnits: 1, platforms: ["kakao"]))) else {
            Issue.record("expected a grant")
            return
        }
        #expect(grant.allowances.first { $0.platform == "kakao" }?.requestsPerSecond == 12, "alone: the whole budget")

        hello(&core, "w2", ["kakao"])
        hello(&core, "w3", ["naver"])
        #expect(kakaoAllowance(&core, "w1")?.requestsPerSecond == 6, "a second kakao worker halves it; a naver-only one does not count")
        #expect(kakaoAllowance(&core, "w2")?.requestsPerSecond == 6)
        hello(&core, "w4", ["kakao"])
        #expect(kakaoAllowance(&core, "w1")?.requestsPerSecond == 4)

        // w4 leaves: the others' shares grow at their next reply.
        _ = send(&core, from: "w4", .goodbye(Goodbye(releasing: [])))
        #expect(kakaoAllowance(&core, "w1")?.requestsPerSecond == 6)

        // w2 goes silent (killed): it counts until the worker timeout, then its share goes back to w1.
        clock.advance(44_999)
        #expect(kakaoAllowance(&core, "w1")?.requestsPerSecond == 6)
        clock.advance(1)
        #expect(kakaoAllowance(&core, "w1")?.requestsPerSecond == 12)
        #expect(core.status(now: clock.now).budgets.first { $0.platform == "kakao" }?.liveWorkers == 1)

        // It comes back (hello again after a restart): split again.
        hello(&core, "w2", ["kakao"])
        #expect(kakaoAllowance(&core, "w1")?.requestsPerSecond == 6)
    }

    @Test mutating func throttlingSeenByOneWorkerSlowsEveryWorker() throws {
        var core = CoordinatorCore(config: config())
        for name in ["w1", "w2", "w3"] { hello(&core, name, ["kakao"]) }
        #expect(kakaoAllowance(&core, "w1")?.requestsPerSecond == 4)

        // w2 saw a 429: the cluster rate halves, so w1 and w3 get half as much too.
        clock.advance(100)
        #expect(kakaoAllowance(&core, "w2", signals: [PlatformSignals(platform: "kakao", stats: TaskStats(requests: 9, status429: 1))])?.requestsPerSecond == 2)
        #expect(kakaoAllowance(&core, "w1")?.requestsPerSecond == 2)
        #expect(kakaoAllowance(&core, "w3")?.requestsPerSecond == 2)
        // The same throttling reported by w3 within the cooldown is not a second decrease.
        #expect(kakaoAllowance(&core, "w3", signals: [PlatformSignals(platform: "kakao", stats: TaskStats(status429: 2))])?.requestsPerSecond == 2)

        // A 403 burst from w3 after the cooldown: ×0.25, down to the floor at most.
        clock.advance(1_000)
        #expect(kakaoAllowance(&core, "w3", signals: [PlatformSignals(platform: "kakao", stats: TaskStats(status403: 3))])?.requestsPerSecond == 0.5)
        let status = try #require(core.status(now: clock.now).budgets.first { $0.platform == "kakao" })
        #expect(status.clusterRate == 1.5 && status.decreases == 2 && status.perWorkerRate == 0.5)

        // A Retry-After seen by w1 pauses every worker until it ends; the shares return afterwards.
        let pause = kakaoAllowance(&core, "w1", signals: [PlatformSignals(platform: "kakao", stats: TaskStats(retryAfterMillis: 2_000))])
        #expect(pause == PlatformAllowance(platform: "kakao", requestsPerSecond: 0, pausedUntil: clock.now.adding(millis: 2_000)))
        #expect(kakaoAllowance(&core, "w2")?.pausedUntil == clock.now.adding(millis: 2_000))
        clock.advance(2_000)
        #expect(kakaoAllowance(&core, "w2") == PlatformAllowance(platform: "kakao", requestsPerSecond: 0.5, pausedUntil: nil))
    }
}
