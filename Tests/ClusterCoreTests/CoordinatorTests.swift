import ClusterCore
import Testing

@Suite struct CoordinatorTests {
    var clock = TestClock()
    var rng = SplitMix64(seed: 5)

    mutating func send(_ core: inout CoordinatorCore, from sender: String, _ message: ClusterMessage) -> ClusterMessage {
        core.handle(Envelope(id: MessageID.random(using: &rng), sender: worker(sender), sentAt: clock.now, message: message), now: clock.now)
    }

    func config() -> CoordinatorConfig {
        CoordinatorConfig(
            ledger: LedgerConfig(leaseMillis: 30_000, maxAttempts: 2), workerTimeoutMillis: 45_000, stallAfterMillis: 120_000,
            budgets: ["kakao": BudgetPolicy(initialRate: 6, floor: 0.5, ceiling: 10, cooldownMillis: 1_000)])
    }

    @Test mutating func workerLifecycleThroughMessages() throws {
        var core = CoordinatorCore(config: config())
        try core.createRun(spec(), roots: [seed("n1"), seed("k1", platform: "kakao")], now: clock.now)
        #expect(send(&core, from: "w1", .leaseRequest(LeaseRequest(maxUnits: 1, platforms: ["naver"]))) == .reject(Reject(reason: .unknownWorker, detail: "worker w1 must say hello first")))
        guard case .welcome(let welcome) = send(&core, from: "w1", .hello(Hello(capacity: 1, platforms: ["naver", "kakao"], softwareVersion: "t"))) else {
            Issue.record("expected welcome")
            return
        }
        #expect(welcome.heartbeatMillis == 10_000 && welcome.leaseMillis == 30_000)
        _ = send(&core, from: "w2", .hello(Hello(capacity: 4, platforms: ["kakao"], softwareVersion: "t")))

        // Capacity 1: asking for 5 grants 1; the allowance splits kakao's 6 req/s between its two live workers.
        guard case .leaseGrant(let grant) = send(&core, from: "w1", .leaseRequest(LeaseRequest(maxUnits: 5, platforms: ["naver", "kakao"]))) else {
            Issue.record("expected grant")
            return
        }
        #expect(grant.units.count == 1 && grant.units[0].attempt == 1)
        #expect(grant.allowances.first { $0.platform == "kakao" }?.requestsPerSecond == 3)
        guard case .leaseGrant(let none) = send(&core, from: "w1", .leaseRequest(LeaseRequest(maxUnits: 5, platforms: ["naver", "kakao"]))) else {
            Issue.record("expected grant")
            return
        }
        #expect(none.units.isEmpty && none.retryAfterMillis == core.config.idlePollMillis)

        // A 429 reported by w2's heartbeat slows kakao for w1 as well.
        clock.advance(1_000)
        guard case .heartbeatAck(let ack) = send(&core, from: "w2", .heartbeat(Heartbeat(tokens: [], signals: [PlatformSignals(platform: "kakao", stats: TaskStats(requests: 5, status429: 1))]))) else {
            Issue.record("expected heartbeat ack")
            return
        }
        #expect(ack.allowances.first?.requestsPerSecond == 1.5)

        let token = grant.units[0].token
        guard case .heartbeatAck(let beat) = send(&core, from: "w1", .heartbeat(Heartbeat(tokens: [token], signals: []))) else {
            Issue.record("expected heartbeat ack")
            return
        }
        #expect(beat.leases == [LeaseStatus(token: token, valid: true, deadline: clock.now.adding(millis: 30_000))])
        let complete = ClusterMessage.complete(Complete(token: token, manifest: manifest(rows: 3), children: [], stats: TaskStats(requests: 2)))
        #expect(send(&core, from: "w1", complete) == .ack(Ack(outcome: "accepted")))
        #expect(send(&core, from: "w1", complete) == .ack(Ack(outcome: "duplicate")))
        #expect(core.workers[worker("w1")]?.completed == 1)

        core.setDraining(true)
        #expect(send(&core, from: "w2", .leaseRequest(LeaseRequest(maxUnits: 1, platforms: ["kakao"]))) == .drain(Drain(reason: "coordinator is draining")))
        #expect(send(&core, from: "w2", .goodbye(Goodbye(releasing: []))) == .ack(Ack(outcome: "released")))
        #expect(send(&core, from: "w2", .ack(Ack(outcome: "x"))) == .reject(Reject(reason: .unexpectedMessage, detail: "ack is a coordinator reply, not a request")))
        let status = core.status(now: clock.now)
        #expect(status.workers.map(\.id.rawValue) == ["w1", "w2"])
        #expect(status.workers.first { $0.id == worker("w2") }?.live == false)
        #expect(status.budgets.first { $0.platform == "kakao" }?.liveWorkers == 1)
    }

    /// A report batch has exactly the effect of the same reports sent one by one, with one outcome per entry in
    /// order; the welcome announces the revision that accepts it.
    @Test mutating func reportBatchMatchesSingleReports() throws {
        func drive(batched: Bool) throws -> (outcomes: [String], snapshot: LedgerSnapshot, worker: WorkerRecord?) {
            var rng = SplitMix64(seed: 9)
            var core = CoordinatorCore(config: config())
            let now = Timestamp(millis: 1_764_000_000_000)
            func send(_ message: ClusterMessage) -> ClusterMessage {
                core.handle(Envelope(id: MessageID.random(using: &rng), sender: worker("w1"), sentAt: now, message: message), now: now)
            }
            try core.createRun(spec(["naver"]), roots: (0..<5).map { seed("u\($0)") }, now: now)
            guard case .welcome(let welcome) = send(.hello(Hello(capacity: 5, platforms: ["naver"], softwareVersion: "t"))) else { return ([], core.ledger.snapshot, nil) }
            #expect(welcome.revision == WireCodec.revision)
            guard case .leaseGrant(let grant) = send(.leaseRequest(LeaseRequest(maxUnits: 5, platforms: ["naver"]))) else { return ([], core.ledger.snapshot, nil) }
            let tokens = grant.units.map(\.token)
            let stale = LeaseToken(unit: tokens[0].unit, epoch: tokens[0].epoch + 7)
            let completes = [tokens[0], tokens[1], stale, tokens[1]].map {
                Complete(token: $0, manifest: manifest(rows: 2, path: "out/\($0.rawValue)"), children: [seed("child-\($0.unit)")], stats: TaskStats(requests: 1))
            }
            let fails = [Fail(token: tokens[2], error: "boom", retryable: true, stats: .zero), Fail(token: tokens[3], error: "fatal", retryable: false, stats: .zero)]
            if batched {
                guard case .reportAck(let ack) = send(.reportBatch(ReportBatch(completes: completes, fails: fails))) else { return ([], core.ledger.snapshot, nil) }
                return (ack.completes + ack.fails, core.ledger.snapshot, core.workers[worker("w1")])
            }
            var outcomes: [String] = []
            for message in completes.map(ClusterMessage.complete) + fails.map(ClusterMessage.fail) {
                if case .ack(let ack) = send(message) { outcomes.append(ack.outcome) }
            }
            return (outcomes, core.ledger.snapshot, core.workers[worker("w1")])
        }
        let single = try drive(batched: false)
        let batched = try drive(batched: true)
        #expect(batched.outcomes == ["accepted", "accepted", "stale", "duplicate", "requeued", "dead"])
        #expect(batched.outcomes == single.outcomes)
        #expect(batched.snapshot == single.snapshot)
        #expect(batched.worker?.completed == 2 && batched.worker?.failed == 2)
        #expect(batched.snapshot.units.values.count { $0.parent != nil } == 2, "children of accepted completions only")
    }

    /// The online retry applies the ledger's retry: dead units of the named run (or the listed ones) go back to
    /// pending with attempts reset, the run reopens, and the reply lists them.
    @Test mutating func retryDeadMessageRequeuesDeadUnits() throws {
        var core = CoordinatorCore(config: config())
        try core.createRun(spec(["naver"]), roots: [seed("a"), seed("b"), seed("c")], now: clock.now)
        _ = send(&core, from: "w1", .hello(Hello(capacity: 3, platforms: ["naver"], softwareVersion: "t")))
        guard case .leaseGrant(let grant) = send(&core, from: "w1", .leaseRequest(LeaseRequest(maxUnits: 3, platforms: ["naver"]))) else {
            Issue.record("expected grant")
            return
        }
        let tokens = grant.units.map(\.token)
        _ = send(&core, from: "w1", .reportBatch(ReportBatch(
            completes: [Complete(token: tokens[0], manifest: .empty, children: [], stats: .zero)],
            fails: tokens.dropFirst().map { Fail(token: $0, error: "parse error", retryable: false, stats: .zero) })))
        let run = spec(["naver"]).defaultID
        #expect(core.ledger.runs[run]?.state == .finished)
        #expect(send(&core, from: "ops", .retryDead(RetryDead(units: nil, run: RunID(rawValue: "other.run")!))) == .retried(Retried(units: [])))
        #expect(send(&core, from: "ops", .retryDead(RetryDead(units: [tokens[0].unit, tokens[1].unit], run: nil))) == .retried(Retried(units: [tokens[1].unit])))
        #expect(send(&core, from: "ops", .retryDead(RetryDead(units: nil, run: run))) == .retried(Retried(units: [tokens[2].unit])))
        #expect(core.ledger.counts(run: run) == StateCounts(pending: 2, leased: 0, done: 1, dead: 0))
        #expect(core.ledger.runs[run]?.state == .active && core.ledger.runs[run]?.totals.retriedDead == 2)
        #expect(tokens.dropFirst().allSatisfy { core.ledger.units[$0.unit]?.attempts == 0 && core.ledger.units[$0.unit]?.lastError == "parse error" })
        #expect(send(&core, from: "ops", .retried(Retried(units: []))) == .reject(Reject(reason: .unexpectedMessage, detail: "retried is a coordinator reply, not a request")))
    }

    @Test mutating func goodbyeReleasesLeasesWithoutCountingAttempts() throws {
        var core = CoordinatorCore(config: config())
        try core.createRun(spec(["naver"]), roots: [seed("a")], now: clock.now)
        _ = send(&core, from: "w1", .hello(Hello(capacity: 2, platforms: ["naver"], softwareVersion: "t")))
        guard case .leaseGrant(let grant) = send(&core, from: "w1", .leaseRequest(LeaseRequest(maxUnits: 2, platforms: ["naver"]))) else {
            Issue.record("expected grant")
            return
        }
        _ = send(&core, from: "w1", .goodbye(Goodbye(releasing: grant.units.map(\.token))))
        let unit = try #require(core.ledger.units[grant.units[0].unit])
        #expect(unit.state == .pending && unit.attempts == 0)
        #expect(send(&core, from: "w1", .leaseRequest(LeaseRequest(maxUnits: 1, platforms: ["naver"]))) == .reject(Reject(reason: .unknownWorker, detail: "worker w1 must say hello first")))
    }

    @Test mutating func queueDepthOldestPendingInFlightAndETA() throws {
        var core = CoordinatorCore(config: config())
        try core.createRun(spec(), roots: (0..<10).map { seed("n\($0)", kind: "list") } + [seed("k0", kind: "title", platform: "kakao")], now: clock.now)
        let run = spec().defaultID
        _ = send(&core, from: "w1", .hello(Hello(capacity: 10, platforms: ["naver"], softwareVersion: "t")))
        core.sample(now: clock.now)
        clock.advance(60_000)
        guard case .leaseGrant(let grant) = send(&core, from: "w1", .leaseRequest(LeaseRequest(maxUnits: 6, platforms: ["naver"]))) else {
            Issue.record("expected grant")
            return
        }
        for unit in grant.units.prefix(4) {
            _ = send(&core, from: "w1", .complete(Complete(token: unit.token, manifest: .empty, children: [], stats: .zero)))
        }
        core.sample(now: clock.now)
        let status = core.status(now: clock.now)
        #expect(status.queues == [
            QueueDepth(platform: "kakao", kind: "title", counts: StateCounts(pending: 1, leased: 0, done: 0, dead: 0)),
            QueueDepth(platform: "naver", kind: "list", counts: StateCounts(pending: 4, leased: 2, done: 4, dead: 0)),
        ])
        #expect(status.inFlight == 2)
        #expect(status.oldestPending.map(\.ageMillis) == [60_000, 60_000])
        // 4 units finished in 60 s; 7 remain: ETA = 7 / (4/60 s) = 105 s.
        #expect(status.runs.first?.etaMillis == 105_000)
        #expect(status.runs.first?.counts == StateCounts(pending: 5, leased: 2, done: 4, dead: 0))
        #expect(status.workers.first?.completionsPerMinute == 4.0 * 60_000 / Double(core.config.throughputWindowMillis))
        #expect(core.summary(run: run)?.finished == false)
    }

    @Test func depthHistoryIsABoundedRingOldestFirst() {
        var history = DepthHistory(capacity: 3)
        for index in 0..<5 { history.record(DepthSample(at: Timestamp(millis: Int64(index)), counts: StateCounts(pending: index, leased: 0, done: 0, dead: 0))) }
        #expect(history.samples.map(\.at.millis) == [2, 3, 4])
        #expect(history.etaMillis() == nil, "no unit finished in the window")
    }

    @Test mutating func stallReasons() throws {
        var stallConfig = config()
        stallConfig.workerTimeoutMillis = 20_000  // shorter than the 30 s lease, so a silent holder is visible
        var core = CoordinatorCore(config: stallConfig)
        try core.createRun(spec(), roots: [seed("n1"), seed("k1", platform: "kakao")], now: clock.now)
        let run = spec().defaultID
        clock.advance(119_999)
        #expect(core.stall(run: run, now: clock.now) == nil)
        clock.advance(1)
        #expect(core.stall(run: run, now: clock.now)?.reason == .noLiveWorkers)

        // Only a naver worker, which holds the naver unit: the kakao unit has nobody, but a lease is outstanding.
        _ = send(&core, from: "w1", .hello(Hello(capacity: 5, platforms: ["naver"], softwareVersion: "t")))
        _ = send(&core, from: "w1", .leaseRequest(LeaseRequest(maxUnits: 5, platforms: ["naver"])))
        #expect(core.stall(run: run, now: clock.now)?.reason == .noCompletions)

        // A kakao worker appears, is told to back off for 10 minutes, and leases nothing.
        _ = send(&core, from: "w3", .hello(Hello(capacity: 5, platforms: ["kakao"], softwareVersion: "t")))
        _ = send(&core, from: "w3", .heartbeat(Heartbeat(tokens: [], signals: [PlatformSignals(platform: "kakao", stats: TaskStats(retryAfterMillis: 600_000))])))
        _ = send(&core, from: "w3", .leaseRequest(LeaseRequest(maxUnits: 5, platforms: ["kakao"])))
        #expect(core.ledger.leasedCount(platform: "kakao") == 0, "a paused platform is not leased")

        // w1 goes silent with its lease (deadline not reached yet); w3 keeps heartbeating.
        clock.advance(21_000)
        _ = send(&core, from: "w3", .heartbeat(Heartbeat(tokens: [], signals: [])))
        let silent = try #require(core.stall(run: run, now: clock.now))
        #expect(silent.reason == .leasesHeldBySilentWorkers && silent.detail.contains("w1"))

        // The lease expires; naver is pending with no live naver worker, kakao is paused: the pause is not the only
        // reason, so the report names the missing worker.
        clock.advance(10_000)
        _ = send(&core, from: "w3", .heartbeat(Heartbeat(tokens: [], signals: [])))
        #expect(core.stall(run: run, now: clock.now)?.reason == .noWorkerForPlatform)

        // A run whose only backlog is on the paused platform reports the pause.
        var paused = CoordinatorCore(config: stallConfig)
        try paused.createRun(spec(["kakao"]), roots: [seed("k1", platform: "kakao")], now: clock.now)
        _ = send(&paused, from: "w3", .hello(Hello(capacity: 5, platforms: ["kakao"], softwareVersion: "t")))
        clock.advance(120_000)
        _ = send(&paused, from: "w3", .heartbeat(Heartbeat(tokens: [], signals: [PlatformSignals(platform: "kakao", stats: TaskStats(status429: 1, retryAfterMillis: 60_000))])))
        #expect(paused.stall(run: spec(["kakao"]).defaultID, now: clock.now)?.reason == .platformPaused)
        guard case .leaseGrant(let grant) = send(&paused, from: "w3", .leaseRequest(LeaseRequest(maxUnits: 5, platforms: ["kakao"]))) else {
            Issue.record("expected grant")
            return
        }
        #expect(grant.units.isEmpty && grant.retryAfterMillis == 60_000, "the worker is told to wait for the pause")
        #expect(grant.allowances == [PlatformAllowance(platform: "kakao", requestsPerSecond: 0, pausedUntil: clock.now.adding(millis: 60_000))])
    }

    @Test mutating func finishedRunSummaryAccountsForEveryUnit() throws {
        var core = CoordinatorCore(config: config())
        try core.createRun(spec(["naver"]), roots: [seed("a"), seed("b"), seed("c")], now: clock.now)
        let run = spec(["naver"]).defaultID
        _ = send(&core, from: "w1", .hello(Hello(capacity: 5, platforms: ["naver"], softwareVersion: "t")))
        guard case .leaseGrant(let grant) = send(&core, from: "w1", .leaseRequest(LeaseRequest(maxUnits: 5, platforms: ["naver"]))) else {
            Issue.record("expected grant")
            return
        }
        _ = send(&core, from: "w1", .complete(Complete(token: grant.units[0].token, manifest: manifest(rows: 4), children: [], stats: TaskStats(requests: 3))))
        _ = send(&core, from: "w1", .fail(Fail(token: grant.units[1].token, error: "parse error at $.title", retryable: false, stats: TaskStats(requests: 1))))
        #expect(core.summary(run: run)?.finished == false)
        _ = send(&core, from: "w1", .complete(Complete(token: grant.units[2].token, manifest: manifest(rows: 6), children: [], stats: TaskStats(requests: 2, retries: 1))))
        let summary = try #require(core.summary(run: run))
        #expect(summary.finished && summary.units == 3 && summary.done == 2 && summary.dead == 1)
        #expect(summary.deadUnits.map(\.lastError) == ["parse error at $.title"])
        #expect(summary.totals.stats.requests == 6 && summary.totals.stats.retries == 1)
        #expect(summary.totals.rowsByTable == ["episodes": 10])
        #expect(core.status(now: clock.now).runs.first?.etaMillis == 0)
    }
}

@Suite struct RestartTests {
    /// After a restart the holder of a lease whose deadline passed while the coordinator was down can still
    /// heartbeat and complete it; leases with later deadlines keep them; the grace is durable.
    @Test func resumeGivesOutstandingLeasesOneLeasePeriod() throws {
        var clock = TestClock()
        let config = CoordinatorConfig(ledger: LedgerConfig(leaseMillis: 30_000, maxAttempts: 3))
        var core = CoordinatorCore(config: config)
        try core.createRun(spec(["naver"]), roots: [seed("a"), seed("b")], now: clock.now)
        var ledger = core.ledger
        let early = try #require(ledger.lease(worker: worker("w1"), maxUnits: 1, platforms: ["naver"], now: clock.now).first?.lease)
        clock.advance(20_000)
        let late = try #require(ledger.lease(worker: worker("w2"), maxUnits: 1, platforms: ["naver"], now: clock.now).first?.lease)
        let log = ledger.drainChanges()
        _ = core.drainChanges()

        // Down for 15 s: the first lease's deadline passed, the second's did not.
        clock.advance(15_000)
        var restarted = CoordinatorCore(config: config, ledger: Ledger(config: config.ledger, restoring: log))
        #expect(restarted.resume(now: clock.now) == 2)
        #expect(restarted.ledger.units[early.token.unit]?.lease?.deadline == clock.now.adding(millis: 30_000))
        #expect(restarted.ledger.units[late.token.unit]?.lease?.deadline == clock.now.adding(millis: 30_000))
        let changes = restarted.drainChanges()
        #expect(changes.count == 2, "the extended deadlines are persisted")
        var resumed = restarted.ledger
        #expect(resumed.heartbeat(worker: worker("w1"), tokens: [early.token], now: clock.now.adding(millis: 1)).first?.valid == true)
        #expect(resumed.complete(worker: worker("w2"), token: late.token, manifest: .empty, children: [], stats: .zero, now: clock.now.adding(millis: 2)) == .accepted)
        // Without further heartbeats, the grace runs out like any lease.
        #expect(resumed.expireLeases(now: clock.now.adding(millis: 30_001)) == [early.token.unit])
    }
}
