import ClusterCore
import ClusterKit
import Crypto
import Foundation
import Logging
import NNGKit
import PQKit
import ProcessTestSupport
import Synchronization
import Testing

/// A three-level crawl shape like the platforms': list → titles → episode batches. Episode batches write a real
/// file (named by unit and lease epoch, written to a temporary name then renamed) and report its SHA-256.
final class TreeExecutor: UnitExecutor {
    let directory: URL
    let executed = Mutex<[String: Int]>([:])
    init(directory: URL) { self.directory = directory }

    func execute(_ unit: GrantedUnit, context: UnitContext) async -> UnitOutcome {
        executed.withLock { $0[unit.unit.rawValue, default: 0] += 1 }
        do {
            try await Task.sleep(for: .milliseconds(20 + Int(unit.unit.rawValue.utf8.first! % 40)))
        } catch {
            return .failed(error: "cancelled", retryable: true, stats: .zero)
        }
        let platform = unit.seed.platform
        context.report(platform: platform, TaskStats(requests: 1))
        switch unit.seed.kind {
        case "list":
            return .completed(manifest: .empty, children: (0..<6).map { try! UnitSeed(kind: "title", platform: platform, key: "\(unit.seed.key)/t\($0)", payload: []) }, stats: TaskStats(requests: 1))
        case "title":
            return .completed(manifest: .empty, children: (0..<2).map { try! UnitSeed(kind: "episodes", platform: platform, key: "\(unit.seed.key)/e\($0)", payload: [UInt8($0)]) }, stats: TaskStats(requests: 1))
        default:
            let content = Array("episodes of \(unit.seed.key)\n".utf8)
            let name = "\(unit.unit.rawValue)-\(unit.token.epoch).txt"
            let final = directory.appendingPathComponent(name)
            let temporary = directory.appendingPathComponent(name + ".tmp")
            do {
                try Data(content).write(to: temporary)
                guard rename(temporary.path, final.path) == 0 else { throw CocoaError(.fileWriteUnknown) }
            } catch {
                return .failed(error: "write \(name): \(error)", retryable: true, stats: TaskStats(requests: 1))
            }
            let digest = SHA256.hash(data: content).map { String(format: "%02x", $0) }.joined()
            return .completed(
                manifest: Manifest(files: [OutputFile(path: name, table: "episodes", rows: 3, bytes: Int64(content.count), sha256: digest)]),
                children: [], stats: TaskStats(requests: 2, bytes: Int64(content.count)))
        }
    }
}

@Suite(.serialized) struct ClusterEndToEndTests {
    static let secret = Array("end-to-end cluster secret, long enough".utf8)

    /// Coordinator + two workers over tcp on loopback with the ledger in PostgreSQL. A third "worker" leases units
    /// and vanishes without a goodbye (as after SIGKILL); the coordinator is stopped and restarted mid-run on the
    /// same port and store. The run must finish with every unit done once, and exactly one accepted file per
    /// episode batch, each on disk with the reported checksum.
    @Test func runSurvivesAWorkerDeathAndACoordinatorRestart() async throws {
        try await withScratchSchema { connection, schema in
            let store = try PostgresLedgerStore(connection: connection, schema: schema, logger: Logger(label: "store"))
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(schema)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }

            // A fixed port so the restarted coordinator listens where the workers dial.
            let address = "tcp://127.0.0.1:\(try freeLoopbackPort())"
            let core = CoordinatorConfig(
                ledger: LedgerConfig(leaseMillis: 1_500, maxAttempts: 5), heartbeatMillis: 300, workerTimeoutMillis: 1_500,
                idlePollMillis: 100, defaultBudget: BudgetPolicy(initialRate: 50, floor: 1, ceiling: 100))
            let settings = CoordinatorSettings(listenURL: address, secret: Self.secret, core: core, tickMillis: 50, sampleMillis: 200)
            let captured = CapturedLogs()
            var logger = Logger(label: "e2e") { _ in CapturingLogHandler(logs: captured) }
            logger.logLevel = .notice

            let spec = try RunSpec(platforms: ["naver", "kakao"], mode: .full, crawlDate: "2026-11-25")
            let run = spec.defaultID
            let first = CoordinatorService(settings: settings, store: store, logger: logger)
            let (firstTask, _) = try await startListening(first)
            try await first.createRun(spec, roots: ["naver", "kakao"].map { try UnitSeed(kind: "list", platform: $0, key: "\($0)-list", payload: []) })

            // A worker that leases and dies: it never heartbeats, completes or says goodbye.
            let ghostLeases = try await ghostLease(address: address, units: 2)
            #expect(ghostLeases.count == 2)

            let executor = TreeExecutor(directory: directory)
            let workers = try ["w1", "w2"].map { name in
                try WorkerService(
                    settings: WorkerSettings(coordinatorURL: address, secret: Self.secret, id: WorkerID(rawValue: name)!, capacity: 3, platforms: ["naver", "kakao"], requestTimeout: .milliseconds(700)),
                    executor: executor, logger: logger)
            }
            let workerTasks = workers.map { worker in Task { try await worker.run() } }

            // Let some work happen, then stop the coordinator abruptly and start a new one on the same store.
            try await waitUntil(timeout: .seconds(30)) { (try await first.status()).runs.first?.counts.done ?? 0 >= 8 }
            firstTask.cancel()
            _ = await firstTask.result
            let second = CoordinatorService(settings: settings, store: store, logger: logger)
            let secondTask = Task { try await second.run() }
            try await waitUntil(timeout: .seconds(60)) { (try? await second.summary(run: run))??.finished ?? false }

            let summary = try #require(try await second.summary(run: run))
            #expect(summary.units == 2 + 12 + 24)
            #expect(summary.done == summary.units && summary.dead == 0)
            #expect(summary.totals.rowsByTable == ["episodes": 24 * 3])
            #expect(summary.totals.leaseExpiries >= 2, "the ghost's leases expired and were re-leased")
            let outputs = try await store.acceptedOutputs(run: run)
            #expect(outputs.count == 24)
            let executed = executor.executed.withLock { $0 }
            #expect(Set(executed.keys).count == 38, "every unit ran on a live worker, including the ghost's")
            #expect(ghostLeases.allSatisfy { executed[$0.unit.rawValue, default: 0] >= 1 })
            #expect(Set(outputs.map(\.unit)).count == 24, "one accepted file per episode batch")
            for output in outputs {
                let data = try Data(contentsOf: directory.appendingPathComponent(output.file.path))
                #expect(SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() == output.file.sha256)
                #expect(output.file.path.hasPrefix(output.unit + "-" + output.leaseToken.split(separator: "-").last!))
            }
            // The coordinator announces the completion with its accounting (sampled every 200 ms).
            try await waitUntil(timeout: .seconds(5)) { captured.messages.contains { $0.hasPrefix("run finished") } }
            #expect(captured.messages.contains { $0.hasPrefix("run finished") && $0.contains("done=38") && $0.contains("dead=0") })
            let status = try await second.status()
            #expect(status.runs.first?.state == .finished && status.inFlight == 0)
            #expect(status.rejected.isEmpty)

            for worker in workers { worker.drain() }
            for task in workerTasks { try await task.value }
            secondTask.cancel()
            _ = await secondTask.result
        }
    }

    /// Unauthenticated traffic is answered with a typed rejection and counted; the coordinator keeps serving.
    @Test func wrongSecretIsRejectedAndCounted() async throws {
        try await withScratchSchema { connection, schema in
            let store = try PostgresLedgerStore(connection: connection, schema: schema, logger: Logger(label: "store"))
            let service = CoordinatorService(settings: CoordinatorSettings(listenURL: "tcp://127.0.0.1:0", secret: Self.secret), store: store, logger: Logger(label: "c"))
            let (task, address) = try await startListening(service)

            let socket = try NNGSocket(.req)
            defer { socket.close() }
            try await socket.connect(address)
            let intruder = try WireCodec(secret: Array("not the cluster secret at all".utf8))
            var rng = SystemRandomNumberGenerator()
            let frame = try intruder.encode(Envelope(id: MessageID.random(using: &rng), sender: WorkerID(rawValue: "intruder")!, sentAt: systemTimestamp(), message: .statusRequest(StatusRequest())))
            try await socket.send(frame, timeout: .seconds(5))
            let reply = try WireCodec(secret: Self.secret).decode(try await socket.receive(timeout: .seconds(5)))
            #expect(reply.message == .reject(Reject(reason: .unauthenticated, detail: "HMAC tag does not match (wrong cluster secret or altered message)")))
            try await socket.send(Array("garbage".utf8), timeout: .seconds(5))
            _ = try await socket.receive(timeout: .seconds(5))
            let status = try await service.status()
            #expect(status.rejected == ["unauthenticated": 1, "truncated": 1])

            task.cancel()
            _ = await task.result
        }
    }

    /// A worker stopped (task cancelled, as on SIGTERM) while its units run releases them at once: they are pending
    /// again without an attempt counted, and its executor tasks are cancelled.
    @Test func cancelledWorkerReleasesItsLeases() async throws {
        try await withScratchSchema { connection, schema in
            let (service, store, coordinatorTask, address) = try await startCoordinator(connection, schema, ledger: LedgerConfig(leaseMillis: 60_000))
            let spec = try RunSpec(platforms: ["naver"], mode: .daily, crawlDate: "2026-11-25")
            try await service.createRun(spec, roots: (0..<3).map { try UnitSeed(kind: "title", platform: "naver", key: "t\($0)", payload: []) })

            let executor = StuckExecutor()
            let worker = try WorkerService(
                settings: WorkerSettings(coordinatorURL: address, secret: Self.secret, id: WorkerID(rawValue: "stuck")!, capacity: 2, platforms: ["naver"], requestTimeout: .seconds(2)),
                executor: executor, logger: Logger(label: "w"))
            let workerTask = Task { try await worker.run() }
            try await waitUntil(timeout: .seconds(20)) { (try await service.status()).inFlight == 2 && executor.started.withLock { $0 } == 2 }
            workerTask.cancel()
            let result = await workerTask.result
            #expect(throws: CancellationError.self) { try result.get() }
            try await waitUntil(timeout: .seconds(10)) { (try await service.status()).inFlight == 0 }
            let counts = try await service.status().runs.first?.counts
            #expect(counts == StateCounts(pending: 3, leased: 0, done: 0, dead: 0))
            #expect(executor.cancelled.withLock { $0 } == 2, "the running units were cancelled")
            let ledger = try await store.loadLedger(config: LedgerConfig())
            #expect(ledger.units.values.allSatisfy { $0.attempts == 0 }, "a release does not count the attempt (durably)")

            coordinatorTask.cancel()
            _ = await coordinatorTask.result
        }
    }

    /// Status and summaries never run ahead of the store: while the commit of the last completion is held up (its
    /// INSERT waits on a table lock taken by another session), a reader asking for the run's state waits too, so
    /// "finished" is only ever seen with every accepted output already in PostgreSQL. (Before this was enforced,
    /// `webtoon run` could start the reducer one output short.)
    @Test func statusWaitsUntilWhatItShowsIsCommitted() async throws {
        try await withScratchSchema { connection, schema in
            let url = try #require(ProcessInfo.processInfo.environment["DATABASE_URL"])
            let store = try PostgresLedgerStore(connection: connection, schema: schema, logger: Logger(label: "store"))
            let service = CoordinatorService(settings: CoordinatorSettings(listenURL: "tcp://127.0.0.1:0", secret: Self.secret), store: store, logger: Logger(label: "c"))
            let (task, address) = try await startListening(service)
            let spec = try RunSpec(platforms: ["naver"], mode: .daily, crawlDate: "2026-11-25")
            try await service.createRun(spec, roots: [try UnitSeed(kind: "title", platform: "naver", key: "t0", payload: [])])

            let worker = try await ProtocolPeer(address: address, secret: Self.secret, name: "w")
            defer { worker.close() }
            _ = try await worker.call(.hello(Hello(capacity: 1, platforms: ["naver"], softwareVersion: "test")))
            guard case .leaseGrant(let grant) = try await worker.call(.leaseRequest(LeaseRequest(maxUnits: 1, platforms: ["naver"]))),
                let unit = grant.units.first
            else { Issue.record("no lease granted"); return }

            // Another session locks the units table, so the coordinator's next commit blocks inside PostgreSQL.
            let locker = try await PGConnection.connect(url)
            let reader = try await PGConnection.connect(url)
            defer { Task { await locker.close(); await reader.close() } }
            _ = try await locker.execute("BEGIN")
            _ = try await locker.execute("LOCK TABLE \(schema).units IN EXCLUSIVE MODE")
            let file = OutputFile(path: "t0.parquet", table: "titles", rows: 1, bytes: 10, sha256: String(repeating: "ab", count: 32))
            let completion = Task { try await worker.call(.complete(Complete(token: unit.token, manifest: Manifest(files: [file]), children: [], stats: TaskStats(requests: 1)))) }
            try await waitUntil(timeout: .seconds(20)) {
                let waiting = try await reader.query("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO%units%'")
                return (try waiting.rows.first?.value(0, as: Int64.self) ?? 0) > 0
            }

            // The completion is applied in memory and its commit is blocked: readers must wait for it.
            let readerStore = try PostgresLedgerStore(connection: reader, schema: schema, logger: Logger(label: "reader"))
            let observer = try await ProtocolPeer(address: address, secret: Self.secret, name: "observer")
            defer { observer.close() }
            let viaProtocol = Task { () -> (RunState?, Int) in
                guard case .statusResponse(let status) = try await observer.call(.statusRequest(StatusRequest(includeWorkers: false)), timeout: .seconds(30)) else { return (nil, -1) }
                return (status.runs.first?.state, try await readerStore.acceptedOutputs(run: spec.defaultID).count)
            }
            let inProcess = Task { () -> (Bool?, Int) in
                let summary = try await service.summary(run: spec.defaultID)
                return (summary?.finished, try await readerStore.acceptedOutputs(run: spec.defaultID).count)
            }
            try await Task.sleep(for: .milliseconds(300))
            _ = try await locker.execute("COMMIT")

            #expect(try await completion.value == .ack(Ack(outcome: "accepted")))
            let (protocolState, protocolOutputs) = try await viaProtocol.value
            let (summaryFinished, summaryOutputs) = try await inProcess.value
            #expect(protocolState == .finished && protocolOutputs == 1, "status over nng showed \(String(describing: protocolState)) with \(protocolOutputs) outputs stored")
            #expect(summaryFinished == true && summaryOutputs == 1, "summary showed finished=\(String(describing: summaryFinished)) with \(summaryOutputs) outputs stored")

            task.cancel()
            _ = await task.result
        }
    }

    /// Dead units go back to pending through the running coordinator: `CoordinatorClient.retryDead` is answered only
    /// after the change is committed (the store no longer has them dead), the connected worker (batched reports,
    /// capacity 4) then finishes them, and a client with the wrong secret changes nothing. Frames of another
    /// version and malformed report batches are refused with typed reasons and counted.
    @Test func deadUnitsAreRetriedThroughTheRunningCoordinator() async throws {
        try await withScratchSchema { connection, schema in
            let (service, store, coordinatorTask, address) = try await startCoordinator(connection, schema, ledger: LedgerConfig(leaseMillis: 60_000, maxAttempts: 1))
            let spec = try RunSpec(platforms: ["naver"], mode: .daily, crawlDate: "2026-11-25")
            try await service.createRun(spec, roots: (0..<6).map { try UnitSeed(kind: "title", platform: "naver", key: "t\($0)", payload: []) })

            let executor = SwitchableExecutor()
            let worker = try WorkerService(
                settings: WorkerSettings(coordinatorURL: address, secret: Self.secret, id: WorkerID(rawValue: "w1")!, capacity: 4, platforms: ["naver"], requestTimeout: .seconds(5)),
                executor: executor, logger: Logger(label: "w"))
            let workerTask = Task { try await worker.run() }
            try await waitUntil(timeout: .seconds(30)) { (try await service.summary(run: spec.defaultID))?.finished ?? false }
            #expect(try await service.summary(run: spec.defaultID)?.dead == 6)

            let intruder = try await CoordinatorClient(coordinatorURL: address, secret: Array("not the cluster secret at all".utf8))
            await #expect(throws: ClusterError.self) { try await intruder.retryDead(units: nil, run: nil) }
            intruder.close()
            #expect(try await service.summary(run: spec.defaultID)?.dead == 6)

            executor.healthy.withLock { $0 = true }
            let client = try await CoordinatorClient(coordinatorURL: address, secret: Self.secret)
            let first = try #require(try await store.loadLedger(config: LedgerConfig()).units.keys.sorted().first)
            #expect(try await client.retryDead(units: [first], run: nil) == [first])
            let retried = try await client.retryDead(units: nil, run: spec.defaultID)
            #expect(retried.count == 5 && !retried.contains(first))
            let persisted = try await store.loadLedger(config: LedgerConfig())
            #expect(persisted.units.values.allSatisfy { $0.state != .dead }, "the reply came after the commit")
            #expect(persisted.runs[spec.defaultID]?.totals.retriedDead == 6)
            try await waitUntil(timeout: .seconds(30)) { (try await service.summary(run: spec.defaultID))?.done == 6 }
            #expect(try await client.retryDead(units: nil, run: nil) == [], "nothing is dead any more")
            client.close()

            // Refusals of the protocol layer: another version byte, and a report batch over the limit.
            let socket = try NNGSocket(.req)
            defer { socket.close() }
            try await socket.connect(address)
            let codec = try WireCodec(secret: Self.secret)
            var rng = SystemRandomNumberGenerator()
            var frame = try codec.encode(Envelope(id: MessageID.random(using: &rng), sender: WorkerID(rawValue: "w1")!, sentAt: systemTimestamp(), message: .statusRequest(StatusRequest())))
            frame[4] = 2
            try await socket.send(frame, timeout: .seconds(5))
            #expect(try codec.decode(try await socket.receive(timeout: .seconds(5))).message == .reject(Reject(reason: .unsupportedVersion, detail: "version 2, this build speaks 1")))
            let token = LeaseToken(unit: first, epoch: 1)
            let oversized = ReportBatch(completes: Array(repeating: Complete(token: token, manifest: .empty, children: [], stats: .zero), count: 1_001), fails: [])
            try await socket.send(try codec.encode(Envelope(id: MessageID.random(using: &rng), sender: WorkerID(rawValue: "w1")!, sentAt: systemTimestamp(), message: .reportBatch(oversized))), timeout: .seconds(5))
            guard case .reject(let reject) = try codec.decode(try await socket.receive(timeout: .seconds(5))).message else {
                Issue.record("an oversized batch was not rejected")
                return
            }
            #expect(reject.reason == .invalidField && reject.detail.contains("1001 reports exceed 1000"))
            #expect(try await service.status().rejected == ["unauthenticated": 1, "unsupportedVersion": 1, "invalidField": 1])

            worker.drain()
            try await workerTask.value
            coordinatorTask.cancel()
            _ = await coordinatorTask.result
        }
    }

    /// A worker runs at most `capacity` units at once and leases `prefetch` more ahead: with capacity 1 and prefetch
    /// 2 it holds three leases while one unit runs; the queued ones start one at a time as slots free, the run
    /// finishes, and its reported request counters add up.
    @Test func prefetchedUnitsWaitForAFreeSlot() async throws {
        try await withScratchSchema { connection, schema in
            let (service, _, coordinatorTask, address) = try await startCoordinator(connection, schema, ledger: LedgerConfig(leaseMillis: 60_000))
            let spec = try RunSpec(platforms: ["naver"], mode: .daily, crawlDate: "2026-11-25")
            try await service.createRun(spec, roots: (0..<4).map { try UnitSeed(kind: "title", platform: "naver", key: "t\($0)", payload: []) })

            let executor = GatedExecutor()
            let worker = try WorkerService(
                settings: WorkerSettings(
                    coordinatorURL: address, secret: Self.secret, id: WorkerID(rawValue: "prefetching")!, capacity: 1, prefetch: 2,
                    platforms: ["naver"], requestTimeout: .seconds(2)),
                executor: executor, logger: Logger(label: "w"))
            let workerTask = Task { try await worker.run() }
            try await waitUntil(timeout: .seconds(20)) { (try await service.status()).inFlight == 3 && executor.counts.started == 1 }
            #expect(executor.counts.started == 1, "prefetched units wait for a free slot")
            #expect(try await service.status().workers.first?.capacity == 3, "the hello announces capacity + prefetch")

            executor.open()
            try await waitUntil(timeout: .seconds(20)) { (try await service.status()).runs.first?.state == .finished }
            #expect(executor.counts.started == 4)
            #expect(executor.counts.peak == 1, "never more than capacity units at once")
            try await waitUntil(timeout: .seconds(5)) { worker.reportedStats.requests == 4 }
            worker.drain()
            try await workerTask.value

            coordinatorTask.cancel()
            _ = await coordinatorTask.result
        }
    }

    /// A worker whose coordinator never answers its hello (nobody listens yet) still stops when drained, as on
    /// SIGTERM: before, it kept retrying the hello and had to be killed.
    @Test func workerDrainedBeforeItsHelloLeaves() async throws {
        let port = try freeLoopbackPort()
        let worker = try WorkerService(
            settings: WorkerSettings(coordinatorURL: "tcp://127.0.0.1:\(port)", secret: Self.secret, id: WorkerID(rawValue: "early")!, capacity: 2, platforms: ["naver"], requestTimeout: .seconds(30)),
            executor: StuckExecutor(), logger: Logger(label: "w"))
        let finished = Mutex(false)
        let task = Task {
            try await worker.run()
            finished.withLock { $0 = true }
        }
        try await Task.sleep(for: .milliseconds(300))
        #expect(!finished.withLock { $0 }, "nobody answers, so the worker is still saying hello")
        worker.drain()
        try await waitUntil(timeout: .seconds(20)) { finished.withLock { $0 } }
        try await task.value
    }

    /// A worker whose coordinator is gone (stopped without a word, as by SIGKILL) still leaves when drained: its
    /// lease request is abandoned after a short grace and its goodbye is not retried forever. Before, both retried
    /// until something cancelled the worker (`webtoon worker`'s `--drain-seconds`, 60 s by default) or killed it.
    @Test func drainedWorkerLeavesWhenItsCoordinatorIsGone() async throws {
        try await withScratchSchema { connection, schema in
            let (service, _, coordinatorTask, address) = try await startCoordinator(connection, schema, ledger: LedgerConfig(leaseMillis: 60_000))
            let worker = try WorkerService(
                settings: WorkerSettings(coordinatorURL: address, secret: Self.secret, id: WorkerID(rawValue: "orphan")!, capacity: 2, platforms: ["naver"], requestTimeout: .seconds(2)),
                executor: StuckExecutor(), logger: Logger(label: "w"))
            let finished = Mutex(false)
            let workerTask = Task {
                try await worker.run()
                finished.withLock { $0 = true }
            }
            try await waitUntil(timeout: .seconds(20)) { (try await service.status()).workers.contains { $0.id.rawValue == "orphan" } }
            coordinatorTask.cancel()
            _ = await coordinatorTask.result
            try await Task.sleep(for: .milliseconds(300))
            #expect(!finished.withLock { $0 }, "the worker keeps asking for work until it is told to stop")
            worker.drain()
            try await waitUntil(timeout: .seconds(20)) { finished.withLock { $0 } }
            try await workerTask.value
        }
    }

    /// Runs `body` with a connection and a fresh schema name; the schema is dropped and the connection closed
    /// whether `body` returns or throws.
    func withScratchSchema(_ body: (PGConnection, String) async throws -> Void) async throws {
        let url = try #require(ProcessInfo.processInfo.environment["DATABASE_URL"], "DATABASE_URL is not set (e.g. postgresql://postgres@127.0.0.1:55432/webtoon)")
        let connection = try await PGConnection.connect(url)
        let schema = "cluster_e2e_" + String(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12))
        do {
            try await body(connection, schema)
        } catch {
            _ = try? await connection.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE")
            await connection.close()
            throw error
        }
        _ = try? await connection.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE")
        await connection.close()
    }

    /// A coordinator on a PostgreSQL ledger in `schema`, listening on a free loopback port (50 ms idle poll and tick),
    /// started by `startListening`.
    func startCoordinator(
        _ connection: PGConnection, _ schema: String, ledger: LedgerConfig
    ) async throws -> (CoordinatorService, PostgresLedgerStore, Task<Void, any Error>, String) {
        let store = try PostgresLedgerStore(connection: connection, schema: schema, logger: Logger(label: "store"))
        let settings = CoordinatorSettings(
            listenURL: "tcp://127.0.0.1:0", secret: Self.secret,
            core: CoordinatorConfig(ledger: ledger, idlePollMillis: 50), tickMillis: 50)
        let service = CoordinatorService(settings: settings, store: store, logger: Logger(label: "c"))
        let (task, address) = try await startListening(service)
        return (service, store, task, address)
    }

    /// Starts `service` in a task and waits until it listens; returns the task and the bound address.
    func startListening(_ service: CoordinatorService) async throws -> (Task<Void, any Error>, String) {
        let (listening, listened) = AsyncStream.makeStream(of: String.self)
        let task = Task { try await service.run(onListening: { listened.yield($0) }) }
        let address = try #require(await listening.first { _ in true })
        return (task, address)
    }

    func ghostLease(address: String, units: Int) async throws -> [GrantedUnit] {
        let ghost = try await ProtocolPeer(address: address, secret: Self.secret, name: "ghost")
        defer { ghost.close() }
        _ = try await ghost.call(.hello(Hello(capacity: units, platforms: ["naver", "kakao"], softwareVersion: "ghost")), timeout: .seconds(5))
        guard case .leaseGrant(let grant) = try await ghost.call(.leaseRequest(LeaseRequest(maxUnits: units, platforms: ["naver", "kakao"])), timeout: .seconds(5)) else { return [] }
        return grant.units
    }

    func waitUntil(timeout: Duration, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("condition not met within \(timeout)")
        throw CancellationError()
    }
}

/// Fails every unit for good until `healthy` is set, then completes them with no output.
final class SwitchableExecutor: UnitExecutor {
    let healthy = Mutex(false)
    func execute(_ unit: GrantedUnit, context: UnitContext) async -> UnitOutcome {
        healthy.withLock { $0 } ? .completed(manifest: .empty, children: [], stats: .zero) : .failed(error: "broken", retryable: false, stats: .zero)
    }
}

/// Never finishes a unit on its own; counts starts and cancellations.
final class StuckExecutor: UnitExecutor {
    let started = Mutex(0)
    let cancelled = Mutex(0)
    func execute(_ unit: GrantedUnit, context: UnitContext) async -> UnitOutcome {
        started.withLock { $0 += 1 }
        do {
            try await Task.sleep(for: .seconds(3_600))
        } catch {
            cancelled.withLock { $0 += 1 }
        }
        return .failed(error: "stopped", retryable: true, stats: .zero)
    }
}

/// Log lines (`message key=value …`, keys sorted) kept for assertions.
final class CapturedLogs: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var messages: [String] { lines.withLock { $0 } }
}

struct CapturingLogHandler: LogHandler {
    let logs: CapturedLogs
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        let fields = (event.metadata ?? [:]).merging(metadata) { current, _ in current }.sorted { $0.key < $1.key }
        logs.append(([event.message.description] + fields.map { "\($0.key)=\($0.value)" }).joined(separator: " "))
    }
}

/// A bare protocol client (REQ socket + codec) for tests that speak the wire protocol directly.
final class ProtocolPeer: Sendable {
    let socket: NNGSocket
    let codec: WireCodec
    let name: WorkerID

    init(address: String, secret: [UInt8], name: String) async throws {
        socket = try NNGSocket(.req)
        codec = try WireCodec(secret: secret)
        self.name = WorkerID(rawValue: name)!
        try await socket.connect(address)
    }

    func call(_ message: ClusterMessage, timeout: Duration = .seconds(10)) async throws -> ClusterMessage {
        var rng = SystemRandomNumberGenerator()
        try await socket.send(try codec.encode(Envelope(id: MessageID.random(using: &rng), sender: name, sentAt: systemTimestamp(), message: message)), timeout: timeout)
        return try codec.decode(try await socket.receive(timeout: timeout)).message
    }

    func close() { socket.close() }
}

/// Holds every unit until `open()`; counts starts and the most units running at once.
final class GatedExecutor: UnitExecutor {
    struct Counts { var running = 0, peak = 0, started = 0 }
    private let state = Mutex((counts: Counts(), open: false))
    var counts: Counts { state.withLock { $0.counts } }
    func open() { state.withLock { $0.open = true } }

    func execute(_ unit: GrantedUnit, context: UnitContext) async -> UnitOutcome {
        state.withLock {
            $0.counts.started += 1
            $0.counts.running += 1
            $0.counts.peak = max($0.counts.peak, $0.counts.running)
        }
        defer { state.withLock { $0.counts.running -= 1 } }
        while !state.withLock({ $0.open }) {
            do { try await Task.sleep(for: .milliseconds(10)) } catch { return .failed(error: "cancelled", retryable: true, stats: .zero) }
        }
        return .completed(manifest: .empty, children: [], stats: TaskStats(requests: 1))
    }
}
