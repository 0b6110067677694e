import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Serves one connection: parses the request, asks `SimulatorCore` for the response and fault, and writes it after
/// the planned delay using the event loop's timer (no thread ever sleeps).
final class SimulatorHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let core: SimulatorCore
    private var head: HTTPRequestHead?

    init(core: SimulatorCore) { self.core = core }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead): head = requestHead
        case .body: break
        case .end:
            guard let requestHead = head else { return }
            head = nil
            handle(context: context, head: requestHead)
        }
    }

    private func handle(context: ChannelHandlerContext, head: HTTPRequestHead) {
        var headers: [String: String] = [:]
        for name in ["accept-language", "referer", "service-ticket-id"] {
            if let value = head.headers.first(name: name) { headers[name] = value }
        }
        let request = SimRequest(uri: head.uri, headers: headers)
        let keepAlive = head.isKeepAlive

        if request.path.hasPrefix("/__sim/") {
            let (response, groundTruthMode) = core.admin(request)
            if let response {
                core.record(endpoint: response.endpoint, status: String(response.status), platform: false, fault: .none)
                write(context: context, response: response, version: head.version, keepAlive: keepAlive)
            } else if let mode = groundTruthMode {
                // Full-scale ground truth takes a while to render: build it off the event loop.
                let snapshot = core.snapshot
                let future = NIOThreadPool.singleton.runIfActive(eventLoop: context.eventLoop) {
                    snapshot.catalog.writeGroundTruth(mode: mode, on: snapshot.day)
                }
                let version = head.version
                future.assumeIsolated().whenComplete { result in
                    let response: SimResponse
                    switch result {
                    case .success(let bytes):
                        response = SimResponse(status: 200, bytes: bytes, endpoint: "sim.ground-truth", platform: nil)
                    case .failure:
                        response = SimResponse(status: 503, bytes: Array("{\"status\":503}".utf8),
                                               endpoint: "sim.ground-truth", platform: nil)
                    }
                    self.core.record(endpoint: response.endpoint, status: String(response.status), platform: false,
                                     fault: .none)
                    self.write(context: context, response: response, version: version, keepAlive: keepAlive)
                }
            }
            return
        }

        let plan = core.plan(request, nowNanos: UInt64(NIODeadline.now().uptimeNanoseconds))
        let status = plan.fault == .reset ? "reset" : String(plan.response.status)
        core.record(endpoint: plan.response.endpoint, status: status, platform: true, fault: plan.fault)
        let version = head.version
        let act = {
            switch plan.fault {
            case .reset: self.reset(context: context)
            case .truncate: self.writeTruncated(context: context, response: plan.response, version: version)
            default: self.write(context: context, response: plan.response, version: version, keepAlive: keepAlive)
            }
        }
        if plan.delayNanos > 0 {
            context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(plan.delayNanos)) { act() }
        } else {
            act()
        }
    }

    private func responseHead(_ response: SimResponse, version: HTTPVersion, keepAlive: Bool) -> HTTPResponseHead {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType.headerValue)
        headers.add(name: "Content-Length", value: String(response.body.readableBytes))
        for (name, value) in response.extraHeaders { headers.add(name: name, value: value) }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        return HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: response.status),
                                headers: headers)
    }

    private func write(context: ChannelHandlerContext, response: SimResponse, version: HTTPVersion, keepAlive: Bool) {
        guard context.channel.isActive else { return }
        context.write(wrapOutboundOut(.head(responseHead(response, version: version, keepAlive: keepAlive))),
                      promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            done.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    /// Announces the full length, sends half of the body, and closes.
    private func writeTruncated(context: ChannelHandlerContext, response: SimResponse, version: HTTPVersion) {
        guard context.channel.isActive else { return }
        var body = response.body
        let half = body.readSlice(length: body.readableBytes / 2) ?? ByteBuffer()
        context.write(wrapOutboundOut(.head(responseHead(response, version: version, keepAlive: true))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(half)))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    /// Closes with SO_LINGER 0 so the peer sees a TCP reset rather than an orderly end of stream.
    private func reset(context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        if let provider = context.channel as? any SocketOptionProvider {
            provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        } else {
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
