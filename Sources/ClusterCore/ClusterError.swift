/// A refused cluster operation: bad argument, unknown run or unit, or a state that does not allow it.
public struct ClusterError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable { case invalidArgument, unknownRun, unknownUnit, invalidState, conflict }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        /// A value outside its allowed range or charset.
        public static let invalidArgument = Code(.invalidArgument)
        /// No run with that id.
        public static let unknownRun = Code(.unknownRun)
        /// No unit with that id.
        public static let unknownUnit = Code(.unknownUnit)
        /// The unit or run is not in a state that allows the operation.
        public static let invalidState = Code(.invalidState)
        /// The same id exists with different content (e.g. a run id reused for another spec).
        public static let conflict = Code(.conflict)
        public var description: String {
            switch base {
            case .invalidArgument: "invalid argument"
            case .unknownRun: "unknown run"
            case .unknownUnit: "unknown unit"
            case .invalidState: "invalid state"
            case .conflict: "conflict"
            }
        }
    }

    public let code: Code
    /// The operation that failed, e.g. `createRun`.
    public let operation: String
    public let detail: String

    public init(code: Code, operation: String, detail: String) {
        self.code = code
        self.operation = operation
        self.detail = detail
    }

    public var description: String { "\(operation): \(code): \(detail)" }
}
