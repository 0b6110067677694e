import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The synthetic catalog without a server: ground truth for a configuration, e.g. for `--export-ground-truth`.
public struct SimulatorCatalog: Sendable {
    let catalog: SimCatalog
    let day: CalendarDay

    public init(configuration: SimulatorConfiguration) throws(SimulatorError) {
        day = try configuration.validatedDay()
        catalog = SimCatalog(seed: configuration.seed, scale: configuration.scale)
    }

    init(catalog: SimCatalog, day: CalendarDay) {
        self.catalog = catalog
        self.day = day
    }

    /// Number of titles per platform (weekly and finished together).
    public var titleCounts: (naver: Int, kakao: Int) { (catalog.naver.count, catalog.kakao.count) }

    public func groundTruth(mode: GroundTruthMode) -> GroundTruth { catalog.groundTruth(mode: mode, on: day) }

    /// The same document as `GET /__sim/ground-truth`, rendered without building `GroundTruth` values.
    public func groundTruthJSON(mode: GroundTruthMode) -> [UInt8] { catalog.writeGroundTruth(mode: mode, on: day) }
}

/// A loopback server speaking both platforms' APIs with a deterministic synthetic catalog, fault injection,
/// request counters and a ground-truth export.
public final class PlatformSimulator: Sendable {
    public let configuration: SimulatorConfiguration
    public let host: String
    public let port: Int
    /// `http://host:port`: point every platform base URL here.
    public var baseURL: String { "http://\(host):\(port)" }

    private let core: SimulatorCore
    private let listener: any Channel
    private let connections: ConnectionRegistry
    private let logger: Logger

    private init(configuration: SimulatorConfiguration, host: String, port: Int, core: SimulatorCore,
                 listener: any Channel, connections: ConnectionRegistry, logger: Logger) {
        self.configuration = configuration
        self.host = host
        self.port = port
        self.core = core
        self.listener = listener
        self.connections = connections
        self.logger = logger
    }

    /// Builds the catalog and listens on `host:port` (0 picks a free port) using NIO's shared event loops
    /// (one per core).
    public static func start(
        configuration: SimulatorConfiguration, host: String = "127.0.0.1", port: Int = 0, logger: Logger? = nil
    ) async throws(SimulatorError) -> PlatformSimulator {
        let logger = logger ?? Logger(label: "webtoon.simulator", factory: { _ in SwiftLogNoOpLogHandler() })
        let core = try SimulatorCore(configuration: configuration)
        let registry = ConnectionRegistry()
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(ChannelOptions.backlog, value: 512)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    registry.add(channel)
                    return channel.eventLoop.makeCompletedFuture {
                        // Every response header is ours (fixed names, numbers, content types): validating them
                        // for CR/LF on each write cost a tenth of the event loops' time.
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                            withErrorHandling: true, withOutboundHeaderValidation: false)
                        try channel.pipeline.syncOperations.addHandler(SimulatorHTTPHandler(core: core))
                    }
                }
                .bind(host: host, port: port).get()
        } catch {
            throw SimulatorError(code: .bindFailed, detail: "cannot listen on \(host):\(port): \(error)")
        }
        SimulatorCore.prewarmInBackground(core.snapshot)
        let boundPort = channel.localAddress?.port ?? port
        let simulator = PlatformSimulator(
            configuration: configuration, host: host, port: boundPort, core: core, listener: channel,
            connections: registry, logger: logger)
        logger.info("simulator listening", metadata: [
            "baseURL": "\(simulator.baseURL)", "seed": "\(configuration.seed)",
            "scale": "\(configuration.scale.rawValue)", "date": "\(configuration.date)",
        ])
        return simulator
    }

    /// The KST day currently served.
    public var date: String { core.snapshot.day.iso }

    /// Serves another day from now on (e.g. to simulate the next daily crawl against the same server).
    public func setDate(_ date: String) throws(SimulatorError) { try core.setDate(date) }

    /// What a correct crawl of the current day must find.
    public func groundTruth(mode: GroundTruthMode) -> GroundTruth {
        let snapshot = core.snapshot
        return snapshot.catalog.groundTruth(mode: mode, on: snapshot.day)
    }

    /// The catalog of the current day, without the server.
    public var catalog: SimulatorCatalog {
        let snapshot = core.snapshot
        return SimulatorCatalog(catalog: snapshot.catalog, day: snapshot.day)
    }

    public func stats() -> SimulatorStats { core.stats() }

    public func resetStats() { core.resetStats() }

    /// Stops listening and closes every open connection.
    public func shutdown() async {
        try? await listener.close()
        let open = connections.channels.withLock { Array($0.values) }
        for channel in open { try? await channel.close() }
        logger.info("simulator stopped", metadata: ["baseURL": "\(baseURL)"])
    }
}

/// Open connections, so that shutdown can close keep-alive clients too.
final class ConnectionRegistry: Sendable {
    let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    func add(_ channel: any Channel) {
        let key = ObjectIdentifier(channel)
        channels.withLock { $0[key] = channel }
        channel.closeFuture.whenComplete { [self] _ in
            _ = self.channels.withLock { $0.removeValue(forKey: key) }
        }
    }
}

/// Runs a simulator as a swift-service-lifecycle service until graceful shutdown (SIGTERM/SIGINT in a `ServiceGroup`).
public struct SimulatorService: Service {
    let configuration: SimulatorConfiguration
    let host: String
    let port: Int
    let logger: Logger
    let onReady: @Sendable (PlatformSimulator) -> Void

    public init(configuration: SimulatorConfiguration, host: String = "127.0.0.1", port: Int = 0, logger: Logger,
                onReady: @escaping @Sendable (PlatformSimulator) -> Void = { _ in }) {
        self.configuration = configuration
        self.host = host
        self.port = port
        self.logger = logger
        self.onReady = onReady
    }

    public func run() async throws {
        let simulator = try await PlatformSimulator.start(configuration: configuration, host: host, port: port,
                                                          logger: logger)
        onReady(simulator)
        try? await gracefulShutdown()
        await simulator.shutdown()
    }
}
