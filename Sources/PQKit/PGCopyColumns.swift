/// The values of one binary COPY column for a block of rows, already in arrays (e.g. a column chunk decoded from a
/// columnar file). `PGCopyEncoder.appendBinaryRows` writes whole rows from such columns one column at a time, with
/// no call, enum or Swift value per field: what makes loading from Parquet cheaper than building rows first.
public struct PGCopyColumn: Sendable {
    public enum Values: Sendable {
        case int2([Int16])
        case int4([Int32])
        case int8([Int64])
        case float8([Double])
        case bool([Bool])
        /// Text or varchar: value `i` is `bytes[offsets[i]..<offsets[i + 1]]`. The bytes go out as they are: the
        /// caller makes sure they are UTF-8 (the server rejects the whole COPY otherwise).
        case text(bytes: [UInt8], offsets: [Int])
        /// The same text in every row (e.g. a partition key that a file stores only in its path).
        case repeatedText([UInt8])
        /// `date` from days since 1970-01-01, in `PGDate`'s years 1...9999 (outside them: an error, as `PGDate`).
        case date(daysSinceUnixEpoch: [Int32])
        /// `timestamptz` from microseconds since 1970-01-01 UTC.
        case timestamptz(microsecondsSinceUnixEpoch: [Int64])
    }

    public var values: Values
    /// `validity[i] == false` makes row `i` NULL (its slot in `values` is not read); nil: no row is NULL.
    public var validity: [Bool]?

    public init(_ values: Values, validity: [Bool]? = nil) {
        self.values = values
        self.validity = validity
    }
}

extension PGCopyEncoder {
    /// Days since 1970 that `PGCopyColumn.date` accepts: 0001-01-01 ... 9999-12-31, as `PGDate`.
    public static let encodableDays =
        PGCalendar.days(year: 1, month: 1, day: 1)...PGCalendar.days(year: 9999, month: 12, day: 31)
    /// Microseconds since 1970 that binary `timestamptz` accepts (PostgreSQL counts from 2000 in an int8).
    public static let encodableBinaryMicroseconds = (Int64.min + PGCalendar.postgresEpochMicroseconds)...Int64.max

    /// Appends rows `rows` of `columns` (field `k` of each row from `columns[k]`) as binary COPY rows, exactly the
    /// bytes `beginRow`, one call per field and `endRow` would write. Binary format only, between rows.
    ///
    /// Two passes: the first checks every column (it covers the rows, offsets are ordered, dates and timestamps are
    /// in range) and sizes each row, the second writes each column into its place in every row. On error nothing is
    /// appended.
    public mutating func appendBinaryRows(_ columns: [PGCopyColumn], rows: Range<Int>) throws(PGError) {
        guard format == .binary else { throw encodingError("appendBinaryRows writes binary COPY only") }
        guard expectedFields < 0 else { throw encodingError("appendBinaryRows called inside a row; call endRow first") }
        guard columns.count <= Int(Int16.max) else {
            throw encodingError("a COPY row holds 0...\(Int16.max) fields, not \(columns.count)")
        }
        guard rows.lowerBound >= 0 else { throw encodingError("row range \(rows) starts below 0") }
        let count = rows.count
        guard count > 0 else { return }
        let first = rows.lowerBound

        // Pass 1: check and size. `fixedBytes` is what every row takes; `extraBytes[k]` what row k adds.
        var fixedBytes = 2 + 4 * columns.count
        var extraBytes = [Int](repeating: 0, count: count)
        for (index, column) in columns.enumerated() {
            func failure(_ detail: String) -> PGError { encodingError("column \(index): \(detail)") }
            func covers(_ valueCount: Int) throws(PGError) {
                guard valueCount >= rows.upperBound else {
                    throw failure("\(valueCount) values for rows \(rows.lowerBound)..<\(rows.upperBound)")
                }
            }
            if let validity = column.validity { try covers(validity.count) }
            let validity = column.validity
            func isValid(_ row: Int) -> Bool { validity?[row] ?? true }
            var width = 0
            switch column.values {
            case .int2(let values):
                try covers(values.count)
                width = 2
            case .int4(let values):
                try covers(values.count)
                width = 4
            case .int8(let values):
                try covers(values.count)
                width = 8
            case .float8(let values):
                try covers(values.count)
                width = 8
            case .bool(let values):
                try covers(values.count)
                width = 1
            case .repeatedText(let text):
                guard text.count <= Int(Int32.max) else { throw failure("text of \(text.count) bytes") }
                width = text.count
            case .date(let days):
                try covers(days.count)
                for row in rows where isValid(row) && !Self.encodableDays.contains(Int(days[row])) {
                    throw failure("date \(days[row]) days since 1970 is outside years 1...9999")
                }
                width = 4
            case .timestamptz(let micros):
                try covers(micros.count)
                for row in rows where isValid(row) && !Self.encodableBinaryMicroseconds.contains(micros[row]) {
                    throw failure("timestamp \(micros[row]) µs since 1970 overflows int8")
                }
                width = 8
            case .text(let bytes, let offsets):
                guard offsets.count > rows.upperBound else {
                    throw failure("\(offsets.count) offsets for rows \(rows.lowerBound)..<\(rows.upperBound)")
                }
                guard offsets[first] >= 0, offsets[rows.upperBound] <= bytes.count else {
                    throw failure(
                        "offsets \(offsets[first])...\(offsets[rows.upperBound]) outside \(bytes.count) bytes")
                }
                for row in rows {
                    let length = offsets[row + 1] - offsets[row]
                    guard length >= 0, length <= Int(Int32.max) else {
                        throw failure("row \(row) has a text of \(length) bytes")
                    }
                    if isValid(row) { extraBytes[row - first] += length }
                }
                continue
            }
            if validity == nil {
                fixedBytes += width
            } else {
                for row in rows where isValid(row) { extraBytes[row - first] += width }
            }
        }

        // Pass 2: place every row, then write the columns one after another.
        var positions = [Int](repeating: 0, count: count)
        var total = 0
        let start = bytes.count
        for k in 0..<count {
            positions[k] = start + total
            total += fixedBytes + extraBytes[k]
        }
        bytes.append(contentsOf: repeatElement(0, count: total))
        let fieldCount = Int16(columns.count).bigEndian
        bytes.withUnsafeMutableBytes { out in
            positions.withUnsafeMutableBufferPointer { positions in
                let base = out.baseAddress!
                for k in 0..<count {
                    base.storeBytes(of: fieldCount, toByteOffset: positions[k], as: Int16.self)
                    positions[k] += 2
                }
                for column in columns {
                    let writer = ColumnWriter(base: base, positions: positions, first: first, validity: column.validity)
                    switch column.values {
                    case .int2(let values): writer.fixed(values) { $0.bigEndian }
                    case .int4(let values): writer.fixed(values) { $0.bigEndian }
                    case .int8(let values): writer.fixed(values) { $0.bigEndian }
                    case .float8(let values): writer.fixed(values) { $0.bitPattern.bigEndian }
                    case .bool(let values): writer.fixed(values) { $0 ? UInt8(1) : 0 }
                    case .date(let days):
                        writer.fixed(days) {
                            Int32(truncatingIfNeeded: Int($0) - PGCalendar.postgresEpochDays).bigEndian
                        }
                    case .timestamptz(let micros):
                        writer.fixed(micros) { ($0 &- PGCalendar.postgresEpochMicroseconds).bigEndian }
                    case .repeatedText(let text): writer.repeated(text)
                    case .text(let bytes, let offsets): writer.text(bytes, offsets)
                    }
                }
            }
        }
    }
}

/// Writes one column's field into every row of a block (`appendBinaryRows` pass 2), advancing each row's position.
private struct ColumnWriter {
    let base: UnsafeMutableRawPointer
    let positions: UnsafeMutableBufferPointer<Int>
    let first: Int
    let validity: [Bool]?
    static let nullLength = Int32(-1).bigEndian

    @inline(__always) func fixed<Value, Stored: FixedWidthInteger>(
        _ values: [Value], _ encode: (Value) -> Stored
    ) {
        let length = Int32(MemoryLayout<Stored>.size).bigEndian
        values.withUnsafeBufferPointer { values in
            if let validity {
                for k in positions.indices {
                    let position = positions[k]
                    if validity[first + k] {
                        base.storeBytes(of: length, toByteOffset: position, as: Int32.self)
                        base.storeBytes(of: encode(values[first + k]), toByteOffset: position + 4, as: Stored.self)
                        positions[k] = position + 4 + MemoryLayout<Stored>.size
                    } else {
                        base.storeBytes(of: Self.nullLength, toByteOffset: position, as: Int32.self)
                        positions[k] = position + 4
                    }
                }
            } else {
                for k in positions.indices {
                    let position = positions[k]
                    base.storeBytes(of: length, toByteOffset: position, as: Int32.self)
                    base.storeBytes(of: encode(values[first + k]), toByteOffset: position + 4, as: Stored.self)
                    positions[k] = position + 4 + MemoryLayout<Stored>.size
                }
            }
        }
    }

    func repeated(_ text: [UInt8]) {
        let length = Int32(text.count).bigEndian
        text.withUnsafeBytes { text in
            for k in positions.indices {
                let position = positions[k]
                if validity?[first + k] ?? true {
                    base.storeBytes(of: length, toByteOffset: position, as: Int32.self)
                    if let source = text.baseAddress {
                        (base + position + 4).copyMemory(from: source, byteCount: text.count)
                    }
                    positions[k] = position + 4 + text.count
                } else {
                    base.storeBytes(of: Self.nullLength, toByteOffset: position, as: Int32.self)
                    positions[k] = position + 4
                }
            }
        }
    }

    func text(_ bytes: [UInt8], _ offsets: [Int]) {
        bytes.withUnsafeBytes { bytes in
            offsets.withUnsafeBufferPointer { offsets in
                for k in positions.indices {
                    let position = positions[k]
                    let row = first + k
                    if validity?[row] ?? true {
                        let start = offsets[row]
                        let length = offsets[row + 1] - start
                        base.storeBytes(
                            of: Int32(truncatingIfNeeded: length).bigEndian, toByteOffset: position, as: Int32.self)
                        if length > 0 {
                            (base + position + 4).copyMemory(from: bytes.baseAddress! + start, byteCount: length)
                        }
                        positions[k] = position + 4 + length
                    } else {
                        base.storeBytes(of: Self.nullLength, toByteOffset: position, as: Int32.self)
                        positions[k] = position + 4
                    }
                }
            }
        }
    }
}
