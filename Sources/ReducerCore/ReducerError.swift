/// A reducer failure: which operation on which file or table went wrong, and why.
public struct ReducerError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case io, corruptSpill, recordTooLarge, invalidRow, invalidConfiguration, misuse, compression
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        /// A file-system call failed (errno in the detail).
        public static let io = Code(.io)
        /// A spill file failed its checksum, framing or length checks.
        public static let corruptSpill = Code(.corruptSpill)
        /// One record is larger than `ExternalSortConfiguration.maxRecordBytes`.
        public static let recordTooLarge = Code(.recordTooLarge)
        /// A row's encoded bytes do not decode, or a field is out of its domain.
        public static let invalidRow = Code(.invalidRow)
        /// A configuration value is out of range.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The API was called in the wrong order (for example `add` after `finish`).
        public static let misuse = Code(.misuse)
        /// The spill compressor failed (it can only run out of memory).
        public static let compression = Code(.compression)
        public var description: String {
            switch base {
            case .io: "I/O error"
            case .corruptSpill: "corrupt spill file"
            case .recordTooLarge: "record too large"
            case .invalidRow: "invalid row"
            case .invalidConfiguration: "invalid configuration"
            case .misuse: "misuse"
            case .compression: "compression failed"
            }
        }
    }

    public let code: Code
    /// What was being done, e.g. `read spill block` or `decode episodes row`.
    public let operation: String
    /// The file or table concerned, if any.
    public let subject: String
    public let detail: String

    public init(code: Code, operation: String, subject: String = "", detail: String) {
        self.code = code
        self.operation = operation
        self.subject = subject
        self.detail = detail
    }

    public var description: String {
        subject.isEmpty ? "\(operation): \(code): \(detail)" : "\(operation) (\(subject)): \(code): \(detail)"
    }
}
