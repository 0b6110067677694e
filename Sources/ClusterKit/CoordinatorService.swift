import ClusterCore
import Foundation
import Logging
import NNGKit
import Synchronization

/// Wall-clock time in the protocol's unit.
public func systemTimestamp() -> Timestamp {
    Timestamp(millis: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)))
}

/// How to run a coordinator.
public struct CoordinatorSettings: Sendable {
    /// `tcp://0.0.0.0:7700` or `tls+tcp://…` (port 0 picks a free port; `onListening` reports it).
    public var listenURL: String
    public var tls: NNGTLSConfig?
    public var secret: [UInt8]
    public var core: CoordinatorConfig
    /// Requests served concurrently (REP contexts).
    public var contexts: Int
    public var maxMessageBytes: Int
    public var replayWindowMillis: Int64
    /// Lease expiry and budget housekeeping period.
    public var tickMillis: Int64
    /// Queue-depth sampling period.
    public var sampleMillis: Int64

    public init(
        listenURL: String, tls: NNGTLSConfig? = nil, secret: [UInt8], core: CoordinatorConfig = CoordinatorConfig(), contexts: Int = 8,
        maxMessageBytes: Int = 8 << 20, replayWindowMillis: Int64 = 120_000, tickMillis: Int64 = 1_000, sampleMillis: Int64 = 30_000
    ) {
        self.listenURL = listenURL
        self.tls = tls
        self.secret = secret
        self.core = core
        self.contexts = max(1, contexts)
        self.maxMessageBytes = maxMessageBytes
        self.replayWindowMillis = replayWindowMillis
        self.tickMillis = max(10, tickMillis)
        self.sampleMillis = max(10, sampleMillis)
    }
}

/// The coordinator process: REP contexts in front of the pure `CoordinatorCore`, with group commit to PostgreSQL.
///
/// Every request is applied to the in-memory core at once, but its reply is sent only after the batch holding its
/// changes is committed (write-ahead). One committer persists whatever accumulated while the previous commit ran,
/// so concurrent requests share transactions. A failed commit stops the service (memory would be ahead of disk);
/// restarting rebuilds everything from the store.
public final class CoordinatorService: Sendable {
    let settings: CoordinatorSettings
    let store: PostgresLedgerStore
    let clock: @Sendable () -> Timestamp
    let logger: Logger
    private let stateBox = Mutex<CoordinatorState?>(nil)

    public init(settings: CoordinatorSettings, store: PostgresLedgerStore, clock: @escaping @Sendable () -> Timestamp = systemTimestamp, logger: Logger) {
        self.settings = settings
        self.store = store
        self.clock = clock
        self.logger = logger
    }

    private var state: CoordinatorState {
        get throws {
            guard let state = stateBox.withLock({ $0 }) else {
                throw ClusterError(code: .invalidState, operation: "coordinator", detail: "the service is not running")
            }
            return state
        }
    }

    /// Migrates and loads the ledger, listens, and serves until cancelled. `onListening` gets the bound URL.
    public func run(onListening: @Sendable (String) -> Void = { _ in }) async throws {
        try await store.migrate()
        let codec = try WireCodec(secret: settings.secret, maxMessageBytes: settings.maxMessageBytes)
        // The loaded ledger goes straight into the core and the core into the state (`consume`): a second
        // reference alive beside the one being mutated would make the first mutation copy every table.
        var core = CoordinatorCore(config: settings.core, ledger: try await store.loadLedger(config: settings.core.ledger))
        let graced = core.resume(now: clock())
        // `resume` rewrote every leased row, so the lease journal is redundant from this commit on.
        try await store.persist(core.drainChanges(), clearingLeaseJournal: true)
        logger.info("coordinator loaded ledger", metadata: ["runs": "\(core.ledger.runs.count)", "units": "\(core.ledger.unitCount)", "leased": "\(core.ledger.leasedUnitIDs.count)", "leasesGivenGrace": "\(graced)"])
        let state = CoordinatorState(
            core: consume core,
            gate: MessageGate(codec: codec, replay: ReplayWindow(windowMillis: settings.replayWindowMillis)), logger: logger)
        stateBox.withLock { $0 = state }
        defer { stateBox.withLock { $0 = nil } }

        try await withSocket(.rep, logger: logger) { socket in
            try socket.set(.receiveMaxSize(settings.maxMessageBytes), .tcpKeepAlive(true))
            let listener = try socket.listen(settings.listenURL, tls: settings.tls)
            onListening(listener.url)
            logger.info("coordinator listening", metadata: ["url": "\(listener.url)"])

            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.commitLoop(state) }
                group.addTask { try await self.tickLoop(state) }
                for _ in 0..<settings.contexts {
                    let context = try socket.makeContext()
                    group.addTask { try await self.serve(context, state, codec) }
                }
                defer { group.cancelAll() }
                // Whatever ends first (cancellation, a failed commit), every task still waiting for a commit is
                // released with an error before the others are awaited: no reply goes out for an uncommitted change,
                // and no waiter keeps the group from finishing.
                let stopped = ClusterError(code: .invalidState, operation: "coordinator", detail: "stopped")
                do {
                    try await group.next()
                } catch {
                    await state.shutdown(error)
                    throw error
                }
                await state.shutdown(stopped)
            }
        }
    }

    private func commitLoop(_ state: CoordinatorState) async throws {
        var grantsSinceCompaction = 0
        for await _ in state.wakeups {
            while let (changes, seq) = await state.takeBatch() {
                do {
                    try await store.persist(changes)
                } catch {
                    logger.critical("ledger commit failed; stopping so a restart rebuilds from the store", metadata: ["error": "\(error)"])
                    await state.shutdown(error)
                    throw error
                }
                await state.committed(seq)
                for change in changes { if case .leases = change { grantsSinceCompaction += 1 } }
            }
            // Between bursts, not inside one: superseded lease journal entries go, so the journal (and a restart's
            // read of it) stays about as large as the leases in flight. A failure here loses nothing; retry later.
            if grantsSinceCompaction >= Self.compactionGrants {
                grantsSinceCompaction = 0
                do {
                    let deleted = try await store.compactLeaseJournal()
                    logger.debug("lease journal compacted", metadata: ["deleted": "\(deleted)"])
                } catch {
                    logger.warning("lease journal compaction failed; it is retried later", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    /// Lease grants committed between two journal compactions.
    static let compactionGrants = 2_048

    private func tickLoop(_ state: CoordinatorState) async throws {
        var lastSample = Timestamp(millis: 0)
        while !Task.isCancelled {
            try await Task.sleep(for: .milliseconds(settings.tickMillis))
            let now = clock()
            let sample = now.millis(since: lastSample) >= settings.sampleMillis
            if sample { lastSample = now }
            await state.tick(now: now, sample: sample)
            guard sample else { continue }
            let (finished, stalls) = try await state.events(now: now)
            for summary in finished {
                logger.notice("run finished", metadata: [
                    "run": "\(summary.id)", "units": "\(summary.units)", "done": "\(summary.done)", "dead": "\(summary.dead)",
                    "requests": "\(summary.totals.stats.requests)", "rows": "\(summary.totals.rowsByTable)",
                ])
            }
            for (run, stall) in stalls {
                logger.warning("run stalled", metadata: ["run": "\(run)", "reason": "\(stall.reason.rawValue)", "detail": "\(stall.detail)"])
            }
        }
    }

    /// Decoding, authenticating and encoding happen here, outside the state actor, so several contexts do that
    /// work in parallel; the actor only admits (replay window) and applies.
    private func serve(_ context: NNGContext, _ state: CoordinatorState, _ codec: WireCodec) async throws {
        defer { context.close() }
        var rng = SystemRandomNumberGenerator()
        while !Task.isCancelled {
            let request: [UInt8]
            do {
                request = try await context.receive()
            } catch let error as NNGError where error.code == .closed || error.code == .cancelled {
                return
            }
            let decoded = Result { () throws(ProtocolError) in try codec.decode(request) }
            let now = clock()
            let outcome = await state.receive(decoded, now: now)
            let reply: [UInt8] =
                switch outcome.reply {
                case .bytes(let bytes): bytes
                case .message(let message, let replyTo): CoordinatorState.encode(message, replyTo: replyTo, now: now, codec: codec, rng: &rng)
                }
            try await state.waitCommitted(outcome.seq)
            if let id = outcome.remember { await state.remember(reply: reply, for: id) }
            do {
                try await context.send(reply, timeout: .seconds(10))
            } catch let error as NNGError where error.code == .closed || error.code == .cancelled {
                return
            } catch {
                logger.warning("reply not sent", metadata: ["error": "\(error)"])
            }
        }
    }

    // MARK: Operator commands (applied and committed like requests)

    @discardableResult
    public func createRun(_ spec: RunSpec, id: RunID? = nil, roots: [UnitSeed]) async throws -> [UnitID] {
        let state = try state
        let (created, seq) = try await state.mutate(now: clock()) { core, now throws(ClusterError) in try core.createRun(spec, id: id, roots: roots, now: now) }
        try await state.waitCommitted(seq)
        return created
    }

    @discardableResult
    public func retryDead(ids: [UnitID]? = nil, run: RunID? = nil) async throws -> [UnitID] {
        let state = try state
        let (retried, seq) = try await state.mutate(now: clock()) { core, now throws(ClusterError) in core.retryDead(ids: ids, run: run, now: now) }
        try await state.waitCommitted(seq)
        return retried
    }

    /// Tells every worker to drain (in lease and heartbeat replies).
    public func setDraining(_ draining: Bool) async throws {
        let state = try state
        _ = try await state.mutate(now: clock()) { core, _ throws(ClusterError) in core.setDraining(draining) }
    }

    public func status() async throws -> ClusterStatus { try await state.status(now: clock()) }

    /// The sampled queue depth of every run (oldest sample first), for charts and the monitor.
    public func depthHistory() async throws -> [RunID: DepthHistory] { try await state.history() }

    public func summary(run: RunID) async throws -> RunSummary? { try await state.summary(run: run) }
}

/// The coordinator's mutable state; an actor, so the pure core is only touched by one task at a time.
actor CoordinatorState {
    private var core: CoordinatorCore
    private var gate: MessageGate
    private let logger: Logger
    private var appliedSeq: UInt64 = 0
    private var committedSeq: UInt64 = 0
    private var inFlightSeq: UInt64 = 0
    private var waiters: [(seq: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    private var failure: (any Error)?
    nonisolated let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    private static let coordinator = WorkerID(rawValue: "coordinator")!

    struct Outcome: Sendable {
        enum Reply: Sendable {
            /// A stored reply, sent again as is.
            case bytes([UInt8])
            /// To be encoded and signed by the caller.
            case message(ClusterMessage, replyTo: MessageID?)
        }
        let reply: Reply
        /// The request id whose reply to store for duplicates.
        let remember: MessageID?
        /// Commit that must complete before the reply is sent (0: none).
        let seq: UInt64
    }

    init(core: CoordinatorCore, gate: MessageGate, logger: Logger) {
        self.core = core
        self.gate = gate
        self.logger = logger
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func receive(_ decoded: Result<Envelope, ProtocolError>, now: Timestamp) -> Outcome {
        switch gate.admit(decoded, now: now) {
        case .resend(let reply):
            return Outcome(reply: .bytes(reply), remember: nil, seq: 0)
        case .reject(let error):
            logger.debug("request rejected", metadata: ["reason": "\(error.reason.rawValue)", "detail": "\(error.detail)"])
            return Outcome(reply: .message(.reject(Reject(reason: error.reason, detail: error.detail)), replyTo: nil), remember: nil, seq: 0)
        case .handle(let envelope):
            var reply = core.handle(envelope, now: now)
            if case .statusResponse(var status) = reply {
                status.rejected = gate.rejections.byName
                reply = .statusResponse(status)
            }
            let seq = noteChanges()
            return Outcome(reply: .message(reply, replyTo: envelope.id), remember: envelope.id, seq: seq)
        }
    }

    static func encode(_ message: ClusterMessage, replyTo: MessageID?, now: Timestamp, codec: WireCodec, rng: inout SystemRandomNumberGenerator) -> [UInt8] {
        let envelope = Envelope(id: MessageID.random(using: &rng), sender: Self.coordinator, sentAt: now, replyTo: replyTo, message: message)
        do {
            return try codec.encode(envelope)
        } catch {
            // Only an oversized reply can fail (e.g. a huge status); say so in a reply that always fits.
            let fallback = Envelope(
                id: MessageID.random(using: &rng), sender: Self.coordinator, sentAt: now, replyTo: replyTo,
                message: .reject(Reject(reason: .oversized, detail: "reply too large: \(error.detail)")))
            return (try? codec.encode(fallback)) ?? []
        }
    }

    /// Applies an operator command and returns its result with the commit to wait for.
    func mutate<T: Sendable>(now: Timestamp, _ body: @Sendable (inout CoordinatorCore, Timestamp) throws(ClusterError) -> T) throws(ClusterError) -> (T, UInt64) {
        let value = try body(&core, now)
        return (value, noteChanges())
    }

    func remember(reply: [UInt8], for id: MessageID) { gate.remember(reply: reply, for: id) }

    func tick(now: Timestamp, sample: Bool) {
        core.tick(now: now)
        if sample { core.sample(now: now) }
        _ = noteChanges()
    }

    /// Reads for operators wait, like replies, until everything they reflect is committed: a run reported as
    /// finished has all its accepted outputs in the store.
    func status(now: Timestamp) async throws -> ClusterStatus {
        var status = core.status(now: now)
        status.rejected = gate.rejections.byName
        return try await onceCommitted(status)
    }

    func summary(run: RunID) async throws -> RunSummary? { try await onceCommitted(core.summary(run: run)) }

    func history() async throws -> [RunID: DepthHistory] { try await onceCommitted(core.history) }

    /// Returns `value`, read from memory just now, once every change applied so far is committed.
    private func onceCommitted<T: Sendable>(_ value: T) async throws -> T {
        try await waitCommitted(appliedSeq)
        return value
    }

    private var announcedFinished: Set<RunID>?

    /// Runs that finished since the last call (none on the first call, which only records what is already
    /// finished) and the stall report of every stalled run.
    func events(now: Timestamp) async throws -> (finished: [RunSummary], stalls: [(RunID, StallReport)]) {
        let finishedNow = Set(core.ledger.runs.values.filter { $0.state == .finished }.map(\.id))
        let fresh = announcedFinished.map { finishedNow.subtracting($0) } ?? []
        announcedFinished = finishedNow
        let stalls = core.ledger.runs.keys.sorted().compactMap { run in core.stall(run: run, now: now).map { (run, $0) } }
        return try await onceCommitted((fresh.sorted().compactMap { core.summary(run: $0) }, stalls))
    }

    /// Marks pending changes with a new sequence number and wakes the committer. Returns the commit that must
    /// complete before anything computed now is shown: also when this step changed nothing, an earlier batch may
    /// still be in flight, and a reply must not run ahead of the store.
    private func noteChanges() -> UInt64 {
        guard core.ledger.hasChanges else { return appliedSeq }
        if appliedSeq == inFlightSeq { appliedSeq += 1 }
        wake.yield()
        return appliedSeq
    }

    /// The changes applied since the last batch, with the sequence number they commit.
    func takeBatch() -> ([LedgerChange], UInt64)? {
        guard failure == nil, core.ledger.hasChanges else { return nil }
        let changes = core.drainChanges()
        inFlightSeq = appliedSeq
        return (changes, appliedSeq)
    }

    func committed(_ seq: UInt64) {
        committedSeq = max(committedSeq, seq)
        let ready = waiters.filter { $0.seq <= committedSeq }
        waiters.removeAll { $0.seq <= committedSeq }
        for waiter in ready { waiter.continuation.resume() }
    }

    func waitCommitted(_ seq: UInt64) async throws {
        if let failure { throw failure }
        guard seq > committedSeq else { return }
        try await withCheckedThrowingContinuation { continuation in
            waiters.append((seq, continuation))
        }
    }

    func shutdown(_ error: any Error) {
        if failure == nil { failure = error }
        let pending = waiters
        waiters.removeAll()
        for waiter in pending { waiter.continuation.resume(throwing: error) }
        wake.finish()
    }
}
