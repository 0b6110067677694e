import Foundation
import ParquetKit
import Testing

/// Deterministic random numbers for property tests and fuzzing.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A fresh directory under the system temp dir, removed by `cleanup()`.
struct TemporaryDirectory {
    let path: String
    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("parquetkit-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    /// Set PARQUETKIT_KEEP_FILES=1 to keep the files for inspection after a failure.
    func cleanup() {
        if ProcessInfo.processInfo.environment["PARQUETKIT_KEEP_FILES"] == nil {
            try? FileManager.default.removeItem(atPath: path)
        }
    }
    func file(_ name: String) -> String { path + "/" + name }
}

/// The checker's string form of a value: ints exactly, doubles as Python repr (compared numerically), strings raw.
func token(_ v: ParquetValue) -> String? {
    switch v {
    case .null: nil
    case .boolean(let b): b ? "true" : "false"
    case .int32(let x), .date(let x): String(x)
    case .int64(let x), .timestamp(let x): String(x)
    case .double(let d): d.isNaN ? "nan" : (d.isInfinite ? (d < 0 ? "-inf" : "inf") : "\(d)")
    case .string(let s): s
    }
}

func tokens(_ batch: ColumnBatch, _ schema: ParquetSchema) -> [[String?]] {
    zip(batch.columns, schema.columns).map { values, column in
        (0..<values.count).map { token(values.value(at: $0, as: column.type)) }
    }
}

/// Concatenates batches column-wise into token lists.
func tokens(_ batches: [ColumnBatch], _ schema: ParquetSchema) -> [[String?]] {
    var result = Array(repeating: [String?](), count: schema.columns.count)
    for b in batches {
        for (i, col) in tokens(b, schema).enumerated() { result[i] += col }
    }
    return result
}

/// Compares one value token, doubles numerically (NaN equals NaN; -0.0 differs from 0.0).
func sameToken(_ a: String?, _ b: String?, double: Bool) -> Bool {
    guard let a, let b else { return a == nil && b == nil }
    if double {
        guard let x = Double(a), let y = Double(b) else { return false }
        if x.isNaN || y.isNaN { return x.isNaN && y.isNaN }
        return x.bitPattern == y.bitPattern
    }
    return a == b
}

/// Records a mismatch per column (first differing row), so a failure says exactly where.
func expectSameColumns(
    _ actual: [[String?]], _ expected: [[String?]], schema: ParquetSchema, _ context: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(actual.count == expected.count, "\(context): column count", sourceLocation: sourceLocation)
    for (i, column) in schema.columns.enumerated() where i < actual.count && i < expected.count {
        let a = actual[i]
        let e = expected[i]
        guard a.count == e.count else {
            Issue.record("\(context): column \(column.name) has \(a.count) rows, expected \(e.count)", sourceLocation: sourceLocation)
            continue
        }
        if let row = (0..<a.count).first(where: { !sameToken(a[$0], e[$0], double: column.type == .double) }) {
            Issue.record(
                "\(context): column \(column.name) row \(row): got \(a[row] ?? "null"), expected \(e[row] ?? "null")",
                sourceLocation: sourceLocation)
        }
    }
}

func readAll(_ reader: ParquetReader, columns: [String]? = nil) throws -> [ColumnBatch] {
    try (0..<reader.rowGroupCount).map { try reader.readRowGroup($0, columns: columns) }
}

extension Array where Element == Any {
    subscript(dict i: Int) -> [String: Any] { self[i] as! [String: Any] }
}

/// JSON columns of string-or-null tokens (JSON null arrives as NSNull).
func tokenColumns(_ any: Any?) -> [[String?]] {
    guard let columns = any as? [Any] else { return [] }
    return columns.map { column in ((column as? [Any]) ?? []).map { $0 as? String } }
}
