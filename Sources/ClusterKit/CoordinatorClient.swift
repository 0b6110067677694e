import ClusterCore
public import NNGKit

/// Asks a running coordinator for its status and sends it operator commands over the authenticated protocol
/// (docs/protocol.md §4). The one nng client of the coordinator: `webtoon status`, `webtoon units retry
/// --coordinator` and `webtoon run`'s supervision all use it, over tcp:// or tls+tcp://.
///
/// Commands are applied through the coordinator's ledger and committed before it replies, so a reply means the
/// change is durable. One socket serves every request, so `webtoon status --watch` keeps a single connection.
public final class CoordinatorClient: Sendable {
    /// When the connection is made.
    public enum Connection: Sendable {
        /// In `init`: a refused connection or a bad address is reported there, not at the first request.
        case required
        /// In the background, retried until the coordinator listens (a supervisor that starts it alongside).
        case background
    }

    public let coordinatorURL: String
    private let socket: NNGSocket
    private let codec: WireCodec
    private let sender: WorkerID
    private let timeout: Duration

    public init(
        coordinatorURL: String, tls: NNGTLSConfig? = nil, secret: [UInt8], sender: String = "operator",
        timeout: Duration = .seconds(5), maxMessageBytes: Int = 64 << 20, connection: Connection = .required
    ) async throws {
        guard let senderID = WorkerID(rawValue: sender) else {
            throw ClusterError(code: .invalidArgument, operation: "coordinator client", detail: "sender '\(sender.prefix(80))' is not [a-z0-9._-]{1,64}")
        }
        self.coordinatorURL = coordinatorURL
        self.codec = try WireCodec(secret: secret, maxMessageBytes: maxMessageBytes)
        self.sender = senderID
        self.timeout = timeout
        let socket = try NNGSocket(.req)
        do {
            try socket.set(
                .receiveMaxSize(maxMessageBytes), .requestResendTime(nil), .reconnectMinimum(.milliseconds(50)),
                .reconnectMaximum(.seconds(1)))
            switch connection {
            case .required: _ = try await socket.connect(coordinatorURL, tls: tls)
            case .background: _ = try socket.dial(coordinatorURL, tls: tls)
            }
        } catch {
            socket.close()
            throw error
        }
        self.socket = socket
    }

    deinit { socket.close() }

    public func close() { socket.close() }

    /// One status query (a read: a timeout is reported, not resent). `timeout` overrides the client's.
    public func status(includeWorkers: Bool = true, timeout: Duration? = nil) async throws -> ClusterStatus {
        let reply = try await request(
            .statusRequest(StatusRequest(includeWorkers: includeWorkers)), timeout: timeout ?? self.timeout,
            resendOnTimeout: false)
        guard case .statusResponse(let status) = reply else {
            throw ClusterError(code: .invalidState, operation: "status", detail: "\(coordinatorURL) answered \(reply.kind) to a status request")
        }
        return status
    }

    /// Sends dead units back to pending in the running coordinator (attempts reset); `units` nil retries every
    /// dead unit of `run` (or of every run). Returns the units retried, after the coordinator committed them.
    public func retryDead(units: [UnitID]?, run: RunID?) async throws -> [UnitID] {
        let reply = try await request(.retryDead(RetryDead(units: units, run: run)), timeout: timeout, resendOnTimeout: true)
        guard case .retried(let retried) = reply else {
            throw ClusterError(code: .invalidState, operation: "retryDead", detail: "\(coordinatorURL) answered \(reply.kind)")
        }
        return retried.units
    }

    /// One request. A `replayed` answer (our first copy is still being committed) and, for commands, a timeout
    /// resend the identical bytes, so a command is applied once. Any other refusal is an error naming the reason.
    private func request(_ message: ClusterMessage, timeout: Duration, resendOnTimeout: Bool) async throws -> ClusterMessage {
        var rng = SystemRandomNumberGenerator()
        let id = MessageID.random(using: &rng)
        let frame = try codec.encode(Envelope(id: id, sender: sender, sentAt: systemTimestamp(), message: message))
        let tries = 5
        for attempt in 0..<tries {
            let last = attempt == tries - 1
            let context = try socket.makeContext()
            defer { context.close() }
            let reply: Envelope
            do {
                try await context.send(frame, timeout: timeout)
                reply = try codec.decode(try await context.receive(timeout: timeout))
            } catch let error as NNGError where error.code == .timedOut && resendOnTimeout && !last {
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
            case .reject(let reject) where reject.reason == .replayed && !last:
                try await Task.sleep(for: .milliseconds(200))
            case .reject(let reject):
                throw ClusterError(
                    code: .invalidState, operation: "\(message.kind)",
                    detail: "\(coordinatorURL) rejected it: \(reject.reason.rawValue): \(reject.detail)")
            default:
                return reply.message
            }
        }
        throw ClusterError(code: .invalidState, operation: "\(message.kind)", detail: "\(coordinatorURL): no answer after \(tries) tries")
    }
}
