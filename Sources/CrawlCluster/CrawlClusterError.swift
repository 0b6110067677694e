/// A failure of the crawl-on-cluster layer: bad configuration, a payload that is not a task, a row that does not
/// match its table, or an output that could not be written. `detail` names what failed and where.
public struct CrawlClusterError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable { case invalidDataRoot, invalidPayload, badRow, writeFailed, invalidRunSpec }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        /// The data root is not a `file:///absolute/path` URL.
        public static let invalidDataRoot = Code(.invalidDataRoot)
        /// A unit payload that does not decode as a crawl task, or whose seed disagrees with it.
        public static let invalidPayload = Code(.invalidPayload)
        /// A Parquet row that does not match its table's schema.
        public static let badRow = Code(.badRow)
        /// A Parquet or raw file could not be written.
        public static let writeFailed = Code(.writeFailed)
        /// A run spec naming an unknown platform or date.
        public static let invalidRunSpec = Code(.invalidRunSpec)
        public var description: String {
            switch base {
            case .invalidDataRoot: "invalid data root"
            case .invalidPayload: "invalid payload"
            case .badRow: "bad row"
            case .writeFailed: "write failed"
            case .invalidRunSpec: "invalid run spec"
            }
        }
    }

    public let code: Code
    public let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(code): \(detail)" }
}
