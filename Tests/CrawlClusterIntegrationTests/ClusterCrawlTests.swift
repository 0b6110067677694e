import ClusterCore
import ClusterKit
import CrawlCluster
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import NNGKit
import PQKit
import ProcessTestSupport
import ParquetKit
import Testing
import WebtoonCore
import WebtoonSimulator
import WebtoonTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Real processes of the `webtoon` executable, a real PostgreSQL ledger (a scratch schema per test) and the
/// simulator: the Parquet files the ledger accepted must hold exactly the simulator's ground truth.
///
/// A completion for a unit whose lease was lost is refused (`stale`, outputs not accepted) by the ledger itself:
/// `LedgerTests` and `LedgerModelTests` (ClusterCoreTests) and `ClusterEndToEndTests` (ClusterKitIntegrationTests)
/// cover it; here the chaos test relies on it (a killed worker's files are never read: only accepted ones are).
@Suite(.serialized) struct ClusterCrawlTests {
    static let date = "2026-11-25"

    static func truth(mode: GroundTruthMode) throws -> Truth {
        try Truth(SimulatorCatalog(configuration: SimulatorConfiguration(seed: 42, scale: .small, date: date)).groundTruth(mode: mode))
    }

    /// `webtoon run` with three worker processes crawls the small catalog in full mode: every unit done, and the
    /// accepted Parquet files equal the ground truth.
    @Test func runCommandCrawlsTheSmallCatalogExactly() async throws {
        try await withScratchSchema { _, schema in
            let root = try temporaryFolder("run")
            defer { try? FileManager.default.removeItem(atPath: root) }
            let run = try Child(
                "run",
                ["run", "--workers", "3", "--concurrency", "3", "--mode", "full", "--scale", "small", "--date", Self.date,
                 "--data-root", root, "--schema", schema, "--batch-size", "7", "--log-level", "notice", "--no-load"],
                logs: root)
            let status = await run.wait(timeout: .seconds(120))
            let log = run.log
            #expect(status == 0, "webtoon run failed:\n\(log.suffix(4000))")
            #expect(log.contains("dead 0"), "\(log.suffix(2000))")
            #expect(log.contains("rows ") && log.contains("wall time"))
            #expect(log.contains("timing: start-up") && log.contains("requests/s), end noticed"), "\(log.suffix(2000))")
            // Every child logs its CPU and peak RSS as it ends; the workers' request counts add up to the run's.
            var workerRequests = 0
            for name in ["coordinator", "worker-1", "worker-2", "worker-3"] {
                let childLog = (try? String(contentsOfFile: "\(root)/logs/\(name).log", encoding: .utf8)) ?? "missing"
                #expect(!childLog.contains("Error") && !childLog.contains("missing"), "\(name): \(childLog.suffix(2000))")
                #expect(childLog.contains("maxRSSKiB=") && childLog.contains(" resources"), "\(name): \(childLog.suffix(2000))")
                // Only the workers' `resources` lines: the coordinator's "run finished" notice also says
                // `requests=` when a status sample falls between the finish and the stop.
                guard name.hasPrefix("worker") else { continue }
                let resources = childLog.split(separator: "\n").last { $0.contains(" resources") } ?? ""
                if let match = resources.firstMatch(of: /requests=(\d+)/) { workerRequests += Int(match.1)! }
            }
            let runRequests = try #require(log.firstMatch(of: /\nrequests (\d+),/).map { Int($0.1)! })
            #expect(runRequests > 0 && workerRequests == runRequests, "workers \(workerRequests), run \(runRequests):\n\(log.suffix(1500))")

            let spec = try RunSpec(platforms: ["naver", "kakao"], mode: .full, crawlDate: Self.date)
            let (records, outputs) = try await acceptedRecords(schema: schema, run: spec.defaultID, dataRoot: root)
            #expect(Set(outputs.map(\.file.table)) == ["titles", "title_details", "genres", "episodes", "episode_stats"])
            expectEqual(try groundTruthShape(records, crawlDate: CrawlDate(Self.date)!, mode: .full), try Self.truth(mode: .full))
            // Raw responses are kept under raw/.
            #expect(FileManager.default.fileExists(atPath: root + "/raw/naver") && FileManager.default.fileExists(atPath: root + "/raw/kakao"))
        }
    }

    /// SIGKILL a worker mid-run and start another; later SIGKILL the coordinator and restart it with --resume on
    /// the same port and ledger, all while the simulator answers ~10% of requests with 5xx, 429 or a reset. The run
    /// still finishes with every unit done and exactly the ground truth, and its counters stay within what the
    /// simulator served (the killed worker never reported its requests).
    @Test func survivesKilledWorkerAndKilledCoordinator() async throws {
        try await withScratchSchema { _, schema in
            let root = try temporaryFolder("chaos")
            defer { try? FileManager.default.removeItem(atPath: root) }
            try FileManager.default.createDirectory(atPath: root + "/catalogs", withIntermediateDirectories: true)
            try ClusterFaultTests.fastCatalogs(into: root + "/catalogs")
            let simulator = try await PlatformSimulator.start(
                configuration: SimulatorConfiguration(
                    seed: 42, scale: .small, date: Self.date,
                    faults: SimulatorFaults(
                        latencyMilliseconds: 15, serverErrorRate: 0.06, tooManyRequestsRate: 0.005, resetRate: 0.03,
                        retryAfterSeconds: 1)))
            let port = try freeLoopbackPort()
            let address = "tcp://127.0.0.1:\(port)"
            let coordinatorArguments = [
                "coordinator", "--listen", address, "--schema", schema, "--platforms", "naver,kakao", "--mode", "full",
                "--date", Self.date, "--exit-when-done", "--lease-seconds", "3", "--idle-poll-ms", "100",
                "--initial-rate", "2000", "--max-rate", "2000", "--batch-size", "5", "--log-level", "notice",
            ]
            func worker(_ name: String) throws -> Child {
                try Child(
                    name,
                    ["worker", "--coordinator", address, "--data-root", "file://" + root, "--concurrency", "2", "--id", name,
                     "--base-url", simulator.baseURL, "--catalog-dir", root + "/catalogs", "--log-level", "notice"],
                    logs: root)
            }
            let spec = try RunSpec(platforms: ["naver", "kakao"], mode: .full, crawlDate: Self.date)
            let client = try await CoordinatorClient(
                coordinatorURL: address, secret: Array(clusterSecret.utf8), sender: "test", connection: .background)
            defer { client.close() }
            func done() async -> Int {
                guard let status = try? await client.status(includeWorkers: false, timeout: .milliseconds(500)) else { return -1 }
                return status.runs.first { $0.id == spec.defaultID }?.counts.done ?? -1
            }

            let first = try Child("coordinator-1", coordinatorArguments, logs: root)
            var workers = [try worker("w1"), try worker("w2")]
            try await waitUntil(timeout: .seconds(60), "10 units done") { await done() >= 10 }
            // Kill w1 while it holds at least two leases (running or prefetched), so they must expire and be
            // re-leased. Not "exactly two": with prefetch a busy worker holds more, and exactly two may only happen
            // near the end of the run, too late for the progress check below.
            try await waitUntil(timeout: .seconds(30), "w1 holding two leases") {
                let status = try? await client.status(includeWorkers: true, timeout: .milliseconds(500))
                return (status?.workers.first { $0.id.rawValue == "w1" }?.leased ?? 0) >= 2
            }
            workers[0].signal(SIGKILL)
            await workers[0].wait(timeout: .seconds(5))
            workers.append(try worker("w3"))
            let before = await done()
            try await waitUntil(timeout: .seconds(60), "progress after the worker died") { await done() >= before + 10 }
            first.signal(SIGKILL)
            await first.wait(timeout: .seconds(5))

            // A plain restart is refused (the run exists); --resume continues it.
            let refused = try Child("coordinator-refused", Array(coordinatorArguments), logs: root)
            #expect(await refused.wait(timeout: .seconds(30)) != 0)
            #expect(refused.log.contains("--resume"), "\(refused.log.suffix(2000))")
            let second = try Child("coordinator-2", coordinatorArguments + ["--resume"], logs: root)
            let status = await second.wait(timeout: .seconds(120))
            #expect(status == 0, "resumed coordinator failed:\n\(second.log.suffix(4000))")
            #expect(second.log.contains("dead 0"), "\(second.log.suffix(3000))")
            for worker in workers.dropFirst() {
                worker.signal(SIGTERM)
                #expect(await worker.wait(timeout: .seconds(30)) == 0, "\(worker.name):\n\(worker.log.suffix(2000))")
            }
            let served = simulator.stats()
            await simulator.shutdown()

            // The killed worker's leases ran out and were re-leased (its late files, if any, were never accepted).
            let connection = try await PGConnection.connect(databaseURL)
            let ledger = try await PostgresLedgerStore(connection: connection, schema: schema, logger: Logger(label: "test"))
                .loadLedger(config: LedgerConfig())
            await connection.close()
            let totals = try #require(ledger.runs[spec.defaultID]).totals
            #expect(totals.leaseExpiries >= 1, "\(totals)")
            #expect(ledger.units.isEmpty && ledger.counts(run: spec.defaultID).done == ledger.unitCount, "every unit done (and compact)")
            // Retries were counted, and nothing was counted that the simulator did not serve.
            let stats = totals.stats
            let report = "\(totals); simulator requests \(served.platformRequests), faults \(served.faults)"
            #expect(stats.status5xx > 0 && stats.status429 > 0, "\(report)")
            #expect(stats.status5xx <= Int64(served.faults["5xx"] ?? 0) && stats.status429 <= Int64(served.faults["429"] ?? 0), "\(report)")
            #expect(stats.retries >= stats.status5xx + stats.status429 - totals.failures, "\(report)")
            #expect(stats.requests <= Int64(served.platformRequests), "\(report)")

            let (records, _) = try await acceptedRecords(schema: schema, run: spec.defaultID, dataRoot: root)
            expectEqual(try groundTruthShape(records, crawlDate: CrawlDate(Self.date)!, mode: .full), try Self.truth(mode: .full))
        }
    }

    /// Malformed answers with one attempt per unit leave dead units; `webtoon units --dead` lists them with their
    /// error, an offline `units retry` refuses while the coordinator holds the ledger, `units retry --coordinator`
    /// retries one through the running coordinator (durably), and after it stops `units retry --all-dead` (the
    /// rest) plus a `--resume` coordinator against a healthy simulator completes the run exactly.
    @Test func deadUnitsAreListedRetriedAndCompleted() async throws {
        try await withScratchSchema { _, schema in
            let root = try temporaryFolder("dead")
            defer { try? FileManager.default.removeItem(atPath: root) }
            let faulty = try await PlatformSimulator.start(
                configuration: SimulatorConfiguration(
                    seed: 42, scale: .small, date: Self.date, faults: SimulatorFaults(malformedRate: 0.15)))
            let healthy = try await PlatformSimulator.start(
                configuration: SimulatorConfiguration(seed: 42, scale: .small, date: Self.date))
            let address = "tcp://127.0.0.1:\(try freeLoopbackPort())"
            let coordinator = [
                "coordinator", "--listen", address, "--schema", schema, "--mode", "daily", "--date", Self.date,
                "--exit-when-done", "--max-attempts", "1", "--lease-seconds", "5", "--idle-poll-ms", "100",
                "--initial-rate", "2000", "--max-rate", "2000", "--batch-size", "5",
            ]
            func worker(_ name: String, _ baseURL: String) throws -> Child {
                try Child(
                    name, ["worker", "--coordinator", address, "--data-root", "file://" + root, "--concurrency", "4", "--id", name,
                           "--base-url", baseURL], logs: root)
            }
            let first = try Child("coordinator-1", coordinator, logs: root)
            let w1 = try worker("w1", faulty.baseURL)
            #expect(await first.wait(timeout: .seconds(60)) == 0, "\(first.log.suffix(3000))")
            w1.signal(SIGTERM)
            await w1.wait(timeout: .seconds(30))
            #expect(first.log.contains("DEAD "), "the faults left no dead unit:\n\(first.log.suffix(2000))")

            let listing = try Child("list-dead", ["units", "--dead", "--schema", schema], logs: root)
            #expect(await listing.wait(timeout: .seconds(20)) == 0)
            let deadLines = listing.log.split(separator: "\n").filter { $0.split(separator: "\t").count == 6 }
            #expect(!deadLines.isEmpty && deadLines.allSatisfy { !$0.split(separator: "\t")[5].isEmpty }, "\(listing.log)")

            // While a coordinator holds the ledger, an offline retry is refused.
            let holder = try Child(
                "coordinator-holder",
                coordinator.filter { $0 != "--exit-when-done" } + ["--resume", "--http-port", "0", "--http-host", "127.0.0.1"], logs: root)
            try await waitUntil(timeout: .seconds(20), "the resumed coordinator and its monitor to listen") {
                (holder.log.contains("coordinator listening") && holder.log.contains("monitor listening")) || !holder.process.isRunning
            }
            // --http-port serves the monitor: its metrics show the dead units of the run.
            let metricsURL = try #require(
                holder.log.split(separator: "\n").first { $0.hasPrefix("monitor listening at ") }
                    .map { String($0.dropFirst("monitor listening at ".count)) })
            let (body, _) = try await URLSession.shared.data(from: try #require(URL(string: metricsURL)))
            let metrics = String(decoding: body, as: UTF8.self)
            #expect(metrics.contains("webtoon_cluster_run_units{run=\"2026-11-25.daily.kakao+naver\",state=\"dead\"} \(deadLines.count)"), "\(metrics.prefix(3000))")
            let refused = try Child("retry-refused", ["units", "retry", "--all-dead", "--schema", schema], logs: root)
            #expect(await refused.wait(timeout: .seconds(20)) != 0)
            #expect(refused.log.contains("a coordinator is running"), "\(refused.log)")
            // Online: the running coordinator retries one dead unit through an authenticated retryDead message.
            let onlineID = String(try #require(deadLines.first?.split(separator: "\t").first))
            let online = try Child("retry-online", ["units", "retry", "--coordinator", address, onlineID], logs: root)
            #expect(await online.wait(timeout: .seconds(20)) == 0, "\(online.log)")
            #expect(online.log.contains("1 unit(s) back to pending in the running coordinator") && online.log.contains(onlineID), "\(online.log)")
            let (after, _) = try await URLSession.shared.data(from: try #require(URL(string: metricsURL)))
            #expect(String(decoding: after, as: UTF8.self).contains("webtoon_cluster_run_units{run=\"2026-11-25.daily.kakao+naver\",state=\"dead\"} \(deadLines.count - 1)"))
            holder.signal(SIGTERM)
            #expect(await holder.wait(timeout: .seconds(20)) == 0, "\(holder.log.suffix(2000))")

            // Offline, after the coordinator stopped: the online retry was committed, so only the others are dead.
            let retry = try Child("retry", ["units", "retry", "--all-dead", "--schema", schema], logs: root)
            #expect(await retry.wait(timeout: .seconds(20)) == 0, "\(retry.log)")
            #expect(retry.log.contains("\(deadLines.count - 1) unit(s) back to pending"), "\(retry.log)")
            #expect(!retry.log.contains(onlineID), "\(retry.log)")

            let second = try Child("coordinator-2", coordinator + ["--resume"], logs: root)
            let w2 = try worker("w2", healthy.baseURL)
            #expect(await second.wait(timeout: .seconds(60)) == 0, "\(second.log.suffix(3000))")
            #expect(second.log.contains("dead 0"), "\(second.log.suffix(2000))")
            w2.signal(SIGTERM)
            await w2.wait(timeout: .seconds(30))
            await faulty.shutdown()
            await healthy.shutdown()

            let spec = try RunSpec(platforms: ["naver", "kakao"], mode: .daily, crawlDate: Self.date)
            let (records, _) = try await acceptedRecords(schema: schema, run: spec.defaultID, dataRoot: root)
            expectEqual(try groundTruthShape(records, crawlDate: CrawlDate(Self.date)!, mode: .daily), try Self.truth(mode: .daily))
        }
    }

    /// Coordinator, worker and `webtoon status` over tls+tcp (a self-signed certificate made by the openssl CLI,
    /// verified as "localhost"): a daily run completes with exactly the daily ground truth, watched through status.
    @Test func dailyRunOverTLS() async throws {
        try await withScratchSchema { _, schema in
            let root = try temporaryFolder("tls")
            defer { try? FileManager.default.removeItem(atPath: root) }
            let openssl = Process()
            openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            openssl.arguments = [
                "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                "-subj", "/CN=localhost", "-keyout", root + "/server.key", "-out", root + "/server.crt",
            ]
            openssl.standardOutput = FileHandle.nullDevice
            openssl.standardError = FileHandle.nullDevice
            try openssl.run()
            while openssl.isRunning { try await Task.sleep(for: .milliseconds(20)) }
            #expect(openssl.terminationStatus == 0, "openssl could not make a certificate")
            let simulator = try await PlatformSimulator.start(
                configuration: SimulatorConfiguration(seed: 42, scale: .small, date: Self.date))
            let address = "tls+tcp://127.0.0.1:\(try freeLoopbackPort())"
            let coordinator = try Child(
                "coordinator",
                ["coordinator", "--listen", address, "--tls-cert", root + "/server.crt", "--tls-key", root + "/server.key",
                 "--schema", schema, "--mode", "daily", "--date", Self.date, "--idle-poll-ms", "100",
                 "--initial-rate", "2000", "--max-rate", "2000"], logs: root)
            let worker = try Child(
                "worker",
                ["worker", "--coordinator", address, "--tls-ca", root + "/server.crt", "--tls-server-name", "localhost",
                 "--data-root", "file://" + root, "--concurrency", "4", "--base-url", simulator.baseURL], logs: root)
            // The operator's view over TLS: `webtoon status --json` until the run is finished (the coordinator
            // stays up, so status can always answer).
            let spec = try RunSpec(platforms: ["naver", "kakao"], mode: .daily, crawlDate: Self.date)
            var finished: RunStatus?
            var attempt = 0
            try await waitUntil(timeout: .seconds(60), "status over TLS says the run is finished") {
                attempt += 1
                let status = try Child(
                    "status-\(attempt)",
                    ["status", "--coordinator", address, "--tls-ca", root + "/server.crt", "--tls-server-name", "localhost",
                     "--json", "--timeout", "2"], logs: root)
                guard await status.wait(timeout: .seconds(20)) == 0,
                    case let log = status.log, let start = log.firstIndex(of: "{"), let end = log.lastIndex(of: "}"),
                    let decoded = try? JSONDecoder().decode(ClusterStatus.self, from: Data(log[start...end].utf8)),
                    let run = decoded.runs.first(where: { $0.id == spec.defaultID }), run.state == .finished
                else { return false }
                finished = run
                return true
            }
            #expect(finished?.counts.dead == 0 && (finished?.counts.done ?? 0) > 0, "\(String(describing: finished))")
            coordinator.signal(SIGTERM)
            #expect(await coordinator.wait(timeout: .seconds(30)) == 0, "\(coordinator.log.suffix(3000))")
            worker.signal(SIGTERM)
            #expect(await worker.wait(timeout: .seconds(30)) == 0, "\(worker.log.suffix(2000))")
            await simulator.shutdown()
            let (records, _) = try await acceptedRecords(schema: schema, run: spec.defaultID, dataRoot: root)
            expectEqual(try groundTruthShape(records, crawlDate: CrawlDate(Self.date)!, mode: .daily), try Self.truth(mode: .daily))
        }
    }

    /// Configuration mistakes are refused with a message that says what to do.
    @Test func validationErrorsSayWhatToDo() async throws {
        let root = try temporaryFolder("validation")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cases: [([String], String)] = [
            (["worker", "--coordinator", "tcp://127.0.0.1:1", "--data-root", "s3://bucket/x"], "only file:///absolute/path"),
            (["worker", "--coordinator", "127.0.0.1:1", "--data-root", "file:///tmp"], "tcp://HOST:PORT"),
            (["coordinator", "--mode", "weekly"], "--mode must be daily or full"),
            (["coordinator", "--platforms", "naver,line"], "unknown platform \"line\""),
            (["worker", "--coordinator", "tls+tcp://127.0.0.1:1", "--data-root", "file:///tmp"], "needs --tls-ca"),
            (["worker", "--coordinator", "tcp://127.0.0.1:1", "--data-root", "file:///tmp", "--max-in-flight", "0"], "--max-in-flight must be in 1...1000"),
            (["run", "--idle-poll-ms", "1"], "--idle-poll-ms must be in 10...60000"),
        ]
        for (index, (arguments, message)) in cases.enumerated() {
            let child = try Child("case-\(index)", arguments, logs: root)
            #expect(await child.wait(timeout: .seconds(20)) != 0)
            #expect(child.log.contains(message), "\(arguments): \(child.log)")
        }
        // No secret: coordinator and worker refuse to start.
        let noSecret = try Child(
            "no-secret", ["worker", "--coordinator", "tcp://127.0.0.1:1", "--data-root", "file://" + root], logs: root,
            environment: ["WEBTOON_CLUSTER_SECRET": ""])
        #expect(await noSecret.wait(timeout: .seconds(20)) != 0)
        #expect(noSecret.log.contains("at least 16"), "\(noSecret.log)")
    }
}

/// Pure checks of the table mapping: every record field survives a Parquet round trip, nulls included.
@Suite struct CrawlTablesTests {
    @Test func recordsRoundTripThroughParquetFiles() throws {
        let date = CrawlDate("2026-11-25")!
        var batch = RecordBatch()
        batch.titles = [TitleRecord(platform: .naver, titleId: 7, name: "제목", author: "글 / 그림", thumbnailUrl: "https://x/t.jpg", weekdays: [0, 6], completed: false, adult: true, crawlDate: date, fetchedAt: 1_764_000_000_123)]
        batch.titleDetails = [
            TitleDetailRecord(platform: .naver, titleId: 7, ageRating: "RATE_18", restricted: true, dailyPass: false, finished: nil, favoriteCount: 12, views: nil, synopsis: nil, publishWeekdays: [], totalEpisodeCount: 30, visibleEpisodeCount: 0, crawlDate: date, fetchedAt: 5),
            TitleDetailRecord(platform: .naver, titleId: 8, ageRating: nil, restricted: false, dailyPass: true, finished: true, favoriteCount: nil, views: 99, synopsis: "s", publishWeekdays: [3], totalEpisodeCount: nil, visibleEpisodeCount: 3, crawlDate: date, fetchedAt: 6),
        ]
        batch.genres = [GenreRecord(platform: .naver, titleId: 7, name: "액션", source: "GENRE_PURE", crawlDate: date)]
        batch.episodes = [
            EpisodeRecord(platform: .naver, titleId: 7, episodeId: 100, no: 100, title: "1화", publishedDate: date, publishedSource: "26.11.25", thumbnailUrl: nil, paid: false, crawlDate: date, fetchedAt: 7),
            EpisodeRecord(platform: .naver, titleId: 7, episodeId: 101, no: 101, title: "2화", publishedDate: nil, publishedSource: nil, thumbnailUrl: "u", paid: nil, crawlDate: date, fetchedAt: 8),
        ]
        batch.episodeStats = [
            EpisodeStatsRecord(platform: .naver, titleId: 7, episodeId: 100, likes: 3, comments: 0, rating: 9.5, ratingCount: nil, views: nil, missingReason: nil, crawlDate: date, fetchedAt: 9),
            EpisodeStatsRecord(platform: .naver, titleId: 7, episodeId: 101, likes: nil, comments: nil, rating: nil, ratingCount: 4, views: 1, missingReason: "likes: none", crawlDate: date, fetchedAt: 10),
        ]
        batch.comments = [CommentRecord(platform: .naver, titleId: 7, episodeId: 100, commentId: "c1", text: "재밌다", likes: 2, createdAt: nil, crawlDate: date)]

        var back = RecordBatch()
        let groups = CrawlRows.rows(of: batch)
        #expect(Set(groups.keys.map(\.table)) == Set(CrawlTable.allCases))
        for (key, rows) in groups {
            let bytes = try ParquetWriter.encode(schema: key.table.schema, batches: [])
            #expect(!bytes.isEmpty)
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("crawl-tables-\(UUID().uuidString).parquet").path
            defer { unlink(path) }
            let writer = try ParquetWriter(path: path, schema: key.table.schema)
            for row in rows { try writer.append(row: row) }
            try writer.close()
            let reader = try ParquetReader(path: path)
            var read: [[ParquetValue]] = []
            for group in 0..<reader.rowGroupCount {
                let columns = try reader.readRowGroup(group)
                for i in 0..<columns.rowCount { read.append(zip(columns.columns, key.table.schema.columns).map { $0.value(at: i, as: $1.type) }) }
            }
            try CrawlRows.append(rows: read, table: key.table, platform: key.platform, to: &back)
        }
        #expect(back == batch)
    }

    @Test func badRowsNameTheirTableAndColumn() {
        var batch = RecordBatch()
        #expect(throws: CrawlClusterError.self) {
            try CrawlRows.append(rows: [[.int64(1), .int64(2)]], table: .genres, platform: .kakao, to: &batch)
        }
        do {
            try CrawlRows.append(rows: [[.int64(1), .int64(2)]], table: .genres, platform: .kakao, to: &batch)
        } catch {
            #expect(error.description.contains("table genres, column name"))
        }
    }

    @Test func dataRootAcceptsOnlyAbsoluteFileURLs() throws {
        #expect(try DataRoot(url: "file:///data/webtoon/").path == "/data/webtoon")
        for bad in ["s3://bucket/x", "/data/webtoon", "file://host/data", "file:///data/../etc", "http://x/y"] {
            #expect(throws: CrawlClusterError.self, "\(bad)") { try DataRoot(url: bad) }
        }
    }

    @Test func seedsCarryTheirTaskAndRefuseMismatches() throws {
        let spec = try RunSpec(platforms: ["naver", "kakao"], mode: .full, crawlDate: "2026-11-25")
        let roots = try CrawlPlanner.roots(for: spec)
        #expect(roots.map(\.kind) == ["list", "list", "list", "list"])
        for seed in roots {
            let task = try CrawlUnits.task(of: seed)
            #expect(task.key == seed.key && task.platform.rawValue == seed.platform)
        }
        // The run's batch size is in every root's payload (resolved from the catalog when the run leaves it open),
        // never in a key: unit ids do not depend on it, the split of each title does.
        func batchSizes(_ seeds: [UnitSeed]) throws -> [Int?] {
            try seeds.map { seed in
                guard case .listTitles(let list) = try CrawlUnits.task(of: seed) else { return nil }
                return list.episodeBatchSize
            }
        }
        #expect(try batchSizes(roots) == Array(repeating: EndpointCatalog.builtIn(.naver).crawl.episodeBatchSize, count: 4))
        let planned = try CrawlPlanner.roots(for: spec.with(episodeBatchSize: 9))
        #expect(try batchSizes(planned) == [9, 9, 9, 9])
        #expect(planned.map { $0.unitID(in: spec.defaultID) } == roots.map { $0.unitID(in: spec.defaultID) })
        let forged = try UnitSeed(kind: "title", platform: roots[0].platform, key: roots[0].key, payload: roots[0].payload)
        #expect(throws: CrawlClusterError.self) { try CrawlUnits.task(of: forged) }
        let garbage = try UnitSeed(kind: "list", platform: "naver", key: "k", payload: Array("{}".utf8))
        #expect(throws: CrawlClusterError.self) { try CrawlUnits.task(of: garbage) }
    }
}
