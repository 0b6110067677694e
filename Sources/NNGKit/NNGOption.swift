import CNNG

/// A socket (or context) option. Durations of `nil` mean "infinite".
public enum NNGOption: Sendable, Hashable {
    /// Largest message this socket accepts (`NNG_OPT_RECVMAXSZ`); 0 means unlimited (nng 1.5's default).
    ///
    /// A larger incoming message is **dropped silently and its pipe closed**: the receiver sees nothing (a pending
    /// receive ends with ``NNGError/Code/timedOut`` only if it has a timeout), and the sender sees its pipe removed
    /// (``NNGPipeEvent/Kind/removed``) and, if it dialed, reconnects. The sender's `send` still succeeds: nng has
    /// no acknowledgement. Set it explicitly and keep payloads small (files, not messages).
    case receiveMaxSize(Int)
    /// Default deadline of `send` calls (`NNG_OPT_SENDTIMEO`); a PUSH or REQ send waits while no peer is connected.
    case sendTimeout(Duration?)
    /// Default deadline of `receive` calls (`NNG_OPT_RECVTIMEO`).
    case receiveTimeout(Duration?)
    /// Backoff between reconnect attempts (`NNG_OPT_RECONNMINT`); set before dialing: dialers copy it when created.
    case reconnectMinimum(Duration)
    /// Upper bound of the doubling backoff (`NNG_OPT_RECONNMAXT`); zero means "always the minimum". Set before dialing.
    case reconnectMaximum(Duration)
    /// TCP keepalive on new connections (`NNG_OPT_TCP_KEEPALIVE`); without it a crashed peer can look alive forever.
    case tcpKeepAlive(Bool)
    /// Disable Nagle on new TCP connections (`NNG_OPT_TCP_NODELAY`, on by default).
    case tcpNoDelay(Bool)
    /// REQ only: resend an unanswered request after this long (`NNG_OPT_REQ_RESENDTIME`, default 60 s).
    /// Resends make duplicates normal: requests must be idempotent.
    case requestResendTime(Duration?)
    /// SURVEYOR only: how long a survey collects answers (`NNG_OPT_SURVEYOR_SURVEYTIME`, default 1 s). When it
    /// ends, a pending `receive` fails with ``NNGError/Code/timedOut``; a `receive` started after the end fails
    /// with ``NNGError/Code/protocolState`` (no survey active). Late answers are discarded.
    case surveyTime(Duration)
    /// Messages queued for sending, 0...8192 (`NNG_OPT_SENDBUF`).
    case sendBuffer(Int)
    /// Messages queued after receipt, 0...8192 (`NNG_OPT_RECVBUF`).
    case receiveBuffer(Int)

    var name: String {
        switch self {
        case .receiveMaxSize: NNG_OPT_RECVMAXSZ
        case .sendTimeout: NNG_OPT_SENDTIMEO
        case .receiveTimeout: NNG_OPT_RECVTIMEO
        case .reconnectMinimum: NNG_OPT_RECONNMINT
        case .reconnectMaximum: NNG_OPT_RECONNMAXT
        case .tcpKeepAlive: NNG_OPT_TCP_KEEPALIVE
        case .tcpNoDelay: NNG_OPT_TCP_NODELAY
        case .requestResendTime: NNG_OPT_REQ_RESENDTIME
        case .surveyTime: NNG_OPT_SURVEYOR_SURVEYTIME
        case .sendBuffer: NNG_OPT_SENDBUF
        case .receiveBuffer: NNG_OPT_RECVBUF
        }
    }

    /// Applies the option through the matching typed setters of a socket, context, dialer or listener.
    func apply(
        size: (String, Int) -> Int32,
        milliseconds: (String, nng_duration) -> Int32,
        bool: (String, Bool) -> Int32,
        int: (String, Int32) -> Int32
    ) throws(NNGError) {
        let operation = "set \(name)"
        let rv: Int32
        switch self {
        case .receiveMaxSize(let bytes):
            guard bytes >= 0 else { throw NNGError(number: Int32(NNG_EINVAL.rawValue), operation: operation) }
            rv = size(name, bytes)
        case .sendTimeout(let d), .receiveTimeout(let d), .requestResendTime(let d):
            rv = milliseconds(name, nngDuration(d))
        case .reconnectMinimum(let d), .reconnectMaximum(let d), .surveyTime(let d):
            rv = milliseconds(name, nngDuration(d))
        case .tcpKeepAlive(let on), .tcpNoDelay(let on):
            rv = bool(name, on)
        case .sendBuffer(let n), .receiveBuffer(let n):
            guard let value = Int32(exactly: n), value >= 0 else {
                throw NNGError(number: Int32(NNG_EINVAL.rawValue), operation: operation)
            }
            rv = int(name, value)
        }
        try check(rv, operation)
    }
}
