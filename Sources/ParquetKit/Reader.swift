import Dispatch
import Synchronization

/// Limits that keep a hostile file from making the reader allocate without bound.
public struct ParquetReaderOptions: Sendable {
    /// Largest footer accepted.
    public var maxFooterBytes: Int = 64 << 20
    /// Largest uncompressed page accepted.
    public var maxPageBytes: Int = 512 << 20
    /// Largest row group (in rows) accepted; RLE lets a few bytes claim billions of values.
    public var maxRowGroupRows: Int = 64 << 20
    /// Largest number of level entries in one column chunk (list elements count individually).
    public var maxChunkValues: Int = 128 << 20
    /// Decode a row group's columns on several cores (Dispatch worker threads); results are identical.
    public var parallelDecoding: Bool = true

    public init() {}
}

/// Min/max/null count of one column chunk, decoded to values of the column's type.
public struct ParquetColumnStatistics: Sendable, Hashable {
    public let nullCount: Int?
    public let min: ParquetValue?
    public let max: ParquetValue?
}

/// A row-group filter over column statistics. A row group is skipped only when its statistics prove that no
/// row can match; without statistics it is kept.
public indirect enum ParquetPredicate: Sendable, Hashable {
    /// `column == value`.
    case equals(String, ParquetValue)
    /// `lower <= column <= upper` (inclusive).
    case between(String, ParquetValue, ParquetValue)
    case and([ParquetPredicate])
    case or([ParquetPredicate])
}

/// Reads a Parquet file written by us, pyarrow or duckdb (flat schemas; PLAIN and dictionary encodings;
/// data pages v1 and v2; uncompressed, snappy and zstd). Anything malformed or unsupported is a
/// `ParquetError` naming the file.
///
/// Blocking I/O: use it from a dedicated thread, not the cooperative pool.
public final class ParquetReader {
    public let path: String
    public let schema: ParquetSchema
    public let options: ParquetReaderOptions
    /// The writer's `created_by`, e.g. `parquet-cpp-arrow version 26.0.1`.
    public let createdBy: String?
    let metadata: FileMetaData
    let layouts: [LeafLayout]
    private let source: Source
    private let footerStart: Int

    private enum Source {
        case file(RandomAccessFile)
        case memory([UInt8])

        var size: Int {
            switch self {
            case .file(let f): f.size
            case .memory(let b): b.count
            }
        }

        func read(offset: Int, count: Int) throws -> [UInt8] {
            switch self {
            case .file(let f): return try f.read(offset: offset, count: count)
            case .memory(let b):
                guard offset >= 0, count >= 0, offset <= b.count, count <= b.count - offset else {
                    throw ParquetError.corrupt("read of \(count) bytes at \(offset) is outside the \(b.count) bytes")
                }
                return Array(b[offset..<(offset + count)])
            }
        }
    }

    public convenience init(path: String, options: ParquetReaderOptions = ParquetReaderOptions()) throws {
        let file = try RandomAccessFile(path: path)
        try self.init(source: .file(file), path: path, options: options)
    }

    /// Reads a file held in memory; `name` is used in error messages.
    public convenience init(bytes: [UInt8], name: String = "<memory>", options: ParquetReaderOptions = ParquetReaderOptions()) throws {
        try self.init(source: .memory(bytes), path: name, options: options)
    }

    private init(source: Source, path: String, options: ParquetReaderOptions) throws {
        self.source = source
        self.path = path
        self.options = options
        do {
            let size = source.size
            guard size >= 12 else { throw ParquetError(.notParquet, "only \(size) bytes, too short for a parquet file") }
            let head = try source.read(offset: 0, count: 4)
            let tail = try source.read(offset: size - 8, count: 8)
            if tail[4...] == [0x50, 0x41, 0x52, 0x45][...] { throw ParquetError.unsupported("encrypted footer (PARE magic)") }
            guard head == Array("PAR1".utf8), tail[4...] == Array("PAR1".utf8)[...] else {
                throw ParquetError(.notParquet, "missing PAR1 magic at the start or end")
            }
            let footerLength = Int(UInt32(tail[0]) | UInt32(tail[1]) << 8 | UInt32(tail[2]) << 16 | UInt32(tail[3]) << 24)
            guard footerLength <= size - 12 else {
                throw ParquetError.corrupt("footer length \(footerLength) exceeds the file (\(size) bytes)")
            }
            guard footerLength <= options.maxFooterBytes else {
                throw ParquetError.corrupt("footer length \(footerLength) exceeds the limit \(options.maxFooterBytes)")
            }
            footerStart = size - 8 - footerLength
            let footer = try source.read(offset: footerStart, count: footerLength)
            metadata = try FileMetaData.decode(footer)
            (schema, layouts) = try ParquetSchema.from(metadata.schema)
            createdBy = metadata.createdBy
            try Self.validate(metadata, schema: schema, dataEnd: footerStart, options: options)
        } catch let error as ParquetError {
            throw error.path.isEmpty ? error.at(path) : error
        }
    }

    private static func validate(_ m: FileMetaData, schema: ParquetSchema, dataEnd: Int, options: ParquetReaderOptions) throws {
        guard m.numRows >= 0 else { throw ParquetError.corrupt("negative num_rows") }
        var total: Int64 = 0
        for (g, group) in m.rowGroups.enumerated() {
            guard group.numRows >= 0, group.numRows <= Int64(options.maxRowGroupRows) else {
                throw ParquetError.corrupt("row group \(g) declares \(group.numRows) rows (limit \(options.maxRowGroupRows))")
            }
            let (sum, overflow) = total.addingReportingOverflow(group.numRows)
            guard !overflow else { throw ParquetError.corrupt("row counts overflow") }
            total = sum
            guard group.columns.count == schema.columns.count else {
                throw ParquetError.corrupt("row group \(g) has \(group.columns.count) columns, schema has \(schema.columns.count)")
            }
            for (c, chunk) in group.columns.enumerated() {
                guard let meta = chunk.metaData else { throw ParquetError.corrupt("row group \(g) column \(c) has no metadata") }
                guard meta.type == schema.columns[c].type.physicalType else {
                    throw ParquetError.corrupt("row group \(g) column \(c): physical type \(meta.type) differs from the schema")
                }
                let isList = schema.columns[c].type.isList
                guard meta.numValues <= Int64(options.maxChunkValues),
                    isList ? meta.numValues >= group.numRows : meta.numValues == group.numRows
                else {
                    throw ParquetError.corrupt("row group \(g) column \(c): \(meta.numValues) values for \(group.numRows) rows")
                }
                let (start, length) = try chunkRange(meta)
                guard start >= 4, length >= 0, start <= dataEnd, length <= dataEnd - start else {
                    throw ParquetError.corrupt("row group \(g) column \(c): chunk [\(start), +\(length)) lies outside the data")
                }
            }
        }
        guard total == m.numRows else { throw ParquetError.corrupt("row groups hold \(total) rows, footer says \(m.numRows)") }
    }

    /// Where a chunk starts: the dictionary page offset when set and smaller (arrow's rule), else the first data page.
    private static func chunkRange(_ meta: ColumnMetaData) throws -> (Int, Int) {
        var start = meta.dataPageOffset
        if let d = meta.dictionaryPageOffset, d > 0, d < start { start = d }
        guard start >= 0, start <= Int64(Int.max / 2), meta.totalCompressedSize >= 0,
            meta.totalCompressedSize <= Int64(Int.max / 2)
        else { throw ParquetError.corrupt("chunk offset or size out of range") }
        return (Int(start), Int(meta.totalCompressedSize))
    }

    public var rowCount: Int { Int(metadata.numRows) }
    public var rowGroupCount: Int { metadata.rowGroups.count }
    public func rowCount(ofRowGroup g: Int) -> Int { Int(metadata.rowGroups[g].numRows) }

    /// The encodings listed for a column chunk, by name (e.g. `["PLAIN", "RLE", "RLE_DICTIONARY"]`).
    public func encodings(rowGroup g: Int, column c: Int) -> [String] {
        (metadata.rowGroups[g].columns[c].metaData?.encodings ?? []).map(Encoding.name)
    }

    public func statistics(rowGroup g: Int, column c: Int) -> ParquetColumnStatistics? {
        guard let stats = metadata.rowGroups[g].columns[c].metaData?.statistics else { return nil }
        let type = schema.columns[c].type.valueType
        // Legacy min/max are only trustworthy for signed numeric types (their sort order never changed).
        let legacyOK = type != .string && type != .boolean
        let minBytes = stats.minValue ?? (legacyOK ? stats.legacyMin : nil)
        let maxBytes = stats.maxValue ?? (legacyOK ? stats.legacyMax : nil)
        return ParquetColumnStatistics(
            nullCount: stats.nullCount.map { Int($0) },
            min: minBytes.flatMap { Self.decodeStatistic($0, type) },
            max: maxBytes.flatMap { Self.decodeStatistic($0, type) })
    }

    static func decodeStatistic(_ b: [UInt8], _ type: ParquetType) -> ParquetValue? {
        func le<T: FixedWidthInteger>(_: T.Type) -> T? {
            guard b.count == MemoryLayout<T>.size else { return nil }
            return b.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(as: T.self)) }
        }
        switch type {
        case .boolean: return b.count == 1 ? .boolean(b[0] != 0) : nil
        case .int32: return le(Int32.self).map { .int32($0) }
        case .date: return le(Int32.self).map { .date($0) }
        case .int64: return le(Int64.self).map { .int64($0) }
        case .timestamp: return le(Int64.self).map { .timestamp($0) }
        case .double: return le(UInt64.self).map { .double(Double(bitPattern: $0)) }
        case .string: return .string(String(decoding: b, as: UTF8.self))
        case .list: return nil
        }
    }

    /// Indices of the row groups whose statistics do not rule out `predicate`.
    public func rowGroups(matching predicate: ParquetPredicate) throws -> [Int] {
        try (0..<rowGroupCount).filter { try mayMatch(predicate, rowGroup: $0) }
    }

    private func mayMatch(_ p: ParquetPredicate, rowGroup g: Int) throws -> Bool {
        switch p {
        case .and(let ps): return try ps.allSatisfy { try mayMatch($0, rowGroup: g) }
        case .or(let ps): return try ps.contains { try mayMatch($0, rowGroup: g) }
        case .equals(let name, let value):
            return try mayOverlap(name, value, value, rowGroup: g)
        case .between(let name, let lo, let hi):
            return try mayOverlap(name, lo, hi, rowGroup: g)
        }
    }

    private func mayOverlap(_ name: String, _ lo: ParquetValue, _ hi: ParquetValue, rowGroup g: Int) throws -> Bool {
        guard let c = schema.index(of: name) else {
            throw ParquetError(.invalidArgument, path: path, "predicate names unknown column \"\(name)\"")
        }
        let groupRows = rowCount(ofRowGroup: g)
        guard let stats = statistics(rowGroup: g, column: c) else { return true }
        if case .null = lo {
            return stats.nullCount.map { $0 > 0 } ?? true
        }
        if let nulls = stats.nullCount, nulls == groupRows, groupRows > 0 { return false }  // all null
        guard let min = stats.min, let max = stats.max else { return true }
        guard let belowMin = ParquetValue.compare(hi, min), let aboveMax = ParquetValue.compare(lo, max) else {
            return true  // incomparable (type mismatch or NaN): cannot prune
        }
        return !(belowMin < 0 || aboveMax > 0)
    }

    /// Reads one row group. `columns` selects by name (projection); nil reads all, in schema order.
    public func readRowGroup(_ g: Int, columns: [String]? = nil) throws -> ColumnBatch {
        guard g >= 0, g < rowGroupCount else {
            throw ParquetError(.invalidArgument, path: path, "row group \(g) does not exist (file has \(rowGroupCount))")
        }
        let indices = try columnIndices(columns)
        do {
            let group = metadata.rowGroups[g]
            // I/O first, in file order; then decoding, which is pure and runs in parallel when enabled.
            let chunks = try indices.map { c in
                let meta = group.columns[c].metaData!
                let (start, length) = try Self.chunkRange(meta)
                return (bytes: try source.read(offset: start, count: length), meta: meta, column: c)
            }
            let rows = Int(group.numRows)
            let schema = self.schema
            let layouts = self.layouts
            let options = self.options
            let decode: @Sendable (Int) throws -> ColumnValues = { i in
                let chunk = chunks[i]
                return try ChunkDecoder.decode(
                    chunk.bytes, numValues: Int(chunk.meta.numValues), rows: rows, column: schema.columns[chunk.column],
                    layout: layouts[chunk.column], codec: chunk.meta.codec, limits: options)
            }
            guard options.parallelDecoding, chunks.count > 1 else {
                return ColumnBatch(try chunks.indices.map(decode))
            }
            let results = Mutex<[Result<ColumnValues, any Error>?]>(Array(repeating: nil, count: chunks.count))
            DispatchQueue.concurrentPerform(iterations: chunks.count) { i in
                let result = Result { try decode(i) }
                results.withLock { $0[i] = result }
            }
            return ColumnBatch(try results.withLock { all in try all.map { try $0!.get() } })
        } catch let error as ParquetError {
            throw error.path.isEmpty
                ? ParquetError(error.code, path: path, "row group \(g): \(error.detail)") : error
        }
    }

    /// Bytes of one row group's column chunks as stored (compressed) and after decompression (from the footer).
    public func storedBytes(ofRowGroup g: Int, columns: [String]? = nil) throws -> (compressed: Int, uncompressed: Int) {
        var compressed = 0
        var uncompressed = 0
        for c in try columnIndices(columns) {
            guard let meta = metadata.rowGroups[g].columns[c].metaData else { continue }
            compressed += Int(clamping: meta.totalCompressedSize)
            uncompressed += Int(clamping: meta.totalUncompressedSize)
        }
        return (compressed, uncompressed)
    }

    /// Reads one row group as consecutive batches of at most `rows` rows, decoding each column page by page: memory
    /// holds the group's compressed chunks, the rest of one decoded page per column (dictionary lookups wait until
    /// their rows are handed out) and one slice, not the whole decoded group. The batches are exactly sized. `body`
    /// also gets the bytes the reader still holds for the group (compressed chunks plus decoded-ahead values,
    /// levels, indices and dictionaries), for callers that budget memory. A group with list columns is read whole
    /// (one batch).
    public func readRowGroup(
        _ g: Int, columns: [String]? = nil, slicesOf rows: Int, _ body: (ColumnBatch, _ heldBytes: Int) throws -> Void
    ) throws {
        guard g >= 0, g < rowGroupCount, rows > 0 else {
            throw ParquetError(.invalidArgument, path: path, "row group \(g) (of \(rowGroupCount)) in slices of \(rows)")
        }
        let indices = try columnIndices(columns)
        if indices.contains(where: { layouts[$0].maxRepetition > 0 }) {
            try body(try readRowGroup(g, columns: columns), 0)
            return
        }
        final class Slicer: @unchecked Sendable {
            var decoder: ChunkDecoder
            var cursor = ChunkDecoder.PageCursor()
            let bytes: [UInt8]
            let numValues: Int
            init(_ decoder: ChunkDecoder, _ bytes: [UInt8], _ numValues: Int) {
                self.decoder = decoder
                self.bytes = bytes
                self.numValues = numValues
            }
            func next(_ rows: Int) throws -> ColumnValues {
                while decoder.bufferedRows < rows, cursor.read < numValues {
                    try decoder.decodePage(bytes, numValues: numValues, cursor: &cursor)
                }
                guard decoder.bufferedRows >= rows else {
                    throw ParquetError.corrupt("column chunk holds \(decoder.bufferedRows) rows fewer than its row group")
                }
                return try decoder.takeRows(rows)
            }
        }
        do {
            let group = metadata.rowGroups[g]
            let slicers = try indices.map { c in
                let meta = group.columns[c].metaData!
                let (start, length) = try Self.chunkRange(meta)
                var decoder = ChunkDecoder(
                    column: schema.columns[c], layout: layouts[c], codec: meta.codec, limits: options)
                decoder.deferDictionaryLookups = true
                return Slicer(decoder, try source.read(offset: start, count: length), Int(meta.numValues))
            }
            let total = Int(group.numRows)
            var done = 0
            while done < total {
                let count = min(rows, total - done)
                let batch: ColumnBatch
                if options.parallelDecoding, slicers.count > 1 {
                    let results = Mutex<[Result<ColumnValues, any Error>?]>(Array(repeating: nil, count: slicers.count))
                    DispatchQueue.concurrentPerform(iterations: slicers.count) { i in
                        let result = Result { try slicers[i].next(count) }
                        results.withLock { $0[i] = result }
                    }
                    batch = ColumnBatch(try results.withLock { all in try all.map { try $0!.get() } })
                } else {
                    batch = ColumnBatch(try slicers.map { try $0.next(count) })
                }
                done += count
                try body(batch, slicers.reduce(0) { $0 + $1.bytes.count + $1.decoder.heldBytes })
            }
            for slicer in slicers where slicer.decoder.bufferedRows > 0 || slicer.cursor.read < slicer.numValues {
                throw ParquetError.corrupt("column \"\(slicer.decoder.column.name)\" holds more values than its row group's \(total) rows")
            }
        } catch let error as ParquetError {
            throw error.path.isEmpty
                ? ParquetError(error.code, path: path, "row group \(g): \(error.detail)") : error
        }
    }

    /// The schema of a projection, in the order of `columns`.
    public func projectedSchema(_ columns: [String]?) throws -> ParquetSchema {
        try ParquetSchema(try columnIndices(columns).map { schema.columns[$0] })
    }

    private func columnIndices(_ names: [String]?) throws -> [Int] {
        guard let names else { return Array(schema.columns.indices) }
        return try names.map { name in
            guard let i = schema.index(of: name) else {
                throw ParquetError(.invalidArgument, path: path, "no column named \"\(name)\"")
            }
            return i
        }
    }

    /// Reads every row group that `predicate` does not rule out, calling `body` with each batch.
    public func forEachRowGroup(
        columns: [String]? = nil, where predicate: ParquetPredicate? = nil, _ body: (ColumnBatch) throws -> Void
    ) throws {
        let groups = try predicate.map { try rowGroups(matching: $0) } ?? Array(0..<rowGroupCount)
        for g in groups { try body(try readRowGroup(g, columns: columns)) }
    }
}

extension ParquetValue {
    /// Orders two values of the same type by Parquet's TYPE_ORDER (strings bytewise); nil when incomparable.
    static func compare(_ a: ParquetValue, _ b: ParquetValue) -> Int? {
        func cmp<T: Comparable>(_ x: T, _ y: T) -> Int { x < y ? -1 : (x == y ? 0 : 1) }
        switch (a, b) {
        case (.boolean(let x), .boolean(let y)): return cmp(x ? 1 : 0, y ? 1 : 0)
        case (.int32(let x), .int32(let y)), (.date(let x), .date(let y)): return cmp(x, y)
        case (.int64(let x), .int64(let y)), (.timestamp(let x), .timestamp(let y)): return cmp(x, y)
        case (.double(let x), .double(let y)):
            if x.isNaN || y.isNaN { return nil }
            return cmp(x, y)
        case (.string(let x), .string(let y)):
            let xs = Array(x.utf8)
            let ys = Array(y.utf8)
            if xs == ys { return 0 }
            return xs.lexicographicallyPrecedes(ys) ? -1 : 1
        default: return nil
        }
    }
}
