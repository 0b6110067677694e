import PQKit
import ParquetKit
import ReducerCore

// The columnar load of processed Parquet files: each slice of a row group is checked, fingerprinted and encoded as
// binary COPY rows straight from its decoded column arrays, never built into row structs. It produces the same
// rows, fingerprint and errors for bad rows as reading rows (`ProcessedFileReader`) into `SliceEncoder`.

/// What the columnar load needs to know of a row type beyond `WarehouseRow` and `ParquetRow`.
protocol ColumnarLoadRow: WarehouseRow, ParquetRow {
    /// The fields of `encode(to:)`, in its order: the load fingerprint hashes that encoding of every row.
    static var encodedFields: [EncodedField] { get }
    /// Row `index` of `columns` as a value: only for the rows `firstSuspectRow` flags, so that `validate()` decides
    /// and fails with its own error, and for the message of a row outside the slice.
    static func row(at index: Int, of columns: ProcessedColumns) -> Self
}

/// One field of a row's reducer encoding (`RowWriter`): its column and how `encode(to:)` writes it.
struct EncodedField {
    enum Kind {
        /// Int32 little-endian UTF-8 length, then the bytes.
        case string
        /// 8 bytes little-endian (integers and timestamps).
        case int64
        /// The bit pattern's 8 bytes little-endian.
        case double
        /// Days since 1970, Int32 little-endian.
        case day
        /// One byte 0 or 1.
        case bool
        /// The value's low byte (`UInt8(truncatingIfNeeded:)`, the title's release day).
        case byte
    }

    let column: String
    let kind: Kind
    /// Written as a tag byte (0 = nil), then the value when present.
    let optional: Bool

    init(_ column: String, _ kind: Kind, optional: Bool = false) {
        self.column = column
        self.kind = kind
        self.optional = optional
    }
}

/// Rows `0..<rowCount` of one slice of a processed file, columns in `Row.parquetColumns` order (`platform` filled in
/// from the partition path when the file has no such column). After `ProcessedSliceEncoder.check`, every column has
/// its type's canonical storage and strings are well-formed UTF-8.
struct ProcessedColumns {
    var batch: ColumnBatch
    /// Position of each column in `batch`, by name.
    let positions: [String: Int]
    /// The file, for errors.
    let source: String
    let rowGroup: Int
    /// The index of row 0 in its row group.
    let firstRow: Int

    var rowCount: Int { batch.rowCount }

    func values(_ name: String) -> ColumnValues { batch.columns[positions[name]!] }

    func string(_ name: String, _ row: Int) -> String {
        guard case .byteArray(let values) = values(name).storage else { preconditionFailure("\(name) is not text") }
        return values.string(at: row)
    }
    func optionalString(_ name: String, _ row: Int) -> String? {
        values(name).isNull(row) ? nil : string(name, row)
    }
    func int64(_ name: String, _ row: Int) -> Int64 {
        switch values(name).storage {
        case .int64(let values): values[row]
        case .int32(let values): Int64(values[row])
        default: preconditionFailure("\(name) is not an integer column")
        }
    }
    func optionalInt64(_ name: String, _ row: Int) -> Int64? {
        values(name).isNull(row) ? nil : int64(name, row)
    }
    func optionalDouble(_ name: String, _ row: Int) -> Double? {
        let column = values(name)
        guard case .double(let values) = column.storage else { preconditionFailure("\(name) is not a double column") }
        return column.isNull(row) ? nil : values[row]
    }
    func bool(_ name: String, _ row: Int) -> Bool {
        guard case .boolean(let values) = values(name).storage else { preconditionFailure("\(name) is not boolean") }
        return values[row]
    }
    func day(_ name: String, _ row: Int) -> CalendarDay {
        guard case .int32(let values) = values(name).storage else { preconditionFailure("\(name) is not a date") }
        return CalendarDay(daysSinceEpoch: values[row])
    }
    func optionalDay(_ name: String, _ row: Int) -> CalendarDay? {
        values(name).isNull(row) ? nil : day(name, row)
    }
}

/// Reads one processed Parquet file in slices of at most `sliceRows` rows (`ParquetReader.readRowGroup(_:slicesOf:)`:
/// one row group's compressed chunks and one slice decoded at a time). Blocking I/O: call it on a dedicated thread.
final class ProcessedColumnReader<Row: ParquetRow> {
    let path: String
    private let reader: ParquetReader
    /// The file's columns to read, in `Row.parquetColumns` order (all but `platform` when the path holds it).
    private let projection: [String]
    private let platform: [UInt8]?
    private let platformPosition: Int?
    let positions: [String: Int]
    /// The file's type of each column, in `Row.parquetColumns` order (nil: filled in from the path).
    let fileTypes: [ParquetType?]
    /// Columns `Row` needs that the file lacks (a file without rows loads anyway, as on the row path).
    let missingColumns: [String]

    /// `platform` fills in that column when the file lacks it (a `processed/…/platform=P/` file).
    init(path: String, platform: String?, options: ParquetReaderOptions = ParquetReaderOptions()) throws {
        self.path = path
        reader = try ParquetReader(path: path, options: options)
        let schema = reader.schema
        var positions: [String: Int] = [:]
        var projection: [String] = []
        var fileTypes: [ParquetType?] = []
        var missing: [String] = []
        var platformPosition: Int?
        for (position, column) in Row.parquetColumns.enumerated() {
            positions[column.name] = position
            if let index = schema.index(of: column.name) {
                projection.append(column.name)
                fileTypes.append(schema.columns[index].type)
            } else if column.name == "platform", platform != nil {
                platformPosition = position
                fileTypes.append(nil)
            } else {
                missing.append(column.name)
                fileTypes.append(nil)
            }
        }
        self.positions = positions
        self.projection = projection
        self.fileTypes = fileTypes
        self.platformPosition = platformPosition
        self.platform = platformPosition == nil ? nil : Array((platform ?? "").utf8)
        missingColumns = missing
    }

    /// Calls `body` with each slice of every row group, in file order.
    func forEachSlice(rows sliceRows: Int, _ body: (ProcessedColumns) throws -> Void) throws {
        if let missing = missingColumns.first {
            guard reader.rowCount == 0 else {
                throw ReducerError(
                    code: .invalidRow, operation: "read \(Row.table) row", subject: path,
                    detail: "column \(missing): missing from the file")
            }
            return
        }
        var filler: ColumnValues?
        for group in 0..<reader.rowGroupCount where reader.rowCount(ofRowGroup: group) > 0 {
            var firstRow = 0
            try reader.readRowGroup(group, columns: projection, slicesOf: sliceRows) { batch, _ in
                var columns = batch.columns
                if let platformPosition, let platform {
                    if filler?.count != batch.rowCount { filler = Self.repeated(platform, batch.rowCount) }
                    columns.insert(filler!, at: platformPosition)
                }
                try body(
                    ProcessedColumns(
                        batch: ColumnBatch(columns), positions: positions, source: path, rowGroup: group,
                        firstRow: firstRow))
                firstRow += batch.rowCount
            }
        }
    }

    private static func repeated(_ value: [UInt8], _ count: Int) -> ColumnValues {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(value.count * count)
        for _ in 0..<count { bytes.append(contentsOf: value) }
        let offsets = (0...count).map { $0 * value.count }
        return ColumnValues(.byteArray(ByteArrayColumn(validatingBytes: bytes, offsets: offsets)!))
    }
}

/// `SliceEncoder` for column slices: checks each slice as the row path would (types, NULLs in required columns,
/// UTF-8, the slice's platform and day, `validate()` via `firstSuspectRow`), fingerprints the rows with the same
/// `<count>:<hex>` and appends them as binary COPY rows (no header).
struct ProcessedSliceEncoder<Row: ColumnarLoadRow> {
    let platform: String
    let snapshotDate: CalendarDay
    private var encoder = PGCopyEncoder(
        format: .binary, reservingCapacity: PGCopyWriter.batchBytes + 4096, header: false)
    private var sum: UInt64 = 0
    private(set) var rows = 0
    private(set) var pendingRows = 0
    /// FNV-1a state after the platform field, with which every row's encoding starts.
    private let platformState: UInt64
    private var states: [UInt64] = []

    init(platform: String, snapshotDate: CalendarDay) {
        self.platform = platform
        self.snapshotDate = snapshotDate
        precondition(Row.encodedFields.first?.column == "platform", "\(Row.table): encoding starts with the platform")
        var prefix = RowWriter()
        prefix.write(platform)
        var hash = FNV1a64()
        hash.combine(prefix.bytes)
        platformState = hash.value
    }

    var checksum: String { "\(rows):\(FNV1a64.hexString(sum))" }
    var pendingBytes: Int { encoder.bytes.count }

    /// The rows encoded since the last call.
    mutating func takeBatch() -> EncodedRows {
        defer { pendingRows = 0 }
        return EncodedRows(bytes: encoder.takeBytes(), rows: pendingRows)
    }

    /// Checks, fingerprints and encodes every row of `columns`; on error nothing of it is kept.
    mutating func append(_ columns: ProcessedColumns, fileTypes: [ParquetType?]) throws {
        var columns = columns
        try check(&columns, fileTypes: fileTypes)
        let count = columns.rowCount
        do {
            try encoder.appendBinaryRows(copyColumns(columns), rows: 0..<count)
        } catch {
            throw ReducerError(
                code: .invalidRow, operation: "read \(Row.table) row", subject: columns.source,
                detail: "row group \(columns.rowGroup), rows from \(columns.firstRow): \(error)")
        }
        fingerprint(columns)
        rows += count
        pendingRows += count
    }

    // MARK: - Checks

    private func failure(_ columns: ProcessedColumns, _ column: String, row: Int?, _ detail: String) -> ReducerError {
        let place = row.map { " (row \(columns.firstRow + $0) of row group \(columns.rowGroup))" } ?? ""
        return ReducerError(
            code: .invalidRow, operation: "read \(Row.table) row", subject: columns.source,
            detail: "column \(column): \(detail)\(place)")
    }

    /// Everything `Row(parquet:)`, `SliceEncoder.append` and the encoders would refuse, and the storage made
    /// canonical for `fingerprint` and `copyColumns`.
    private func check(_ columns: inout ProcessedColumns, fileTypes: [ParquetType?]) throws {
        let count = columns.rowCount
        for (position, expected) in Row.parquetColumns.enumerated() {
            var values = columns.batch.columns[position]
            if let fileType = fileTypes[position] {
                let accepted =
                    switch expected.type {
                    case .int64, .int32: fileType == .int64 || fileType == .int32
                    default: fileType == expected.type
                    }
                guard accepted else {
                    throw failure(
                        columns, expected.name, row: nil, "expected \(expected.type), the file holds \(fileType)")
                }
            }
            if !expected.nullable, let validity = values.validity, let row = validity.firstIndex(of: false) {
                throw failure(columns, expected.name, row: row, "expected a non-null \(expected.type)")
            }
            if case .byteArray(let text) = values.storage, let repaired = UTF8Repair.repaired(text) {
                // The row path decodes with `String(decoding:)`, which replaces malformed sequences with U+FFFD.
                values.storage = .byteArray(repaired)
                columns.batch.columns[position] = values
            }
            if case .date = expected.type, case .int32(let days) = values.storage {
                for row in 0..<count where !values.isNull(row) && !PGCopyEncoder.encodableDays.contains(Int(days[row]))
                {
                    throw failure(
                        columns, expected.name, row: row, "date \(days[row]) days since 1970 is outside years 1...9999")
                }
            }
            if case .timestamp = expected.type, case .int64(let micros) = values.storage {
                let encodable = PGCopyEncoder.encodableBinaryMicroseconds
                for row in 0..<count where !values.isNull(row) && !encodable.contains(micros[row]) {
                    throw failure(
                        columns, expected.name, row: row, "timestamp \(micros[row]) µs since 1970 overflows int8")
                }
            }
        }
        try checkSlice(columns)
        var from = 0
        while from < count, let suspect = Row.firstSuspectRow(in: columns.batch, rows: from..<count) {
            try Row.row(at: suspect, of: columns).validate()
            from = suspect + 1
        }
        // Canonical integer widths, now that validate() has seen the values (a release day in 0...7 fits Int32).
        for (position, expected) in Row.parquetColumns.enumerated() {
            let values = columns.batch.columns[position]
            switch (expected.type, values.storage) {
            case (.int64, .int32(let narrow)):
                columns.batch.columns[position] = ColumnValues(
                    .int64(narrow.map(Int64.init)), validity: values.validity)
            case (.int32, .int64(let wide)):
                columns.batch.columns[position] = ColumnValues(
                    .int32(wide.map { Int32(truncatingIfNeeded: $0) }), validity: values.validity)
            default: break
            }
        }
    }

    /// Every row's platform and day are the slice's (`SliceEncoder` refuses others with `rowOutsideSlice`).
    private func checkSlice(_ columns: ProcessedColumns) throws {
        let count = columns.rowCount
        var outside: Int?
        if case .int32(let days) = columns.values("snapshot_date").storage {
            outside = (0..<count).first { days[$0] != snapshotDate.daysSinceEpoch }
        }
        if case .byteArray(let platforms) = columns.values("platform").storage {
            let expected = Array(platform.utf8)
            if let row = (0..<count).first(where: { platforms.bytes(at: $0).elementsEqual(expected) == false }) {
                outside = min(outside ?? row, row)
            }
        }
        guard let outside else { return }
        let row = Row.row(at: outside, of: columns)
        throw WarehouseError(
            code: .rowOutsideSlice, operation: "load \(Row.table)", subject: "\(platform)/\(snapshotDate)",
            detail: "row of \(row.platform)/\(row.snapshotDate) handed to this slice (\(columns.source))")
    }

    // MARK: - Fingerprint

    /// Adds each row's FNV-1a-64 of its `encode(to:)` bytes to `sum`, a field at a time over all rows: the rows'
    /// multiply chains are independent, so the processor overlaps them.
    private mutating func fingerprint(_ columns: ProcessedColumns) {
        let count = columns.rowCount
        states.removeAll(keepingCapacity: true)
        states.append(contentsOf: repeatElement(platformState, count: count))
        states.withUnsafeMutableBufferPointer { states in
            for field in Row.encodedFields.dropFirst() {
                let values = columns.values(field.column)
                let validity = field.optional ? values.validity : nil
                switch (field.kind, values.storage) {
                case (.string, .byteArray(let text)):
                    text.bytes.withUnsafeBufferPointer { bytes in
                        text.offsets.withUnsafeBufferPointer { offsets in
                            for row in 0..<count {
                                var h = states[row]
                                if field.optional {
                                    guard validity?[row] ?? true else {
                                        states[row] = fnv(h, 0)
                                        continue
                                    }
                                    h = fnv(h, 1)
                                }
                                let start = offsets[row]
                                let end = offsets[row + 1]
                                h = fnv(h, UInt32(truncatingIfNeeded: end - start))
                                for index in start..<end { h = fnv(h, bytes[index]) }
                                states[row] = h
                            }
                        }
                    }
                case (.int64, .int64(let numbers)):
                    hashFixed(states, numbers, validity, field.optional) { UInt64(bitPattern: $0) }
                case (.double, .double(let numbers)):
                    hashFixed(states, numbers, validity, field.optional) { $0.bitPattern }
                case (.day, .int32(let days)):
                    hashFixed(states, days, validity, field.optional) { UInt32(bitPattern: $0) }
                case (.byte, .int32(let numbers)):
                    hashFixed(states, numbers, validity, field.optional) { UInt8(truncatingIfNeeded: $0) }
                case (.bool, .boolean(let flags)):
                    hashFixed(states, flags, validity, field.optional) { $0 ? UInt8(1) : 0 }
                default:
                    preconditionFailure("\(Row.table).\(field.column): \(field.kind) from other storage")
                }
            }
            for row in 0..<count { sum = sum &+ states[row] }
        }
    }

    // MARK: - COPY

    /// The COPY fields in `Row.columns` order, from the canonical columns.
    private func copyColumns(_ columns: ProcessedColumns) -> [PGCopyColumn] {
        Row.columns.map { name in
            let position = columns.positions[name]!
            let values = columns.batch.columns[position]
            let validity = Row.parquetColumns[position].nullable ? values.validity : nil
            if name == "platform" { return PGCopyColumn(.repeatedText(Array(platform.utf8))) }
            switch (Row.parquetColumns[position].type, values.storage) {
            case (.string, .byteArray(let text)):
                return PGCopyColumn(.text(bytes: text.bytes, offsets: text.offsets), validity: validity)
            case (.int64, .int64(let numbers)): return PGCopyColumn(.int8(numbers), validity: validity)
            case (.int32, .int32(let numbers)): return PGCopyColumn(.int4(numbers), validity: validity)
            case (.double, .double(let numbers)): return PGCopyColumn(.float8(numbers), validity: validity)
            case (.boolean, .boolean(let flags)): return PGCopyColumn(.bool(flags), validity: validity)
            case (.date, .int32(let days)): return PGCopyColumn(.date(daysSinceUnixEpoch: days), validity: validity)
            case (.timestamp, .int64(let micros)):
                return PGCopyColumn(.timestamptz(microsecondsSinceUnixEpoch: micros), validity: validity)
            default: preconditionFailure("\(Row.table).\(name): storage not made canonical")
            }
        }
    }
}

private let fnvPrime: UInt64 = 0x0000_0100_0000_01B3

@inline(__always) private func fnv(_ state: UInt64, _ byte: UInt8) -> UInt64 { (state ^ UInt64(byte)) &* fnvPrime }

/// The bytes of `value` in little-endian order (`RowWriter`'s), hashed.
@inline(__always) private func fnv<T: FixedWidthInteger & UnsignedInteger>(_ state: UInt64, _ value: T) -> UInt64 {
    var state = state
    var rest = value
    for _ in 0..<MemoryLayout<T>.size {
        state = (state ^ UInt64(truncatingIfNeeded: rest & 0xFF)) &* fnvPrime
        rest = rest >> 8
    }
    return state
}

@inline(__always) private func hashFixed<Value, Bits: FixedWidthInteger & UnsignedInteger>(
    _ states: UnsafeMutableBufferPointer<UInt64>, _ values: [Value], _ validity: [Bool]?, _ optional: Bool,
    _ bits: (Value) -> Bits
) {
    values.withUnsafeBufferPointer { values in
        if optional {
            for row in states.indices {
                if validity?[row] ?? true {
                    states[row] = fnv(fnv(states[row], UInt8(1)), bits(values[row]))
                } else {
                    states[row] = fnv(states[row], UInt8(0))
                }
            }
        } else {
            for row in states.indices { states[row] = fnv(states[row], bits(values[row])) }
        }
    }
}

// MARK: - Row types

extension TitleRow: ColumnarLoadRow {
    static let encodedFields = [
        EncodedField("platform", .string), EncodedField("id", .int64), EncodedField("title", .string),
        EncodedField("author", .string), EncodedField("views", .int64, optional: true),
        EncodedField("favorite_count", .int64, optional: true), EncodedField("image_url", .string),
        EncodedField("release_day", .byte), EncodedField("is_completed", .bool), EncodedField("restricted", .bool),
        EncodedField("age_rating", .string, optional: true), EncodedField("snapshot_date", .day),
        EncodedField("fetched_at", .int64),
    ]
    static func row(at i: Int, of c: ProcessedColumns) -> TitleRow {
        TitleRow(
            platform: c.string("platform", i), id: c.int64("id", i), title: c.string("title", i),
            author: c.string("author", i), views: c.optionalInt64("views", i),
            favoriteCount: c.optionalInt64("favorite_count", i), imageURL: c.string("image_url", i),
            releaseDay: Int(c.int64("release_day", i)), isCompleted: c.bool("is_completed", i),
            restricted: c.bool("restricted", i), ageRating: c.optionalString("age_rating", i),
            snapshotDate: c.day("snapshot_date", i), fetchedAt: c.int64("fetched_at", i))
    }
}

extension GenreRow: ColumnarLoadRow {
    static let encodedFields = [
        EncodedField("platform", .string), EncodedField("title_id", .int64), EncodedField("genre_name", .string),
        EncodedField("snapshot_date", .day), EncodedField("fetched_at", .int64),
    ]
    static func row(at i: Int, of c: ProcessedColumns) -> GenreRow {
        GenreRow(
            platform: c.string("platform", i), titleID: c.int64("title_id", i), genreName: c.string("genre_name", i),
            snapshotDate: c.day("snapshot_date", i), fetchedAt: c.int64("fetched_at", i))
    }
}

extension EpisodeRow: ColumnarLoadRow {
    static let encodedFields = [
        EncodedField("platform", .string), EncodedField("title_id", .int64), EncodedField("episode_id", .int64),
        EncodedField("no", .int64), EncodedField("title", .string), EncodedField("likes", .int64, optional: true),
        EncodedField("comments", .int64, optional: true), EncodedField("rating", .double, optional: true),
        EncodedField("image_url", .string), EncodedField("published_date", .day, optional: true),
        EncodedField("snapshot_date", .day), EncodedField("fetched_at", .int64),
        EncodedField("missing_reason", .string, optional: true),
    ]
    static func row(at i: Int, of c: ProcessedColumns) -> EpisodeRow {
        EpisodeRow(
            platform: c.string("platform", i), titleID: c.int64("title_id", i), episodeID: c.int64("episode_id", i),
            no: c.int64("no", i), title: c.string("title", i), likes: c.optionalInt64("likes", i),
            comments: c.optionalInt64("comments", i), rating: c.optionalDouble("rating", i),
            imageURL: c.string("image_url", i), publishedDate: c.optionalDay("published_date", i),
            snapshotDate: c.day("snapshot_date", i), fetchedAt: c.int64("fetched_at", i),
            missingReason: c.optionalString("missing_reason", i))
    }
}

extension CommentRow: ColumnarLoadRow {
    static let encodedFields = [
        EncodedField("platform", .string), EncodedField("title_id", .int64), EncodedField("episode_id", .int64),
        EncodedField("comment_id", .string), EncodedField("author", .string, optional: true),
        EncodedField("body", .string), EncodedField("likes", .int64, optional: true),
        EncodedField("created_at", .int64, optional: true), EncodedField("snapshot_date", .day),
        EncodedField("fetched_at", .int64),
    ]
    static func row(at i: Int, of c: ProcessedColumns) -> CommentRow {
        CommentRow(
            platform: c.string("platform", i), titleID: c.int64("title_id", i), episodeID: c.int64("episode_id", i),
            commentID: c.string("comment_id", i), author: c.optionalString("author", i), body: c.string("body", i),
            likes: c.optionalInt64("likes", i), createdAt: c.optionalInt64("created_at", i),
            snapshotDate: c.day("snapshot_date", i), fetchedAt: c.int64("fetched_at", i))
    }
}
