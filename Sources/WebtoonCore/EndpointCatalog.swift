#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One platform's endpoint catalog (`config/{platform}.json`): hosts, headers, politeness, retry policy, crawl
/// options and every endpoint's path and query. Pointing every host at one base URL (the simulator or a proxy) is
/// the only difference between a simulated and a live crawl.
public struct EndpointCatalog: Sendable, Hashable {
    public let platform: Platform
    /// Host key → base URL (`scheme://host[:port][/prefix]`, no trailing slash).
    public private(set) var hosts: [String: String]
    /// Headers sent with every request of this platform, sorted by name.
    public let headers: [HeaderField]
    /// The environment variable holding optional login cookies (never stored in the repository).
    public let cookieEnvironmentVariable: String?
    public private(set) var politeness: Politeness
    public private(set) var retry: RetryPolicy
    public private(set) var circuitBreaker: CircuitBreakerPolicy
    public var crawl: CrawlOptions
    public let endpoints: [Endpoint: EndpointTemplate]

    public struct Politeness: Codable, Sendable, Hashable {
        public var requestsPerSecond: Double
        public var burst: Int
        /// Cap on requests in flight to this platform.
        public var maxConcurrency: Int
        public init(requestsPerSecond: Double, burst: Int, maxConcurrency: Int) {
            self.requestsPerSecond = requestsPerSecond
            self.burst = burst
            self.maxConcurrency = maxConcurrency
        }
    }

    public struct RetryPolicy: Codable, Sendable, Hashable {
        /// Total attempts, the first included.
        public var maxAttempts: Int
        public var baseDelayMilliseconds: Int
        public var maxDelayMilliseconds: Int
        /// A `Retry-After` longer than this is capped to it.
        public var maxRetryAfterMilliseconds: Int
        public var timeoutMilliseconds: Int
        public init(
            maxAttempts: Int, baseDelayMilliseconds: Int, maxDelayMilliseconds: Int, maxRetryAfterMilliseconds: Int,
            timeoutMilliseconds: Int
        ) {
            self.maxAttempts = maxAttempts
            self.baseDelayMilliseconds = baseDelayMilliseconds
            self.maxDelayMilliseconds = maxDelayMilliseconds
            self.maxRetryAfterMilliseconds = maxRetryAfterMilliseconds
            self.timeoutMilliseconds = timeoutMilliseconds
        }
    }

    /// Kakao answers bursts with 403 for hours: after `failureThreshold` consecutive trip statuses the platform
    /// pauses for `coolDownMilliseconds`, then one probe decides whether it reopens.
    public struct CircuitBreakerPolicy: Codable, Sendable, Hashable {
        public var tripStatuses: [Int]
        public var failureThreshold: Int
        public var coolDownMilliseconds: Int
        public init(tripStatuses: [Int], failureThreshold: Int, coolDownMilliseconds: Int) {
            self.tripStatuses = tripStatuses
            self.failureThreshold = failureThreshold
            self.coolDownMilliseconds = coolDownMilliseconds
        }
    }

    public struct CrawlOptions: Codable, Sendable, Hashable {
        /// Naver: `community` (the v2 posts API, current) or `comments` (legacy cbox JSONP). Kakao: `comments`.
        public var commentApi: Endpoint
        /// Which v2 count is the comment count (`postCount`, `activePostCount`, `rootPostCount`,
        /// `activeRootPostCount`); the notes leave the exact meanings unverified.
        public var communityCountField: String
        /// Keep the text and likes of the first N comments per episode; 0 = counts only.
        public var topComments: Int
        public var episodeBatchSize: Int
        /// Daily mode: the N newest visible episodes per title.
        public var dailyEpisodeCount: Int
        /// Naver: articles per list page (fixed by the platform, 20); Kakao: the `limit` we page with.
        public var episodePageSize: Int
        /// Safety cap on list pages per title or list.
        public var maxPages: Int
        public init(
            commentApi: Endpoint, communityCountField: String, topComments: Int, episodeBatchSize: Int,
            dailyEpisodeCount: Int, episodePageSize: Int, maxPages: Int
        ) {
            self.commentApi = commentApi
            self.communityCountField = communityCountField
            self.topComments = topComments
            self.episodeBatchSize = episodeBatchSize
            self.dailyEpisodeCount = dailyEpisodeCount
            self.episodePageSize = episodePageSize
            self.maxPages = maxPages
        }
    }

    public struct EndpointTemplate: Sendable, Hashable {
        public let host: String
        /// Path with `{placeholders}`, starting with "/".
        public let path: String
        /// Ordered query pairs; values may hold placeholders.
        public let query: [(name: String, value: String)]
        public let headers: [HeaderField]

        public static func == (a: Self, b: Self) -> Bool {
            a.host == b.host && a.path == b.path && a.headers == b.headers
                && a.query.map { [$0.name, $0.value] } == b.query.map { [$0.name, $0.value] }
        }
        public func hash(into hasher: inout Hasher) {
            hasher.combine(host)
            hasher.combine(path)
            for pair in query { hasher.combine(pair.name); hasher.combine(pair.value) }
            hasher.combine(headers)
        }
    }

    /// Placeholders a template may use; every value substituted is produced by us from validated numbers or enums.
    public static let placeholders: Set<String> = ["titleId", "episodeId", "page", "offset", "limit", "day"]

    // MARK: Loading

    /// Parses and validates a catalog. `source` names the file in errors.
    public static func load(json: [UInt8], source: String, expecting platform: Platform? = nil) throws(CatalogError)
        -> EndpointCatalog
    {
        let file: CatalogFile
        do {
            file = try JSONDecoder().decode(CatalogFile.self, from: Data(json))
        } catch let error as DecodingError {
            let (key, detail, missing) = describe(error)
            throw CatalogError(code: missing ? .missingKey : .malformed, source: source, key: key, detail: detail)
        } catch {
            throw CatalogError(code: .malformed, source: source, key: "", detail: "\(error)")
        }
        return try validate(file, source: source, expecting: platform)
    }

    public static func load(json: String, source: String, expecting platform: Platform? = nil) throws(CatalogError)
        -> EndpointCatalog
    {
        try load(json: Array(json.utf8), source: source, expecting: platform)
    }

    /// The catalog compiled into the binary (identical to `config/{platform}.json`; a test checks it).
    public static func builtIn(_ platform: Platform) -> EndpointCatalog {
        let text =
            switch platform {
            case .naver: EmbeddedCatalogs.naver
            case .kakao: EmbeddedCatalogs.kakao
            }
        do {
            return try load(json: text, source: "built-in \(platform).json", expecting: platform)
        } catch {
            fatalError("the built-in catalog is invalid: \(error)")  // a test loads both on every run
        }
    }

    /// Replaces every host of this platform with `baseURL` (simulator or proxy).
    public func overridingBaseURL(_ baseURL: String) throws(CatalogError) -> EndpointCatalog {
        guard let normalized = Self.normalizedBaseURL(baseURL) else {
            throw CatalogError(
                code: .invalidValue, source: "base URL override", key: "baseURL",
                detail: "not an http(s) URL without query or fragment: \(baseURL)")
        }
        var copy = self
        copy.hosts = hosts.mapValues { _ in normalized }
        return copy
    }

    // MARK: Requests

    /// Builds the request for `endpoint`. Every placeholder value comes from `parameters`, which holds only
    /// numbers and enum-derived keys, so no unvalidated text reaches a URL.
    public func request(_ endpoint: Endpoint, _ parameters: EndpointParameters) -> EndpointRequest {
        guard let template = endpoints[endpoint], let base = hosts[template.host] else {
            // Validation guarantees both; a catalog built by hand without them is a programming error.
            preconditionFailure("\(platform) catalog has no usable endpoint \(endpoint)")
        }
        // Built for every request: no dictionary of values, and text that needs no escaping is not copied.
        let value = parameters.placeholderValue(named:)
        var url = base + Self.expand(template.path, value, encode: Self.percentEncodePath)
        if !template.query.isEmpty {
            url += "?"
            var first = true
            for pair in template.query {
                if !first { url += "&" }
                first = false
                url += Self.percentEncodeQuery(pair.name)
                url += "="
                url += Self.expand(pair.value, value, encode: Self.percentEncodeQuery)
            }
        }
        var fields = headers
        for field in template.headers {
            fields.removeAll { asciiCaseInsensitiveEqual($0.name, field.name) }
            fields.append(field)
        }
        return EndpointRequest(
            platform: platform, endpoint: endpoint, url: url, headers: fields, parameters: parameters)
    }

    // MARK: Internals

    static func expand(_ template: String, _ value: (String) -> String?, encode: (String) -> String) -> String {
        guard template.utf8.contains(UInt8(ascii: "{")) else { return encode(template) }
        if template.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            // Printable ASCII (every catalog template): bytes and characters coincide, so scan bytes.
            let bytes = Array(template.utf8)
            func text(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }
            var output = ""
            var start = 0
            while let open = bytes[start...].firstIndex(of: UInt8(ascii: "{")) {
                output += encode(text(start..<open))
                guard let close = bytes[open...].firstIndex(of: UInt8(ascii: "}")) else {
                    return output + encode(text(open..<bytes.count))
                }
                output += encode(value(text((open + 1)..<close)) ?? "")
                start = close + 1
            }
            return output + encode(text(start..<bytes.count))
        }
        return expandByCharacters(template, value, encode: encode)
    }

    /// `expand` over characters: any template, and the reference the byte scan is tested against.
    static func expandByCharacters(_ template: String, _ value: (String) -> String?, encode: (String) -> String)
        -> String
    {
        var output = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            output += encode(String(rest[..<open]))
            guard let close = rest[open...].firstIndex(of: "}") else {
                output += encode(String(rest[open...]))
                return output
            }
            let name = String(rest[rest.index(after: open)..<close])
            output += encode(value(name) ?? "")
            rest = rest[rest.index(after: close)...]
        }
        return output + encode(String(rest))
    }

    static func placeholderNames(in template: String) -> [String]? {
        var names: [String] = []
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            guard let close = rest[open...].firstIndex(of: "}") else { return nil }
            let name = String(rest[rest.index(after: open)..<close])
            if name.contains("{") { return nil }
            names.append(name)
            rest = rest[rest.index(after: close)...]
        }
        return rest.contains("}") ? nil : names
    }

    static func percentEncodeQuery(_ text: String) -> String { percentEncode(text, keepSlash: false) }
    static func percentEncodePath(_ text: String) -> String { percentEncode(text, keepSlash: true) }

    /// RFC 3986 unreserved characters pass; everything else (including `[`, `]`, `&`, `=`) is %XX.
    static func percentEncode(_ text: String, keepSlash: Bool) -> String {
        // Most pieces (literal paths, numbers) need no escaping: return them as they are.
        if text.utf8.allSatisfy({ isUnreserved($0) || ($0 == UInt8(ascii: "/") && keepSlash) }) { return text }
        let hex = Array("0123456789ABCDEF".utf8)
        var out = ""
        for byte in text.utf8 {
            if isUnreserved(byte) || (byte == UInt8(ascii: "/") && keepSlash) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%"
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 0xF)]))
            }
        }
        return out
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            true
        default: false
        }
    }

    /// `http(s)://authority[/prefix]` without query, fragment, spaces or control characters; trailing "/" removed.
    static func normalizedBaseURL(_ text: String) -> String? {
        var url = text
        while url.hasSuffix("/") { url.removeLast() }
        let lower = url.lowercased()
        let schemeEnd: String.Index
        if lower.hasPrefix("http://") {
            schemeEnd = url.index(url.startIndex, offsetBy: 7)
        } else if lower.hasPrefix("https://") {
            schemeEnd = url.index(url.startIndex, offsetBy: 8)
        } else {
            return nil
        }
        let rest = url[schemeEnd...]
        let authority = rest.prefix { $0 != "/" }
        guard !authority.isEmpty, !authority.contains("@") else { return nil }
        for scalar in url.unicodeScalars {
            if scalar.value <= 0x20 || scalar.value >= 0x7F || "?#\\\"<>{}|^`".unicodeScalars.contains(scalar) {
                return nil
            }
        }
        return url
    }

    static func describe(_ error: DecodingError) -> (key: String, detail: String, missing: Bool) {
        switch error {
        case .keyNotFound(let key, let context):
            return (JSONPath.render(context.codingPath + [key]), "required key is missing", true)
        case .typeMismatch(let type, let context):
            return (JSONPath.render(context.codingPath), "expected \(type): \(context.debugDescription)", false)
        case .valueNotFound(let type, let context):
            return (JSONPath.render(context.codingPath), "expected \(type), found null", false)
        case .dataCorrupted(let context):
            return (JSONPath.render(context.codingPath), context.debugDescription, false)
        @unknown default:
            return ("", "\(error)", false)
        }
    }
}

/// An HTTP header as a name/value pair.
public struct HeaderField: Codable, Sendable, Hashable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// The validated values a request may substitute into a template.
public struct EndpointParameters: Codable, Sendable, Hashable {
    public var titleId: Int64?
    public var episodeId: Int64?
    public var page: Int?
    public var offset: Int?
    public var limit: Int?
    /// 0 = Monday … 6 = Sunday (Kakao placement suffix).
    public var day: Int?

    public init(
        titleId: Int64? = nil, episodeId: Int64? = nil, page: Int? = nil, offset: Int? = nil, limit: Int? = nil,
        day: Int? = nil
    ) {
        self.titleId = titleId
        self.episodeId = episodeId
        self.page = page
        self.offset = offset
        self.limit = limit
        self.day = day
    }

    /// The value of placeholder `name` in a URL template.
    func placeholderValue(named name: String) -> String? {
        switch name {
        case "titleId": titleId.map { String($0) }
        case "episodeId": episodeId.map { String($0) }
        case "page": page.map { String($0) }
        case "offset": offset.map { String($0) }
        case "limit": limit.map { String($0) }
        case "day": day.flatMap { Weekdays.kakaoKeys.indices.contains($0) ? Weekdays.kakaoKeys[$0] : nil }
        default: nil
        }
    }

    /// "title 183559 episode 654 page 2", for error messages.
    public var subject: String {
        var parts: [String] = []
        if let titleId { parts.append("title \(titleId)") }
        if let episodeId { parts.append("episode \(episodeId)") }
        if let day { parts.append("day \(day)") }
        if let page { parts.append("page \(page)") }
        if let offset { parts.append("offset \(offset)") }
        return parts.isEmpty ? "list" : parts.joined(separator: " ")
    }
}

/// A concrete request of one endpoint, ready for the crawler.
public struct EndpointRequest: Codable, Sendable, Hashable {
    public var platform: Platform
    public var endpoint: Endpoint
    public var url: String
    public var headers: [HeaderField]
    public var parameters: EndpointParameters

    public init(
        platform: Platform, endpoint: Endpoint, url: String, headers: [HeaderField], parameters: EndpointParameters
    ) {
        self.platform = platform
        self.endpoint = endpoint
        self.url = url
        self.headers = headers
        self.parameters = parameters
    }
}

/// Renders coding paths as `a.b[3].c`.
enum JSONPath {
    static func render(_ path: [any CodingKey]) -> String {
        var text = ""
        for key in path {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                if !text.isEmpty { text += "." }
                text += key.stringValue
            }
        }
        return text
    }
}

// MARK: - The file format

struct CatalogFile: Decodable {
    var platform: String
    var hosts: [String: String]
    var headers: [String: String]
    var cookieEnvironmentVariable: String?
    var politeness: EndpointCatalog.Politeness
    var retry: EndpointCatalog.RetryPolicy
    var circuitBreaker: EndpointCatalog.CircuitBreakerPolicy
    var crawl: CrawlFile
    var endpoints: [String: EndpointFile]

    struct CrawlFile: Decodable {
        var commentApi: String
        var communityCountField: String
        var topComments: Int
        var episodeBatchSize: Int
        var dailyEpisodeCount: Int
        var episodePageSize: Int
        var maxPages: Int
    }

    struct EndpointFile: Decodable {
        var host: String
        var path: String
        var query: [[String]]?
        var headers: [String: String]?
    }
}

extension EndpointCatalog {
    static let communityCountFields: Set<String> = ["postCount", "activePostCount", "rootPostCount", "activeRootPostCount"]

    static func validate(_ file: CatalogFile, source: String, expecting: Platform?) throws(CatalogError)
        -> EndpointCatalog
    {
        func fail(_ key: String, _ detail: String) -> CatalogError {
            CatalogError(code: .invalidValue, source: source, key: key, detail: detail)
        }
        guard let platform = Platform(rawValue: file.platform) else {
            throw fail("platform", "must be \"naver\" or \"kakao\", found \"\(file.platform)\"")
        }
        if let expecting, expecting != platform {
            throw fail("platform", "this catalog is for \(platform), expected \(expecting)")
        }
        if file.hosts.isEmpty { throw fail("hosts", "at least one host is required") }
        var hosts: [String: String] = [:]
        for (key, value) in file.hosts.sorted(by: { $0.key < $1.key }) {
            guard let url = normalizedBaseURL(value) else {
                throw fail("hosts.\(key)", "not an http(s) base URL: \(value)")
            }
            hosts[key] = url
        }
        let headers = try validHeaders(file.headers, key: "headers", fail: fail)
        if let name = file.cookieEnvironmentVariable,
            name.isEmpty || !name.utf8.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: "_") })
        {
            throw fail("cookieEnvironmentVariable", "must be a plain environment variable name: \(name)")
        }
        let p = file.politeness
        guard p.requestsPerSecond > 0, p.requestsPerSecond.isFinite else {
            throw fail("politeness.requestsPerSecond", "must be a positive number")
        }
        guard p.burst >= 1 else { throw fail("politeness.burst", "must be at least 1") }
        guard (1...1000).contains(p.maxConcurrency) else {
            throw fail("politeness.maxConcurrency", "must be in 1...1000")
        }
        let r = file.retry
        guard (1...50).contains(r.maxAttempts) else { throw fail("retry.maxAttempts", "must be in 1...50") }
        guard r.baseDelayMilliseconds >= 0 else { throw fail("retry.baseDelayMilliseconds", "must not be negative") }
        guard r.maxDelayMilliseconds >= r.baseDelayMilliseconds else {
            throw fail("retry.maxDelayMilliseconds", "must be at least baseDelayMilliseconds")
        }
        guard r.maxRetryAfterMilliseconds >= 0 else {
            throw fail("retry.maxRetryAfterMilliseconds", "must not be negative")
        }
        guard r.timeoutMilliseconds > 0 else { throw fail("retry.timeoutMilliseconds", "must be positive") }
        let c = file.circuitBreaker
        guard c.tripStatuses.allSatisfy({ (100...599).contains($0) }) else {
            throw fail("circuitBreaker.tripStatuses", "must be HTTP statuses")
        }
        guard c.failureThreshold >= 1 else { throw fail("circuitBreaker.failureThreshold", "must be at least 1") }
        guard c.coolDownMilliseconds >= 0 else {
            throw fail("circuitBreaker.coolDownMilliseconds", "must not be negative")
        }
        let k = file.crawl
        guard let commentApi = Endpoint(rawValue: k.commentApi),
            platform == .naver ? [.comments, .communityComments].contains(commentApi) : commentApi == .comments
        else {
            throw fail(
                "crawl.commentApi",
                platform == .naver ? "must be \"comments\" (cbox) or \"communityComments\" (v2)" : "must be \"comments\"")
        }
        guard communityCountFields.contains(k.communityCountField) else {
            throw fail("crawl.communityCountField", "must be one of \(communityCountFields.sorted())")
        }
        guard (0...100).contains(k.topComments) else { throw fail("crawl.topComments", "must be in 0...100") }
        guard (1...10_000).contains(k.episodeBatchSize) else {
            throw fail("crawl.episodeBatchSize", "must be in 1...10000")
        }
        guard (1...1000).contains(k.dailyEpisodeCount) else {
            throw fail("crawl.dailyEpisodeCount", "must be in 1...1000")
        }
        guard (1...10_000).contains(k.episodePageSize) else {
            throw fail("crawl.episodePageSize", "must be in 1...10000")
        }
        guard (1...1_000_000).contains(k.maxPages) else { throw fail("crawl.maxPages", "must be in 1...1000000") }

        var endpoints: [Endpoint: EndpointTemplate] = [:]
        for (name, entry) in file.endpoints.sorted(by: { $0.key < $1.key }) {
            let key = "endpoints.\(name)"
            guard let endpoint = Endpoint(rawValue: name) else {
                throw fail(key, "unknown endpoint; known: \(Endpoint.allCases.map(\.rawValue))")
            }
            guard hosts[entry.host] != nil else {
                throw fail("\(key).host", "\"\(entry.host)\" is not a key of hosts")
            }
            guard entry.path.hasPrefix("/"), !entry.path.contains("?"),
                entry.path.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
            else {
                throw fail("\(key).path", "must start with / and hold no query, spaces or control characters")
            }
            try checkPlaceholders(entry.path, key: "\(key).path", fail: fail)
            var query: [(name: String, value: String)] = []
            for (index, pair) in (entry.query ?? []).enumerated() {
                guard pair.count == 2, !pair[0].isEmpty else {
                    throw fail("\(key).query[\(index)]", "must be a [name, value] pair with a non-empty name")
                }
                try checkPlaceholders(pair[1], key: "\(key).query[\(index)]", fail: fail)
                query.append((pair[0], pair[1]))
            }
            let extra = try validHeaders(entry.headers ?? [:], key: "\(key).headers", fail: fail)
            endpoints[endpoint] = EndpointTemplate(host: entry.host, path: entry.path, query: query, headers: extra)
        }
        for endpoint in Endpoint.required(for: platform) where endpoints[endpoint] == nil {
            throw CatalogError(
                code: .missingKey, source: source, key: "endpoints.\(endpoint)",
                detail: "required for \(platform)")
        }
        return EndpointCatalog(
            platform: platform, hosts: hosts, headers: headers, cookieEnvironmentVariable: file.cookieEnvironmentVariable,
            politeness: p, retry: r, circuitBreaker: c,
            crawl: CrawlOptions(
                commentApi: commentApi, communityCountField: k.communityCountField, topComments: k.topComments,
                episodeBatchSize: k.episodeBatchSize, dailyEpisodeCount: k.dailyEpisodeCount,
                episodePageSize: k.episodePageSize, maxPages: k.maxPages),
            endpoints: endpoints)
    }

    static func checkPlaceholders(_ text: String, key: String, fail: (String, String) -> CatalogError)
        throws(CatalogError)
    {
        guard let names = placeholderNames(in: text) else { throw fail(key, "unbalanced braces in \"\(text)\"") }
        for name in names where !placeholders.contains(name) {
            throw fail(key, "unknown placeholder {\(name)}; known: \(placeholders.sorted())")
        }
    }

    static func validHeaders(_ raw: [String: String], key: String, fail: (String, String) -> CatalogError)
        throws(CatalogError) -> [HeaderField]
    {
        var fields: [HeaderField] = []
        for (name, value) in raw.sorted(by: { $0.key < $1.key }) {
            let tokenOK =
                !name.isEmpty
                && name.utf8.allSatisfy { isAlphanumeric($0) || "!#$%&'*+-.^_`|~".utf8.contains($0) }
            guard tokenOK else { throw fail("\(key).\(name)", "not a valid header name") }
            guard !value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) else {
                throw fail("\(key).\(name)", "header value holds CR, LF or NUL")
            }
            fields.append(HeaderField(name, value))
        }
        return fields
    }

    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}

extension EndpointCatalog {
    /// The same catalog with a different request rate and/or in-flight cap (nil keeps the catalog's value).
    public func withPoliteness(requestsPerSecond: Double? = nil, burst: Int? = nil, maxConcurrency: Int? = nil)
        -> EndpointCatalog
    {
        var copy = self
        copy.politeness = Politeness(
            requestsPerSecond: requestsPerSecond.map { max($0, 0.001) } ?? politeness.requestsPerSecond,
            burst: burst ?? (requestsPerSecond.map { max(1, Int($0.rounded(.up))) } ?? politeness.burst),
            maxConcurrency: maxConcurrency.map { max(1, $0) } ?? politeness.maxConcurrency)
        return copy
    }

    /// The same catalog with another retry policy and breaker (tests shrink the delays).
    public func withRetry(_ retry: RetryPolicy? = nil, circuitBreaker: CircuitBreakerPolicy? = nil) -> EndpointCatalog {
        var copy = self
        if let retry { copy.retry = retry }
        if let circuitBreaker { copy.circuitBreaker = circuitBreaker }
        return copy
    }
}

/// `a.lowercased() == b.lowercased()` without allocating when both are ASCII (header names always are).
func asciiCaseInsensitiveEqual(_ a: String, _ b: String) -> Bool {
    guard a.utf8.allSatisfy({ $0 < 0x80 }) && b.utf8.allSatisfy({ $0 < 0x80 }) else {
        return a.lowercased() == b.lowercased()
    }
    guard a.utf8.count == b.utf8.count else { return false }
    func lower(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte }
    return zip(a.utf8, b.utf8).allSatisfy { lower($0) == lower($1) }
}
