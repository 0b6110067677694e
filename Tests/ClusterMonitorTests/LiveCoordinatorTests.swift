import ClusterCore
import ClusterKit
import ClusterMonitor
import Dispatch
import Foundation
import Logging
import PQKit
import ServiceLifecycle
import ProcessTestSupport
import Testing

/// A real coordinator (PostgreSQL ledger, nng REP on loopback) with the monitor in front of it: Python's
/// `requests` reads the HTTP endpoints, and the nng status client queries the coordinator directly.
@Suite(.serialized) struct LiveCoordinatorTests {
    struct Environment {
        let python: String
        let databaseURL: String
        init() throws {
            python = try #require(
                ProcessInfo.processInfo.environment["WEBTOON_PYTHON"],
                "WEBTOON_PYTHON is not set: export WEBTOON_PYTHON=/work/main/.venv/bin/python (cluster/setup.sh sets it)")
            databaseURL = try #require(ProcessInfo.processInfo.environment["DATABASE_URL"], "DATABASE_URL is not set")
        }
    }

    static let secret = Array("monitor test secret, long enough".utf8)

    /// Starts a coordinator on a scratch schema with one run of `roots` units, runs `body`, then cleans up.
    static func withCoordinator(roots: Int, _ body: (CoordinatorService, String) async throws -> Void) async throws {
        let environment = try Environment()
        let connection = try await PGConnection.connect(environment.databaseURL)
        let schema = "cluster_mon_" + String(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12))
        let store = try PostgresLedgerStore(connection: connection, schema: schema, logger: Logger(label: "store"))
        let service = CoordinatorService(
            settings: CoordinatorSettings(listenURL: "tcp://127.0.0.1:0", secret: secret, tickMillis: 20, sampleMillis: 20),
            store: store, logger: Logger(label: "coordinator"))
        let (listening, listened) = AsyncStream.makeStream(of: String.self)
        let task = Task { try await service.run(onListening: { listened.yield($0) }) }
        do {
            let address = try #require(await listening.first { _ in true })
            let spec = try RunSpec(platforms: ["kakao", "naver"], mode: .daily, crawlDate: "2026-11-25")
            try await service.createRun(spec, roots: (0..<roots).map { try UnitSeed(kind: "list", platform: $0 % 2 == 0 ? "naver" : "kakao", key: "k\($0)", payload: []) })
            try await body(service, address)
        } catch {
            task.cancel()
            _ = await task.result
            _ = try? await connection.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE")
            await connection.close()
            throw error
        }
        task.cancel()
        _ = await task.result
        _ = try? await connection.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE")
        await connection.close()
    }

    @Test func monitorServesTheLiveCoordinatorOverHTTP() async throws {
        let environment = try Environment()
        try await Self.withCoordinator(roots: 5) { service, _ in
            // Let the coordinator take a few depth samples.
            try await Task.sleep(for: .milliseconds(120))
            let (ports, portFound) = AsyncStream.makeStream(of: Int.self)
            let monitor = MonitorHTTPServer(host: "127.0.0.1", port: 0, logger: Logger(label: "monitor"), provider: {
                MonitorSnapshot(status: try await service.status(), history: try await service.depthHistory())
            }, onListening: { _, port in portFound.yield(port) })
            let group = ServiceGroup(configuration: .init(services: [monitor], logger: Logger(label: "group")))
            let running = Task { try await group.run() }
            let port = try #require(await ports.first { _ in true })

            let script = """
                import json, sys, requests
                base = sys.argv[1]
                out = {}
                for path in ["/metrics", "/status", "/status/history", "/healthz", "/missing"]:
                    r = requests.get(base + path, timeout=5)
                    out[path] = {"code": r.status_code, "type": r.headers.get("content-type"), "body": r.text}
                print(json.dumps(out))
                """
            let (code, stdout, stderr) = await runOffPool(environment.python, ["-c", script, "http://127.0.0.1:\(port)"])
            #expect(code == 0, "python: \(stderr)")
            let answers = try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: [String: Any]])
            let status = try await service.status()

            let metricsAnswer = try #require(answers["/metrics"])
            #expect(metricsAnswer["code"] as? Int == 200)
            #expect((metricsAnswer["type"] as? String)?.hasPrefix("text/plain; version=0.0.4") == true)
            let metrics = try PrometheusText(parsing: try #require(metricsAnswer["body"] as? String))
            for platform in ["kakao", "naver"] {
                let expected = status.queues.first { $0.platform == platform && $0.kind == "list" }?.counts.pending
                #expect(expected != nil)
                #expect(metrics.value("webtoon_cluster_units", ["platform": platform, "kind": "list", "state": "pending"]) == expected.map(Double.init))
            }
            #expect(metrics.value("webtoon_cluster_run_units", ["run": "2026-11-25.daily.kakao+naver", "state": "pending"]) == 5)
            #expect(metrics.value("webtoon_cluster_in_flight_units") == 0)

            let statusAnswer = try #require(answers["/status"])
            #expect(statusAnswer["code"] as? Int == 200)
            let served = try JSONDecoder().decode(ClusterStatus.self, from: Data(try #require(statusAnswer["body"] as? String).utf8))
            #expect(served.runs.map(\.counts) == status.runs.map(\.counts))
            #expect(served.queues == status.queues)

            let historyAnswer = try #require(answers["/status/history"])
            let history = try JSONDecoder().decode(MonitorRoutes.HistoryDocument.self, from: Data(try #require(historyAnswer["body"] as? String).utf8))
            let run = try #require(history.runs.first)
            #expect(run.run.rawValue == "2026-11-25.daily.kakao+naver")
            #expect(run.samples.count >= 2, "sampled every 20 ms for 120 ms")
            #expect(run.samples.allSatisfy { $0.counts.pending == 5 })
            #expect(zip(run.samples, run.samples.dropFirst()).allSatisfy { $0.at < $1.at })

            #expect(answers["/healthz"]?["code"] as? Int == 200)
            #expect(answers["/missing"]?["code"] as? Int == 404)

            // Graceful shutdown stops the server and frees the port.
            await group.triggerGracefulShutdown()
            try await running.value
            let (after, _, _) = await runOffPool(environment.python, ["-c", "import requests,sys; requests.get(sys.argv[1], timeout=2)", "http://127.0.0.1:\(port)/healthz"])
            #expect(after != 0, "the port still answers after shutdown")
        }
    }

    @Test func statusClientQueriesTheCoordinatorOverNNG() async throws {
        try await Self.withCoordinator(roots: 3) { service, address in
            let client = try await CoordinatorClient(coordinatorURL: address, secret: Self.secret)
            defer { client.close() }
            let first = try await client.status()
            let second = try await client.status()
            let direct = try await service.status()
            #expect(first.runs.map(\.id.rawValue) == ["2026-11-25.daily.kakao+naver"])
            #expect(first.runs.map(\.counts) == direct.runs.map(\.counts))
            #expect(second.queues == direct.queues)
            #expect(second.serverTime >= first.serverTime)
            let text = StatusReport.render(second, previous: first, coordinator: address)
            #expect(text.contains("2026-11-25.daily.kakao+naver"))

            let wrong = try await CoordinatorClient(coordinatorURL: address, secret: Array("a different secret entirely".utf8), timeout: .seconds(2))
            defer { wrong.close() }
            let error = await #expect(throws: ClusterError.self) { try await wrong.status() }
            #expect(error?.detail.contains("the cluster secret differs") == true)
            #expect(try await service.status().rejected["unauthenticated"] == 1)
        }
    }

    /// The built `webtoon` executable next to the test bundle (`swift build --build-tests` builds both).
    static func webtoonExecutable() throws -> String {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let path = directory.appendingPathComponent("webtoon").path
        try #require(FileManager.default.isExecutableFile(atPath: path), "no webtoon executable at \(path): run `swift build` first")
        return path
    }

    @Test func webtoonStatusCommandPrintsTheTableAndJSON() async throws {
        let webtoon = try Self.webtoonExecutable()
        try await Self.withCoordinator(roots: 4) { service, address in
            let secretFile = FileManager.default.temporaryDirectory.appendingPathComponent("status-secret-\(UUID().uuidString)")
            try Data(Self.secret + [0x0A]).write(to: secretFile)
            defer { try? FileManager.default.removeItem(at: secretFile) }

            let (code, table, stderr) = await runOffPool(webtoon, ["status", "--coordinator", address, "--secret-file", secretFile.path])
            #expect(code == 0, "webtoon status: \(stderr)")
            let direct = try await service.status()
            for depth in direct.queues {
                let cells = try #require(StatusReportTests.row(table, section: "QUEUES (active runs)", startingWith: [depth.platform, depth.kind]), "\(table)")
                #expect(cells.dropFirst(2).map { Int($0) } == [depth.counts.pending, 0, 0, 0])
            }
            #expect(StatusReportTests.row(table, section: "RUNS", startingWith: ["2026-11-25.daily.kakao+naver", "active", "0", "0", "4"]) != nil, "\(table)")

            let (jsonCode, json, jsonErrors) = await runOffPool(webtoon, ["status", "--coordinator", address, "--secret-file", secretFile.path, "--json"])
            #expect(jsonCode == 0, "webtoon status --json: \(jsonErrors)")
            let decoded = try JSONDecoder().decode(ClusterStatus.self, from: Data(json.utf8))
            #expect(decoded.runs.map(\.counts) == direct.runs.map(\.counts))

            let wrongFile = secretFile.appendingPathExtension("wrong")
            try Data("not the coordinator's secret".utf8).write(to: wrongFile)
            defer { try? FileManager.default.removeItem(at: wrongFile) }
            let (wrongCode, _, wrongErrors) = await runOffPool(webtoon, ["status", "--coordinator", address, "--secret-file", wrongFile.path])
            #expect(wrongCode != 0)
            #expect(wrongErrors.contains("secret differs"), "\(wrongErrors)")
        }
    }

    @Test func watchRefreshesUntilSIGINT() async throws {
        let webtoon = try Self.webtoonExecutable()
        try await Self.withCoordinator(roots: 2) { _, address in
            let (code, output, stderr) = await withCheckedContinuation { continuation in
                let thread = Thread {
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: webtoon)
                    process.arguments = ["status", "--coordinator", address, "--watch", "--interval", "0.2"]
                    process.environment = ["WEBTOON_CLUSTER_SECRET": String(decoding: Self.secret, as: UTF8.self)]
                    let output = Pipe()
                    let errors = Pipe()
                    process.standardOutput = output
                    process.standardError = errors
                    do { try process.run() } catch {
                        continuation.resume(returning: (Int32(-1), "", "cannot start: \(error)"))
                        return
                    }
                    let box = DataBox()
                    let reader = Thread { box.set(output.fileHandleForReading.readDataToEndOfFile()) }
                    reader.start()
                    Thread.sleep(forTimeInterval: 1.5)
                    process.interrupt()
                    process.waitUntilExit()
                    box.finished.wait()
                    let stderr = errors.fileHandleForReading.readDataToEndOfFile()
                    continuation.resume(returning: (process.terminationStatus, String(decoding: box.data, as: UTF8.self), String(decoding: stderr, as: UTF8.self)))
                }
                thread.start()
            }
            #expect(code == 0, "stopped by SIGINT, exits cleanly: \(stderr)")
            let refreshes = output.components(separatedBy: "\u{1B}[H\u{1B}[2J").count - 1
            #expect(refreshes >= 3, "1.5 s at 0.2 s intervals refreshed \(refreshes) times")
            #expect(output.contains("2026-11-25.daily.kakao+naver"))
        }
    }

    @Test func aRefusedConnectionIsReportedAtOnce() async throws {
        // Port 9 (discard) is closed on loopback here; the connect fails instead of waiting for a coordinator.
        await #expect(throws: (any Error).self) {
            _ = try await CoordinatorClient(coordinatorURL: "tcp://127.0.0.1:9", secret: Self.secret)
        }
    }
}
