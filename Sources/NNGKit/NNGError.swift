import CNNG

/// An nng failure: what kind, nng's own number and text, and which operation failed (e.g. `dial tcp://127.0.0.1:5555`).
public struct NNGError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case timedOut, closed, connectionRefused, connectionLost, messageTooLarge, cancelled, protocolState
            case addressInUse, invalidArgument, notSupported, tls, other
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        /// The operation's deadline (per call or the socket's send/receive timeout) passed.
        public static let timedOut = Code(.timedOut)
        /// The socket, context, dialer or listener was closed.
        public static let closed = Code(.closed)
        /// Nobody listens at the address.
        public static let connectionRefused = Code(.connectionRefused)
        /// The connection was reset, aborted or shut down by the peer.
        public static let connectionLost = Code(.connectionLost)
        /// nng reported `NNG_EMSGSIZE`. An oversized *incoming* message is not reported this way: see
        /// ``NNGOption/receiveMaxSize(_:)``.
        public static let messageTooLarge = Code(.messageTooLarge)
        /// The operation was cancelled (Swift task cancellation or `nng_aio_cancel`).
        public static let cancelled = Code(.cancelled)
        /// The protocol forbids the operation now (e.g. REP send before receive) or the peer broke the protocol.
        public static let protocolState = Code(.protocolState)
        /// Another listener holds the address.
        public static let addressInUse = Code(.addressInUse)
        /// A malformed URL, option value or argument.
        public static let invalidArgument = Code(.invalidArgument)
        /// The protocol or transport does not support the operation or option.
        public static let notSupported = Code(.notSupported)
        /// TLS handshake, certificate or peer authentication failure.
        public static let tls = Code(.tls)
        /// Any other nng error; see ``NNGError/number``.
        public static let other = Code(.other)

        init(nngErrno: Int32) {
            switch UInt32(bitPattern: nngErrno) {
            case NNG_ETIMEDOUT.rawValue: self = .timedOut
            case NNG_ECLOSED.rawValue: self = .closed
            case NNG_ECONNREFUSED.rawValue: self = .connectionRefused
            case NNG_ECONNRESET.rawValue, NNG_ECONNABORTED.rawValue, NNG_ECONNSHUT.rawValue: self = .connectionLost
            case NNG_EMSGSIZE.rawValue: self = .messageTooLarge
            case NNG_ECANCELED.rawValue: self = .cancelled
            case NNG_ESTATE.rawValue, NNG_EPROTO.rawValue: self = .protocolState
            case NNG_EADDRINUSE.rawValue: self = .addressInUse
            case NNG_EINVAL.rawValue, NNG_EADDRINVAL.rawValue, NNG_EBADTYPE.rawValue: self = .invalidArgument
            case NNG_ENOTSUP.rawValue, NNG_ENOENT.rawValue: self = .notSupported
            case NNG_ECRYPTO.rawValue, NNG_EPEERAUTH.rawValue: self = .tls
            default: self = .other
            }
        }

        public var description: String {
            switch base {
            case .timedOut: "timed out"
            case .closed: "closed"
            case .connectionRefused: "connection refused"
            case .connectionLost: "connection lost"
            case .messageTooLarge: "message too large"
            case .cancelled: "cancelled"
            case .protocolState: "protocol state"
            case .addressInUse: "address in use"
            case .invalidArgument: "invalid argument"
            case .notSupported: "not supported"
            case .tls: "tls"
            case .other: "other"
            }
        }
    }

    public let code: Code
    /// nng's error number (`NNG_E…`; system errors have `NNG_ESYSERR` set).
    public let number: Int32
    /// `nng_strerror(number)`.
    public let message: String
    /// What was being done, e.g. `receive`, `listen ipc:///tmp/x`, `set recv-size-max`.
    public let operation: String

    /// Wraps nng error `number` raised by `operation`.
    public init(number: Int32, operation: String) {
        self.code = Code(nngErrno: number)
        self.number = number
        self.message = String(cString: nng_strerror(number))
        self.operation = operation
    }

    public var description: String { "nng \(operation): \(code) (\(number): \(message))" }
}

/// Throws an ``NNGError`` when an nng call returned non-zero.
@inline(__always)
func check(_ result: Int32, _ operation: @autoclosure () -> String) throws(NNGError) {
    if result != 0 { throw NNGError(number: result, operation: operation()) }
}

/// nng's millisecond duration: nil means infinite; negative or huge values are clamped.
func nngDuration(_ duration: Duration?) -> nng_duration {
    guard let duration else { return nng_duration(NNG_DURATION_INFINITE) }
    let (seconds, attoseconds) = duration.components
    if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
    let millis = seconds.multipliedReportingOverflow(by: 1000)
    if millis.overflow || millis.partialValue > Int64(Int32.max) { return Int32.max }
    // Round sub-millisecond remainders up so a tiny positive timeout never becomes "zero = poll".
    let extra = (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    return nng_duration(min(Int64(Int32.max), millis.partialValue + extra))
}
