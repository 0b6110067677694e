import ClusterCore
import Foundation
import Logging
import NNGKit
import Synchronization

/// What a unit's execution produced.
public enum UnitOutcome: Sendable, Hashable {
    /// Files are already at their final names; children are tasks the unit discovered.
    case completed(manifest: Manifest, children: [UnitSeed], stats: TaskStats)
    case failed(error: String, retryable: Bool, stats: TaskStats)
}

/// Runs one leased unit; implemented by the platform layer. Cancellation means the lease was lost: stop, and leave
/// no output under a final name.
public protocol UnitExecutor: Sendable {
    func execute(_ unit: GrantedUnit, context: UnitContext) async -> UnitOutcome
}

/// What an executing unit may ask the worker: its platform's current allowance, and a channel for politeness
/// signals (429, 403, Retry-After) that the next heartbeat carries to the coordinator.
public final class UnitContext: Sendable {
    private let shared: WorkerShared
    init(shared: WorkerShared) { self.shared = shared }

    /// This worker's current share of the platform's budget (nil before the first grant).
    public func allowance(platform: String) -> PlatformAllowance? { shared.allowance(platform: platform) }

    /// Adds politeness signals for the next heartbeat. A Retry-After counts from now: the heartbeat carries what is
    /// left of it when it is sent.
    public func report(platform: String, _ stats: TaskStats) { shared.report(platform: platform, stats) }
}

public struct WorkerSettings: Sendable {
    public var coordinatorURL: String
    public var tls: NNGTLSConfig?
    public var secret: [UInt8]
    public var id: WorkerID
    /// Units run at once.
    public var capacity: Int
    /// Units leased ahead of a free slot, so the next unit starts as soon as one ends instead of after a lease
    /// round trip. The worker announces `capacity + prefetch` in its hello; prefetched leases are heartbeated and
    /// released on drain like running ones.
    public var prefetch: Int
    public var platforms: [String]
    public var softwareVersion: String
    /// Deadline of one request/reply exchange before the identical bytes are sent again.
    public var requestTimeout: Duration
    public var maxMessageBytes: Int

    public init(
        coordinatorURL: String, tls: NNGTLSConfig? = nil, secret: [UInt8], id: WorkerID, capacity: Int, prefetch: Int = 0,
        platforms: [String], softwareVersion: String = "0", requestTimeout: Duration = .seconds(10), maxMessageBytes: Int = 8 << 20
    ) {
        self.coordinatorURL = coordinatorURL
        self.tls = tls
        self.secret = secret
        self.id = id
        self.capacity = max(1, capacity)
        self.prefetch = max(0, min(prefetch, ClusterLimits.maxUnitsPerLease - max(1, capacity)))
        self.platforms = platforms
        self.softwareVersion = softwareVersion
        self.requestTimeout = requestTimeout
        self.maxMessageBytes = maxMessageBytes
    }
}

/// A finished unit's report as `complete` or `fail` would carry it.
enum UnitReport: Sendable {
    case complete(Complete)
    case fail(Fail)

    var token: LeaseToken {
        switch self {
        case .complete(let complete): complete.token
        case .fail(let fail): fail.token
        }
    }

    var message: ClusterMessage {
        switch self {
        case .complete(let complete): .complete(complete)
        case .fail(let fail): .fail(fail)
        }
    }
}

/// State shared by the lease loop, the heartbeat loop and running units.
final class WorkerShared: Sendable {
    struct State {
        /// Units running or being reported, by lease token.
        var held: [LeaseToken: Task<UnitOutcome, Never>] = [:]
        /// Leased ahead (prefetch), waiting for a slot.
        var queued: [GrantedUnit] = []
        /// Units whose executor has not returned yet (≤ capacity).
        var running = 0
        /// Prefetched leases given back on drain, released by the goodbye.
        var releasing: [LeaseToken] = []
        var allowances: [String: PlatformAllowance] = [:]
        var signals: [String: TaskStats] = [:]
        /// When the latest Retry-After seen per platform ends.
        var pauseEnds: [String: Timestamp] = [:]
        var draining = false
        var heartbeatMillis: Int64 = 10_000
        /// The coordinator takes `reportBatch` (revision ≥ 2) and this worker runs more than one unit at once.
        var batchReports = false
        /// Finished units waiting for the reporter, in finishing order.
        var outbox: [UnitReport] = []
        /// Request counters of every unit handed to the reporter.
        var reported = TaskStats.zero
        /// Every lease the worker holds: running, reporting and queued.
        var leasedTokens: [LeaseToken] { Array(held.keys) + queued.map(\.token) }
    }
    let state = Mutex(State())
    let clock: @Sendable () -> Timestamp
    /// Wakes the reporter when the outbox fills.
    let reportWakeups: AsyncStream<Void>
    let reportWake: AsyncStream<Void>.Continuation
    /// Wakes the lease loop when a slot frees, a unit is let go (reported or lost) or draining starts.
    let wakeup = Wakeup()

    init(clock: @escaping @Sendable () -> Timestamp) {
        self.clock = clock
        (reportWakeups, reportWake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func allowance(platform: String) -> PlatformAllowance? { state.withLock { $0.allowances[platform] } }
    func report(platform: String, _ stats: TaskStats) {
        var counts = stats
        counts.retryAfterMillis = nil
        let pauseEnd = stats.retryAfterMillis.map { clock().adding(millis: $0) }
        state.withLock { state in
            state.signals[platform] = (state.signals[platform] ?? .zero).adding(counts)
            if let pauseEnd { state.pauseEnds[platform] = max(state.pauseEnds[platform] ?? pauseEnd, pauseEnd) }
        }
    }

    /// Takes the signals for a heartbeat: counts since the last one, and the part of each Retry-After still to run
    /// (one that already ended is not sent, so the cluster never pauses for a wait that is over).
    func takeSignals() -> [PlatformSignals] {
        let now = clock()
        return state.withLock { state in
            for (platform, end) in state.pauseEnds where end > now {
                state.signals[platform, default: .zero].retryAfterMillis = end.millis(since: now)
            }
            state.pauseEnds.removeAll()
            let signals = state.signals.map { PlatformSignals(platform: $0.key, stats: $0.value) }
            state.signals.removeAll()
            return signals
        }
    }
    func update(_ allowances: [PlatformAllowance]) {
        state.withLock { state in for allowance in allowances { state.allowances[allowance.platform] = allowance } }
    }
}

/// A worker process: pulls leases, runs units with the executor, heartbeats, reports, and survives coordinator
/// restarts by resending identical requests and saying hello again when the coordinator no longer knows it.
public final class WorkerService: Sendable {
    let settings: WorkerSettings
    let executor: any UnitExecutor
    let clock: @Sendable () -> Timestamp
    let logger: Logger
    let shared: WorkerShared
    let codec: WireCodec

    public init(settings: WorkerSettings, executor: any UnitExecutor, clock: @escaping @Sendable () -> Timestamp = systemTimestamp, logger: Logger) throws {
        self.settings = settings
        self.executor = executor
        self.clock = clock
        self.shared = WorkerShared(clock: clock)
        self.logger = logger
        self.codec = try WireCodec(secret: settings.secret, maxMessageBytes: settings.maxMessageBytes)
    }

    /// Asks the worker to finish what it holds and leave (as a coordinator `drain` does).
    public func drain() {
        shared.state.withLock { $0.draining = true }
        shared.wakeup.signal()
    }

    /// The request counters of every unit this worker reported (completed or failed).
    public var reportedStats: TaskStats { shared.state.withLock { $0.reported } }

    /// Runs until drained (then says goodbye and returns) or cancelled (then releases its leases, best effort).
    public func run() async throws {
        try await withSocket(.req, logger: logger) { socket in
            try socket.set(
                .receiveMaxSize(settings.maxMessageBytes), .tcpKeepAlive(true), .reconnectMinimum(.milliseconds(100)),
                .reconnectMaximum(.seconds(5)), .requestResendTime(nil))
            try socket.dial(settings.coordinatorURL, tls: settings.tls)
            guard try await helloUnlessDrained(socket) else {
                logger.info("worker drained before the coordinator answered its hello; leaving", metadata: ["worker": "\(settings.id)"])
                return
            }
            do {
                try await withThrowingDiscardingTaskGroup { group in
                    group.addTask { try await self.heartbeatLoop(socket) }
                    group.addTask { try await self.reportLoop(socket) }
                    try await self.leaseLoop(socket, group: &group)
                    group.cancelAll()
                }
            } catch is CancellationError {
                // Release what is held so it is re-leased at once instead of after the deadline. The run task is
                // cancelled, so the goodbye goes out from a fresh task with one short attempt.
                let tokens = shared.state.withLock { $0.leasedTokens + $0.releasing }
                let goodbye = try encode(.goodbye(Goodbye(releasing: tokens))).frame
                _ = await Task { try? await self.roundTrip(socket, goodbye, timeout: .seconds(1)) }.value
                throw CancellationError()
            }
            let releasing = shared.state.withLock { $0.releasing }
            if try await goodbye(socket, releasing: releasing, within: .seconds(3)) {
                logger.info("worker drained and left", metadata: ["worker": "\(settings.id)"])
            } else {
                logger.warning(
                    "worker drained; the coordinator did not answer its goodbye, so the leases it gives back expire on their own",
                    metadata: ["worker": "\(settings.id)", "releasing": "\(releasing.count)"])
            }
        }
    }

    /// The goodbye only lets the coordinator re-lease given-back units at once (their leases expire anyway), so a
    /// coordinator that is gone must not keep a drained worker from leaving: it is retried for `limit` at most.
    /// Returns whether the coordinator answered.
    private func goodbye(_ socket: NNGSocket, releasing: [LeaseToken], within limit: Duration) async throws -> Bool {
        try await Self.first(
            { _ = try await self.call(socket, .goodbye(Goodbye(releasing: releasing))) },
            unless: { try await Task.sleep(for: limit) }) != nil
    }

    /// Says hello, unless a drain comes first: a worker that dialed before the coordinator listened may still be
    /// retrying its hello when it is asked to stop, and holds nothing, so it just leaves. Returns whether it is
    /// registered.
    private func helloUnlessDrained(_ socket: NNGSocket) async throws -> Bool {
        try await unlessDrained(grace: .zero) { try await self.hello(socket) } != nil
    }

    /// Runs `body` until it returns, or until `grace` after a drain started (then nil): a request that the
    /// coordinator never answers (it is gone, or not up yet) must not keep a worker from stopping. A live
    /// coordinator answers within the grace, so its grant is taken and given back by the goodbye; one abandoned
    /// later loses nothing but time (the grant expires on the coordinator).
    private func unlessDrained<T: Sendable>(grace: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T? {
        try await Self.first(body) {
            while !self.shared.state.withLock({ $0.draining }) { try await Task.sleep(for: .milliseconds(50)) }
            try await Task.sleep(for: grace)
        }
    }

    /// `body`'s result, or nil when `stop` returns first (the other is cancelled either way).
    private static func first<T: Sendable>(
        _ body: @escaping @Sendable () async throws -> T, unless stop: @escaping @Sendable () async throws -> Void
    ) async throws -> T? {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await stop()
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
    }

    private func hello(_ socket: NNGSocket) async throws {
        let reply = try await call(socket, .hello(Hello(capacity: settings.capacity + settings.prefetch, platforms: settings.platforms, softwareVersion: settings.softwareVersion)), helloOnUnknown: false)
        guard case .welcome(let welcome) = reply else {
            throw ClusterError(code: .invalidState, operation: "hello", detail: "coordinator answered \(reply.kind)")
        }
        let batch = (welcome.revision ?? 1) >= 2 && settings.capacity > 1
        shared.state.withLock {
            $0.heartbeatMillis = welcome.heartbeatMillis
            $0.batchReports = batch
        }
    }

    private func leaseLoop(_ socket: NNGSocket, group: inout ThrowingDiscardingTaskGroup<any Error>) async throws {
        let window = settings.capacity + settings.prefetch
        while !Task.isCancelled {
            startQueued(socket: socket, group: &group)
            let (leased, draining) = shared.state.withLock { state in
                if state.draining && !state.queued.isEmpty {
                    // Units not started yet go back to the queue at once (the goodbye releases them).
                    state.releasing += state.queued.map(\.token)
                    state.queued.removeAll()
                }
                return (state.held.count + state.queued.count, state.draining)
            }
            if draining {
                if leased == 0 { return }
                await shared.wakeup.wait(upTo: .milliseconds(50))
                continue
            }
            guard leased < window else {
                await shared.wakeup.wait(upTo: .seconds(1))
                continue
            }
            let request = LeaseRequest(maxUnits: window - leased, platforms: settings.platforms)
            guard let reply = try await unlessDrained(grace: .seconds(2), { try await self.call(socket, .leaseRequest(request)) })
            else { continue }
            switch reply {
            case .leaseGrant(let grant):
                shared.update(grant.allowances)
                shared.state.withLock { $0.queued += grant.units }
                if grant.units.isEmpty { await shared.wakeup.wait(upTo: .milliseconds(grant.retryAfterMillis ?? 1_000)) }
            case .drain:
                drain()
            default:
                logger.warning("unexpected lease reply", metadata: ["reply": "\(reply.kind)"])
                try await Task.sleep(for: .seconds(1))
            }
        }
        // Cancelled while waiting for a wake-up (which does not throw): leave through the releasing path.
        throw CancellationError()
    }

    /// Starts queued units while fewer than `capacity` run.
    private func startQueued(socket: NNGSocket, group: inout ThrowingDiscardingTaskGroup<any Error>) {
        while let unit = shared.state.withLock({ state -> GrantedUnit? in
            guard state.running < settings.capacity, !state.queued.isEmpty else { return nil }
            state.running += 1
            return state.queued.removeFirst()
        }) {
            start(unit, socket: socket, group: &group)
        }
    }

    /// Runs a unit in its own task (so a heartbeat can cancel just that unit when its lease is lost) and reports
    /// the outcome; a unit whose lease was lost is not reported.
    private func start(_ unit: GrantedUnit, socket: NNGSocket, group: inout ThrowingDiscardingTaskGroup<any Error>) {
        let context = UnitContext(shared: shared)
        let work = Task { await self.executor.execute(unit, context: context) }
        shared.state.withLock { $0.held[unit.token] = work }
        group.addTask {
            let outcome = await withTaskCancellationHandler { await work.value } onCancel: { work.cancel() }
            self.shared.state.withLock { $0.running -= 1 }
            self.shared.wakeup.signal()
            let report: UnitReport =
                switch outcome {
                case .completed(let manifest, let children, let stats): .complete(Complete(token: unit.token, manifest: manifest, children: children, stats: stats))
                case .failed(let error, let retryable, let stats): .fail(Fail(token: unit.token, error: error, retryable: retryable, stats: stats))
                }
            // Batched: the reporter sends it with whatever else finished meanwhile; the unit stays held (and
            // heartbeated) until its report is acknowledged.
            let (lost, queued) = self.shared.state.withLock { state -> (Bool, Bool) in
                guard state.held[unit.token] != nil else { return (true, false) }
                switch outcome {
                case .completed(_, _, let stats), .failed(_, _, let stats): state.reported = state.reported.adding(stats)
                }
                guard state.batchReports else { return (false, false) }
                state.outbox.append(report)
                return (false, true)
            }
            if lost { return }
            if queued {
                self.shared.reportWake.yield()
                return
            }
            try await self.reportOne(socket, report)
        }
    }

    /// One report in its own message (revision 1, a worker of capacity 1, or a batch the coordinator refused).
    private func reportOne(_ socket: NNGSocket, _ report: UnitReport) async throws {
        var reply: ClusterMessage
        do {
            reply = try await call(socket, report.message)
        } catch let error as ProtocolError {
            // The coordinator refused the report itself (e.g. too many children): report a final failure
            // instead, so the unit goes dead with the reason rather than the worker stopping.
            logger.error("report refused", metadata: ["token": "\(report.token)", "error": "\(error)"])
            reply = try await call(socket, .fail(Fail(token: report.token, error: "report refused: \(error.detail.prefix(1_000))", retryable: false, stats: .zero)))
        }
        release(report.token)
        if case .ack(let ack) = reply, !["accepted", "requeued", "dead"].contains(ack.outcome) {
            logger.info("report not applied", metadata: ["token": "\(report.token)", "outcome": "\(ack.outcome)"])
        }
    }

    /// Sends everything in the outbox as `reportBatch` messages (at most `maxUnitsPerLease` reports each) while
    /// the previous one is in flight, reports pile up for the next: one round trip and commit for many units.
    private func reportLoop(_ socket: NNGSocket) async throws {
        for await _ in shared.reportWakeups {
            while true {
                let reports = shared.state.withLock { state -> [UnitReport] in
                    let taken = Array(state.outbox.prefix(ClusterLimits.maxUnitsPerLease))
                    state.outbox.removeFirst(taken.count)
                    return taken
                }
                if reports.isEmpty { break }
                try await reportBatch(socket, reports)
            }
        }
    }

    private func reportBatch(_ socket: NNGSocket, _ reports: [UnitReport]) async throws {
        var completes: [Complete] = []
        var fails: [Fail] = []
        for report in reports {
            switch report {
            case .complete(let complete): completes.append(complete)
            case .fail(let fail): fails.append(fail)
            }
        }
        let reply: ClusterMessage
        do {
            reply = try await call(socket, .reportBatch(ReportBatch(completes: completes, fails: fails)))
        } catch let error as ProtocolError {
            // Refused as a whole (one bad entry, or too large): report one by one, so only the bad one fails.
            logger.warning("report batch refused; reporting one by one", metadata: ["reports": "\(reports.count)", "error": "\(error)"])
            for report in reports { try await reportOne(socket, report) }
            return
        }
        guard case .reportAck(let ack) = reply else {
            throw ClusterError(code: .invalidState, operation: "reportBatch", detail: "coordinator answered \(reply.kind)")
        }
        for (token, outcome) in zip(completes.map(\.token) + fails.map(\.token), ack.completes + ack.fails) {
            if !["accepted", "requeued", "dead"].contains(outcome) {
                logger.info("report not applied", metadata: ["token": "\(token)", "outcome": "\(outcome)"])
            }
        }
        release(reports.map(\.token))
    }

    /// Lets go of reported units and wakes the lease loop to use the capacity.
    private func release(_ tokens: LeaseToken...) { release(tokens) }

    private func release(_ tokens: [LeaseToken]) {
        shared.state.withLock { state in for token in tokens { state.held.removeValue(forKey: token) } }
        shared.wakeup.signal()
    }

    /// Ends quietly when cancelled (the lease loop finished draining, or the worker is stopping).
    private func heartbeatLoop(_ socket: NNGSocket) async throws {
        do {
            try await heartbeats(socket)
        } catch is CancellationError {
            return
        }
    }

    private func heartbeats(_ socket: NNGSocket) async throws {
        while !Task.isCancelled {
            let interval = shared.state.withLock { $0.heartbeatMillis }
            try await Task.sleep(for: .milliseconds(interval))
            let signals = shared.takeSignals()
            let tokens = shared.state.withLock { $0.leasedTokens }
            let reply = try await call(socket, .heartbeat(Heartbeat(tokens: tokens, signals: signals)))
            guard case .heartbeatAck(let ack) = reply else { continue }
            shared.update(ack.allowances)
            if ack.drain { drain() }
            for lease in ack.leases where !lease.valid {
                let task = shared.state.withLock { state in
                    state.queued.removeAll { $0.token == lease.token }
                    return state.held.removeValue(forKey: lease.token)
                }
                task?.cancel()
                shared.wakeup.signal()
                logger.info("lease lost; unit abandoned", metadata: ["token": "\(lease.token)"])
            }
        }
    }

    // MARK: Requests

    /// One request with retries: identical bytes are resent after timeouts and `replayed` rejections (so the
    /// coordinator applies it once); a fresh envelope is made after `clockSkew`; `unknownWorker` triggers a new
    /// hello. Retries forever with backoff while the coordinator is away; only cancellation ends it.
    func call(_ socket: NNGSocket, _ message: ClusterMessage, helloOnUnknown: Bool = true) async throws -> ClusterMessage {
        var backoff = Duration.milliseconds(100)
        var request = try encode(message)
        while true {
            try Task.checkCancellation()
            do {
                let reply = try await roundTrip(socket, request.frame)
                // A reply must answer this request (a frame-level reject cannot know its id).
                guard reply.replyTo == request.id || (reply.replyTo == nil && reply.message.kind == .reject) else {
                    throw ProtocolError(code: .invalidField, detail: "reply to \(reply.replyTo?.rawValue ?? "nothing") for request \(request.id)")
                }
                if case .reject(let reject) = reply.message {
                    switch reject.reason {
                    case .replayed:
                        break
                    case .clockSkew:
                        request = try encode(message)
                    case .unknownWorker where helloOnUnknown:
                        try await hello(socket)
                        request = try encode(message)
                        continue
                    default:
                        throw ProtocolError(code: .invalidField, detail: "coordinator rejected \(message.kind): \(reject.reason.rawValue): \(reject.detail)")
                    }
                } else {
                    return reply.message
                }
            } catch let error as NNGError where error.code != .closed {
                logger.debug("request retry", metadata: ["kind": "\(message.kind)", "error": "\(error)"])
            }
            try await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(5))
        }
    }

    private func encode(_ message: ClusterMessage) throws -> (frame: [UInt8], id: MessageID) {
        var rng = SystemRandomNumberGenerator()
        let id = MessageID.random(using: &rng)
        return (try codec.encode(Envelope(id: id, sender: settings.id, sentAt: clock(), message: message)), id)
    }

    private func roundTrip(_ socket: NNGSocket, _ frame: [UInt8], timeout: Duration? = nil) async throws -> Envelope {
        let context = try socket.makeContext()
        defer { context.close() }
        try await context.send(frame, timeout: timeout ?? settings.requestTimeout)
        let replyBytes = try await context.receive(timeout: timeout ?? settings.requestTimeout)
        return try codec.decode(replyBytes)
    }
}

/// A one-slot wake-up signal: `signal()` resumes the waiter, or is remembered for the next `wait` if none waits.
final class Wakeup: Sendable {
    private struct State {
        var signalled = false
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let state = Mutex(State())

    func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.signalled = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns on a signal (one sent since the last wait counts), after `timeout`, or when cancelled. A late timer
    /// may leave one spurious signal behind; callers re-check their condition after every wake-up.
    func wait(upTo timeout: Duration) async {
        let timer = Task {
            try await Task.sleep(for: timeout)
            self.signal()
        }
        defer { timer.cancel() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.signalled {
                        state.signalled = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            signal()
        }
    }
}
