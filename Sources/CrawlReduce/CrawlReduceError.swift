/// A failure of the run reduce or load, naming the file, table or slice concerned.
public struct CrawlReduceError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: String { case corruptInput, unreadableInput, badOutputList, writeFailed, threadFailed }
        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }
        /// An accepted file whose size or SHA-256 differs from the ledger's manifest, or that is not valid Parquet.
        public static let corruptInput = Code(.corruptInput)
        /// An accepted file that cannot be opened or read.
        public static let unreadableInput = Code(.unreadableInput)
        /// An accepted output whose table or partition path is not one the workers write.
        public static let badOutputList = Code(.badOutputList)
        /// A mapped file could not be written.
        public static let writeFailed = Code(.writeFailed)
        /// The dedicated reduce thread could not be started.
        public static let threadFailed = Code(.threadFailed)
        public var description: String { kind.rawValue }
    }

    public let code: Code
    /// The file, table or slice concerned.
    public let subject: String
    public let detail: String

    public init(_ code: Code, subject: String, _ detail: String) {
        self.code = code
        self.subject = subject
        self.detail = detail
    }

    public var description: String { "\(code): \(subject): \(detail)" }
}
