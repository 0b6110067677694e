import CompressionKit
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Counts connections as the server sees them, so tests can check the client's connection caps.
final class ConnectionCounter: Sendable {
    private struct Counts { var accepted = 0, open = 0, maxOpen = 0 }
    private let counts = Mutex(Counts())
    func opened() {
        counts.withLock {
            $0.accepted += 1
            $0.open += 1
            $0.maxOpen = max($0.maxOpen, $0.open)
        }
    }
    func closed() { counts.withLock { $0.open -= 1 } }
    var accepted: Int { counts.withLock { $0.accepted } }
    var maxOpen: Int { counts.withLock { $0.maxOpen } }
}

/// Pre-encoded bodies served by the compression routes.
struct Fixtures: Sendable {
    let plain: [UInt8]
    let gzip: [UInt8]
    let zstd: [UInt8]

    /// gzip comes from Python's `gzip` module (an independent encoder), zstd from CompressionKit.
    static func make() throws -> Fixtures {
        let plain = Array((0..<4000).map { "line \($0): 웹툰 episode \($0 % 37)\n" }.joined().utf8)
        return Fixtures(plain: plain, gzip: try pythonGzip(plain), zstd: try Zstd.compress(plain))
    }
}

struct CheckerError: Error, CustomStringConvertible {
    let description: String
}

func pythonGzip(_ input: [UInt8]) throws -> [UInt8] {
    guard let python = ProcessInfo.processInfo.environment["WEBTOON_PYTHON"], !python.isEmpty else {
        throw CheckerError(
            description: "WEBTOON_PYTHON is not set: export WEBTOON_PYTHON=<venv>/bin/python (cluster/setup.sh sets it)")
    }
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("curlkit-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let source = directory.appendingPathComponent("plain")
    let target = directory.appendingPathComponent("plain.gz")
    try Data(input).write(to: source)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = [
        "-c", "import gzip,sys; open(sys.argv[2],'wb').write(gzip.compress(open(sys.argv[1],'rb').read()))",
        source.path, target.path,
    ]
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw CheckerError(description: "\(python) failed to gzip the fixture (exit \(process.terminationStatus))")
    }
    return Array(try Data(contentsOf: target))
}

/// A real HTTP/1.1 server on 127.0.0.1 with one route per behaviour the client must handle.
final class TestServer: Sendable {
    let channel: any Channel
    let counter: ConnectionCounter
    let port: Int

    static func start(fixtures: Fixtures) async throws -> TestServer {
        let counter = ConnectionCounter()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                counter.opened()
                channel.closeFuture.whenComplete { _ in counter.closed() }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(RouteHandler(fixtures: fixtures))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return TestServer(channel: channel, counter: counter, port: channel.localAddress!.port!)
    }

    private init(channel: any Channel, counter: ConnectionCounter, port: Int) {
        self.channel = channel
        self.counter = counter
        self.port = port
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    func close() async throws { try await channel.close() }
}

final class RouteHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let fixtures: Fixtures
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []

    init(fixtures: Fixtures) { self.fixtures = fixtures }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
        case .body(let buffer):
            body += buffer.readableBytesView
        case .end:
            if let head { route(context: context, head: head) }
        }
    }

    private func route(context: ChannelHandlerContext, head: HTTPRequestHead) {
        let parts = head.uri.split(separator: "?", maxSplits: 1)
        let path = String(parts.first ?? "")
        let query = parts.count > 1 ? String(parts[1]) : ""
        let keepAlive = head.isKeepAlive
        let loop = context.eventLoop.assumeIsolated()
        switch path {
        case "/small":
            respond(context, keepAlive, .ok, [], Array("hello \(query)".utf8))
        case "/delayed":  // keeps connections busy long enough for a sampler to see them
            loop.scheduleTask(in: .milliseconds(5)) { self.respond(context, keepAlive, .ok, [], Array("hello \(query)".utf8)) }
        case "/gzip":
            respond(context, keepAlive, .ok, [("Content-Encoding", "gzip")], fixtures.gzip)
        case "/zstd":
            respond(context, keepAlive, .ok, [("Content-Encoding", "zstd")], fixtures.zstd)
        case "/slow":
            loop.scheduleTask(in: .seconds(5)) { self.respond(context, keepAlive, .ok, [], Array("late".utf8)) }
        case "/reset":
            // SO_LINGER 0 turns close() into a TCP RST.
            let channel = context.channel
            if let provider = channel as? any SocketOptionProvider {
                provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
            } else {
                channel.close(promise: nil)
            }
        case "/huge":  // chunked, so only the write callback can enforce the cap
            startChunked(context, [])
            let chunk = ByteBuffer(repeating: 0x61, count: 64 * 1024)
            for _ in 0..<64 { context.write(wrapOutboundOut(.body(.byteBuffer(chunk))), promise: nil) }
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        case "/huge-declared":  // Content-Length over the cap: CURLOPT_MAXFILESIZE refuses it before the body
            respond(context, keepAlive, .ok, [], [UInt8](repeating: 0x62, count: 4 << 20))
        case "/drip":
            startChunked(context, [])
            drip(context, remaining: 400)
        case "/many-headers":  // 400 fields of 1 KiB: over the client's 256 KiB header budget
            let filler = String(repeating: "h", count: 1024)
            respond(context, keepAlive, .ok, (0..<400).map { ("X-Filler-\($0)", filler) }, Array("unreachable".utf8))
        case "/429":
            respond(context, keepAlive, .tooManyRequests, [("Retry-After", "7"), ("X-Limit", "a"), ("x-limit", "b")], Array("slow down".utf8))
        case "/redirect":
            respond(context, keepAlive, .found, [("Location", "/small?after-redirect"), ("X-Hop", "first")], [])
        case "/echo":
            let seen = head.headers["X-Test"].joined(separator: ",")
            let echoed = [
                ("X-Seen", seen), ("X-Seen-Agent", head.headers["User-Agent"].joined(separator: ",")),
                ("X-Seen-Encoding", head.headers["Accept-Encoding"].joined(separator: ",")),
            ]
            respond(context, keepAlive, .ok, echoed, Array("\(head.method.rawValue) ".utf8) + body)
        default:
            respond(context, keepAlive, .notFound, [], Array("no route \(path)".utf8))
        }
    }

    /// One kilobyte every 50 ms, so a transfer is reliably still running when the test cancels it.
    private func drip(_ context: ChannelHandlerContext, remaining: Int) {
        guard context.channel.isActive else { return }
        guard remaining > 0 else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(repeating: 0x64, count: 1024)))), promise: nil)
        context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(50)) {
            self.drip(context, remaining: remaining - 1)
        }
    }

    private func startChunked(_ context: ChannelHandlerContext, _ headers: [(String, String)]) {
        var fields = HTTPHeaders(headers)
        fields.add(name: "Transfer-Encoding", value: "chunked")
        context.writeAndFlush(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: fields))), promise: nil)
    }

    private func respond(
        _ context: ChannelHandlerContext, _ keepAlive: Bool, _ status: HTTPResponseStatus,
        _ headers: [(String, String)], _ body: [UInt8]
    ) {
        guard context.channel.isActive else { return }
        var fields = HTTPHeaders(headers)
        fields.add(name: "Content-Length", value: String(body.count))
        if !keepAlive { fields.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

/// The name of thread `id` of this process, or nil once that thread has ended.
func threadName(_ id: Int) -> String? {
    guard let file = FileHandle(forReadingAtPath: "/proc/self/task/\(id)/comm") else { return nil }
    defer { try? file.close() }
    guard let data = try? file.readToEnd() else { return nil }
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
}
