import CCurl

/// A fetch that produced no HTTP response, naming the URL and why. Non-2xx statuses are responses, not errors.
public struct HTTPFetchError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case timeout, connectionReset, dnsFailure, connectFailed, bodyTooLarge, tls, cancelled, shutdown
            case protocolError, invalidRequest, other
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        /// The connect or total timeout elapsed.
        public static let timeout = Code(.timeout)
        /// The peer closed or reset the connection before a complete response arrived.
        public static let connectionReset = Code(.connectionReset)
        /// The host name did not resolve.
        public static let dnsFailure = Code(.dnsFailure)
        /// The TCP connection was refused or unreachable.
        public static let connectFailed = Code(.connectFailed)
        /// The (decoded) body exceeded the client's `maxBodyBytes`.
        public static let bodyTooLarge = Code(.bodyTooLarge)
        /// TLS handshake or certificate failure.
        public static let tls = Code(.tls)
        /// The calling task was cancelled.
        public static let cancelled = Code(.cancelled)
        /// The client was shut down before the response arrived.
        public static let shutdown = Code(.shutdown)
        /// The peer broke the protocol: malformed reply, bad content encoding, too many redirects, HTTP/2 errors.
        public static let protocolError = Code(.protocolError)
        /// The request itself cannot be sent: malformed URL, unsupported scheme, bad option.
        public static let invalidRequest = Code(.invalidRequest)
        /// Anything else libcurl reported; see `curlCode` and `message`.
        public static let other = Code(.other)

        public var description: String {
            switch base {
            case .timeout: "timeout"
            case .connectionReset: "connection reset"
            case .dnsFailure: "DNS failure"
            case .connectFailed: "connect failed"
            case .bodyTooLarge: "body too large"
            case .tls: "TLS failure"
            case .cancelled: "cancelled"
            case .shutdown: "client shut down"
            case .protocolError: "protocol error"
            case .invalidRequest: "invalid request"
            case .other: "transfer failed"
            }
        }
    }

    public let code: Code
    /// The URL that was requested.
    public let url: String
    /// libcurl's detailed message (or ours for cancellation and shutdown).
    public let message: String
    /// The `CURLcode`, or 0 when the failure did not come from libcurl.
    public let curlCode: Int32

    public init(code: Code, url: String, message: String, curlCode: Int32 = 0) {
        self.code = code
        self.url = url
        self.message = message
        self.curlCode = curlCode
    }

    public var description: String {
        curlCode == 0 ? "\(code) fetching \(url): \(message)" : "\(code) fetching \(url): \(message) (curl error \(curlCode))"
    }

    /// Classifies a libcurl result. `overBodyLimit` tells a write-callback refusal (our size cap) from other write errors.
    static func classify(_ result: CURLcode, overBodyLimit: Bool) -> Code {
        switch result {
        case CURLE_OPERATION_TIMEDOUT: .timeout
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE: .connectionReset
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: .dnsFailure
        case CURLE_COULDNT_CONNECT: .connectFailed
        case CURLE_FILESIZE_EXCEEDED: .bodyTooLarge
        case CURLE_WRITE_ERROR: overBodyLimit ? .bodyTooLarge : .other
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_ENGINE_INITFAILED,
            CURLE_SSL_SHUTDOWN_FAILED, CURLE_SSL_CRL_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
            CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CLIENTCERT, CURLE_USE_SSL_FAILED:
            .tls
        case CURLE_ABORTED_BY_CALLBACK: .cancelled
        case CURLE_WEIRD_SERVER_REPLY, CURLE_BAD_CONTENT_ENCODING, CURLE_TOO_MANY_REDIRECTS, CURLE_HTTP2,
            CURLE_HTTP2_STREAM, CURLE_HTTP3, CURLE_RANGE_ERROR:
            .protocolError
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL, CURLE_BAD_FUNCTION_ARGUMENT, CURLE_UNKNOWN_OPTION,
            CURLE_NOT_BUILT_IN:
            .invalidRequest
        default: .other
        }
    }
}
