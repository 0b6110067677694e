/// A warehouse failure: which operation on which schema/table failed, and why.
public struct WarehouseError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case migrationChanged, unknownMigration, invalidName, runConflict, rowOutsideSlice, dataTestsFailed
            case unexpectedResponse
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        /// An applied migration's SQL differs from what this binary carries (checksum mismatch).
        public static let migrationChanged = Code(.migrationChanged)
        /// The database has a migration this binary does not know (it is older than the schema).
        public static let unknownMigration = Code(.unknownMigration)
        /// A schema or table name is empty, too long or contains NUL.
        public static let invalidName = Code(.invalidName)
        /// The same run id was loaded before with different data.
        public static let runConflict = Code(.runConflict)
        /// A row handed to a slice load belongs to another (snapshot date, platform) slice.
        public static let rowOutsideSlice = Code(.rowOutsideSlice)
        /// At least one data test found offending rows; the build was rolled back.
        public static let dataTestsFailed = Code(.dataTestsFailed)
        /// The server answered a catalog query with nothing (e.g. a warehouse table without its primary key).
        public static let unexpectedResponse = Code(.unexpectedResponse)
        public var description: String {
            switch base {
            case .migrationChanged: "applied migration changed"
            case .unknownMigration: "unknown migration"
            case .invalidName: "invalid name"
            case .runConflict: "run conflict"
            case .rowOutsideSlice: "row outside slice"
            case .dataTestsFailed: "data tests failed"
            case .unexpectedResponse: "unexpected response"
            }
        }
    }

    public let code: Code
    public let operation: String
    /// The schema, table or slice concerned.
    public let subject: String
    public let detail: String
    /// For `dataTestsFailed`: every failing test with its offending rows.
    public let dataTestFailures: [DataTestResult]

    public init(
        code: Code, operation: String, subject: String, detail: String, dataTestFailures: [DataTestResult] = []
    ) {
        self.code = code
        self.operation = operation
        self.subject = subject
        self.detail = detail
        self.dataTestFailures = dataTestFailures
    }

    public var description: String { "\(operation) (\(subject)): \(code): \(detail)" }
}
