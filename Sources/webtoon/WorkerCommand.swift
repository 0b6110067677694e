import ArgumentParser
import ClusterCore
import ClusterKit
import CrawlCluster
import CurlKit
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals
import WebtoonCore
import WebtoonCrawler

/// `webtoon worker`: leases units from a coordinator, crawls them and writes Parquet and raw files.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Lease crawl units from a coordinator and write their Parquet and raw outputs.",
        discussion: """
            Dials the coordinator, runs up to --concurrency units at once at this worker's share of each \
            platform's cluster-wide request budget, writes <data-root>/optimized/TABLE/year=…/month=…/day=…/\
            platform=…/part-<unit>-a<epoch>.parquet and raw responses under <data-root>/raw/, and reports each \
            unit's files with row counts and SHA-256. Every worker of a run needs the same --data-root volume; \
            how episodes are batched comes with each unit from the coordinator's plan. SIGTERM or SIGINT drains: running units finish, then it leaves.
            """
    )

    @Option(help: "Coordinator URL: tcp://HOST:PORT or tls+tcp://HOST:PORT.")
    var coordinator: String

    @OptionGroup var tls: CoordinatorTLSOptions

    @Option(name: .customLong("data-root"), help: "Shared output folder as file:///absolute/path.")
    var dataRoot: String

    @Option(name: .customLong("secret-file"), help: "File holding the cluster secret (default: $WEBTOON_CLUSTER_SECRET).")
    var secretFile: String?

    @Option(help: "Units run at once.")
    var concurrency: Int = 4

    @Option(help: "Units leased ahead of a free slot (started as soon as a running unit ends).")
    var prefetch: Int = 2

    @Option(name: .customLong("max-in-flight"), help: "Requests in flight per platform across this worker's units (default: the catalog's maxConcurrency, 5 Naver / 8 Kakao; raise it only for the simulator).")
    var maxInFlight: Int?

    @Option(name: .customLong("episode-parallelism"), help: "Episodes of one episode unit fetched at once.")
    var episodeParallelism: Int = 4

    @Option(help: "Platforms this worker serves.")
    var platforms: String = "naver,kakao"

    @Option(name: .customLong("base-url"), help: "Point every platform host at this URL (simulator); omit for live.")
    var baseURL: String?

    @Option(name: .customLong("catalog-dir"), help: "Folder with naver.json and kakao.json replacing the built-in catalogs (retries, breaker, in-flight cap); the rate comes from the coordinator.")
    var catalogDirectory: String?

    @Option(name: .customLong("drain-seconds"), help: "After SIGTERM, how long running units may take before they are released.")
    var drainSeconds: Int = 60

    @Option(help: "Worker id [a-z0-9._-] (default: worker-<host>-<pid>).")
    var id: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard coordinator.hasPrefix("tcp://") || coordinator.hasPrefix("tls+tcp://") else {
            throw ValidationError("--coordinator must be tcp://HOST:PORT or tls+tcp://HOST:PORT")
        }
        do { _ = try DataRoot(url: dataRoot) } catch { throw ValidationError("--data-root: \(error.detail)") }
        guard (1...256).contains(concurrency) else { throw ValidationError("--concurrency must be in 1...256") }
        guard (0...256).contains(prefetch) else { throw ValidationError("--prefetch must be in 0...256") }
        if let maxInFlight, !(1...1_000).contains(maxInFlight) { throw ValidationError("--max-in-flight must be in 1...1000") }
        guard (1...1_000).contains(episodeParallelism) else { throw ValidationError("--episode-parallelism must be in 1...1000") }
        _ = try ClusterSupport.platforms(platforms)
        if let id, WorkerID(rawValue: id) == nil { throw ValidationError("--id must match [a-z0-9._-]{1,64}") }
        try ClusterSupport.validateLogLevel(logLevel)
        guard (1...3_600).contains(drainSeconds) else { throw ValidationError("--drain-seconds must be in 1...3600") }
    }

    func run() async throws {
        let logger = ClusterSupport.logger("webtoon.worker", level: logLevel)
        let secret = try ClusterSupport.secret(file: secretFile)
        let root = try DataRoot(url: dataRoot)
        let tls = try tls.config(for: coordinator)
        let served = try ClusterSupport.platforms(platforms)
        var catalogs: [EndpointCatalog] = []
        for platform in served {
            var catalog = try CrawlCommand.loadCatalog(platform, directory: catalogDirectory)
            if let baseURL { catalog = try catalog.overridingBaseURL(baseURL) }
            if let maxInFlight { catalog = catalog.withPoliteness(maxConcurrency: maxInFlight) }
            catalogs.append(catalog)
        }
        var configuration = HTTPClient.Configuration()
        // Enough connections for every platform's in-flight cap at once (against the simulator they share a host).
        let connections = max(1, catalogs.map(\.politeness.maxConcurrency).reduce(0, +))
        configuration.maxConnectionsPerHost = connections
        configuration.maxTotalConnections = connections
        let client = try HTTPClient(configuration: configuration, logger: logger)
        let executor = CrawlUnitExecutor(
            dataRoot: root, catalogs: catalogs, http: client, episodeParallelism: episodeParallelism, logger: logger)
        let workerID = try id.flatMap(WorkerID.init(rawValue:)) ?? Self.defaultID()
        let worker = try WorkerService(
            settings: WorkerSettings(
                coordinatorURL: coordinator, tls: tls, secret: secret, id: workerID, capacity: concurrency,
                prefetch: prefetch, platforms: served.map(\.rawValue), softwareVersion: WebtoonVersion.string),
            executor: executor, logger: logger)
        print("worker \(workerID) dialing \(coordinator), data root \(root)")
        fflush(nil)
        var groupConfiguration = ServiceGroupConfiguration(
            services: [.init(service: WorkerRole(worker: worker), successTerminationBehavior: .gracefullyShutdownGroup)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        // Draining waits for running units; if the coordinator is gone for good, give up and release (cancel).
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(drainSeconds)
        let group = ServiceGroup(configuration: groupConfiguration)
        do {
            try await group.run()
        } catch {
            await client.shutdown()
            ClusterSupport.logResources(logger, role: "worker", requests: worker.reportedStats.requests)
            throw error
        }
        await client.shutdown()
        ClusterSupport.logResources(logger, role: "worker", requests: worker.reportedStats.requests)
    }

    static func defaultID() throws -> WorkerID {
        var host = ProcessInfo.processInfo.hostName.lowercased().filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }
        if host.isEmpty { host = "host" }
        let name = "worker-\(host.prefix(40))-\(getpid())"
        guard let id = WorkerID(rawValue: name) else { throw ValidationError("cannot derive a worker id from \(name); pass --id") }
        return id
    }
}

/// A worker as a lifecycle service: a graceful shutdown drains it (running units finish and are reported).
struct WorkerRole: Service {
    let worker: WorkerService
    func run() async throws {
        try await withGracefulShutdownHandler {
            try await worker.run()
        } onGracefulShutdown: {
            worker.drain()
        }
    }
}
