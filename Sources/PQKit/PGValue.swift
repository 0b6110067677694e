import Foundation

/// A query parameter. Each case is sent with its PostgreSQL type so the server never guesses from SQL text;
/// `.text` is sent as an untyped literal, so it can fill any column whose input function accepts the string.
public enum PGValue: Hashable, Sendable {
    case text(String)
    /// `int8`.
    case int(Int64)
    /// `float8`.
    case double(Double)
    case bool(Bool)
    /// `bytea`, sent in binary.
    case bytes([UInt8])
    case date(PGDate)
    /// `timestamptz`, to the microsecond.
    case timestamp(Date)
}

/// How one parameter travels in `PQexecParams`.
struct PGEncodedParameter {
    var bytes: [UInt8]
    var typeOID: UInt32
    var isBinary: Bool
}

extension PGValue {
    static let unknownOID: UInt32 = 0

    /// The wire form of this value; throws for a NUL byte in text (libpq would silently cut the string there).
    func encoded(index: Int) throws(PGError) -> PGEncodedParameter {
        switch self {
        case .text(let string):
            let bytes = Array(string.utf8)
            // memchr over the copy: the ledger's group commit sends megabytes of JSON, and `utf8.contains` went
            // byte by byte through the string's view (16 % of the coordinator's CPU while a large run was created).
            guard bytes.withUnsafeBufferPointer({ buffer in buffer.baseAddress.map { memchr($0, 0, buffer.count) == nil } ?? true }) else {
                throw PGError(
                    code: .invalidArgument, operation: "encode parameter $\(index + 1)",
                    message: "text contains a NUL byte, which PostgreSQL text cannot hold")
            }
            return PGEncodedParameter(bytes: bytes, typeOID: Self.unknownOID, isBinary: false)
        case .int(let value):
            return try textual(20, index) { $0.int8(value) }
        case .double(let value):
            return try textual(701, index) { $0.float8(value) }
        case .bool(let value):
            return try textual(16, index) { $0.bool(value) }
        case .bytes(let value):
            return PGEncodedParameter(bytes: value, typeOID: 17, isBinary: true)
        case .date(let value):
            return try textual(1082, index) { $0.date(value) }
        case .timestamp(let value):
            return try textual(1184, index) { (row: inout PGCopyEncoder) throws(PGError) in try row.timestamptz(value) }
        }
    }

    /// Reuses the COPY text encoder's number and date formatting (a one-field row without its newline).
    private func textual(
        _ oid: UInt32, _ index: Int, _ write: (inout PGCopyEncoder) throws(PGError) -> Void
    ) throws(PGError) -> PGEncodedParameter {
        var encoder = PGCopyEncoder(format: .text)
        try encoder.beginRow(fieldCount: 1)
        do { try write(&encoder) } catch {
            throw PGError(code: .invalidArgument, operation: "encode parameter $\(index + 1)", message: error.message)
        }
        return PGEncodedParameter(bytes: encoder.bytes, typeOID: oid, isBinary: false)
    }
}
