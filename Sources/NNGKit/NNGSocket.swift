import CNNG
import Synchronization

/// An nng socket of one scalable protocol (REQ/REP, PUSH/PULL, PUB/SUB, SURVEYOR/RESPONDENT).
///
/// nng sockets are thread-safe, so this type is `Sendable` and may be used from many tasks at once. `send` and
/// `receive` never block a thread: they are bridged from `nng_aio` callbacks, honour Swift task cancellation, and
/// throw ``NNGError``. Closing is explicit with ``close()`` (idempotent) and also happens on deinit.
public final class NNGSocket: Sendable {
    /// The protocol of a socket; peers pair up as REQ–REP, PUSH–PULL, PUB–SUB and SURVEYOR–RESPONDENT.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case req, rep, push, pull, pub, sub, surveyor, respondent
    }

    public let kind: Kind
    let raw: nng_socket
    private let closed = Atomic<Bool>(false)
    private let closing = Mutex<SocketClose?>(nil)
    let operations = OperationCounter()
    private let pipeSink = Mutex<PipeEventSink?>(nil)

    /// Opens a socket, e.g. `try NNGSocket(.pull)`.
    public init(_ kind: Kind) throws {
        var socket = nng_socket()
        let rv: Int32 =
            switch kind {
            case .req: nng_req0_open(&socket)
            case .rep: nng_rep0_open(&socket)
            case .push: nng_push0_open(&socket)
            case .pull: nng_pull0_open(&socket)
            case .pub: nng_pub0_open(&socket)
            case .sub: nng_sub0_open(&socket)
            case .surveyor: nng_surveyor0_open(&socket)
            case .respondent: nng_respondent0_open(&socket)
            }
        try check(rv, "open \(kind.rawValue)")
        self.kind = kind
        self.raw = socket
    }

    deinit { startClose() }

    /// Closes the socket, its dialers, listeners and contexts; pending operations fail with ``NNGError/Code/closed``.
    /// Queued outgoing messages are not flushed (nng has no linger), so rely on application acknowledgements.
    ///
    /// Blocks the calling thread until the close finished, at most `timeout`, and returns whether it finished. From
    /// async code prefer ``close(waitingAtMost:)``, which waits without blocking a thread. `nng_close` itself runs
    /// on its own thread, because libnng 1.5.2 can hang in it (see `SocketClose`).
    @discardableResult
    public func close(timeout: Duration = .seconds(5)) -> Bool {
        startClose().waitBlocking(timeout: timeout)
    }

    /// Closes like ``close(timeout:)`` but suspends instead of blocking; returns whether the close finished in time.
    @discardableResult
    public func close(waitingAtMost timeout: Duration) async -> Bool {
        await startClose().wait(timeout: timeout)
    }

    /// Number of socket closes in this process that a caller gave up waiting for (libnng's close hang).
    public static var abandonedCloses: Int { SocketClose.abandoned.load(ordering: .relaxed) }

    @discardableResult
    private func startClose() -> SocketClose {
        closing.withLock { current in
            if let current { return current }
            closed.store(true, ordering: .releasing)
            let raw = raw
            // The close keeps the pipe sink alive, so a late pipe callback never touches freed memory.
            let sink = pipeSink.withLock { $0 }
            let started = SocketClose(raw) { sink?.continuation.finish() }
            current = started
            return started
        }
    }

    /// Sets options; reconnect intervals must be set before ``dial(_:tls:)`` (dialers copy them when created).
    public func set(_ options: NNGOption...) throws {
        for option in options {
            try option.apply(
                size: { nng_socket_set_size(raw, $0, $1) },
                milliseconds: { nng_socket_set_ms(raw, $0, $1) },
                bool: { nng_socket_set_bool(raw, $0, $1) },
                int: { nng_socket_set_int(raw, $0, $1) }
            )
        }
    }

    /// SUB only: receive messages starting with `prefix` (empty = everything). A SUB socket receives nothing until
    /// it subscribes.
    public func subscribe(_ prefix: [UInt8] = []) throws {
        try prefix.withUnsafeBytes { bytes in
            try check(nng_socket_set(raw, NNG_OPT_SUB_SUBSCRIBE, bytes.baseAddress, bytes.count), "subscribe")
        }
    }

    /// SUB only: drop a subscription made with ``subscribe(_:)``.
    public func unsubscribe(_ prefix: [UInt8] = []) throws {
        try prefix.withUnsafeBytes { bytes in
            try check(nng_socket_set(raw, NNG_OPT_SUB_UNSUBSCRIBE, bytes.baseAddress, bytes.count), "unsubscribe")
        }
    }

    /// Listens on `inproc://name`, `ipc:///path`, `tcp://host:port` or `tls+tcp://host:port` (with `tls`).
    /// Port 0 picks a free port; the returned listener reports the bound ``NNGListener/port`` and ``NNGListener/url``.
    @discardableResult
    public func listen(_ url: String, tls: NNGTLSConfig? = nil) throws -> NNGListener {
        let operation = "listen \(url)"
        var listener = nng_listener()
        try check(nng_listener_create(&listener, raw, url), operation)
        do {
            if let tls { try check(nng_listener_set_ptr(listener, NNG_OPT_TLS_CONFIG, UnsafeMutableRawPointer(tls.raw)), operation) }
            try check(nng_listener_start(listener, 0), operation)
        } catch {
            nng_listener_close(listener)
            throw error
        }
        var port: Int32 = 0
        guard url.hasPrefix("tcp") || url.hasPrefix("tls+tcp"),
            nng_listener_get_int(listener, NNG_OPT_TCP_BOUND_PORT, &port) == 0
        else { return NNGListener(raw: listener, url: url, port: nil) }
        return NNGListener(raw: listener, url: replacingPort(of: url, with: Int(port)), port: Int(port))
    }

    /// Dials `url` without waiting: the dialer connects in the background and keeps reconnecting (backoff set by
    /// ``NNGOption/reconnectMinimum(_:)``/``NNGOption/reconnectMaximum(_:)``) whenever the connection drops, also
    /// when nobody listens yet.
    @discardableResult
    public func dial(_ url: String, tls: NNGTLSConfig? = nil) throws -> NNGDialer {
        let dialer = try makeDialer(url, tls: tls)
        let rv = nng_dialer_start(dialer.raw, Int32(NNG_FLAG_NONBLOCK))
        if rv != 0 { dialer.close() }
        try check(rv, "dial \(url)")
        return dialer
    }

    /// Dials `url` and waits for the first connection, so a refused connection or a TLS failure is reported
    /// (``NNGError/Code/connectionRefused``, ``NNGError/Code/tls``). The wait runs on a dedicated thread, never on
    /// the cooperative pool. After success the dialer reconnects like ``dial(_:tls:)``.
    @discardableResult
    public func connect(_ url: String, tls: NNGTLSConfig? = nil) async throws -> NNGDialer {
        let dialer = try makeDialer(url, tls: tls)
        let raw = dialer.raw
        let rv = await onDedicatedThread { nng_dialer_start(raw, 0) }
        if rv != 0 { dialer.close() }
        try check(rv, "dial \(url)")
        return dialer
    }

    private func makeDialer(_ url: String, tls: NNGTLSConfig?) throws(NNGError) -> NNGDialer {
        var dialer = nng_dialer()
        try check(nng_dialer_create(&dialer, raw, url), "dial \(url)")
        if let tls {
            let rv = nng_dialer_set_ptr(dialer, NNG_OPT_TLS_CONFIG, UnsafeMutableRawPointer(tls.raw))
            if rv != 0 { nng_dialer_close(dialer) }
            try check(rv, "dial \(url): tls config")
        }
        return NNGDialer(raw: dialer, url: url)
    }

    /// Sends one message. It waits while the protocol cannot send (e.g. PUSH or REQ with no peer connected) until
    /// `timeout`, else the socket's ``NNGOption/sendTimeout(_:)`` (infinite by default).
    public func send(_ bytes: [UInt8], timeout: Duration? = nil) async throws {
        let op = try AioOperation.make(.send, operation: "send", timeout: timeout, counter: operations)
        let socket = raw
        _ = try await op.run { aio in submitSend(bytes, aio) { nng_send_aio(socket, $0) } }
    }

    /// Receives one message, waiting until `timeout`, else the socket's ``NNGOption/receiveTimeout(_:)``.
    public func receive(timeout: Duration? = nil) async throws -> [UInt8] {
        let op = try AioOperation.make(.receive, operation: "receive", timeout: timeout, counter: operations)
        let socket = raw
        return try await op.run { aio in
            nng_recv_aio(socket, aio)
            return 0
        }
    }

    /// A context: an independent protocol state on this socket (REQ, REP, SURVEYOR, RESPONDENT, SUB), so one
    /// REP socket can serve many requests concurrently, one per context.
    public func makeContext() throws -> NNGContext {
        var ctx = nng_ctx()
        try check(nng_ctx_open(&ctx, raw), "open context on \(kind.rawValue)")
        return NNGContext(socket: self, raw: ctx)
    }

    /// Connections (pipes) being added and removed. Call it before listening or dialing to see every pipe, and at
    /// most once per socket. The stream ends when the socket closes.
    public func pipeEvents() throws -> AsyncStream<NNGPipeEvent> {
        let (stream, continuation) = AsyncStream<NNGPipeEvent>.makeStream()
        let sink = PipeEventSink(continuation)
        try pipeSink.withLock { current throws(NNGError) in
            guard current == nil else {
                throw NNGError(number: Int32(NNG_EBUSY.rawValue), operation: "pipe events: already observed")
            }
            guard !closed.load(ordering: .acquiring) else {
                throw NNGError(number: Int32(NNG_ECLOSED.rawValue), operation: "pipe events")
            }
            // Unretained: the socket owns the sink (stored below) for as long as nng can call back.
            let arg = Unmanaged.passUnretained(sink).toOpaque()
            for event in [NNG_PIPE_EV_ADD_POST, NNG_PIPE_EV_REM_POST] {
                let rv = nng_pipe_notify(raw, event, pipeCallback, arg)
                if rv != 0 {
                    nng_pipe_notify(raw, NNG_PIPE_EV_ADD_POST, nil, nil)
                    throw NNGError(number: rv, operation: "pipe events")
                }
            }
            current = sink
        }
        return stream
    }
}

/// A connection coming or going.
public struct NNGPipeEvent: Sendable, Hashable {
    public enum Kind: Sendable, Hashable { case added, removed }
    /// nng's pipe id, unique within the process while the pipe exists.
    public let pipe: UInt32
    public let kind: Kind
}

private final class PipeEventSink: Sendable {
    let continuation: AsyncStream<NNGPipeEvent>.Continuation
    init(_ continuation: AsyncStream<NNGPipeEvent>.Continuation) { self.continuation = continuation }
}

private let pipeCallback: @convention(c) (nng_pipe, nng_pipe_ev, UnsafeMutableRawPointer?) -> Void = {
    pipe, event, arg in
    guard let arg else { return }
    let sink = Unmanaged<PipeEventSink>.fromOpaque(arg).takeUnretainedValue()
    let kind: NNGPipeEvent.Kind = event == NNG_PIPE_EV_ADD_POST ? .added : .removed
    sink.continuation.yield(NNGPipeEvent(pipe: UInt32(bitPattern: nng_pipe_id(pipe)), kind: kind))
}

/// A bound listener; closing it stops accepting and drops its connections, the socket stays open.
public struct NNGListener: Sendable {
    let raw: nng_listener
    /// The URL with the bound port filled in (for `tcp://…:0`), usable by dialers as is.
    public let url: String
    /// The bound TCP port, nil for other transports.
    public let port: Int?

    public func close() { nng_listener_close(raw) }
}

/// A dialer; closing it stops reconnecting and drops its connection, the socket stays open.
public struct NNGDialer: Sendable {
    let raw: nng_dialer
    public let url: String

    public func close() { nng_dialer_close(raw) }
}

/// `scheme://host:port/…` with the port replaced; other URLs are returned unchanged.
func replacingPort(of url: String, with port: Int) -> String {
    let parts = url.split(separator: "://", maxSplits: 1, omittingEmptySubsequences: false)
    guard parts.count == 2 else { return url }
    let rest = parts[1]
    let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
    let authority = rest[..<authorityEnd]
    // The port follows the last colon, after any bracketed IPv6 literal.
    guard let colon = authority.lastIndex(of: ":"), !authority[colon...].contains("]") else { return url }
    return "\(parts[0])://\(authority[..<colon]):\(port)\(rest[authorityEnd...])"
}
