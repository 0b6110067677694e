/// A bad endpoint catalog: which file (or source) and which key, and what is wrong with it.
public struct CatalogError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable { case malformed, missingKey, invalidValue }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        /// The text is not JSON, or a value has the wrong JSON type.
        public static let malformed = Code(.malformed)
        /// A required key is absent.
        public static let missingKey = Code(.missingKey)
        /// A key is present but its value is unusable.
        public static let invalidValue = Code(.invalidValue)
        public var description: String {
            switch base {
            case .malformed: "malformed catalog"
            case .missingKey: "missing key"
            case .invalidValue: "invalid value"
            }
        }
    }

    public let code: Code
    /// The file path or source name the catalog came from.
    public let source: String
    /// The dotted key path, e.g. `endpoints.titleInfo.host`.
    public let key: String
    public let detail: String

    public init(code: Code, source: String, key: String, detail: String) {
        self.code = code
        self.source = source
        self.key = key
        self.detail = detail
    }

    public var description: String { "\(source): \(key.isEmpty ? "(root)" : key): \(code): \(detail)" }
}

/// A response we could not use: which endpoint, which title/episode, which URL, and what was wrong.
public struct ResponseError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case malformedBody, wrongShape, invalidValue, unexpectedStatus, platformError, inconsistent
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        /// Not JSON (or not JSONP), or truncated.
        public static let malformedBody = Code(.malformedBody)
        /// JSON, but a required field is missing or has the wrong type.
        public static let wrongShape = Code(.wrongShape)
        /// A field has the right type but an unusable value (an id that is not a positive number, a bad date).
        public static let invalidValue = Code(.invalidValue)
        /// An HTTP status the task cannot interpret (after the crawler's retries).
        public static let unexpectedStatus = Code(.unexpectedStatus)
        /// The platform answered with its own error envelope.
        public static let platformError = Code(.platformError)
        /// The response contradicts the request (another title's id, for example).
        public static let inconsistent = Code(.inconsistent)
        public var description: String {
            switch base {
            case .malformedBody: "malformed body"
            case .wrongShape: "wrong shape"
            case .invalidValue: "invalid value"
            case .unexpectedStatus: "unexpected status"
            case .platformError: "platform error"
            case .inconsistent: "inconsistent response"
            }
        }
    }

    public let code: Code
    public let platform: Platform
    public let endpoint: Endpoint
    /// What was being fetched, e.g. "title 183559 episode 654".
    public let subject: String
    /// The field path that failed, e.g. `articleList[3].no`, or empty.
    public let field: String
    public let detail: String
    public var url: String

    public init(
        code: Code, platform: Platform, endpoint: Endpoint, subject: String, field: String = "", detail: String,
        url: String = ""
    ) {
        self.code = code
        self.platform = platform
        self.endpoint = endpoint
        self.subject = subject
        self.field = field
        self.detail = detail
        self.url = url
    }

    public var description: String {
        var text = "\(platform) \(endpoint) (\(subject)): \(code)"
        if !field.isEmpty { text += " at \(field)" }
        text += ": \(detail)"
        if !url.isEmpty { text += " [\(url)]" }
        return text
    }
}
