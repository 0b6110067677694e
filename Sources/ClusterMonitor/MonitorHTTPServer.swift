import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// A failure of the monitor, naming the address and why.
public struct MonitorError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String { case bindFailed }
        private let value: Value
        private init(_ value: Value) { self.value = value }
        /// The HTTP listener could not bind.
        public static let bindFailed = Code(.bindFailed)
        public var description: String { value.rawValue }
    }

    public let code: Code
    public let detail: String
    public init(code: Code, detail: String) {
        self.code = code
        self.detail = detail
    }
    public var description: String { "MonitorError(\(code)): \(detail)" }
}

/// The coordinator's HTTP monitor: `/metrics`, `/status`, `/status/history`, `/healthz`.
///
/// A swift-service-lifecycle `Service`, so the coordinator runs it in its `ServiceGroup`: it stops on graceful
/// shutdown or cancellation, closing the listener and every open connection.
public struct MonitorHTTPServer: Service {
    let host: String
    let port: Int
    let provider: MonitorSnapshotProvider
    let logger: Logger
    let onListening: @Sendable (_ host: String, _ port: Int) -> Void

    /// `port` 0 picks a free port; `onListening` reports the bound one.
    public init(
        host: String, port: Int, logger: Logger, provider: @escaping MonitorSnapshotProvider,
        onListening: @escaping @Sendable (_ host: String, _ port: Int) -> Void = { _, _ in }
    ) {
        self.host = host
        self.port = port
        self.provider = provider
        self.logger = logger
        self.onListening = onListening
    }

    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    public func run() async throws {
        let server: NIOAsyncChannel<Connection, Never>
        do {
            server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(ChannelOptions.backlog, value: 64)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .bind(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        return try Connection(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw MonitorError(code: .bindFailed, detail: "cannot listen on \(host):\(port): \(error)")
        }
        let boundPort = server.channel.localAddress?.port ?? port
        logger.info("monitor listening", metadata: ["url": "http://\(host):\(boundPort)", "paths": "\(MonitorRoutes.paths)"])
        onListening(host, boundPort)
        // Cancelling the task group on shutdown ends every connection loop and closes the listener.
        _ = try? await cancelWhenGracefulShutdown {
            try await server.executeThenClose { inbound in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in inbound {
                        group.addTask { await serve(connection) }
                    }
                }
            }
        }
        logger.info("monitor stopped", metadata: ["port": "\(boundPort)"])
    }

    private func serve(_ connection: Connection) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                for try await part in inbound {
                    switch part {
                    case .head(let request): head = request
                    case .body: break
                    case .end:
                        guard let request = head else { continue }
                        head = nil
                        let response = await MonitorRoutes.respond(method: request.method.rawValue, uri: request.uri, provider: provider)
                        var headers = HTTPHeaders()
                        headers.add(name: "Content-Type", value: response.contentType)
                        headers.add(name: "Content-Length", value: String(response.body.count))
                        headers.add(name: "Cache-Control", value: "no-store")
                        if !request.isKeepAlive { headers.add(name: "Connection", value: "close") }
                        try await outbound.write(.head(HTTPResponseHead(version: request.version, status: .init(statusCode: response.status), headers: headers)))
                        if request.method != .HEAD { try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: response.body)))) }
                        try await outbound.write(.end(nil))
                        if !request.isKeepAlive { return }
                    }
                }
            }
        } catch {
            logger.debug("monitor connection ended", metadata: ["error": "\(error)"])
        }
    }
}
