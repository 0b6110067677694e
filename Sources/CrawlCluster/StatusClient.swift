import ClusterCore
import ClusterKit
import NNGKit

/// Asks a coordinator for its status over the documented protocol (a REQ socket, one `statusRequest`). Used by
/// `webtoon run` for its progress line and its completion check.
public final class CoordinatorStatusClient: Sendable {
    private let socket: NNGSocket
    private let codec: WireCodec
    private let sender: WorkerID

    public init(coordinatorURL: String, tls: NNGTLSConfig? = nil, secret: [UInt8], name: String = "status-client") throws {
        codec = try WireCodec(secret: secret)
        guard let sender = WorkerID(rawValue: name) else {
            throw CrawlClusterError(.invalidRunSpec, "client name \"\(name)\" must match [a-z0-9._-]{1,64}")
        }
        self.sender = sender
        socket = try NNGSocket(.req)
        try socket.set(.receiveMaxSize(8 << 20), .reconnectMinimum(.milliseconds(50)), .reconnectMaximum(.seconds(1)))
        _ = try socket.dial(coordinatorURL, tls: tls)
    }

    /// One status query; throws on timeout, a refused request or an unexpected reply.
    public func status(includeWorkers: Bool = true, timeout: Duration = .seconds(2)) async throws -> ClusterStatus {
        var rng = SystemRandomNumberGenerator()
        let id = MessageID.random(using: &rng)
        let frame = try codec.encode(
            Envelope(
                id: id, sender: sender, sentAt: systemTimestamp(),
                message: .statusRequest(StatusRequest(includeWorkers: includeWorkers))))
        let context = try socket.makeContext()
        defer { context.close() }
        try await context.send(frame, timeout: timeout)
        let reply = try codec.decode(try await context.receive(timeout: timeout))
        switch reply.message {
        case .statusResponse(let status): return status
        case .reject(let reject):
            throw ProtocolError(code: .invalidField, detail: "coordinator refused the status request: \(reject.reason.rawValue): \(reject.detail)")
        default:
            throw ProtocolError(code: .invalidField, detail: "coordinator answered \(reply.message.kind) to a status request")
        }
    }

    public func close() { socket.close() }
}
