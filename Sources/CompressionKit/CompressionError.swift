/// A compression or decompression failure, with the codec and what went wrong.
public struct CompressionError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable { case corruptInput, outputTooLarge, sizeMismatch, codecFailure }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        /// The input is not a valid frame for the codec.
        public static let corruptInput = Code(.corruptInput)
        /// Decompressing would exceed the caller's output limit.
        public static let outputTooLarge = Code(.outputTooLarge)
        /// The decompressed size differs from the size the caller expected.
        public static let sizeMismatch = Code(.sizeMismatch)
        /// The library reported an internal error.
        public static let codecFailure = Code(.codecFailure)
        public var description: String {
            switch base {
            case .corruptInput: "corrupt input"
            case .outputTooLarge: "output too large"
            case .sizeMismatch: "size mismatch"
            case .codecFailure: "codec failure"
            }
        }
    }

    public let code: Code
    /// `snappy` or `zstd`.
    public let codec: String
    public let detail: String

    public init(code: Code, codec: String, detail: String) {
        self.code = code
        self.codec = codec
        self.detail = detail
    }

    public var description: String { "\(codec): \(code): \(detail)" }
}
