import ClusterCore
import ClusterKit
import CrawlCluster
import Foundation
import Logging
import NNGKit
import PQKit
import ProcessTestSupport
import Synchronization
import Testing
import WebtoonCore
import WebtoonSimulator
import WebtoonTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Faults on the wire, real processes: a coordinator and three workers crawl a simulator that answers ~10% of the
/// platform requests with 5xx, 429 (with Retry-After) or a connection reset, and Kakao with 403 bursts above a
/// request rate. The accepted result must still equal the ground truth exactly, and the run's accounting must
/// agree with what the simulator itself counted.
@Suite(.serialized) struct ClusterFaultTests {
    static let date = "2026-11-25"

    /// The built-in catalogs with short retry delays, more attempts per request and a short Kakao breaker
    /// cool-down (the live values wait seconds to minutes), optionally another episode batch size, written as
    /// `<dir>/{naver,kakao}.json`.
    static func fastCatalogs(into directory: String, episodeBatchSize: Int? = nil) throws {
        let config = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("config")
        for platform in ["naver", "kakao"] {
            let data = try Data(contentsOf: config.appendingPathComponent("\(platform).json"))
            var catalog = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            var retry = try #require(catalog["retry"] as? [String: Any])
            retry["maxAttempts"] = 10
            retry["baseDelayMilliseconds"] = 10
            retry["maxDelayMilliseconds"] = 200
            retry["maxRetryAfterMilliseconds"] = 1_000
            catalog["retry"] = retry
            var breaker = try #require(catalog["circuitBreaker"] as? [String: Any])
            breaker["coolDownMilliseconds"] = 300
            catalog["circuitBreaker"] = breaker
            if let episodeBatchSize {
                var crawl = try #require(catalog["crawl"] as? [String: Any])
                crawl["episodeBatchSize"] = episodeBatchSize
                catalog["crawl"] = crawl
            }
            try JSONSerialization.data(withJSONObject: catalog).write(to: URL(fileURLWithPath: "\(directory)/\(platform).json"))
        }
    }

    @Test func faultsOnEveryPathStillGiveTheExactResultAndAccounting() async throws {
        try await withScratchSchema { _, schema in
            let root = try temporaryFolder("faults")
            defer { try? FileManager.default.removeItem(atPath: root) }
            try FileManager.default.createDirectory(atPath: root + "/catalogs", withIntermediateDirectories: true)
            try Self.fastCatalogs(into: root + "/catalogs")
            let faults = SimulatorFaults(
                serverErrorRate: 0.05, tooManyRequestsRate: 0.02, resetRate: 0.03, kakao403AboveRequestsPerSecond: 80,
                kakaoCooldownMilliseconds: 300, retryAfterSeconds: 1)
            let simulator = try await PlatformSimulator.start(
                configuration: SimulatorConfiguration(seed: 42, scale: .small, date: Self.date, faults: faults))
            let address = "tcp://127.0.0.1:\(try freeLoopbackPort())"
            let coordinator = try Child(
                "coordinator",
                ["coordinator", "--listen", address, "--schema", schema, "--platforms", "naver,kakao", "--mode", "full",
                 "--date", Self.date, "--exit-when-done", "--lease-seconds", "30", "--idle-poll-ms", "100",
                 "--initial-rate", "2000", "--max-rate", "2000", "--min-rate", "50", "--batch-size", "10",
                 "--log-level", "notice"],
                logs: root)
            var workers: [Child] = []
            for index in 1...3 {
                workers.append(
                    try Child(
                        "worker-\(index)",
                        ["worker", "--coordinator", address, "--data-root", "file://" + root, "--concurrency", "3",
                         "--id", "worker-\(index)", "--base-url", simulator.baseURL, "--catalog-dir", root + "/catalogs",
                         "--log-level", "notice"],
                        logs: root))
            }

            // Watch the budgets while the run goes: throttling seen by any worker must cut the cluster rate.
            let client = try await CoordinatorClient(
                coordinatorURL: address, secret: Array(clusterSecret.utf8), sender: "test", connection: .background)
            var lowest: [String: Double] = [:]
            var decreases: [String: Int64] = [:]
            let deadline = ContinuousClock.now + .seconds(300)
            while coordinator.process.isRunning && ContinuousClock.now < deadline {
                if let status = try? await client.status(includeWorkers: false, timeout: .milliseconds(500)) {
                    for budget in status.budgets {
                        lowest[budget.platform] = min(lowest[budget.platform] ?? .infinity, budget.clusterRate)
                        decreases[budget.platform] = max(decreases[budget.platform] ?? 0, budget.decreases)
                    }
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            client.close()
            let exit = await coordinator.wait(timeout: .seconds(5))
            #expect(exit == 0, "coordinator:\n\(coordinator.log.suffix(4000))")
            #expect(coordinator.log.contains("dead 0"), "\(coordinator.log.suffix(3000))")
            for worker in workers {
                worker.signal(SIGTERM)
                #expect(await worker.wait(timeout: .seconds(30)) == 0, "\(worker.name):\n\(worker.log.suffix(2000))")
            }
            let served = simulator.stats()
            await simulator.shutdown()

            // Exactly the ground truth, from the accepted files only.
            let spec = try RunSpec(platforms: ["naver", "kakao"], mode: .full, crawlDate: Self.date, episodeBatchSize: 10)
            let (records, _) = try await acceptedRecords(schema: schema, run: spec.defaultID, dataRoot: root)
            let truth = try Truth(
                SimulatorCatalog(configuration: SimulatorConfiguration(seed: 42, scale: .small, date: Self.date)).groundTruth(mode: .full))
            expectEqual(try groundTruthShape(records, crawlDate: CrawlDate(Self.date)!, mode: .full), truth)

            // The run's accounting against the simulator's own counters.
            let connection = try await PGConnection.connect(databaseURL)
            let ledger = try await PostgresLedgerStore(connection: connection, schema: schema, logger: Logger(label: "test"))
                .loadLedger(config: LedgerConfig())
            await connection.close()
            let run = try #require(ledger.runs[spec.defaultID])
            #expect(run.spec == spec, "the batch size is kept with the run")
            let totals = run.totals
            let stats = totals.stats
            let injected = (fivexx: served.faults["5xx"] ?? 0, tooMany: served.faults["429"] ?? 0,
                            forbidden: served.faults["kakao403"] ?? 0, resets: served.faults["reset"] ?? 0)
            let report = "run \(stats), failures \(totals.failures), stale \(totals.staleReports), expiries \(totals.leaseExpiries); simulator requests \(served.platformRequests), faults \(served.faults)"
            #expect(injected.fivexx > 0 && injected.tooMany > 0 && injected.resets > 0 && injected.forbidden > 0, "\(report)")
            // Nothing went unreported: no lease was lost and no report was refused, so every answer the workers got
            // is in the run's totals.
            #expect(totals.staleReports == 0 && totals.leaseExpiries == 0, "\(report)")
            // Every throttling or error answer the simulator sent was seen and counted once.
            #expect(stats.status5xx == Int64(injected.fivexx), "\(report)")
            #expect(stats.status429 == Int64(injected.tooMany), "\(report)")
            #expect(stats.status403 == Int64(injected.forbidden), "\(report)")
            // Every 5xx, 429 and 403 answer and every reset the crawler saw was retried, except a request's last
            // attempt when it ran out of attempts (a give-up, which fails the unit attempt). Resets on a reused
            // keep-alive connection before any answer are resent by libcurl itself inside the same attempt: the
            // simulator counts them, the crawler never sees them. So, with s resets seen and g give-ups:
            //   retries = 5xx + 429 + 403 + s − g   and   served = requests + resets − s,
            // which leaves g = 5xx + 429 + 403 + resets − retries − (served − requests), between 0 and the failures.
            let answers = Int64(injected.fivexx + injected.tooMany + injected.forbidden)
            let unseen = Int64(served.platformRequests) - stats.requests
            let giveUps = answers + Int64(injected.resets) - stats.retries - unseen
            #expect(giveUps >= 0 && giveUps <= totals.failures, "\(report)")
            #expect(unseen >= 0 && unseen <= Int64(injected.resets), "\(report)")

            // The budgets reacted: 429s (and Kakao's 403 bursts) cut each platform's cluster rate, never below the floor.
            for platform in ["naver", "kakao"] {
                #expect((decreases[platform] ?? 0) >= 1, "\(platform): \(decreases) \(lowest)")
                #expect((lowest[platform] ?? 2_000) < 2_000 && (lowest[platform] ?? 0) >= 50, "\(platform): \(lowest)")
            }
        }
    }

    /// The batch size is stored with the run: a resume keeps it without the flag and refuses another one. The
    /// episode units follow the run's size, not the worker's: a worker whose catalog says 4 splits by the run's 6,
    /// and yields exactly the unit ids a worker with the built-in catalog (50) yields for the same run.
    @Test func batchSizeComesFromTheRunNotFromTheWorker() async throws {
        let simulator = try await PlatformSimulator.start(
            configuration: SimulatorConfiguration(seed: 42, scale: .small, date: Self.date))
        let root = try temporaryFolder("batch")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/catalog4", withIntermediateDirectories: true)
        try Self.fastCatalogs(into: root + "/catalog4", episodeBatchSize: 4)
        let spec = try RunSpec(platforms: ["naver", "kakao"], mode: .daily, crawlDate: Self.date, episodeBatchSize: 6)
        let truth = try Truth(
            SimulatorCatalog(configuration: SimulatorConfiguration(seed: 42, scale: .small, date: Self.date)).groundTruth(mode: .daily))

        /// Runs the daily crawl in `schema` with one worker (its extra arguments given) and returns the run's units
        /// as stored.
        func crawl(schema: String, name: String, plannedFirst: Bool, worker extra: [String]) async throws -> [UnitRecord] {
            let address = "tcp://127.0.0.1:\(try freeLoopbackPort())"
            let base = [
                "coordinator", "--listen", address, "--schema", schema, "--platforms", "naver,kakao", "--mode", "daily",
                "--date", Self.date, "--idle-poll-ms", "100", "--initial-rate", "2000", "--max-rate", "2000",
            ]
            var final = base + ["--batch-size", "6", "--exit-when-done"]
            if plannedFirst {
                let planner = try Child("\(name)-planner", base + ["--batch-size", "6"], logs: root)
                try await waitUntil(timeout: .seconds(30), "the run to be planned") {
                    planner.log.contains("new root unit") || !planner.process.isRunning
                }
                planner.signal(SIGTERM)
                #expect(await planner.wait(timeout: .seconds(20)) == 0, "\(planner.log.suffix(2000))")
                let other = try Child("\(name)-other", base + ["--resume", "--batch-size", "7"], logs: root)
                #expect(await other.wait(timeout: .seconds(20)) != 0)
                #expect(other.log.contains("planned with --batch-size 6"), "\(other.log.suffix(2000))")
                final = base + ["--resume", "--exit-when-done"]
            }
            let coordinator = try Child("\(name)-coordinator", final, logs: root)
            let worker = try Child(
                "\(name)-worker",
                ["worker", "--coordinator", address, "--data-root", "file://" + root + "/" + name, "--concurrency", "3",
                 "--id", "\(name)-worker", "--base-url", simulator.baseURL] + extra, logs: root)
            #expect(await coordinator.wait(timeout: .seconds(90)) == 0, "\(coordinator.log.suffix(3000))")
            #expect(coordinator.log.contains("dead 0"), "\(coordinator.log.suffix(2000))")
            worker.signal(SIGTERM)
            await worker.wait(timeout: .seconds(30))
            let connection = try await PGConnection.connect(databaseURL)
            let store = try PostgresLedgerStore(connection: connection, schema: schema, logger: Logger(label: "test"))
            let ledger = try await store.loadLedger(config: LedgerConfig())
            let units = try await store.units(run: spec.defaultID)
            await connection.close()
            #expect(ledger.runs[spec.defaultID]?.spec == spec, "the batch size is stored with the run")
            #expect(units.count == ledger.unitCount && units.allSatisfy { $0.state == .done })
            let (records, _) = try await acceptedRecords(schema: schema, run: spec.defaultID, dataRoot: root + "/" + name)
            expectEqual(try groundTruthShape(records, crawlDate: CrawlDate(Self.date)!, mode: .daily), truth)
            return units
        }

        var resumed: [UnitRecord]?
        var plain: [UnitRecord]?
        try await withScratchSchema { _, schema in
            resumed = try await crawl(schema: schema, name: "catalog4", plannedFirst: true, worker: ["--catalog-dir", root + "/catalog4"])
        }
        try await withScratchSchema { _, schema in
            plain = try await crawl(schema: schema, name: "builtin", plannedFirst: false, worker: [])
        }
        await simulator.shutdown()
        let a = try #require(resumed)
        let b = try #require(plain)

        // Every title is split by 6: all batches full except at most one remainder.
        var sizesByTitle: [String: [Int]] = [:]
        for unit in a where unit.seed.kind == "episodes" {
            guard case .crawlEpisodes(let task) = try CrawlUnits.task(of: unit.seed) else { continue }
            sizesByTitle["\(task.platform)/\(task.titleId)", default: []].append(task.episodeIds.count)
        }
        #expect(!sizesByTitle.isEmpty)
        for (title, sizes) in sizesByTitle {
            let total = sizes.reduce(0, +)
            let expected = Array(repeating: 6, count: total / 6) + (total % 6 == 0 ? [] : [total % 6])
            #expect(sizes.sorted(by: >) == expected, "\(title): \(sizes)")
        }
        #expect(sizesByTitle.values.contains { $0.contains(6) })
        // Different worker settings, identical units.
        #expect(a.map(\.id) == b.map(\.id))
        #expect(a.count > sizesByTitle.count)
    }
}
