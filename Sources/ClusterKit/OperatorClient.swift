import ClusterCore
import NNGKit

/// Operator commands to a running coordinator over the authenticated protocol (docs/protocol.md §4, revision 2).
///
/// The coordinator applies them through its ledger and commits before replying, exactly as for worker reports, so
/// a reply means the change is durable; workers see the units at their next lease request.
public final class OperatorClient: Sendable {
    public let coordinatorURL: String
    private let socket: NNGSocket
    private let codec: WireCodec
    private let sender: WorkerID
    private let timeout: Duration

    /// Connects at once, so a refused connection or a bad address is reported here, not at the first command.
    public init(coordinatorURL: String, tls: NNGTLSConfig? = nil, secret: [UInt8], sender: String = "operator", timeout: Duration = .seconds(10)) async throws {
        guard let senderID = WorkerID(rawValue: sender) else {
            throw ClusterError(code: .invalidArgument, operation: "operator client", detail: "sender '\(sender.prefix(80))' is not [a-z0-9._-]{1,64}")
        }
        self.coordinatorURL = coordinatorURL
        self.codec = try WireCodec(secret: secret)
        self.sender = senderID
        self.timeout = timeout
        let socket = try NNGSocket(.req)
        do {
            try socket.set(.requestResendTime(nil), .reconnectMinimum(.milliseconds(100)), .reconnectMaximum(.seconds(2)))
            try await socket.connect(coordinatorURL, tls: tls)
        } catch {
            socket.close()
            throw error
        }
        self.socket = socket
    }

    deinit { socket.close() }

    public func close() { socket.close() }

    /// Sends dead units back to pending in the running coordinator (attempts reset); `units` nil retries every
    /// dead unit of `run` (or of every run). Returns the units retried, after the coordinator committed them.
    public func retryDead(units: [UnitID]?, run: RunID?) async throws -> [UnitID] {
        let reply = try await request(.retryDead(RetryDead(units: units, run: run)))
        guard case .retried(let retried) = reply else {
            throw ClusterError(code: .invalidState, operation: "retryDead", detail: "\(coordinatorURL) answered \(reply.kind)")
        }
        return retried.units
    }

    /// One request; a timeout or a `replayed` answer (the first copy is still being committed) resends the
    /// identical bytes, so the command is applied once. Any other refusal is an error naming the reason.
    func request(_ message: ClusterMessage) async throws -> ClusterMessage {
        var rng = SystemRandomNumberGenerator()
        let id = MessageID.random(using: &rng)
        let frame = try codec.encode(Envelope(id: id, sender: sender, sentAt: systemTimestamp(), message: message))
        for attempt in 0..<5 {
            let context = try socket.makeContext()
            defer { context.close() }
            let reply: Envelope
            do {
                try await context.send(frame, timeout: timeout)
                reply = try codec.decode(try await context.receive(timeout: timeout))
            } catch let error as NNGError where error.code == .timedOut && attempt < 4 {
                continue
            } catch let error as ProtocolError where error.code == .unauthenticated {
                throw ClusterError(
                    code: .invalidArgument, operation: "\(message.kind)",
                    detail: "\(coordinatorURL): the reply fails our HMAC check: the cluster secret differs from the coordinator's")
            }
            guard reply.replyTo == id || reply.replyTo == nil else {
                throw ClusterError(code: .invalidState, operation: "\(message.kind)", detail: "\(coordinatorURL) answered another request")
            }
            switch reply.message {
            case .reject(let reject) where reject.reason == .replayed && attempt < 4:
                try await Task.sleep(for: .milliseconds(200))
            case .reject(let reject):
                throw ClusterError(
                    code: .invalidState, operation: "\(message.kind)",
                    detail: "\(coordinatorURL) rejected it: \(reject.reason.rawValue): \(reject.detail)")
            default:
                return reply.message
            }
        }
        throw ClusterError(code: .invalidState, operation: "\(message.kind)", detail: "\(coordinatorURL): no answer after 5 tries")
    }
}
