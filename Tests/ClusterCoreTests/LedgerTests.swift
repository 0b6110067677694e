import ClusterCore
import Testing

@Suite struct LedgerTests {
    let config = LedgerConfig(leaseMillis: 30_000, maxAttempts: 3)

    func makeRun(_ ledger: inout Ledger, clock: TestClock, roots: [UnitSeed]) throws -> RunID {
        let runSpec = spec()
        try ledger.createRun(runSpec, roots: roots, now: clock.now)
        return runSpec.defaultID
    }

    @Test func unitIDsAreDeterministicHexAndDistinguishRunPlatformKindAndKey() throws {
        let run = try #require(RunID(rawValue: "2026-11-25.daily.kakao+naver"))
        let other = try #require(RunID(rawValue: "2026-11-26.daily.kakao+naver"))
        let a = UnitID.derive(run: run, platform: "naver", kind: "title", key: "758037")
        #expect(a == UnitID.derive(run: run, platform: "naver", kind: "title", key: "758037"))
        #expect(a.rawValue.utf8.count == 32)
        #expect(UnitID(rawValue: a.rawValue) == a)
        let variants = [
            UnitID.derive(run: other, platform: "naver", kind: "title", key: "758037"),
            UnitID.derive(run: run, platform: "kakao", kind: "title", key: "758037"),
            UnitID.derive(run: run, platform: "naver", kind: "episodes", key: "758037"),
            UnitID.derive(run: run, platform: "naver", kind: "title", key: "758038"),
        ]
        #expect(Set(variants + [a]).count == 5)
        #expect(spec().defaultID.rawValue == "2026-11-25.daily.kakao+naver")
    }

    @Test func leaseHeartbeatComplete() throws {
        var clock = TestClock()
        var ledger = Ledger(config: config)
        let run = try makeRun(&ledger, clock: clock, roots: [seed("a")])
        let granted = ledger.lease(worker: worker("w1"), maxUnits: 5, platforms: ["naver"], now: clock.now)
        #expect(granted.count == 1)
        let lease = try #require(granted.first?.lease)
        #expect(lease.deadline == clock.now.adding(millis: 30_000))
        #expect(granted.first?.attempts == 1)

        clock.advance(20_000)
        let beat = ledger.heartbeat(worker: worker("w1"), tokens: [lease.token], now: clock.now)
        #expect(beat == [LeaseStatus(token: lease.token, valid: true, deadline: clock.now.adding(millis: 30_000))])
        clock.advance(20_000)  // past the original deadline, within the extended one
        #expect(ledger.expireLeases(now: clock.now).isEmpty)

        let outcome = ledger.complete(worker: worker("w1"), token: lease.token, manifest: manifest(rows: 7), children: [], stats: TaskStats(requests: 3, bytes: 100), now: clock.now)
        #expect(outcome == .accepted)
        let unit = try #require(ledger.units[lease.token.unit])
        #expect(unit.state == .done && unit.completedBy == lease.token && unit.manifest == manifest(rows: 7))
        #expect(ledger.runs[run]?.state == .finished)
        #expect(ledger.runs[run]?.totals.rowsByTable == ["episodes": 7])
        #expect(ledger.runs[run]?.totals.stats.requests == 3)
    }

    @Test func heartbeatFromAnotherWorkerOrForAnotherTokenIsInvalid() throws {
        let clock = TestClock()
        var ledger = Ledger(config: config)
        _ = try makeRun(&ledger, clock: clock, roots: [seed("a")])
        let token = try #require(ledger.lease(worker: worker("w1"), maxUnits: 1, platforms: ["naver"], now: clock.now).first?.lease?.token)
        let forged = LeaseToken(unit: token.unit, epoch: token.epoch + 1)
        let statuses = ledger.heartbeat(worker: worker("w2"), tokens: [token], now: clock.now) + ledger.heartbeat(worker: worker("w1"), tokens: [forged], now: clock.now)
        #expect(statuses.allSatisfy { !$0.valid })
    }

    @Test func expiredLeaseReturnsToPendingWithAttemptCountedThenDiesAfterMaxAttempts() throws {
        var clock = TestClock()
        var ledger = Ledger(config: config)
        let run = try makeRun(&ledger, clock: clock, roots: [seed("a")])
        for attempt in 1...3 {
            let granted = ledger.lease(worker: worker("w1"), maxUnits: 1, platforms: ["naver"], now: clock.now)
            #expect(granted.first?.attempts == attempt)
            clock.advance(30_000)  // deadline reached exactly: expired
            let expired = ledger.expireLeases(now: clock.now)
            #expect(expired.count == 1)
            let unit = try #require(ledger.units[expired[0]])
            #expect(unit.state == (attempt < 3 ? .pending : .dead))
            #expect(unit.lastError?.contains("expired") == true)
        }
        #expect(ledger.lease(worker: worker("w1"), maxUnits: 1, platforms: ["naver"], now: clock.now).isEmpty)
        #expect(ledger.deadUnits().count == 1)
        #expect(ledger.runs[run]?.state == .finished)
        #expect(ledger.runs[run]?.totals.leaseExpiries == 3)
    }

    @Test func retryResetsDeadToPendingAndReopensTheRun() throws {
        let clock = TestClock()
        var ledger = Ledger(config: config)
        let run = try makeRun(&ledger, clock: clock, roots: [seed("a"), seed("b")])
        for unit in ledger.lease(worker: worker("w1"), maxUnits: 2, platforms: ["naver"], now: clock.now) {
            #expect(ledger.fail(worker: worker("w1"), token: unit.lease!.token, error: "HTTP 404 for title", retryable: false, stats: .zero, now: clock.now) == .dead)
        }
        #expect(ledger.runs[run]?.state == .finished)
        let dead = ledger.deadUnits(run: run)
        #expect(dead.map(\.lastError) == ["HTTP 404 for title", "HTTP 404 for title"])
        let retried = ledger.retry(ids: [dead[0].id], now: clock.now)
        #expect(retried == [dead[0].id])
        #expect(ledger.units[dead[0].id]?.state == .pending && ledger.units[dead[0].id]?.attempts == 0)
        #expect(ledger.runs[run]?.state == .active)
        #expect(ledger.retry(ids: [dead[0].id], now: clock.now).isEmpty, "only dead units can be retried")
        #expect(ledger.retry(run: run, now: clock.now) == [dead[1].id])
        #expect(ledger.runs[run]?.totals.retriedDead == 2)
    }

    @Test func retryableFailureRequeuesUntilAttemptsAreUsed() throws {
        let clock = TestClock()
        var ledger = Ledger(config: config)
        _ = try makeRun(&ledger, clock: clock, roots: [seed("a")])
        var outcomes: [FailureOutcome] = []
        for _ in 0..<3 {
            let token = try #require(ledger.lease(worker: worker("w1"), maxUnits: 1, platforms: ["naver"], now: clock.now).first?.lease?.token)
            outcomes.append(ledger.fail(worker: worker("w1"), token: token, error: "HTTP 503", retryable: true, stats: TaskStats(requests: 2, status5xx: 2), now: clock.now))
        }
        #expect(outcomes == [.requeued, .requeued, .dead])
        let run = spec().defaultID
        #expect(ledger.runs[run]?.totals.failures == 3)
        #expect(ledger.runs[run]?.totals.stats.status5xx == 6)
    }

    @Test func duplicateCompletionIsAcknowledgedAndIgnored() throws {
        let clock = TestClock()
        var ledger = Ledger(config: config)
        let run = try makeRun(&ledger, clock: clock, roots: [seed("a")])
        let token = try #require(ledger.lease(worker: worker("w1"), maxUnits: 1, platforms: ["naver"], now: clock.now).first?.lease?.token)
        #expect(ledger.complete(worker: worker("w1"), token: token, manifest: manifest(rows: 5), children: [], stats: TaskStats(requests: 1), now: clock.now) == .accepted)
        // Before the row is drained the unit is still whole; a duplicate then is recognised the same way.
        #expect(ledger.complete(worker: worker("w1"), token: token, manifest: manifest(rows: 98), children: [seed("y")], stats: TaskStats(requests: 1), now: clock.now) == .duplicate)
        let drained = ledger.drainChanges()
        #expect(drained.contains { if case .unit(let unit) = $0 { unit.id == token.unit && unit.manifest == manifest(rows: 5) } else { false } })
        #expect(ledger.units[token.unit] == nil && ledger.completedUnit(token.unit) == CompletedUnit(run: run, token: token), "drained: only the compact form stays")
        #expect(ledger.complete(worker: worker("w1"), token: token, manifest: manifest(rows: 99), children: [seed("x")], stats: TaskStats(requests: 1), now: clock.now) == .duplicate)
        #expect(ledger.runs[run]?.totals.rowsByTable == ["episodes": 5])
        #expect(ledger.runs[run]?.totals.stats.requests == 1)
        #expect(ledger.unitCount == 1)
        #expect(ledger.drainChanges().isEmpty, "a duplicate changes nothing durable")
    }

    /// A run of many units: once done and drained they are compact, the whole rows left are intact (the table
    /// is rehashed to their size), a child reported again is not re-created, and a rebuild from the rows agrees.
    @Test func drainedDoneUnitsAreCompactAndTheRestStaysWhole() throws {
        let clock = TestClock()
        var ledger = Ledger(config: config)
        let run = try makeRun(&ledger, clock: clock, roots: (0..<10_000).map { seed("t\($0)", payload: Array("payload \($0)".utf8)) })
        var log = ledger.drainChanges()
        var tokens: [LeaseToken] = []
        while tokens.count < 9_990 {
            for unit in ledger.lease(worker: worker("w1"), maxUnits: min(256, 9_990 - tokens.count), platforms: ["naver"], now: clock.now) {
                let token = try #require(unit.lease?.token)
                #expect(ledger.complete(worker: worker("w1"), token: token, manifest: manifest(rows: 1), children: [], stats: .zero, now: clock.now) == .accepted)
                tokens.append(token)
            }
            log += ledger.drainChanges()
        }
        #expect(ledger.units.count == 10 && ledger.unitCount == 10_000)
        #expect(ledger.units.values.allSatisfy { $0.state == .pending && $0.seed.payload == Array("payload \($0.seed.key.dropFirst())".utf8) })
        #expect(ledger.counts(run: run) == StateCounts(pending: 10, leased: 0, done: 9_990, dead: 0))
        #expect(tokens.allSatisfy { ledger.completedUnit($0.unit) == CompletedUnit(run: run, token: $0) })
        // Re-reporting a done unit as a child creates nothing.
        #expect(try ledger.addUnits([seed("t0"), seed("t9999")], run: run, parent: nil, now: clock.now).isEmpty)
        #expect(Ledger(config: config, restoring: log).snapshot == ledger.snapshot)
        let rest = ledger.lease(worker: worker("w2"), maxUnits: 50, platforms: ["naver"], now: clock.now)
        #expect(rest.count == 10 && Set(rest.map(\.id)) == Set(ledger.units.keys))
    }

    @Test func staleTokenAfterExpiryAndReleaseIsIgnoredAndItsOutputsNeverAccepted() throws {
        var clock = TestClock()
        var ledger = Ledger(config: config)
        let run = try makeRun(&ledger, clock: clock, roots: [seed("a")])
        let first = try #require(ledger.lease(worker: worker("slow"), maxUnits: 1, platforms: ["naver"], now: clock.now).first?.lease?.token)
        clock.advance(31_000)
        let second = try #require(ledger.lease(worker: worker("fast"), maxUnits: 1, platforms: ["naver"], now: clock.now).first?.lease?.token)
        #expect(first.unit == second.unit && second.epoch == first.epoch + 1)
        #expect(ledger.complete(worker: worker("slow"), token: first, manifest: manifest(rows: 1, path: "slow.parquet"), children: [seed("c1")], stats: .zero, now: clock.now) == .stale)
        #expect(ledger.units[first.unit]?.state == .leased)
        #expect(ledger.units.count == 1, "children of a stale completion are not created")
        #expect(ledger.complete(worker: worker("fast"), token: second, manifest: manifest(rows: 2, path: "fast.parquet"), children: [], stats: .zero, now: clock.now) == .accepted)
        #expect(ledger.complete(worker: worker("slow"), token: first, manifest: manifest(rows: 1, path: "slow.parquet"), children: [], stats: .zero, now: clock.now) == .stale)
        #expect(ledger.units[first.unit]?.manifest?.files.map(\.path) == ["fast.parquet"])
        #expect(ledger.runs[run]?.totals.staleReports == 2)
        // Once drained to its compact form, the done unit still refuses the stale token, for completions and failures.
        _ = ledger.drainChanges()
        #expect(ledger.complete(worker: worker("slow"), token: first, manifest: manifest(rows: 1, path: "slow.parquet"), children: [seed("c2")], stats: .zero, now: clock.now) == .stale)
        #expect(ledger.fail(worker: worker("slow"), token: first, error: "late", retryable: true, stats: .zero, now: clock.now) == .stale)
        #expect(ledger.fail(worker: worker("fast"), token: second, error: "late", retryable: true, stats: .zero, now: clock.now) == .stale)
        #expect(ledger.runs[run]?.totals.staleReports == 5)
        #expect(ledger.unitCount == 1 && ledger.counts(run: run).done == 1, "no child of a stale report is created")
        #expect(ledger.heartbeat(worker: worker("fast"), tokens: [second], now: clock.now).map(\.valid) == [false])
    }

    @Test func completionAfterDeadlineButBeforeAnySweepIsStale() throws {
        var clock = TestClock()
        var ledger = Ledger(config: config)
        _ = try makeRun(&ledger, clock: clock, roots: [seed("a")])
        let token = try #require(ledger.lease(worker: worker("w1"), maxUnits: 1, platforms: ["naver"], now: clock.now).first?.lease?.token)
        clock.advance(30_000)
        #expect(ledger.complete(worker: worker("w1"), token: token, manifest: .empty, children: [], stats: .zero, now: clock.now) == .stale)
        #expect(ledger.units[token.unit]?.state == .pending)
    }

    /// The sweep is skipped until the earliest deadline, so every path that sets a deadline must keep that bound:
    /// leases granted at different times, a heartbeat that moves a deadline earlier (the clock went back), a
    /// rebuild from rows. Each lease expires exactly at its own deadline, not before and not later.
    @Test func eachLeaseExpiresExactlyAtItsDeadlineWhateverSetIt() throws {
        var ledger = Ledger(config: config)
        var clock = TestClock()
        _ = try makeRun(&ledger, clock: clock, roots: [seed("a"), seed("b"), seed("c")])
        let start = clock.now
        let a = ledger.lease(worker: worker("w1"), maxUnits: 1, platforms: ["naver"], now: clock.now)[0]
        clock.advance(10_000)
        let b = ledger.lease(worker: worker("w1"), maxUnits: 1, platforms: ["naver"], now: clock.now)[0]
        let c = ledger.lease(worker: worker("w2"), maxUnits: 1, platforms: ["naver"], now: clock.now)[0]
        #expect(ledger.leasedCount(worker: worker("w1")) == 2 && ledger.leasedCount(worker: worker("w2")) == 1)
        // c's holder heartbeats with a clock 5 s behind: its deadline moves earlier than a's.
        _ = ledger.heartbeat(worker: worker("w2"), tokens: [c.lease!.token], now: start.adding(millis: -5_000))
        #expect(ledger.expireLeases(now: start.adding(millis: 24_999)).isEmpty)
        #expect(ledger.expireLeases(now: start.adding(millis: 25_000)) == [c.id])
        #expect(ledger.leasedCount(worker: worker("w2")) == 0)
        var rebuilt = Ledger(config: config, restoring: ledger.snapshot.runs.values.map(LedgerChange.run) + ledger.snapshot.units.values.map(LedgerChange.unit))
        for var copy in [ledger, rebuilt] {
            #expect(copy.expireLeases(now: start.adding(millis: 29_999)).isEmpty)
            #expect(copy.expireLeases(now: start.adding(millis: 30_000)) == [a.id])
            #expect(copy.expireLeases(now: start.adding(millis: 39_999)).isEmpty)
            #expect(copy.expireLeases(now: start.adding(millis: 40_000)) == [b.id])
            #expect(copy.leasedUnitIDs.isEmpty && copy.leasedCount(worker: worker("w1")) == 0)
        }
        // A completion after the deadline is refused even though no sweep ran in between.
        #expect(rebuilt.lease(worker: worker("w3"), maxUnits: 3, platforms: ["naver"], now: start.adding(millis: 40_000)).count == 3)
        #expect(rebuilt.complete(worker: worker("w3"), token: rebuilt.units[a.id]!.lease!.token, manifest: .empty, children: [], stats: .zero, now: start.adding(millis: 70_000)) == .stale)
    }

    @Test func completionFromAnotherWorkerWithTheRightTokenIsStale() throws {
        let clock = TestClock()
        var ledger = Ledger(config: config)
        _ = try makeRun(&ledger, clock: clock, roots: [seed("a")])
        let token = try #require(ledger.lease(worker: worker("w1"), maxUnits: 1, platforms: ["naver"], now: clock.now).first?.lease?.token)
        #expect(ledger.complete(worker: worker("w2"), token: token, manifest: .empty, children: [], stats: .zero, now: clock.now) == .stale)
        #expect(ledger.units[token.unit]?.state == .leased)
    }

    @Test func childrenAreCreatedOnceAcrossDuplicateReports() throws {
        let clock = TestClock()
        var ledger = Ledger(config: config)
        let run = try makeRun(&ledger, clock: clock, roots: [seed("list", kind: "list"), seed("list2", kind: "list")])
        let tokens = ledger.lease(worker: worker("w1"), maxUnits: 2, platforms: ["naver"], now: clock.now).compactMap(\.lease?.token)
        let children = [seed("t1"), seed("t2"), seed("t3", platform: "kakao")]
        #expect(ledger.complete(worker: worker("w1"), token: tokens[0], manifest: .empty, children: children, stats: .zero, now: clock.now) == .accepted)
        #expect(ledger.complete(worker: worker("w1"), token: tokens[0], manifest: .empty, children: children, stats: .zero, now: clock.now) == .duplicate)
        // Another unit reporting overlapping children creates only the new one.
        #expect(ledger.complete(worker: worker("w1"), token: tokens[1], manifest: .empty, children: children + [seed("t4")], stats: .zero, now: clock.now) == .accepted)
        #expect(ledger.counts(run: run) == StateCounts(pending: 4, leased: 0, done: 2, dead: 0))
        #expect(ledger.units[children[0].unitID(in: run)]?.parent == tokens[0].unit)
        #expect(ledger.runs[run]?.state == .active)
    }

    @Test func completionWithChildOfForeignPlatformIsInvalidAndCountsAsFailure() throws {
        let clock = TestClock()
        var ledger = Ledger(config: config)
        let runSpec = spec(["naver"])
        try ledger.createRun(runSpec, roots: [seed("a")], now: clock.now)
        let token = try #require(ledger.lease(worker: worker("w1"), maxUnits: 1, platforms: ["naver"], now: clock.now).first?.lease?.token)
        #expect(ledger.complete(worker: worker("w1"), token: token, manifest: .empty, children: [seed("x", platform: "kakao")], stats: .zero, now: clock.now) == .invalid)
        #expect(ledger.units[token.unit]?.state == .pending)
        #expect(ledger.units[token.unit]?.lastError?.contains("kakao") == true)
        #expect(ledger.units.count == 1)
    }

    @Test func runFinishesExactlyWhenAllUnitsAreTerminalWithExactAccounting() throws {
        let clock = TestClock()
        var ledger = Ledger(config: config)
        let run = try makeRun(&ledger, clock: clock, roots: [seed("list", kind: "list")])
        let root = try #require(ledger.lease(worker: worker("w1"), maxUnits: 1, platforms: ["naver"], now: clock.now).first?.lease?.token)
        #expect(ledger.complete(worker: worker("w1"), token: root, manifest: manifest(rows: 2, table: "titles"), children: (0..<4).map { seed("t\($0)") }, stats: TaskStats(requests: 1, bytes: 10), now: clock.now) == .accepted)
        #expect(ledger.runs[run]?.state == .active, "children reported in the same completion keep the run open")
        let tokens = ledger.lease(worker: worker("w1"), maxUnits: 10, platforms: ["naver"], now: clock.now).compactMap(\.lease?.token)
        #expect(tokens.count == 4)
        for (index, token) in tokens.enumerated() {
            #expect(ledger.runs[run]?.state == .active)
            if index == 3 {
                _ = ledger.fail(worker: worker("w1"), token: token, error: "gone", retryable: false, stats: TaskStats(requests: 1, status403: 1), now: clock.now)
            } else {
                _ = ledger.complete(worker: worker("w1"), token: token, manifest: manifest(rows: 10), children: [], stats: TaskStats(requests: 2, retries: 1, bytes: 5), now: clock.now)
            }
        }
        let record = try #require(ledger.runs[run])
        #expect(record.state == .finished && record.finishedAt == clock.now)
        #expect(ledger.counts(run: run) == StateCounts(pending: 0, leased: 0, done: 4, dead: 1))
        #expect(record.totals.rowsByTable == ["titles": 2, "episodes": 30])
        #expect(record.totals.stats == TaskStats(requests: 8, retries: 3, status403: 1, bytes: 25))
        #expect(record.totals.files == 4)
    }

    @Test func emptyRunFinishesAtOnceAndRecreatingItIsIdempotent() throws {
        let clock = TestClock()
        var ledger = Ledger(config: config)
        let created = try ledger.createRun(spec(), roots: [], now: clock.now)
        #expect(created.isEmpty && ledger.runs[spec().defaultID]?.state == .finished)
        #expect(try ledger.createRun(spec(), roots: [seed("a")], now: clock.now).count == 1)
        #expect(ledger.runs[spec().defaultID]?.state == .active)
        #expect(try ledger.createRun(spec(), roots: [seed("a")], now: clock.now).isEmpty)
        let error = #expect(throws: ClusterError.self) {
            try ledger.createRun(spec(["naver"]), id: spec().defaultID, roots: [], now: clock.now)
        }
        #expect(error?.code == .conflict)
    }

    @Test func leasingAlternatesPlatformsAndRespectsThePerPlatformCap() throws {
        let clock = TestClock()
        var ledger = Ledger(config: LedgerConfig(leaseMillis: 1_000, maxAttempts: 2, maxLeasedPerPlatform: 2))
        try ledger.createRun(spec(), roots: (0..<5).map { seed("n\($0)") } + (0..<5).map { seed("k\($0)", platform: "kakao") }, now: clock.now)
        let granted = ledger.lease(worker: worker("w1"), maxUnits: 10, platforms: ["naver", "kakao"], now: clock.now)
        #expect(granted.map(\.platform) == ["kakao", "naver", "kakao", "naver"])
        #expect(granted.filter { $0.platform == "naver" }.map(\.seed.key) == ["n0", "n1"], "oldest first")
        #expect(ledger.leasedCount(platform: "naver") == 2)
    }

    @Test func releaseReturnsLeasesWithoutCountingTheAttempt() throws {
        let clock = TestClock()
        var ledger = Ledger(config: config)
        _ = try makeRun(&ledger, clock: clock, roots: [seed("a")])
        let token = try #require(ledger.lease(worker: worker("w1"), maxUnits: 1, platforms: ["naver"], now: clock.now).first?.lease?.token)
        #expect(ledger.release(worker: worker("w2"), tokens: [token], now: clock.now).isEmpty)
        #expect(ledger.release(worker: worker("w1"), tokens: [token], now: clock.now) == [token.unit])
        #expect(ledger.units[token.unit]?.state == .pending && ledger.units[token.unit]?.attempts == 0)
        let again = try #require(ledger.lease(worker: worker("w2"), maxUnits: 1, platforms: ["naver"], now: clock.now).first?.lease?.token)
        #expect(again.epoch == token.epoch + 1)
    }

    @Test func drainedChangesCarryEachTouchedRowOnceWithItsLatestContent() throws {
        let clock = TestClock()
        var ledger = Ledger(config: config)
        _ = try makeRun(&ledger, clock: clock, roots: [seed("a"), seed("b")])
        let first = ledger.drainChanges()
        #expect(first.count == 3)
        if case .run = first[0] {} else { Issue.record("runs come first so a store can keep foreign keys") }
        let token = try #require(ledger.lease(worker: worker("w1"), maxUnits: 1, platforms: ["naver"], now: clock.now).first?.lease?.token)
        _ = ledger.heartbeat(worker: worker("w1"), tokens: [token], now: clock.now.adding(millis: 5))
        let second = ledger.drainChanges()
        #expect(second.count == 2, "the heartbeat's row, then the grant's journal entry")
        guard case .unit(let unit) = second[0] else { Issue.record("expected a unit row"); return }
        #expect(unit.state == .leased && unit.lease?.deadline == clock.now.adding(millis: 30_005))
        guard case .leases(let grant) = second[1] else { Issue.record("expected a lease grant entry"); return }
        #expect(grant.units == [token.unit] && grant.epochs == [token.epoch])
        #expect(!ledger.hasChanges)
    }

    @Test func aLeaseGrantIsOneJournalEntryAndReplaysToTheSameLeases() throws {
        var clock = TestClock()
        var ledger = Ledger(config: config)
        _ = try makeRun(&ledger, clock: clock, roots: [seed("a"), seed("b"), seed("c"), seed("d", platform: "kakao")])
        var log = ledger.drainChanges()
        clock.advance(7)
        let granted = ledger.lease(worker: worker("w1"), maxUnits: 3, platforms: ["naver", "kakao"], now: clock.now)
        #expect(granted.count == 3)
        let batch = ledger.drainChanges()
        #expect(batch.count == 1, "no unit rows, one entry for the whole grant")
        guard case .leases(let grant) = batch.first else { Issue.record("expected a lease grant entry"); return }
        #expect(grant.worker == worker("w1") && grant.grantedAt == clock.now && grant.deadline == clock.now.adding(millis: config.leaseMillis))
        #expect(grant.units == granted.map(\.id) && grant.epochs == granted.map { $0.lease!.token.epoch })
        log += batch
        let rebuilt = Ledger(config: config, restoring: log)
        #expect(rebuilt.snapshot == ledger.snapshot)
        #expect(rebuilt.leasedUnitIDs == Set(granted.map(\.id)) && rebuilt.leasedCount(worker: worker("w1")) == 3)

        // The entry is superseded, not re-applied, once the unit's row moves on: done, then expired and leased again.
        let first = try #require(granted.first?.lease?.token)
        #expect(ledger.complete(worker: worker("w1"), token: first, manifest: .empty, children: [], stats: .zero, now: clock.now) == .accepted)
        clock.advance(config.leaseMillis)
        ledger.expireLeases(now: clock.now)
        let again = ledger.lease(worker: worker("w2"), maxUnits: 5, platforms: ["naver", "kakao"], now: clock.now)
        let reLeased = Set(granted.dropFirst().map(\.id))
        #expect(Set(again.map(\.id)) == Set(ledger.units.keys).subtracting([first.unit]))
        #expect(again.allSatisfy { $0.lease!.token.epoch == (reLeased.contains($0.id) ? 2 : 1) })
        log += ledger.drainChanges()
        let replayed = Ledger(config: config, restoring: log)
        #expect(replayed.snapshot == ledger.snapshot)
        #expect(replayed.units[first.unit] == nil && replayed.completedUnit(first.unit)?.token == first)
        #expect(replayed.leasedCount(worker: worker("w1")) == 0 && replayed.leasedCount(worker: worker("w2")) == 3)
    }
}

@Suite struct LedgerTextTests {
    @Test func workerErrorsAreStrippedOfNulAndBounded() throws {
        let clock = TestClock()
        var ledger = Ledger(config: LedgerConfig(maxAttempts: 1))
        try ledger.createRun(spec(["naver"]), roots: [seed("a")], now: clock.now)
        let token = try #require(ledger.lease(worker: worker("w1"), maxUnits: 1, platforms: ["naver"], now: clock.now).first?.lease?.token)
        let error = "bad\u{0}byte " + String(repeating: "웹", count: 3_000)
        #expect(ledger.fail(worker: worker("w1"), token: token, error: error, retryable: true, stats: .zero, now: clock.now) == .dead)
        let stored = try #require(ledger.units[token.unit]?.lastError)
        #expect(!stored.utf8.contains(0) && stored.hasPrefix("badbyte "))
        #expect(stored.utf8.count <= ClusterLimits.maxErrorBytes && stored.utf8.count > ClusterLimits.maxErrorBytes - 3)
    }

    @Test func statusListsActiveRunsAndOnlyTheLatestFinishedOnes() throws {
        var clock = TestClock()
        var core = CoordinatorCore(config: CoordinatorConfig())
        for day in 1...15 {
            clock.advance(1_000)
            try core.createRun(spec(["naver"], date: "2026-11-\(day < 10 ? "0" : "")\(day)"), roots: day == 3 ? [seed("open")] : [], now: clock.now)
        }
        let ids = core.status(now: clock.now).runs.map(\.spec.crawlDate)
        #expect(ids.count == 11)
        #expect(ids.contains("2026-11-03"), "the active run is always listed")
        #expect(ids.last == "2026-11-15" && !ids.contains("2026-11-04"))
    }
}
