// fetch-bench serve                      -> prints "PORT <n>", serves GET /small?<i> -> "hello <i>" until killed
// fetch-bench client <base-url> <requests> <concurrency>
//                                        -> fetches <base-url>?0 ... with CurlKit, checks every body, prints rps
import CurlKit
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHTTP1
import NIOPosix

let arguments = CommandLine.arguments
switch arguments.dropFirst().first {
case "serve":
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .serverChannelOption(.backlog, value: 1024)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                try channel.pipeline.syncOperations.addHandler(SmallBodyHandler())
            }
        }
        .bind(host: "127.0.0.1", port: 0).get()
    print("PORT \(channel.localAddress!.port!)")
    fflush(nil)  // the runner waits for this line, and stdout to a file is block-buffered
    try await channel.closeFuture.get()
case "client" where arguments.count == 5:
    let base = arguments[2]
    guard let requests = Int(arguments[3]), let concurrency = Int(arguments[4]), requests > 0, concurrency > 0 else {
        fatalError("requests and concurrency must be positive integers")
    }
    var configuration = HTTPClient.Configuration()
    configuration.maxConnectionsPerHost = concurrency
    configuration.maxTotalConnections = concurrency
    let client = try HTTPClient(configuration: configuration)
    let clock = ContinuousClock()
    let start = clock.now
    let failures = try await withThrowingTaskGroup(of: Bool.self) { group in
        var next = 0
        var failures = 0
        // A sliding window: at most `concurrency` fetches in flight, like a thread pool of that size.
        while next < min(concurrency, requests) {
            let i = next
            group.addTask { try await client.fetch(HTTPRequest(url: "\(base)?\(i)")).body == Array("hello \(i)".utf8) }
            next += 1
        }
        while let ok = try await group.next() {
            if !ok { failures += 1 }
            if next < requests {
                let i = next
                group.addTask { try await client.fetch(HTTPRequest(url: "\(base)?\(i)")).body == Array("hello \(i)".utf8) }
                next += 1
            }
        }
        return failures
    }
    let seconds = (clock.now - start) / .seconds(1)
    await client.shutdown()
    guard failures == 0 else { fatalError("\(failures) responses had the wrong body") }
    print("curlkit requests=\(requests) concurrency=\(concurrency) seconds=\(seconds) rps=\(Double(requests) / seconds)")
default:
    print("usage: fetch-bench serve | fetch-bench client <base-url> <requests> <concurrency>")
}

final class SmallBodyHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    private var uri = ""
    private var keepAlive = true

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            uri = head.uri
            keepAlive = head.isKeepAlive
        case .body:
            break
        case .end:
            let query = uri.split(separator: "?", maxSplits: 1).dropFirst().first ?? ""
            let body = ByteBuffer(string: "hello \(query)")
            var headers = HTTPHeaders([("Content-Length", String(body.readableBytes)), ("Content-Type", "text/plain")])
            if !keepAlive { headers.add(name: "Connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if !keepAlive {
                let channel = context.channel
                done.whenComplete { _ in channel.close(promise: nil) }
            }
        }
    }
}
