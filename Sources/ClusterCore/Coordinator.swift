/// Settings of the coordinator's pure core.
public struct CoordinatorConfig: Hashable, Sendable {
    public var ledger: LedgerConfig
    /// How often workers must heartbeat; a third of the lease by default.
    public var heartbeatMillis: Int64
    /// A worker not heard from for this long is not live (its leases still run to their deadlines).
    public var workerTimeoutMillis: Int64
    /// A run with backlog and no progress for this long is reported as stalled.
    public var stallAfterMillis: Int64
    /// How long a worker waits before asking again when nothing could be leased.
    public var idlePollMillis: Int64
    /// Window for per-worker throughput.
    public var throughputWindowMillis: Int64
    /// Per-platform politeness; platforms not listed use `defaultBudget`.
    public var budgets: [String: BudgetPolicy]
    public var defaultBudget: BudgetPolicy
    /// Depth samples kept per run.
    public var historyCapacity: Int

    public init(
        ledger: LedgerConfig = LedgerConfig(), heartbeatMillis: Int64? = nil, workerTimeoutMillis: Int64? = nil,
        stallAfterMillis: Int64 = 600_000, idlePollMillis: Int64 = 2_000, throughputWindowMillis: Int64 = 300_000,
        budgets: [String: BudgetPolicy] = [:], defaultBudget: BudgetPolicy = BudgetPolicy(initialRate: 2, floor: 0.1, ceiling: 10),
        historyCapacity: Int = 240
    ) {
        self.ledger = ledger
        self.heartbeatMillis = max(1, heartbeatMillis ?? ledger.leaseMillis / 3)
        self.workerTimeoutMillis = max(1, workerTimeoutMillis ?? ledger.leaseMillis)
        self.stallAfterMillis = max(1, stallAfterMillis)
        self.idlePollMillis = max(1, idlePollMillis)
        self.throughputWindowMillis = max(1, throughputWindowMillis)
        self.budgets = budgets
        self.defaultBudget = defaultBudget
        self.historyCapacity = max(2, historyCapacity)
    }
}

/// A worker as the coordinator knows it; in memory only (workers say hello again after a coordinator restart).
public struct WorkerRecord: Hashable, Sendable {
    public let id: WorkerID
    public internal(set) var capacity: Int
    public internal(set) var platforms: [String]
    public internal(set) var softwareVersion: String
    public internal(set) var lastSeen: Timestamp
    public internal(set) var completed: Int64 = 0
    public internal(set) var failed: Int64 = 0
    public internal(set) var left = false
    /// Times of recent accepted completions, newest last, bounded.
    var recentCompletions: [Timestamp] = []

    /// Counts an accepted completion; keeps between `keeping` and twice that many recent times, trimming in one
    /// move rather than shifting the array on every completion.
    mutating func noteCompletion(at now: Timestamp, keeping: Int) {
        completed += 1
        recentCompletions.append(now)
        if recentCompletions.count > 2 * keeping { recentCompletions.removeFirst(recentCompletions.count - keeping) }
    }
}

/// The coordinator's whole decision logic, pure: turns each authenticated request into a reply and ledger changes.
/// The I/O layer persists `drainChanges()` in one transaction before sending the replies of that batch.
public struct CoordinatorCore: Sendable {
    public let config: CoordinatorConfig
    public private(set) var ledger: Ledger
    public private(set) var workers: [WorkerID: WorkerRecord] = [:]
    public private(set) var budgets: [String: AIMDBudget] = [:]
    public private(set) var history: [RunID: DepthHistory] = [:]
    /// When true every worker is told to drain.
    public private(set) var draining = false

    private static let maxRecentCompletions = 512
    /// Finished runs listed in status (newest first), besides every active run.
    public static let finishedRunsInStatus = 10

    public init(config: CoordinatorConfig, ledger: Ledger? = nil) {
        self.config = config
        self.ledger = ledger ?? Ledger(config: config.ledger)
    }

    public mutating func drainChanges() -> [LedgerChange] { ledger.drainChanges() }

    /// Call once after rebuilding from the store, before serving: outstanding leases get a full lease period from
    /// `now`, since their holders could not heartbeat while the coordinator was down.
    @discardableResult
    public mutating func resume(now: Timestamp) -> Int {
        ledger.extendOutstandingLeases(to: now.adding(millis: config.ledger.leaseMillis), now: now)
    }

    /// Operator commands go straight to the ledger.
    @discardableResult
    public mutating func createRun(_ spec: RunSpec, id: RunID? = nil, roots: [UnitSeed], now: Timestamp) throws(ClusterError) -> [UnitID] {
        try ledger.createRun(spec, id: id, roots: roots, now: now)
    }

    @discardableResult
    public mutating func retryDead(ids: [UnitID]? = nil, run: RunID? = nil, now: Timestamp) -> [UnitID] {
        ledger.retry(ids: ids, run: run, now: now)
    }

    public mutating func setDraining(_ value: Bool) { draining = value }

    /// Housekeeping between messages: expire leases, advance budgets.
    public mutating func tick(now: Timestamp) {
        ledger.expireLeases(now: now)
        for platform in Array(budgets.keys) { budgets[platform]?.advance(to: now) }
    }

    /// Records one depth sample per active run (call every 15–60 s).
    public mutating func sample(now: Timestamp) {
        for run in ledger.runs.values where run.state == .active || history[run.id] == nil {
            history[run.id, default: DepthHistory(capacity: config.historyCapacity)].record(DepthSample(at: now, counts: ledger.counts(run: run.id)))
        }
    }

    // MARK: Requests

    /// Handles one admitted request from `envelope.sender` and returns the reply body.
    public mutating func handle(_ envelope: Envelope, now: Timestamp) -> ClusterMessage {
        tick(now: now)
        let sender = envelope.sender
        switch envelope.message {
        case .hello(let hello):
            let platforms = Array(Set(hello.platforms)).sorted()
            if var worker = workers[sender] {
                worker.capacity = hello.capacity
                worker.platforms = platforms
                worker.softwareVersion = hello.softwareVersion
                worker.lastSeen = now
                worker.left = false
                workers[sender] = worker
            } else {
                workers[sender] = WorkerRecord(id: sender, capacity: hello.capacity, platforms: platforms, softwareVersion: hello.softwareVersion, lastSeen: now)
            }
            for platform in platforms { ensureBudget(platform, now: now) }
            return .welcome(Welcome(leaseMillis: config.ledger.leaseMillis, heartbeatMillis: config.heartbeatMillis, serverTime: now))

        case .leaseRequest(let request):
            guard var worker = workers[sender], !worker.left else {
                return .reject(Reject(reason: .unknownWorker, detail: "worker \(sender) must say hello first"))
            }
            worker.lastSeen = now
            workers[sender] = worker
            if draining { return .drain(Drain(reason: "coordinator is draining")) }
            let held = ledger.leasedCount(worker: sender)
            let room = max(0, min(request.maxUnits, worker.capacity - held))
            let platforms = request.platforms.filter { worker.platforms.contains($0) && !(budgets[$0]?.isPaused(at: now) ?? false) }
            let leased = room > 0 ? ledger.lease(worker: sender, maxUnits: room, platforms: platforms, now: now) : []
            let units = leased.compactMap { unit in
                unit.lease.map { GrantedUnit(token: $0.token, run: unit.run, unit: unit.id, seed: unit.seed, attempt: unit.attempts, deadline: $0.deadline) }
            }
            return .leaseGrant(LeaseGrant(units: units, allowances: allowances(for: worker, now: now), retryAfterMillis: units.isEmpty ? idleDelay(for: worker, now: now) : nil))

        case .heartbeat(let heartbeat):
            guard var worker = workers[sender], !worker.left else {
                return .reject(Reject(reason: .unknownWorker, detail: "worker \(sender) must say hello first"))
            }
            worker.lastSeen = now
            workers[sender] = worker
            for signal in heartbeat.signals where worker.platforms.contains(signal.platform) {
                ensureBudget(signal.platform, now: now)
                budgets[signal.platform]?.observe(signal.stats, now: now)
            }
            let leases = ledger.heartbeat(worker: sender, tokens: heartbeat.tokens, now: now)
            return .heartbeatAck(HeartbeatAck(leases: leases, allowances: allowances(for: worker, now: now), drain: draining))

        case .complete(let complete):
            touch(sender, now: now)
            return .ack(Ack(outcome: apply(complete, from: sender, now: now).rawValue))

        case .fail(let fail):
            touch(sender, now: now)
            return .ack(Ack(outcome: apply(fail, from: sender, now: now).rawValue))

        case .reportBatch(let batch):
            touch(sender, now: now)
            let completes = batch.completes.map { apply($0, from: sender, now: now).rawValue }
            let fails = batch.fails.map { apply($0, from: sender, now: now).rawValue }
            return .reportAck(ReportAck(completes: completes, fails: fails))

        case .retryDead(let retry):
            return .retried(Retried(units: retryDead(ids: retry.units, run: retry.run, now: now)))

        case .goodbye(let goodbye):
            ledger.release(worker: sender, tokens: goodbye.releasing, now: now)
            workers[sender]?.left = true
            workers[sender]?.lastSeen = now
            return .ack(Ack(outcome: "released"))

        case .statusRequest(let request):
            return .statusResponse(status(now: now, includeWorkers: request.includeWorkers))

        case .welcome, .leaseGrant, .heartbeatAck, .statusResponse, .ack, .reject, .drain, .reportAck, .retried:
            return .reject(Reject(reason: .unexpectedMessage, detail: "\(envelope.message.kind) is a coordinator reply, not a request"))
        }
    }

    private mutating func apply(_ complete: Complete, from sender: WorkerID, now: Timestamp) -> CompletionOutcome {
        let outcome = ledger.complete(worker: sender, token: complete.token, manifest: complete.manifest, children: complete.children, stats: complete.stats, now: now)
        // In place: copying the record out would copy its completion times on every report.
        if outcome == .accepted { workers[sender]?.noteCompletion(at: now, keeping: CoordinatorCore.maxRecentCompletions) }
        return outcome
    }

    private mutating func apply(_ fail: Fail, from sender: WorkerID, now: Timestamp) -> FailureOutcome {
        let outcome = ledger.fail(worker: sender, token: fail.token, error: fail.error, retryable: fail.retryable, stats: fail.stats, now: now)
        if outcome != .stale, outcome != .unknownUnit { workers[sender]?.failed += 1 }
        return outcome
    }

    private mutating func touch(_ worker: WorkerID, now: Timestamp) {
        workers[worker]?.lastSeen = now
    }

    private mutating func ensureBudget(_ platform: String, now: Timestamp) {
        if budgets[platform] == nil {
            budgets[platform] = AIMDBudget(policy: config.budgets[platform] ?? config.defaultBudget, now: now)
        }
    }

    // MARK: Budgets and liveness

    public func isLive(_ worker: WorkerRecord, now: Timestamp) -> Bool {
        !worker.left && now.millis(since: worker.lastSeen) < config.workerTimeoutMillis
    }

    /// Live workers that serve `platform`.
    public func liveWorkers(platform: String, now: Timestamp) -> Int {
        workers.values.count { isLive($0, now: now) && $0.platforms.contains(platform) }
    }

    /// Each platform's budget split evenly among the live workers serving it.
    public func allowances(for worker: WorkerRecord, now: Timestamp) -> [PlatformAllowance] {
        worker.platforms.compactMap { platform in
            guard let budget = budgets[platform] else { return nil }
            let paused = budget.isPaused(at: now) ? budget.pausedUntil : nil
            return PlatformAllowance(platform: platform, requestsPerSecond: budget.share(workers: liveWorkers(platform: platform, now: now), now: now), pausedUntil: paused)
        }
    }

    private func idleDelay(for worker: WorkerRecord, now: Timestamp) -> Int64 {
        let pauses = worker.platforms.compactMap { budgets[$0]?.pausedUntil }.filter { $0 > now }
        let allPaused = !worker.platforms.isEmpty && pauses.count == worker.platforms.count
        if allPaused, let earliest = pauses.min() { return max(config.idlePollMillis, earliest.millis(since: now)) }
        return config.idlePollMillis
    }

    // MARK: Status

    public func status(now: Timestamp, includeWorkers: Bool = true) -> ClusterStatus {
        let active = Set(ledger.runs.values.filter { $0.state == .active }.map(\.id))
        // Active runs and the most recently finished ones, so the reply stays small however many runs the ledger holds.
        let finished = ledger.runs.values.filter { $0.state == .finished }
            .sorted { ($0.finishedAt ?? $0.createdAt, $0.id) > ($1.finishedAt ?? $1.createdAt, $1.id) }.prefix(CoordinatorCore.finishedRunsInStatus)
        let shown = ledger.runs.values.filter { $0.state == .active } + finished
        let runs = shown.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }.map { run in
            RunStatus(
                id: run.id, spec: run.spec, state: run.state, createdAt: run.createdAt, finishedAt: run.finishedAt,
                counts: ledger.counts(run: run.id), depths: ledger.depths(runs: [run.id]), totals: run.totals,
                etaMillis: run.state == .finished ? 0 : history[run.id]?.etaMillis(), stall: stall(run: run.id, now: now))
        }
        let workerRows: [WorkerStatus] = includeWorkers ? workers.values.sorted { $0.id < $1.id }.map { (worker: WorkerRecord) -> WorkerStatus in
            let recent = worker.recentCompletions.count { now.millis(since: $0) <= config.throughputWindowMillis }
            return WorkerStatus(
                id: worker.id, live: isLive(worker, now: now), lastSeen: worker.lastSeen, lastSeenAgoMillis: now.millis(since: worker.lastSeen),
                capacity: worker.capacity, platforms: worker.platforms, softwareVersion: worker.softwareVersion, leased: ledger.leasedCount(worker: worker.id),
                completed: worker.completed, failed: worker.failed,
                completionsPerMinute: Double(recent) * 60_000 / Double(config.throughputWindowMillis), draining: draining || worker.left)
        } : []
        let budgetRows = budgets.keys.sorted().compactMap { platform -> BudgetStatus? in
            guard let budget = budgets[platform] else { return nil }
            let live = liveWorkers(platform: platform, now: now)
            return BudgetStatus(
                platform: platform, clusterRate: budget.rate, perWorkerRate: budget.share(workers: live, now: now), liveWorkers: live,
                pausedUntil: budget.isPaused(at: now) ? budget.pausedUntil : nil, decreases: budget.decreases)
        }
        let oldest = ledger.oldestPending().sorted { $0.key < $1.key }.map {
            PlatformPendingAge(platform: $0.key, oldestPendingSince: $0.value, ageMillis: now.millis(since: $0.value))
        }
        return ClusterStatus(
            serverTime: now, draining: draining, runs: runs, queues: ledger.depths(runs: active), inFlight: ledger.leasedUnitIDs.count,
            oldestPending: oldest, workers: workerRows, budgets: budgetRows, rejected: [:])
    }

    /// Why an active run with backlog made no progress for `stallAfterMillis`, or nil.
    public func stall(run runID: RunID, now: Timestamp) -> StallReport? {
        guard let run = ledger.runs[runID], run.state == .active else { return nil }
        let counts = ledger.counts(run: runID)
        let idle = now.millis(since: run.lastProgressAt)
        guard counts.backlog > 0, idle >= config.stallAfterMillis else { return nil }
        let liveWorkers = workers.values.filter { isLive($0, now: now) }
        let pendingPlatforms = Set(ledger.depths(runs: [runID]).filter { $0.counts.pending > 0 }.map(\.platform))
        let paused = pendingPlatforms.filter { budgets[$0]?.isPaused(at: now) ?? false }
        let unserved = pendingPlatforms.filter { platform in !liveWorkers.contains { $0.platforms.contains(platform) } }
        let holders = Set(ledger.leasedUnitIDs.compactMap { id in ledger.units[id].flatMap { $0.run == runID ? $0.lease?.worker : nil } })
        let reason: StallReason
        var detail: String
        if liveWorkers.isEmpty {
            reason = .noLiveWorkers
            detail = "no worker heard from in \(config.workerTimeoutMillis) ms"
        } else if counts.leased > 0, holders.allSatisfy({ id in workers[id].map { !isLive($0, now: now) } ?? true }) {
            reason = .leasesHeldBySilentWorkers
            detail = "\(counts.leased) leases held by silent workers: \(holders.sorted().map(\.rawValue).joined(separator: ", "))"
        } else if counts.leased == 0, !pendingPlatforms.isEmpty,
                  pendingPlatforms.isSubset(of: paused.union(unserved)) {
            // Nothing is leased and every pending platform is blocked: by a pause, or by having no worker.
            reason = unserved.isEmpty ? .platformPaused : .noWorkerForPlatform
            detail = [
                unserved.isEmpty ? nil : "no live worker serves \(unserved.sorted().joined(separator: ", "))",
                paused.isEmpty ? nil : "paused by Retry-After: \(paused.sorted().joined(separator: ", "))",
            ].compactMap { $0 }.joined(separator: "; ")
        } else {
            reason = .noCompletions
            detail = "\(counts.leased) leased, \(counts.pending) pending, no unit finished"
        }
        detail += "; idle \(idle) ms"
        return StallReport(reason: reason, idleMillis: idle, detail: detail)
    }

    /// Exact accounting of a finished run: every unit is done or dead, and each dead unit has its last error.
    public func summary(run runID: RunID) -> RunSummary? {
        guard let run = ledger.runs[runID] else { return nil }
        let counts = ledger.counts(run: runID)
        return RunSummary(
            id: runID, finished: run.state == .finished, finishedAt: run.finishedAt, units: counts.total, done: counts.done, dead: counts.dead,
            deadUnits: ledger.deadUnits(run: runID).map { DeadUnit(id: $0.id, kind: $0.kind, platform: $0.platform, key: $0.seed.key, lastError: $0.lastError ?? "") },
            totals: run.totals)
    }
}

/// A dead unit with the reason it died.
public struct DeadUnit: Hashable, Sendable, Codable {
    public let id: UnitID
    public let kind: String
    public let platform: String
    public let key: String
    public let lastError: String
}

/// The completion signal: `done + dead == units` once `finished`.
public struct RunSummary: Hashable, Sendable, Codable {
    public let id: RunID
    public let finished: Bool
    public let finishedAt: Timestamp?
    public let units: Int
    public let done: Int
    public let dead: Int
    public let deadUnits: [DeadUnit]
    public let totals: RunTotals
}
