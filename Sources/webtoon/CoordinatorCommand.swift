import ArgumentParser
import ClusterCore
import ClusterKit
import ClusterMonitor
import CrawlCluster
import Foundation
import Logging
import PQKit
import ServiceLifecycle
import Synchronization
import UnixSignals

/// `webtoon coordinator`: plans a run into the PostgreSQL ledger and leases its units to workers over nng.
struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Plan a crawl run into the PostgreSQL ledger and lease its units to workers.",
        discussion: """
            Creates the run (platforms, mode, KST date) with its root units, listens for workers and status \
            clients (docs/protocol.md), and keeps every state change in the ledger schema before answering. \
            --resume continues a run already in the ledger (e.g. after a crash); without it an existing run is \
            refused. The secret comes from --secret-file or WEBTOON_CLUSTER_SECRET, never the command line. \
            SIGTERM or SIGINT stops it gracefully; restarting with --resume loses nothing.
            """
    )

    @Option(help: "Listen URL: tcp://HOST:PORT or tls+tcp://HOST:PORT.")
    var listen: String = "tcp://0.0.0.0:7070"

    @Option(name: .customLong("tls-cert"), help: "PEM certificate (chain) for a tls+tcp:// listen URL.")
    var tlsCertificate: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key for a tls+tcp:// listen URL.")
    var tlsKey: String?

    @Option(name: .customLong("database-url"), help: "PostgreSQL URL of the ledger (default: $DATABASE_URL).")
    var databaseURL: String?

    @Option(help: "PostgreSQL schema of the ledger tables.")
    var schema: String = "cluster"

    @Option(name: .customLong("secret-file"), help: "File holding the cluster secret (default: $WEBTOON_CLUSTER_SECRET).")
    var secretFile: String?

    @Option(help: "Platforms of the run: naver, kakao or naver,kakao.")
    var platforms: String = "naver,kakao"

    @Option(help: "daily (the date's weekday titles, newest episodes) or full (everything).")
    var mode: String = "daily"

    @Option(help: "KST crawl date YYYY-MM-DD (default: today in KST).")
    var date: String?

    @Flag(help: "Continue the run if the ledger already has it.")
    var resume = false

    @Option(name: .customLong("max-attempts"), help: "Leases a unit may use before it is dead.")
    var maxAttempts: Int = 5

    @Option(name: .customLong("lease-seconds"), help: "Lease length without a heartbeat (workers heartbeat every third).")
    var leaseSeconds: Int = 60

    @Option(name: .customLong("initial-rate"), help: "Cluster-wide requests/s per platform at start.")
    var initialRate: Double = 2

    @Option(name: .customLong("max-rate"), help: "Cluster-wide requests/s ceiling per platform.")
    var maxRate: Double = 10

    @Option(name: .customLong("min-rate"), help: "Cluster-wide requests/s floor per platform: 429s and 403 bursts never cut below it (default: 0.1, or --initial-rate if lower).")
    var minRate: Double?

    @Option(name: .customLong("batch-size"), help: "Episodes per episode unit, kept with the run in the ledger (default: each platform catalog's; a resumed run keeps its own).")
    var batchSize: Int?

    @Option(name: .customLong("idle-poll-ms"), help: "How long an idle worker waits before asking again.")
    var idlePollMilliseconds: Int = 2_000

    @Option(name: .customLong("http-port"), help: "Serve /metrics, /status, /status/history and /healthz on this port (docs/monitor.md).")
    var httpPort: Int?

    @Option(name: .customLong("http-host"), help: "Address the monitor HTTP server binds.")
    var httpHost: String = "0.0.0.0"

    @Flag(name: .customLong("exit-when-done"), help: "Tell workers to drain and exit 0 once the run is finished.")
    var exitWhenDone = false

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func validate() throws {
        _ = try ClusterSupport.runSpec(platforms: platforms, mode: mode, date: date)
        try ClusterSupport.validateSchema(schema)
        try ClusterSupport.validateLogLevel(logLevel)
        guard listen.hasPrefix("tcp://") || listen.hasPrefix("tls+tcp://") else {
            throw ValidationError("--listen must be tcp://HOST:PORT or tls+tcp://HOST:PORT")
        }
        guard (1...100).contains(maxAttempts) else { throw ValidationError("--max-attempts must be in 1...100") }
        guard (2...86_400).contains(leaseSeconds) else { throw ValidationError("--lease-seconds must be in 2...86400") }
        guard initialRate > 0, maxRate >= initialRate else {
            throw ValidationError("--initial-rate must be positive and at most --max-rate")
        }
        if let minRate, !(minRate > 0 && minRate <= initialRate) {
            throw ValidationError("--min-rate must be positive and at most --initial-rate")
        }
        if let batchSize, !(1...RunSpec.maxEpisodeBatchSize).contains(batchSize) { throw ValidationError("--batch-size must be in 1...\(RunSpec.maxEpisodeBatchSize)") }
        if let httpPort, !(0...65_535).contains(httpPort) { throw ValidationError("--http-port must be in 0...65535") }
        guard (10...60_000).contains(idlePollMilliseconds) else { throw ValidationError("--idle-poll-ms must be in 10...60000") }
    }

    func run() async throws {
        let logger = ClusterSupport.logger("webtoon.coordinator", level: logLevel)
        let secret = try ClusterSupport.secret(file: secretFile)
        let url = try ClusterSupport.databaseURL(databaseURL)
        var spec = try ClusterSupport.runSpec(platforms: platforms, mode: mode, date: date)
        let tls = try ClusterSupport.serverTLS(url: listen, certificate: tlsCertificate, key: tlsKey)

        // Held until the process ends (closing it, or dying, releases the lock).
        let lockConnection = try await PGConnection.connect(url)
        guard try await ClusterSupport.tryLedgerLock(lockConnection, schema: schema) else {
            throw ValidationError("another coordinator (or `webtoon units retry`) holds the ledger in schema \(schema); stop it first")
        }
        let connection = try await PGConnection.connect(url)
        let store = try PostgresLedgerStore(connection: connection, schema: schema, logger: logger)
        try await store.migrate()
        // The batch size is part of the plan: a resumed run keeps the one it was planned with.
        let existing = try await connection.query(
            "SELECT coalesce((record->'spec'->>'episodeBatchSize')::int, 0) FROM \(try await connection.quoteIdentifier(schema)).runs WHERE id = $1",
            [.text(spec.defaultID.rawValue)])
        if let row = existing.rows.first {
            guard resume else {
                throw ValidationError("run \(spec.defaultID) is already in the ledger (schema \(schema)); pass --resume to continue it")
            }
            let stored = try row.value(0, as: Int.self) ?? 0
            let planned = stored > 0 ? stored : nil
            if let batchSize, batchSize != planned {
                throw ValidationError(
                    "run \(spec.defaultID) was planned with --batch-size \(planned.map(String.init) ?? "(catalog default)"); drop --batch-size to resume it")
            }
            spec = try spec.with(episodeBatchSize: planned)
        } else {
            spec = try spec.with(episodeBatchSize: batchSize)
        }
        let roots = try CrawlPlanner.roots(for: spec)

        let budget = BudgetPolicy(initialRate: initialRate, floor: minRate ?? min(0.1, initialRate), ceiling: maxRate)
        let core = CoordinatorConfig(
            ledger: LedgerConfig(leaseMillis: Int64(leaseSeconds) * 1000, maxAttempts: maxAttempts),
            idlePollMillis: Int64(idlePollMilliseconds), defaultBudget: budget)
        let service = CoordinatorService(
            settings: CoordinatorSettings(listenURL: listen, tls: tls, secret: secret, core: core, tickMillis: 200, sampleMillis: 5_000),
            store: store, logger: logger)
        let role = CoordinatorRole(
            service: service, spec: spec, roots: roots, exitWhenDone: exitWhenDone,
            idlePollMillis: Int64(idlePollMilliseconds), logger: logger)
        // The role returns when the run is done (--exit-when-done): a normal end, not a failure.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: role, successTerminationBehavior: .gracefullyShutdownGroup)
        ]
        if let httpPort {
            let monitor = MonitorHTTPServer(
                host: httpHost, port: httpPort, logger: logger,
                provider: { MonitorSnapshot(status: try await service.status(), history: try await service.depthHistory()) },
                onListening: { host, port in
                    print("monitor listening at http://\(host):\(port)/metrics")
                    fflush(nil)
                })
            services.append(.init(service: monitor))
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        await connection.close()
        await lockConnection.close()
        if let summary = role.finalSummary.withLock({ $0 }) {
            print(CoordinatorRole.describe(summary))
        }
        ClusterSupport.logResources(logger, role: "coordinator")
    }
}

/// The coordinator as a lifecycle service: serves until a graceful shutdown (or, with `exitWhenDone`, until the
/// run is finished and workers were told to drain).
final class CoordinatorRole: Service, Sendable {
    let service: CoordinatorService
    let spec: RunSpec
    let roots: [UnitSeed]
    let exitWhenDone: Bool
    let idlePollMillis: Int64
    let logger: Logger
    let finalSummary = Mutex<RunSummary?>(nil)

    init(service: CoordinatorService, spec: RunSpec, roots: [UnitSeed], exitWhenDone: Bool, idlePollMillis: Int64, logger: Logger) {
        self.service = service
        self.spec = spec
        self.roots = roots
        self.exitWhenDone = exitWhenDone
        self.idlePollMillis = idlePollMillis
        self.logger = logger
    }

    func run() async throws {
        let (listening, listened) = AsyncStream.makeStream(of: String.self)
        do {
            try await cancelWhenGracefulShutdown {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        try await self.service.run(onListening: { url in
                            listened.yield(url)
                            listened.finish()
                        })
                    }
                    group.addTask {
                        guard let url = await listening.first(where: { _ in true }) else { return }
                        let created = try await self.service.createRun(self.spec, roots: self.roots)
                        print("coordinator listening at \(url); run \(self.spec.defaultID): \(created.count) new root unit(s)")
                        fflush(nil)
                        try await self.watch()
                    }
                    try await group.next()
                    group.cancelAll()
                }
            }
        } catch is CancellationError {
            logger.notice("coordinator stopped")
        }
    }

    /// Waits for the run to finish; with `exitWhenDone`, drains the workers and returns (ending the service).
    private func watch() async throws {
        let run = spec.defaultID
        while true {
            if let summary = try await service.summary(run: run), summary.finished {
                finalSummary.withLock { $0 = summary }
                guard exitWhenDone else {
                    try await Task.sleep(for: .seconds(1))
                    continue
                }
                try await service.setDraining(true)
                // Give idle workers one poll (and a heartbeat) to hear "drain" before the socket closes.
                try await Task.sleep(for: .milliseconds(min(5_000, 2 * idlePollMillis + 500)))
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    static func describe(_ summary: RunSummary) -> String {
        let t = summary.totals
        var lines = [
            "run \(summary.id) \(summary.finished ? "finished" : "not finished"): units \(summary.units), done \(summary.done), dead \(summary.dead)",
            "requests \(t.stats.requests), retries \(t.stats.retries), 429 \(t.stats.status429), 403 \(t.stats.status403), 5xx \(t.stats.status5xx), bytes \(t.stats.bytes)",
            "files \(t.files) (\(t.outputBytes) bytes); rows " + t.rowsByTable.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "),
        ]
        for dead in summary.deadUnits.prefix(20) { lines.append("DEAD \(dead.id) \(dead.platform)/\(dead.kind) \(dead.key): \(dead.lastError)") }
        return lines.joined(separator: "\n")
    }
}
