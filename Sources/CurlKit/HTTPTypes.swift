/// One header field as sent or received; names keep the case the peer used.
public struct HTTPHeader: Sendable, Hashable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

public struct HTTPRequest: Sendable {
    public var url: String
    /// `GET` by default; `HEAD` asks for no body; any other method is sent verbatim.
    public var method: String
    public var headers: [HTTPHeader]
    public var body: [UInt8]?
    /// Overrides the client's total timeout for this request only.
    public var timeout: Duration?

    public init(
        url: String, method: String = "GET", headers: [HTTPHeader] = [], body: [UInt8]? = nil,
        timeout: Duration? = nil
    ) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

/// Times measured by libcurl from the start of the transfer.
public struct HTTPTimings: Sendable, Hashable {
    public var total: Duration
    /// Until the TCP connection was up (zero when a pooled connection was reused).
    public var connect: Duration
    /// Until the first response byte arrived.
    public var firstByte: Duration

    public init(total: Duration, connect: Duration, firstByte: Duration) {
        self.total = total
        self.connect = connect
        self.firstByte = firstByte
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    /// The header fields of the final response (after redirects), in the order received.
    public var headers: [HTTPHeader]
    /// The body, already decoded from any content encoding (gzip, br, zstd).
    public var body: [UInt8]
    /// The effective URL, after redirects.
    public var url: String
    /// `1.0`, `1.1`, `2` or `3`.
    public var httpVersion: String
    public var timings: HTTPTimings

    public init(
        status: Int, headers: [HTTPHeader], body: [UInt8], url: String, httpVersion: String, timings: HTTPTimings
    ) {
        self.status = status
        self.headers = headers
        self.body = body
        self.url = url
        self.httpVersion = httpVersion
        self.timings = timings
    }

    /// The value of header `name`, compared case-insensitively; the last occurrence wins.
    public func header(_ name: String) -> String? {
        headers.last { asciiCaseInsensitiveEqual($0.name, name) }?.value
    }
}

func asciiCaseInsensitiveEqual(_ a: String, _ b: String) -> Bool {
    let x = a.utf8
    let y = b.utf8
    guard x.count == y.count else { return false }
    return zip(x, y).allSatisfy { lower($0) == lower($1) }
}

private func lower(_ byte: UInt8) -> UInt8 {
    byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
}
