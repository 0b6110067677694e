import NIOCore

/// The parts of an HTTP request the endpoints look at, already split and percent-decoded.
struct SimRequest: Sendable {
    var path: String
    var query: [String: String]
    /// Lower-cased header names.
    var headers: [String: String]

    init(path: String, query: [String: String] = [:], headers: [String: String] = [:]) {
        self.path = path
        self.query = query
        self.headers = headers
    }

    /// Splits `/a/b?x=1&y=%5B2%5D` into a path and decoded query items (the first occurrence of a name wins).
    init(uri: String, headers: [String: String]) {
        (path, query) = Self.splitASCII(uri) ?? Self.splitByCharacters(uri)
        self.headers = headers
    }

    /// The path, and the query items percent-decoded (the first occurrence of a name wins).
    static func splitByCharacters(_ uri: String) -> (path: String, query: [String: String]) {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var query: [String: String] = [:]
        if parts.count == 2 {
            for item in parts[1].split(separator: "&") {
                let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = Self.percentDecode(pair[0])
                if query[name] == nil { query[name] = pair.count == 2 ? Self.percentDecode(pair[1]) : "" }
            }
        }
        return (String(parts[0]), query)
    }

    /// The same split by bytes, for printable-ASCII URIs (what clients send: anything else is percent-encoded),
    /// where bytes and characters coincide; nil for any other URI, which takes the character-based path.
    static func splitASCII(_ uri: String) -> (path: String, query: [String: String])? {
        var uri = uri
        return uri.withUTF8 { bytes -> (path: String, query: [String: String])? in
            guard bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return nil }
            func text(_ range: Range<Int>) -> Substring {
                Substring(String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self))
            }
            guard let mark = bytes.firstIndex(of: UInt8(ascii: "?")) else {
                return (String(decoding: bytes, as: UTF8.self), [:])
            }
            var query: [String: String] = [:]
            var start = mark + 1
            while start <= bytes.count {
                let end = bytes[start...].firstIndex(of: UInt8(ascii: "&")) ?? bytes.count
                if end > start {  // `split(separator: "&")` skips empty items
                    let equals = bytes[start..<end].firstIndex(of: UInt8(ascii: "="))
                    let name = percentDecode(text(start..<(equals ?? end)))
                    if query[name] == nil {
                        query[name] = equals.map { percentDecode(text(($0 + 1)..<end)) } ?? ""
                    }
                }
                start = end + 1
            }
            return (String(decoding: UnsafeBufferPointer(rebasing: bytes[..<mark]), as: UTF8.self), query)
        }
    }

    static func percentDecode(_ text: Substring) -> String {
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else {
            return String(text)
        }
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"): out.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                // An invalid escape is kept as written.
                let high = iterator.next()
                let low = high == nil ? nil : iterator.next()
                if let high, let low, let h = hexValue(high), let l = hexValue(low) {
                    out.append(h << 4 | l)
                } else {
                    out.append(byte)
                    if let high { out.append(high) }
                    if let low { out.append(low) }
                }
            default: out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    func int(_ name: String) -> Int? { query[name].flatMap { Int($0) } }
}

/// A complete response before faults are applied.
struct SimResponse: Sendable {
    enum ContentType: Sendable {
        case json, javascript
        var headerValue: String {
            switch self {
            case .json: "application/json;charset=UTF-8"
            case .javascript: "text/javascript;charset=UTF-8"
            }
        }
    }

    var status: Int
    var contentType: ContentType
    var body: ByteBuffer
    /// The counter key, e.g. `naver.article.list`.
    var endpoint: String
    var platform: SimPlatform?
    var extraHeaders: [(String, String)] = []

    init(status: Int, contentType: ContentType = .json, body: ByteBuffer, endpoint: String, platform: SimPlatform?) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.endpoint = endpoint
        self.platform = platform
    }

    init(status: Int, contentType: ContentType = .json, bytes: [UInt8], endpoint: String, platform: SimPlatform?) {
        self.init(status: status, contentType: contentType, body: ByteBuffer(bytes: bytes), endpoint: endpoint,
                  platform: platform)
    }
}
