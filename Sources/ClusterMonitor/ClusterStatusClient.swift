import ClusterCore
import Foundation
import NNGKit

/// Asks a coordinator for its status over nng REQ with the cluster protocol (docs/protocol.md §4, §6).
///
/// One socket serves every query, so `webtoon status --watch` keeps a single connection. No worker registration is
/// needed for `statusRequest`.
public final class ClusterStatusClient: Sendable {
    public let coordinatorURL: String
    private let socket: NNGSocket
    private let codec: WireCodec
    private let sender: WorkerID
    private let timeout: Duration

    /// Connects at once, so a refused connection or bad address is reported here, not at the first query.
    public init(coordinatorURL: String, secret: [UInt8], sender: String = "status-cli", timeout: Duration = .seconds(5), maxMessageBytes: Int = 64 << 20) async throws {
        guard let senderID = WorkerID(rawValue: sender) else {
            throw ClusterError(code: .invalidArgument, operation: "status client", detail: "sender '\(sender.prefix(80))' is not [a-z0-9._-]{1,64}")
        }
        self.coordinatorURL = coordinatorURL
        self.codec = try WireCodec(secret: secret, maxMessageBytes: maxMessageBytes)
        self.sender = senderID
        self.timeout = timeout
        let socket = try NNGSocket(.req)
        do {
            try socket.set(.receiveMaxSize(maxMessageBytes), .requestResendTime(nil), .reconnectMinimum(.milliseconds(100)), .reconnectMaximum(.seconds(2)))
            try await socket.connect(coordinatorURL)
        } catch {
            socket.close()
            throw error
        }
        self.socket = socket
    }

    deinit { socket.close() }

    public func close() { socket.close() }

    /// One status query. A `replayed` answer (our first copy still being handled) resends the identical bytes
    /// after a short pause, as the protocol asks; any other refusal is an error naming the reason.
    public func status(includeWorkers: Bool = true) async throws -> ClusterStatus {
        var rng = SystemRandomNumberGenerator()
        let id = MessageID.random(using: &rng)
        let frame = try codec.encode(Envelope(id: id, sender: sender, sentAt: systemNow(), message: .statusRequest(StatusRequest(includeWorkers: includeWorkers))))
        for attempt in 0..<5 {
            let context = try socket.makeContext()
            defer { context.close() }
            try await context.send(frame, timeout: timeout)
            let reply: Envelope
            do {
                reply = try codec.decode(try await context.receive(timeout: timeout))
            } catch let error as ProtocolError where error.code == .unauthenticated {
                throw MonitorError(code: .wrongSecret, detail: "status \(coordinatorURL): the coordinator's reply fails our HMAC check: the cluster secret differs from the coordinator's")
            }
            switch reply.message {
            case .statusResponse(let status):
                return status
            case .reject(let reject) where reject.reason == .replayed && attempt < 4:
                try await Task.sleep(for: .milliseconds(200))
            case .reject(let reject):
                throw MonitorError(code: .rejected, detail: "status \(coordinatorURL): coordinator rejected the request: \(reject.reason.rawValue): \(reject.detail)")
            default:
                throw MonitorError(code: .unexpectedReply, detail: "status \(coordinatorURL): coordinator answered \(reply.message.kind) to a status request")
            }
        }
        throw MonitorError(code: .rejected, detail: "status \(coordinatorURL): the request stayed 'replayed' after 5 tries")
    }

    private func systemNow() -> Timestamp {
        Timestamp(millis: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)))
    }
}
