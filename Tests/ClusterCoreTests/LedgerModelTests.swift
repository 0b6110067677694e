import ClusterCore
import Testing

/// Model-based property test: random operations against the ledger, checked against an independent, deliberately
/// naive model and against invariants after every step. The durable change log is replayed into a fresh ledger at
/// random points (a coordinator restart) and must equal the original.
@Suite struct LedgerModelTests {
    struct ModelUnit {
        var state: UnitState = .pending
        var attempts = 0
        var token: LeaseToken?
        var holder: WorkerID?
        var deadline = Timestamp(millis: 0)
        var acceptedToken: LeaseToken?
        var acceptedCount = 0
        let platform: String
    }

    struct Model {
        let maxAttempts: Int
        let leaseMillis: Int64
        var units: [UnitID: ModelUnit] = [:]

        mutating func expire(now: Timestamp) {
            for (id, unit) in units where unit.state == .leased && unit.deadline <= now {
                units[id]?.state = unit.attempts >= maxAttempts ? .dead : .pending
                units[id]?.token = nil
                units[id]?.holder = nil
            }
        }

        func isCurrent(_ token: LeaseToken, worker: WorkerID) -> Bool {
            guard let unit = units[token.unit] else { return false }
            return unit.state == .leased && unit.token == token && unit.holder == worker
        }
    }

    @Test(arguments: 0..<40)
    func randomOperationsKeepEveryInvariant(seedValue: Int) throws {
        var rng = SplitMix64(seed: UInt64(seedValue) &* 7919 &+ 13)
        var clock = TestClock()
        let config = LedgerConfig(leaseMillis: 10_000, maxAttempts: 3)
        var ledger = Ledger(config: config)
        var model = Model(maxAttempts: 3, leaseMillis: 10_000)
        var log: [LedgerChange] = []
        let runSpec = spec()
        let run = runSpec.defaultID
        let platforms = ["kakao", "naver"]
        let roots = (0..<6).map { seed("root\($0)", kind: "list", platform: platforms[$0 % 2]) }
        try ledger.createRun(runSpec, roots: roots, now: clock.now)
        for root in roots { model.units[root.unitID(in: run)] = ModelUnit(platform: root.platform) }
        let workers = ["w1", "w2", "w3"].map(worker)
        var deadWorkers: Set<WorkerID> = []
        var issued: [(LeaseToken, WorkerID)] = []
        let childPool = (0..<30).map { seed("child\($0)", kind: ["title", "episodes"][$0 % 2], platform: platforms[$0 % 3 == 0 ? 0 : 1]) }

        for step in 0..<300 {
            let live = workers.filter { !deadWorkers.contains($0) }
            let actor = live.isEmpty ? workers[0] : live[Int(rng.next() % UInt64(live.count))]
            switch rng.next() % 100 {
            case 0..<25:  // lease
                let wanted = rng.next() % 3 == 0 ? [platforms[Int(rng.next() % 2)]] : platforms
                let maxUnits = Int(rng.next() % 4) + 1
                model.expire(now: clock.now)
                let pendingBefore = model.units.filter { $0.value.state == .pending && wanted.contains($0.value.platform) }.count
                let granted = ledger.lease(worker: actor, maxUnits: maxUnits, platforms: wanted, now: clock.now)
                #expect(granted.count == min(maxUnits, pendingBefore), "step \(step): grants as many as asked while any are pending")
                for unit in granted {
                    let lease = try #require(unit.lease)
                    #expect(model.units[unit.id]?.state == .pending, "step \(step): only pending units are leased")
                    #expect(wanted.contains(unit.platform))
                    model.units[unit.id]?.state = .leased
                    model.units[unit.id]?.attempts += 1
                    model.units[unit.id]?.token = lease.token
                    model.units[unit.id]?.holder = actor
                    model.units[unit.id]?.deadline = clock.now.adding(millis: model.leaseMillis)
                    #expect(unit.attempts == model.units[unit.id]?.attempts)
                    issued.append((lease.token, actor))
                }
            case 25..<40:  // heartbeat: held tokens plus a random old one
                model.expire(now: clock.now)
                var tokens = model.units.values.filter { $0.holder == actor }.compactMap(\.token)
                if let old = issued.randomElement(using: &rng) { tokens.append(old.0) }
                let statuses = ledger.heartbeat(worker: actor, tokens: tokens, now: clock.now)
                for status in statuses {
                    let expected = model.isCurrent(status.token, worker: actor)
                    #expect(status.valid == expected, "step \(step): heartbeat validity of \(status.token)")
                    if expected { model.units[status.token.unit]?.deadline = clock.now.adding(millis: model.leaseMillis) }
                }
            case 40..<65:  // complete, by the holder or (sometimes) someone else, possibly with a stale token
                guard let (token, holder) = issued.randomElement(using: &rng) else { continue }
                let reporter = rng.next() % 5 == 0 ? actor : holder
                model.expire(now: clock.now)
                let wasAccepted = model.units[token.unit]?.acceptedToken == token
                let current = model.isCurrent(token, worker: reporter)
                let children = (0..<Int(rng.next() % 4)).map { _ in childPool[Int(rng.next() % UInt64(childPool.count))] }
                let outcome = ledger.complete(worker: reporter, token: token, manifest: manifest(rows: Int64(rng.next() % 50)), children: children, stats: TaskStats(requests: 1), now: clock.now)
                let expected: CompletionOutcome = wasAccepted ? .duplicate : current ? .accepted : .stale
                #expect(outcome == expected, "step \(step): completion of \(token) by \(reporter)")
                if outcome == .accepted {
                    model.units[token.unit]?.state = .done
                    model.units[token.unit]?.acceptedToken = token
                    model.units[token.unit]?.acceptedCount += 1
                    model.units[token.unit]?.token = nil
                    model.units[token.unit]?.holder = nil
                    for child in children where model.units[child.unitID(in: run)] == nil {
                        model.units[child.unitID(in: run)] = ModelUnit(platform: child.platform)
                    }
                }
            case 65..<75:  // fail
                guard let (token, holder) = issued.randomElement(using: &rng) else { continue }
                model.expire(now: clock.now)
                let current = model.isCurrent(token, worker: holder)
                let retryable = rng.next() % 4 != 0
                let outcome = ledger.fail(worker: holder, token: token, error: "boom \(step)", retryable: retryable, stats: .zero, now: clock.now)
                if current, let unit = model.units[token.unit] {
                    let dies = !retryable || unit.attempts >= model.maxAttempts
                    #expect(outcome == (dies ? .dead : .requeued), "step \(step)")
                    model.units[token.unit]?.state = dies ? .dead : .pending
                    model.units[token.unit]?.token = nil
                    model.units[token.unit]?.holder = nil
                } else {
                    #expect(outcome == .stale, "step \(step)")
                }
            case 75..<88:  // time passes
                clock.advance(Int64(rng.next() % 12_000))
            case 88..<92:  // a worker dies silently (its leases must expire on their own)
                deadWorkers.insert(actor)
            case 92..<95:  // an operator retries the dead
                let retried = ledger.retry(run: run, now: clock.now)
                let modelDead = Set(model.units.filter { $0.value.state == .dead }.map(\.key))
                #expect(Set(retried) == modelDead, "step \(step)")
                for id in retried {
                    model.units[id]?.state = .pending
                    model.units[id]?.attempts = 0
                }
            default:  // the coordinator restarts from its durable log
                log += ledger.drainChanges()
                let rebuilt = Ledger(config: config, restoring: log)
                #expect(rebuilt.snapshot == ledger.snapshot, "step \(step): rebuilt ledger equals the original")
                #expect(rebuilt.counts(run: run) == ledger.counts(run: run))
                #expect(rebuilt.oldestPending() == ledger.oldestPending())
                ledger = rebuilt
            }
            log += ledger.drainChanges()
            try checkInvariants(ledger, model: model, run: run, step: step)
        }

        // Whatever state it is in, the run is finished iff all units are terminal (checked above); now retry the dead
        // and work until finished: every unit must end done.
        _ = ledger.retry(run: run, now: clock.now)
        for _ in 0..<200 where ledger.runs[run]?.state == .active {
            clock.advance(11_000)
            ledger.expireLeases(now: clock.now)
            _ = ledger.retry(run: run, now: clock.now)
            for unit in ledger.lease(worker: workers[0], maxUnits: 50, platforms: platforms, now: clock.now) {
                _ = ledger.complete(worker: workers[0], token: unit.lease!.token, manifest: .empty, children: [], stats: .zero, now: clock.now)
            }
        }
        let counts = ledger.counts(run: run)
        #expect(ledger.runs[run]?.state == .finished)
        #expect(counts.done == counts.total && counts.total == ledger.unitCount)
        log += ledger.drainChanges()
        #expect(Ledger(config: config, restoring: log).snapshot == ledger.snapshot)
    }

    func checkInvariants(_ ledger: Ledger, model: Model, run: RunID, step: Int) throws {
        // No unit lost or invented: the ledger holds exactly the model's units, each in exactly one state (a drained
        // done unit only as its compact form).
        let completed = ledger.snapshot.completed
        #expect(Set(ledger.units.keys).isDisjoint(with: completed.keys), "step \(step): a unit is whole or compact, not both")
        #expect(Set(ledger.units.keys).union(completed.keys) == Set(model.units.keys), "step \(step): unit set")
        #expect(ledger.unitCount == model.units.count)
        var scanned = StateCounts()
        for (id, done) in completed {
            scanned[.done] += 1
            #expect(model.units[id]?.state == .done && model.units[id]?.acceptedCount == 1, "step \(step): compact units are done once")
            #expect(done.token == model.units[id]?.acceptedToken && done.run == run)
            // The lookup by id (through its 128-bit key), against the model rather than the table it came from.
            #expect(ledger.completedUnit(id)?.token == model.units[id]?.acceptedToken)
        }
        for (id, unit) in ledger.units {
            scanned[unit.state] += 1
            #expect(unit.attempts <= ledger.config.maxAttempts, "step \(step): attempts bounded")
            #expect((unit.state == .leased) == (unit.lease != nil), "step \(step): a lease exists iff leased")
            #expect((unit.state == .done) == (unit.completedBy != nil && unit.manifest != nil), "step \(step): done iff accepted")
            if unit.state == .done {
                #expect(model.units[id]?.acceptedCount == 1, "step \(step): exactly one accepted completion per done unit")
                #expect(unit.completedBy == model.units[id]?.acceptedToken)
            }
            if unit.state == .dead { #expect(unit.lastError != nil, "step \(step): dead units keep their last error") }
        }
        // Model and ledger agree on states, except leases the model already considers expired but the ledger has
        // not swept yet (the ledger sweeps at the start of its next operation).
        for (id, unit) in ledger.units {
            guard let expected = model.units[id] else { continue }
            if unit.state != expected.state {
                #expect(unit.state == .leased && expected.state == .leased, "step \(step): state of \(id): ledger \(unit.state), model \(expected.state)")
            }
        }
        #expect(ledger.counts(run: run) == scanned, "step \(step): incremental counters equal a full scan")
        let finished = ledger.runs[run]?.state == .finished
        #expect(finished == (scanned.backlog == 0), "step \(step): run finished iff every unit is terminal")
        #expect(ledger.leasedUnitIDs.count == scanned.leased)
    }
}
