/// A Parquet failure: what went wrong (`code`), in which file (`path`, empty for in-memory data) and why (`detail`).
///
/// Every malformed input surfaces as one of these, never as a trap: the reader bounds every length by the bytes
/// that remain before it allocates.
public struct ParquetError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case notParquet, corrupt, unsupported, schemaMismatch, invalidArgument, io, compression
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        /// The bytes are not a Parquet file at all (no `PAR1` magic, or too short).
        public static let notParquet = Code(.notParquet)
        /// The file claims to be Parquet but its metadata or pages are inconsistent or truncated.
        public static let corrupt = Code(.corrupt)
        /// A valid Parquet feature this library does not implement (an encoding, codec, nesting, encryption).
        public static let unsupported = Code(.unsupported)
        /// Data handed to the writer does not fit the schema (type, nullability, column count, row count).
        public static let schemaMismatch = Code(.schemaMismatch)
        /// A caller-supplied argument is invalid (an unsafe unit id, an unknown column, a bad option).
        public static let invalidArgument = Code(.invalidArgument)
        /// The operating system refused a file operation; `detail` carries errno's text.
        public static let io = Code(.io)
        /// A page failed to compress or decompress.
        public static let compression = Code(.compression)

        public var description: String {
            switch base {
            case .notParquet: "not a parquet file"
            case .corrupt: "corrupt file"
            case .unsupported: "unsupported feature"
            case .schemaMismatch: "schema mismatch"
            case .invalidArgument: "invalid argument"
            case .io: "I/O error"
            case .compression: "compression error"
            }
        }
    }

    public let code: Code
    /// The file concerned, or an empty string for in-memory data.
    public let path: String
    public let detail: String

    public init(_ code: Code, path: String = "", _ detail: String) {
        self.code = code
        self.path = path
        self.detail = detail
    }

    /// The same error attributed to `path` (decoders work on bytes and learn the file name from their caller).
    func at(_ path: String) -> ParquetError { ParquetError(code, path: path, detail) }

    public var description: String {
        path.isEmpty ? "parquet: \(code): \(detail)" : "parquet: \(path): \(code): \(detail)"
    }
}

extension ParquetError {
    static func corrupt(_ detail: String) -> ParquetError { ParquetError(.corrupt, detail) }
    static func unsupported(_ detail: String) -> ParquetError { ParquetError(.unsupported, detail) }
}
