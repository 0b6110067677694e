/// A PostgreSQL failure: what we were doing (`operation`), and, when the server reported it, the SQLSTATE and the
/// server's message, detail, hint and context (the context names the COPY line and column).
public struct PGError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case connectionFailed, connectionLost, server, closed, invalidArgument, decoding, protocolViolation
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        /// Connecting failed (bad conninfo, unreachable host, authentication).
        public static let connectionFailed = Code(.connectionFailed)
        /// The connection broke while a command was running; nothing of that command was committed by us.
        public static let connectionLost = Code(.connectionLost)
        /// The server rejected the command; `sqlState` says why.
        public static let server = Code(.server)
        /// The connection was closed by `close()` before the call.
        public static let closed = Code(.closed)
        /// The caller passed something we refuse to send (a NUL byte in text, a wrong field count in a COPY row).
        public static let invalidArgument = Code(.invalidArgument)
        /// A result value could not be decoded as the requested type.
        public static let decoding = Code(.decoding)
        /// The server answered with something the operation does not expect (e.g. a non-COPY statement to `copyIn`).
        public static let protocolViolation = Code(.protocolViolation)

        public var description: String {
            switch base {
            case .connectionFailed: "connection failed"
            case .connectionLost: "connection lost"
            case .server: "server error"
            case .closed: "connection closed"
            case .invalidArgument: "invalid argument"
            case .decoding: "decoding failed"
            case .protocolViolation: "unexpected response"
            }
        }
    }

    public let code: Code
    /// Five-character SQLSTATE from the server, e.g. `23505`; nil for client-side failures.
    public let sqlState: String?
    public let message: String
    public let detail: String?
    public let hint: String?
    /// The server's CONTEXT field, e.g. `COPY t, line 3, column n: "abc"`.
    public let context: String?
    /// What failed, e.g. `connect to 127.0.0.1:5432`, `query`, `COPY`, `commit`.
    public let operation: String

    public init(
        code: Code, operation: String, message: String, sqlState: String? = nil, detail: String? = nil,
        hint: String? = nil, context: String? = nil
    ) {
        self.code = code
        self.operation = operation
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.hint = hint
        self.context = context
    }

    public var description: String {
        var text = "PostgreSQL \(operation): \(code)"
        if let sqlState { text += " [\(sqlState)]" }
        text += ": \(message)"
        if let detail { text += " (detail: \(detail))" }
        if let hint { text += " (hint: \(hint))" }
        if let context { text += " (context: \(context))" }
        return text
    }
}
