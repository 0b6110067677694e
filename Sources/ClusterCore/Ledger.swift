/// The pure ledger state machine: runs, units, leases and accepted outputs.
///
/// Every operation takes `now`, first expires leases whose deadline has passed (so a late report is never honoured
/// by accident of sweep timing), and records the rows it changed. `drainChanges()` hands those rows to the store,
/// which persists them in one transaction before the coordinator replies (write-ahead). A lease grant is recorded as
/// one journal entry for all its units instead of a row per unit (`LeaseGrantRecord`); every other transition
/// rewrites the unit's row. `init(config:restoring:)` rebuilds an identical machine from the rows and the journal.
///
/// A done unit's full row stays in `units` only until it is drained; from then on the ledger keeps it as a
/// `CompletedUnit` (its run and accepted lease), since done is final and nothing but a late or duplicate report
/// asks about it again. The store holds the full row.
public struct Ledger: Sendable {
    public let config: LedgerConfig
    public private(set) var runs: [RunID: RunRecord] = [:]
    /// Units that are pending, leased or dead, and done units whose rows wait for `drainChanges()`.
    public private(set) var units: [UnitID: UnitRecord] = [:]
    private var completed = CompletedUnitTable()

    private var queues: [String: PendingQueue] = [:]
    private var leasedUnits: Set<UnitID> = []
    private var leasedPerPlatform: [String: Int] = [:]
    private var leasedPerWorker: [WorkerID: Int] = [:]
    /// No lease expires before this (a lower bound: deadlines only move later, so it stays valid until the next
    /// sweep recomputes it); nil when nothing is leased. Lets every operation skip the sweep over all leases.
    private var nextExpiry: Timestamp?
    private var counts: [DepthKey: StateCounts] = [:]
    private var nextPendingSeq: UInt64 = 1
    private var changedRuns: [RunID] = []
    private var changedRunSet: Set<RunID> = []
    private var changedUnits: [UnitID] = []
    private var changedUnitSet: Set<UnitID> = []
    private var grants: [LeaseGrantRecord] = []

    /// Counts are kept per (run, platform, kind), updated on every transition, never by scanning.
    struct DepthKey: Hashable, Sendable {
        let run: RunID
        let platform: String
        let kind: String
    }

    public init(config: LedgerConfig = LedgerConfig()) {
        self.config = config
    }

    /// Rebuilds the machine from persisted rows (the latest content of each row; later rows of the same id win) and
    /// the lease journal. Leases keep their persisted deadlines and expire naturally if their workers are gone.
    public init(config: LedgerConfig, restoring changes: some Sequence<LedgerChange>) {
        self.config = config
        var journal: [LeaseGrantRecord] = []
        for change in changes {
            switch change {
            case .run(let run): runs[run.id] = run
            case .unit(let unit): units[unit.id] = unit
            case .leases(let grant): journal.append(grant)
            }
        }
        for unit in units.values where unit.state == .done {
            restoreDone(
                unit.id, run: unit.run, platform: unit.platform, kind: unit.kind,
                epoch: unit.completedBy?.epoch ?? unit.leaseEpoch, pendingSeq: unit.pendingSeq)
        }
        units = units.filter { $0.value.state != .done }
        // Epochs only grow, so an entry is current exactly when its epoch is newer than the row's, whatever the
        // order of rows and entries.
        for grant in journal {
            for (id, epoch) in zip(grant.units, grant.epochs) {
                guard var unit = units[id], unit.state == .pending, unit.leaseEpoch < epoch else { continue }
                unit.leaseEpoch = epoch
                unit.attempts += 1
                unit.lease = Lease(token: LeaseToken(unit: id, epoch: epoch), worker: grant.worker, grantedAt: grant.grantedAt, deadline: grant.deadline)
                unit.state = .leased
                unit.pendingSince = nil
                unit.updatedAt = grant.grantedAt
                units[id] = unit
            }
        }
        var pendingByPlatform: [String: [UnitRecord]] = [:]
        for unit in units.values {
            counts[DepthKey(run: unit.run, platform: unit.platform, kind: unit.kind), default: StateCounts()][unit.state] += 1
            nextPendingSeq = max(nextPendingSeq, unit.pendingSeq &+ 1)
            switch unit.state {
            case .pending: pendingByPlatform[unit.platform, default: []].append(unit)
            case .leased:
                leasedUnits.insert(unit.id)
                leasedPerPlatform[unit.platform, default: 0] += 1
                if let lease = unit.lease {
                    leasedPerWorker[lease.worker, default: 0] += 1
                    nextExpiry = min(nextExpiry ?? lease.deadline, lease.deadline)
                }
            case .done, .dead: break
            }
        }
        for (platform, pending) in pendingByPlatform {
            var queue = PendingQueue()
            for unit in pending.sorted(by: { $0.pendingSeq < $1.pendingSeq }) { queue.push(unit.id, seq: unit.pendingSeq) }
            queues[platform] = queue
        }
    }

    /// Adds done units read from the store's typed columns (`CompletedUnitRow`), in as many calls as the store
    /// reads pages. Part of restoring: call it right after `init(config:restoring:)`, before any operation.
    public mutating func restoreCompleted(_ rows: some Sequence<CompletedUnitRow>) {
        for row in rows where units[row.id] == nil {
            restoreDone(
                row.id, run: row.run, platform: row.platform, kind: row.kind, epoch: row.epoch, pendingSeq: row.pendingSeq)
        }
    }

    /// Keeps a restored done unit compact and counts it once (the same unit may come from both restore sources).
    private mutating func restoreDone(
        _ id: UnitID, run: RunID, platform: String, kind: String, epoch: UInt32, pendingSeq: UInt64
    ) {
        nextPendingSeq = max(nextPendingSeq, pendingSeq &+ 1)
        if completed.insert(id, run: run, epoch: epoch) {
            counts[DepthKey(run: run, platform: platform, kind: kind), default: StateCounts()].done += 1
        }
    }

    /// Records a done unit's compact form; the caller drops the whole row.
    private mutating func keepCompact(_ unit: UnitRecord) {
        completed.insert(unit.id, run: unit.run, epoch: unit.completedBy?.epoch ?? unit.leaseEpoch)
    }

    // MARK: Changes

    /// The rows changed since the last call, runs first, each once with its latest content, then the lease grants.
    /// Done units among them are reduced to `CompletedUnit`s: from now on their rows are the store's.
    public mutating func drainChanges() -> [LedgerChange] {
        var out: [LedgerChange] = changedRuns.compactMap { runs[$0].map(LedgerChange.run) }
        out.reserveCapacity(changedRuns.count + changedUnits.count + grants.count)
        for id in changedUnits {
            guard let index = units.index(forKey: id) else { continue }
            let unit = units.values[index]
            out.append(.unit(unit))
            if unit.state == .done {
                keepCompact(unit)
                units.remove(at: index)
            }
        }
        // A dictionary never gives back capacity on removal; once most of the whole rows became compact, rehash the
        // rest so the table of a run created with many units at once does not stay at its peak.
        if units.capacity > 4_096, units.count * 8 < units.capacity {
            var shrunk = [UnitID: UnitRecord](minimumCapacity: units.count * 2)
            for (id, unit) in units { shrunk[id] = unit }
            units = shrunk
        }
        out += grants.map(LedgerChange.leases)
        grants.removeAll(keepingCapacity: true)
        changedRuns.removeAll(keepingCapacity: true)
        changedRunSet.removeAll(keepingCapacity: true)
        changedUnits.removeAll(keepingCapacity: true)
        changedUnitSet.removeAll(keepingCapacity: true)
        return out
    }

    /// Whether changes wait for `drainChanges()`.
    public var hasChanges: Bool { !changedRuns.isEmpty || !changedUnits.isEmpty || !grants.isEmpty }

    private mutating func touch(run id: RunID) {
        if changedRunSet.insert(id).inserted { changedRuns.append(id) }
    }

    private mutating func touch(unit id: UnitID) {
        if changedUnitSet.insert(id).inserted { changedUnits.append(id) }
    }

    // MARK: Runs and units

    /// Creates the run with its root units, or, if it exists with the same spec, adds any missing roots (so
    /// planning the same run twice resumes it). Returns the ids of units created now.
    @discardableResult
    public mutating func createRun(_ spec: RunSpec, id: RunID? = nil, roots: [UnitSeed], now: Timestamp) throws(ClusterError) -> [UnitID] {
        let runID = id ?? spec.defaultID
        if let existing = runs[runID] {
            guard existing.spec == spec else {
                throw ClusterError(code: .conflict, operation: "createRun", detail: "run \(runID) exists with another spec")
            }
        } else {
            runs[runID] = RunRecord(id: runID, spec: spec, createdAt: now, state: .active, finishedAt: nil, lastProgressAt: now, totals: RunTotals())
            touch(run: runID)
        }
        let created = try addUnits(roots, run: runID, parent: nil, now: now)
        finishIfComplete(runID, now: now)
        return created
    }

    /// Adds units to a run; existing ids are skipped (a child reported twice is created once). Reopens a finished run
    /// if anything new is added.
    @discardableResult
    public mutating func addUnits(_ seeds: [UnitSeed], run runID: RunID, parent: UnitID?, now: Timestamp) throws(ClusterError) -> [UnitID] {
        guard let run = runs[runID] else {
            throw ClusterError(code: .unknownRun, operation: "addUnits", detail: "no run \(runID)")
        }
        for seed in seeds where !run.spec.platforms.contains(seed.platform) {
            throw ClusterError(code: .invalidArgument, operation: "addUnits", detail: "platform '\(seed.platform)' is not part of run \(runID)")
        }
        var created: [UnitID] = []
        for seed in seeds {
            let id = seed.unitID(in: runID)
            guard units[id] == nil, !completed.contains(id) else { continue }
            let seq = takePendingSeq()
            let unit = UnitRecord(
                id: id, run: runID, parent: parent, seed: seed, createdAt: now, state: .pending, attempts: 0, leaseEpoch: 0,
                lease: nil, lastError: nil, pendingSeq: seq, pendingSince: now, updatedAt: now, completedBy: nil, manifest: nil,
                stats: .zero)
            units[id] = unit
            counts[DepthKey(run: runID, platform: seed.platform, kind: seed.kind), default: StateCounts()].pending += 1
            queues[seed.platform, default: PendingQueue()].push(id, seq: seq)
            touch(unit: id)
            created.append(id)
        }
        if !created.isEmpty {
            reopen(runID, now: now)
            runs[runID]?.lastProgressAt = now
            touch(run: runID)
        }
        return created
    }

    private mutating func takePendingSeq() -> UInt64 {
        defer { nextPendingSeq &+= 1 }
        return nextPendingSeq
    }

    /// The single place a unit changes state, so counters, queues and change records stay consistent. `journaled`:
    /// the caller records the change as a lease grant entry instead of the row.
    private mutating func move(
        _ id: UnitID, to newState: UnitState, now: Timestamp, journaled: Bool = false, _ update: (inout UnitRecord) -> Void = { _ in }
    ) {
        guard var unit = units[id] else { return }
        let oldState = unit.state
        let oldWorker = unit.lease?.worker
        update(&unit)
        unit.state = newState
        unit.updatedAt = now
        let key = DepthKey(run: unit.run, platform: unit.platform, kind: unit.kind)
        counts[key, default: StateCounts()][oldState] -= 1
        counts[key, default: StateCounts()][newState] += 1
        if oldState == .leased {
            leasedUnits.remove(id)
            leasedPerPlatform[unit.platform, default: 1] -= 1
            if let oldWorker { leasedPerWorker[oldWorker, default: 1] -= 1 }
        }
        if newState == .leased {
            leasedUnits.insert(id)
            leasedPerPlatform[unit.platform, default: 0] += 1
            if let lease = unit.lease {
                leasedPerWorker[lease.worker, default: 0] += 1
                nextExpiry = min(nextExpiry ?? lease.deadline, lease.deadline)
            }
        } else {
            unit.lease = nil
        }
        if newState == .pending {
            unit.pendingSeq = takePendingSeq()
            unit.pendingSince = now
            queues[unit.platform, default: PendingQueue()].push(id, seq: unit.pendingSeq)
        } else {
            unit.pendingSince = nil
        }
        units[id] = unit
        if !journaled { touch(unit: id) }
        if newState == .done || newState == .dead {
            runs[unit.run]?.lastProgressAt = now
            touch(run: unit.run)
        }
    }

    // MARK: Leases

    /// Leases up to `maxUnits` pending units of the given platforms to `worker`, oldest first, taking platforms in
    /// turn so one platform's backlog does not starve another. Each grant counts an attempt.
    public mutating func lease(worker: WorkerID, maxUnits: Int, platforms: [String], now: Timestamp) -> [UnitRecord] {
        expireLeases(now: now)
        let wanted = Array(Set(platforms)).sorted()
        var granted: [UnitRecord] = []
        let limit = min(max(0, maxUnits), ClusterLimits.maxUnitsPerLease)
        var exhausted: Set<String> = []
        let deadline = now.adding(millis: config.leaseMillis)
        var grant = LeaseGrantRecord(worker: worker, grantedAt: now, deadline: deadline, units: [], epochs: [])
        defer { if !grant.units.isEmpty { grants.append(grant) } }
        while granted.count < limit, exhausted.count < wanted.count {
            for platform in wanted where !exhausted.contains(platform) && granted.count < limit {
                if let cap = config.maxLeasedPerPlatform, leasedPerPlatform[platform, default: 0] >= cap {
                    exhausted.insert(platform)
                    continue
                }
                guard let id = popPending(platform: platform) else {
                    exhausted.insert(platform)
                    continue
                }
                move(id, to: .leased, now: now, journaled: true) { unit in
                    unit.leaseEpoch &+= 1
                    unit.attempts += 1
                    unit.lease = Lease(token: LeaseToken(unit: id, epoch: unit.leaseEpoch), worker: worker, grantedAt: now, deadline: deadline)
                }
                if let unit = units[id] {
                    granted.append(unit)
                    grant.units.append(id)
                    grant.epochs.append(unit.leaseEpoch)
                }
            }
        }
        return granted
    }

    private mutating func popPending(platform: String) -> UnitID? {
        while let (id, seq) = queues[platform]?.pop() {
            if let unit = units[id], unit.state == .pending, unit.pendingSeq == seq { return id }
        }
        return nil
    }

    /// Extends each lease `worker` still holds to `now + leaseMillis`; tokens it no longer holds come back invalid.
    public mutating func heartbeat(worker: WorkerID, tokens: [LeaseToken], now: Timestamp) -> [LeaseStatus] {
        expireLeases(now: now)
        return tokens.map { token in
            guard let unit = units[token.unit], unit.state == .leased, let lease = unit.lease,
                  lease.token == token, lease.worker == worker
            else { return LeaseStatus(token: token, valid: false, deadline: nil) }
            let deadline = now.adding(millis: config.leaseMillis)
            if deadline != lease.deadline {
                units[token.unit]?.lease?.deadline = deadline
                nextExpiry = min(nextExpiry ?? deadline, deadline)
                units[token.unit]?.updatedAt = now
                touch(unit: token.unit)
            }
            return LeaseStatus(token: token, valid: true, deadline: deadline)
        }
    }

    /// Sends every lease whose deadline is at or before `now` back to pending, or to dead when its attempts are used up.
    @discardableResult
    public mutating func expireLeases(now: Timestamp) -> [UnitID] {
        guard let earliest = nextExpiry, earliest <= now else { return [] }
        var expired: [UnitID] = []
        var remaining: Timestamp?
        for id in leasedUnits {
            guard let lease = units[id]?.lease else { continue }
            if lease.deadline <= now {
                expired.append(id)
            } else {
                remaining = min(remaining ?? lease.deadline, lease.deadline)
            }
        }
        nextExpiry = remaining
        for id in expired.sorted() {
            guard let unit = units[id], let lease = unit.lease else { continue }
            let error = "lease \(lease.token) held by \(lease.worker) expired at \(lease.deadline.millis)"
            runs[unit.run]?.totals.leaseExpiries += 1
            touch(run: unit.run)
            if unit.attempts >= config.maxAttempts {
                move(id, to: .dead, now: now) { $0.lastError = error + "; \(unit.attempts) attempts used" }
            } else {
                move(id, to: .pending, now: now) { $0.lastError = error }
            }
        }
        for run in Set(expired.compactMap { units[$0]?.run }) { finishIfComplete(run, now: now) }
        return expired
    }

    /// Moves every outstanding lease's deadline to at least `deadline` (never earlier). Used once after a coordinator
    /// restart: workers could not heartbeat while it was down, so their leases get one lease period to reconnect
    /// instead of expiring on the first sweep and having finished work redone. Every leased row is rewritten, so
    /// once this is persisted the lease journal holds nothing the rows do not (the store may then clear it).
    /// Returns how many were extended.
    @discardableResult
    public mutating func extendOutstandingLeases(to deadline: Timestamp, now: Timestamp) -> Int {
        var extended = 0
        for id in leasedUnits.sorted() {
            touch(unit: id)
            guard let lease = units[id]?.lease, lease.deadline < deadline else { continue }
            units[id]?.lease?.deadline = deadline
            units[id]?.updatedAt = now
            extended += 1
        }
        return extended
    }

    /// Returns `worker`'s leases among `tokens` to pending without counting the attempt (a clean goodbye).
    @discardableResult
    public mutating func release(worker: WorkerID, tokens: [LeaseToken], now: Timestamp) -> [UnitID] {
        expireLeases(now: now)
        var released: [UnitID] = []
        for token in tokens {
            guard let unit = units[token.unit], unit.state == .leased, unit.lease?.token == token, unit.lease?.worker == worker else { continue }
            move(token.unit, to: .pending, now: now) { $0.attempts = max(0, $0.attempts - 1) }
            released.append(token.unit)
        }
        return released
    }

    // MARK: Reports

    /// Applies a completion. Only the current lease holder's first completion is accepted; its manifest becomes
    /// the unit's accepted output and its children are created (once, whatever the number of reports).
    public mutating func complete(
        worker: WorkerID, token: LeaseToken, manifest: Manifest, children: [UnitSeed], stats: TaskStats, now: Timestamp
    ) -> CompletionOutcome {
        expireLeases(now: now)
        guard let unit = units[token.unit] else {
            guard let done = completed[token.unit] else { return .unknownUnit }
            if done.token == token { return .duplicate }
            countStaleReport(run: done.run)
            return .stale
        }
        if unit.state == .done, unit.completedBy == token { return .duplicate }
        guard unit.state == .leased, let lease = unit.lease, lease.token == token, lease.worker == worker else {
            countStaleReport(run: unit.run)
            return .stale
        }
        guard let run = runs[unit.run] else { return .unknownUnit }
        let problem: String? =
            if let child = children.first(where: { !run.spec.platforms.contains($0.platform) }) {
                "child platform '\(child.platform)' is not part of run \(run.id)"
            } else if children.count > ClusterLimits.maxChildrenPerCompletion {
                "\(children.count) children exceed \(ClusterLimits.maxChildrenPerCompletion)"
            } else if manifest.files.count > ClusterLimits.maxFilesPerCompletion || !manifest.files.allSatisfy(\.isValid) {
                "manifest has an invalid or excess file entry"
            } else if !stats.isValid {
                "negative statistics"
            } else {
                nil
            }
        if let problem {
            _ = applyFailure(unit: unit, error: "invalid completion: \(problem)", retryable: true, stats: .zero, now: now)
            return .invalid
        }
        var totals = run.totals
        totals.stats = totals.stats.adding(stats)
        for (table, rows) in manifest.rowsByTable { totals.rowsByTable[table] = totals.rowsByTable[table, default: 0].addingSaturating(rows) }
        totals.files = totals.files.addingSaturating(Int64(manifest.files.count))
        totals.outputBytes = totals.outputBytes.addingSaturating(manifest.totalBytes)
        runs[run.id]?.totals = totals
        touch(run: run.id)
        // The held lease's token equals `token` but shares its unit id's storage with the record; the reported one
        // is a fresh string that every done unit would otherwise keep (and every child as its parent).
        move(token.unit, to: .done, now: now) { unit in
            unit.completedBy = lease.token
            unit.manifest = manifest
            unit.stats = unit.stats.adding(stats)
        }
        // Children were validated above, so this cannot throw.
        _ = try? addUnits(children, run: run.id, parent: lease.token.unit, now: now)
        finishIfComplete(run.id, now: now)
        return .accepted
    }

    /// Applies a failure from the current lease holder: back to pending if retryable and attempts remain, else dead.
    public mutating func fail(worker: WorkerID, token: LeaseToken, error: String, retryable: Bool, stats: TaskStats, now: Timestamp) -> FailureOutcome {
        expireLeases(now: now)
        guard let unit = units[token.unit] else {
            guard let done = completed[token.unit] else { return .unknownUnit }
            countStaleReport(run: done.run)
            return .stale
        }
        guard unit.state == .leased, let lease = unit.lease, lease.token == token, lease.worker == worker else {
            countStaleReport(run: unit.run)
            return .stale
        }
        return applyFailure(unit: unit, error: error, retryable: retryable, stats: stats.isValid ? stats : .zero, now: now)
    }

    private mutating func countStaleReport(run: RunID) {
        runs[run]?.totals.staleReports += 1
        touch(run: run)
    }

    private mutating func applyFailure(unit: UnitRecord, error: String, retryable: Bool, stats: TaskStats, now: Timestamp) -> FailureOutcome {
        let message = truncatedUTF8(error, maxBytes: ClusterLimits.maxErrorBytes)
        if var totals = runs[unit.run]?.totals {
            totals.failures += 1
            totals.stats = totals.stats.adding(stats)
            runs[unit.run]?.totals = totals
            touch(run: unit.run)
        }
        let outcome: FailureOutcome = retryable && unit.attempts < config.maxAttempts ? .requeued : .dead
        move(unit.id, to: outcome == .requeued ? .pending : .dead, now: now) { record in
            record.lastError = message
            record.stats = record.stats.adding(stats)
        }
        finishIfComplete(unit.run, now: now)
        return outcome
    }

    // MARK: Operators

    /// Dead units, optionally of one run, oldest id first.
    public func deadUnits(run: RunID? = nil) -> [UnitRecord] {
        units.values.filter { $0.state == .dead && (run == nil || $0.run == run) }.sorted { $0.id < $1.id }
    }

    /// Sends dead units back to pending with their attempts reset (their last error is kept until they succeed).
    /// With `ids` nil, retries every dead unit of `run` (or of all runs). Returns the ids retried.
    @discardableResult
    public mutating func retry(ids: [UnitID]? = nil, run: RunID? = nil, now: Timestamp) -> [UnitID] {
        let targets = ids ?? deadUnits(run: run).map(\.id)
        var retried: [UnitID] = []
        for id in targets {
            guard let unit = units[id], unit.state == .dead, run == nil || unit.run == run else { continue }
            move(id, to: .pending, now: now) { $0.attempts = 0 }
            runs[unit.run]?.totals.retriedDead += 1
            reopen(unit.run, now: now)
            touch(run: unit.run)
            retried.append(id)
        }
        return retried
    }

    private mutating func reopen(_ runID: RunID, now: Timestamp) {
        guard runs[runID]?.state == .finished else { return }
        runs[runID]?.state = .active
        runs[runID]?.finishedAt = nil
        runs[runID]?.lastProgressAt = now
        touch(run: runID)
    }

    private mutating func finishIfComplete(_ runID: RunID, now: Timestamp) {
        guard let run = runs[runID], run.state == .active, counts(run: runID).backlog == 0 else { return }
        runs[runID]?.state = .finished
        runs[runID]?.finishedAt = now
        touch(run: runID)
    }

    // MARK: Queries

    /// Unit counts of one run by state.
    public func counts(run: RunID) -> StateCounts {
        counts.filter { $0.key.run == run }.values.reduce(StateCounts(), +)
    }

    /// Unit counts per platform and kind, over the given runs (all runs if nil).
    public func depths(runs selected: Set<RunID>? = nil) -> [QueueDepth] {
        var merged: [String: (platform: String, kind: String, counts: StateCounts)] = [:]
        for (key, value) in counts where selected?.contains(key.run) ?? true {
            let name = key.platform + "\u{0}" + key.kind
            merged[name, default: (key.platform, key.kind, StateCounts())].counts = merged[name, default: (key.platform, key.kind, StateCounts())].counts + value
        }
        return merged.values.map { QueueDepth(platform: $0.platform, kind: $0.kind, counts: $0.counts) }
            .sorted { ($0.platform, $0.kind) < ($1.platform, $1.kind) }
    }

    /// When the oldest pending unit of each platform entered pending.
    public func oldestPending() -> [String: Timestamp] {
        var out: [String: Timestamp] = [:]
        for (platform, queue) in queues {
            if let since = queue.first(where: { id, seq in units[id].map { $0.state == .pending && $0.pendingSeq == seq } ?? false })
                .flatMap({ units[$0.0]?.pendingSince }) {
                out[platform] = since
            }
        }
        return out
    }

    /// A done unit, whether or not its row was drained yet.
    public func completedUnit(_ id: UnitID) -> CompletedUnit? {
        if let unit = units[id] {
            guard unit.state == .done, let token = unit.completedBy else { return nil }
            return CompletedUnit(run: unit.run, token: token)
        }
        return completed[id]
    }

    /// Every unit the ledger knows, done ones included.
    public var unitCount: Int { units.count + completed.count }

    /// Leases currently outstanding, by unit id.
    public var leasedUnitIDs: Set<UnitID> { leasedUnits }

    /// Units `worker` holds right now.
    public func leasedCount(worker: WorkerID) -> Int { leasedPerWorker[worker, default: 0] }

    /// Units leased per platform right now.
    public func leasedCount(platform: String) -> Int { leasedPerPlatform[platform, default: 0] }

    /// The persisted content, for comparing a rebuilt machine with the original (call it after draining: a done
    /// unit's row is kept whole until then).
    public var snapshot: LedgerSnapshot { LedgerSnapshot(runs: runs, units: units, completed: completed.all) }
}

/// The durable content of a ledger: full rows of the units not done (and done but not yet drained), and the
/// drained done units as `CompletedUnit`s.
public struct LedgerSnapshot: Hashable, Sendable {
    public let runs: [RunID: RunRecord]
    public let units: [UnitID: UnitRecord]
    public let completed: [UnitID: CompletedUnit]
}

/// Units of one platform and kind by state.
public struct QueueDepth: Hashable, Sendable, Codable {
    public let platform: String
    public let kind: String
    public let counts: StateCounts
    public init(platform: String, kind: String, counts: StateCounts) {
        self.platform = platform
        self.kind = kind
        self.counts = counts
    }
}

/// FIFO of (unit, pendingSeq) with an advancing head; entries whose seq no longer matches are skipped lazily.
struct PendingQueue: Sendable {
    private var items: [(UnitID, UInt64)] = []
    private var head = 0

    mutating func push(_ id: UnitID, seq: UInt64) { items.append((id, seq)) }

    mutating func pop() -> (UnitID, UInt64)? {
        guard head < items.count else { return nil }
        defer {
            head += 1
            if head > 1024, head * 2 > items.count {
                items.removeFirst(head)
                head = 0
            }
        }
        return items[head]
    }

    func first(where predicate: (UnitID, UInt64) -> Bool) -> (UnitID, UInt64)? {
        var index = head
        while index < items.count {
            if predicate(items[index].0, items[index].1) { return items[index] }
            index += 1
        }
        return nil
    }
}
