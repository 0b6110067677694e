import Dispatch
import Synchronization

/// What a finished file holds.
public struct ParquetWriteSummary: Sendable, Hashable {
    public let path: String
    public let rows: Int
    public let rowGroups: Int
    public let bytes: Int
}

/// Streams batches into row groups and serialises the file layout. Pure: bytes go to `sink`, so the same code
/// writes files and in-memory buffers.
struct FileEncoder {
    /// Row groups with fewer rows are encoded on the calling thread even when parallel encoding is on.
    static let parallelEncodingMinimumRows = 4_096
    let schema: ParquetSchema
    let options: ParquetWriterOptions
    private(set) var pending: [ColumnValues]
    private(set) var pendingRows = 0
    private var rowGroups: [RowGroupMeta] = []
    private(set) var offset = 0
    private(set) var totalRows = 0

    init(schema: ParquetSchema, options: ParquetWriterOptions) throws {
        guard options.rowGroupRows > 0, options.pageSizeBytes > 0, options.pageRowLimit > 0 else {
            throw ParquetError(.invalidArgument, "rowGroupRows, pageSizeBytes and pageRowLimit must be positive")
        }
        self.schema = schema
        self.options = options
        pending = schema.columns.map { ColumnValues.empty(for: $0.type, nullable: false) }
    }

    var rowGroupCount: Int { rowGroups.count }

    mutating func start(_ sink: ([UInt8]) throws -> Void) throws {
        try sink(Array("PAR1".utf8))
        offset = 4
    }

    /// Checks a batch against the schema before anything is buffered, so a bad batch leaves the writer intact.
    func validate(_ batch: ColumnBatch) throws {
        guard batch.columns.count == schema.columns.count else {
            throw ParquetError(
                .schemaMismatch, "batch has \(batch.columns.count) columns, schema has \(schema.columns.count)")
        }
        let rows = batch.rowCount
        for (c, column) in zip(batch.columns, schema.columns) {
            guard c.fits(column.type) else {
                throw ParquetError(.schemaMismatch, "column \"\(column.name)\" (\(column.type)) got values of another type")
            }
            guard c.count == rows else {
                throw ParquetError(.schemaMismatch, "column \"\(column.name)\" has \(c.count) rows, expected \(rows)")
            }
            if let v = c.validity {
                guard v.count == rows else {
                    throw ParquetError(.schemaMismatch, "column \"\(column.name)\" validity has \(v.count) entries for \(rows) rows")
                }
                if !column.nullable && v.contains(false) {
                    throw ParquetError(.schemaMismatch, "column \"\(column.name)\" is not nullable but the batch holds a null")
                }
            }
        }
    }

    mutating func write(_ batch: ColumnBatch, _ sink: ([UInt8]) throws -> Void) throws {
        try validate(batch)
        let rows = batch.rowCount
        if pendingRows == 0 && rows <= options.rowGroupRows {
            // Adopt the caller's arrays without copying (copy-on-write only if more rows follow).
            pending = batch.columns
            pendingRows = rows
        } else {
            var start = 0
            while start < rows {
                let take = min(rows - start, options.rowGroupRows - pendingRows)
                for i in pending.indices { pending[i].append(batch.columns[i], range: start..<(start + take)) }
                pendingRows += take
                start += take
                if pendingRows >= options.rowGroupRows { try flushRowGroup(sink) }
            }
        }
        if pendingRows >= options.rowGroupRows || pendingBytes >= options.rowGroupBytes { try flushRowGroup(sink) }
    }

    mutating func append(row: [ParquetValue], _ sink: ([UInt8]) throws -> Void) throws {
        guard row.count == schema.columns.count else {
            throw ParquetError(.schemaMismatch, "row has \(row.count) values, schema has \(schema.columns.count) columns")
        }
        for (value, column) in zip(row, schema.columns) {
            if case .null = value {
                guard column.nullable else { throw ParquetError(.schemaMismatch, "column \"\(column.name)\" is not nullable but got null") }
                continue
            }
            guard Self.valueFits(value, column.type) else {
                throw ParquetError(.schemaMismatch, "column \"\(column.name)\" (\(column.type)) got \(value)")
            }
        }
        for i in pending.indices { _ = pending[i].append(row[i]) }
        pendingRows += 1
        if pendingRows >= options.rowGroupRows || (pendingRows & 1023 == 0 && pendingBytes >= options.rowGroupBytes) {
            try flushRowGroup(sink)
        }
    }

    static func valueFits(_ value: ParquetValue, _ type: ParquetType) -> Bool {
        switch (value, type) {
        case (.boolean, .boolean), (.int32, .int32), (.int64, .int64), (.double, .double), (.string, .string),
            (.date, .date), (.timestamp, .timestamp):
            true
        case (.list(let values), .list(let element)):
            values.allSatisfy { valueFits($0, element) }  // .null elements do not fit: elements are required
        default: false
        }
    }

    private var pendingBytes: Int { pending.reduce(0) { $0 + $1.approximateBytes } }

    /// Encodes the buffered rows as one row group (nothing happens when none are buffered).
    mutating func flushRowGroup(_ sink: ([UInt8]) throws -> Void) throws {
        guard pendingRows > 0 else { return }
        let groupStart = offset
        var chunks: [ColumnChunkMeta] = []
        var uncompressed: Int64 = 0
        for encoded in try encodeChunks() {
            let chunkStart = offset
            try sink(encoded.bytes)
            offset += encoded.bytes.count
            var meta = encoded.meta
            meta.dataPageOffset = Int64(chunkStart + encoded.dataPageOffset)
            meta.dictionaryPageOffset = encoded.hasDictionary ? Int64(chunkStart) : nil
            uncompressed += meta.totalUncompressedSize
            chunks.append(ColumnChunkMeta(fileOffset: Int64(chunkStart), metaData: meta))
        }
        rowGroups.append(
            RowGroupMeta(
                columns: chunks, totalByteSize: uncompressed, numRows: Int64(pendingRows),
                fileOffset: Int64(groupStart), totalCompressedSize: Int64(offset - groupStart)))
        totalRows += pendingRows
        pendingRows = 0
        pending = schema.columns.map { ColumnValues.empty(for: $0.type, nullable: false) }
    }

    /// Encodes the buffered columns, in parallel across cores when enabled: each chunk is independent and pure,
    /// and only the (cheap, ordered) writing of the results stays sequential. Runs on Dispatch's worker
    /// threads, never on the Swift concurrency pool.
    private func encodeChunks() throws -> [EncodedChunk] {
        let columns = pending
        let schema = self.schema
        let options = self.options
        // A small row group (a crawl unit's file holds a few dozen rows) encodes faster than Dispatch can hand
        // its columns to other threads and wake them; the bytes are the same either way.
        guard options.parallelEncoding, columns.count > 1, pendingRows >= Self.parallelEncodingMinimumRows else {
            return try zip(columns, schema.columns).map { try ChunkEncoder.encode($0, column: $1, options: options) }
        }
        let results = Mutex<[Result<EncodedChunk, any Error>?]>(Array(repeating: nil, count: columns.count))
        DispatchQueue.concurrentPerform(iterations: columns.count) { i in
            let result = Result { try ChunkEncoder.encode(columns[i], column: schema.columns[i], options: options) }
            results.withLock { $0[i] = result }
        }
        return try results.withLock { all in try all.map { try $0!.get() } }
    }

    mutating func finish(_ sink: ([UInt8]) throws -> Void) throws {
        try flushRowGroup(sink)
        let footer = FileMetaData(
            version: 1, schema: schema.schemaElements(), numRows: Int64(totalRows), rowGroups: rowGroups,
            createdBy: options.createdBy, columnOrderCount: schema.columns.count
        ).encode()
        var tail = footer
        withUnsafeBytes(of: UInt32(footer.count).littleEndian) { tail.append(contentsOf: $0) }
        tail.append(contentsOf: Array("PAR1".utf8))
        try sink(tail)
        offset += tail.count
    }
}

/// Writes one Parquet file, streaming: rows accumulate in memory only up to one row group, which is then
/// encoded and written. The file appears at `path` only when `close()` succeeds (atomic rename after fsync);
/// a writer dropped without `close()` (or after an error) leaves nothing behind but removes its temporary.
///
/// Not thread-safe: one owner at a time. It does blocking file I/O, so run it on a dedicated thread, never
/// on the cooperative pool.
public final class ParquetWriter {
    /// Where the file appears; after `close()`, where it appeared (see `keepingExisting`).
    public var path: String { output.finalPath }
    public var schema: ParquetSchema { encoder.schema }
    private var encoder: FileEncoder
    private let output: AtomicFileOutput
    private var failed = false

    /// With `keepingExisting`, a file already at `path` is never replaced: `close()` writes under the first free
    /// name `NAME-2.parquet`, `NAME-3.parquet`… and its summary says which.
    public init(
        path: String, schema: ParquetSchema, options: ParquetWriterOptions = ParquetWriterOptions(),
        keepingExisting: Bool = false
    ) throws {
        encoder = try FileEncoder(schema: schema, options: options)
        output = try AtomicFileOutput(path: path, keepingExisting: keepingExisting)
        try guarded { try encoder.start(output.write) }
    }

    /// Bytes written to the file so far (row groups still buffered in memory are not counted).
    public var bytesWritten: Int { output.bytesWritten }

    /// Rows accepted so far (written or buffered).
    public var rowCount: Int { encoder.totalRows + encoder.pendingRows }

    /// Appends a columnar batch (the fast path). A batch that does not match the schema is rejected whole.
    public func write(_ batch: ColumnBatch) throws {
        try encoder.validate(batch)
        try guarded { try encoder.write(batch, output.write) }
    }

    /// Appends one row given as cells in schema order.
    public func append(row: [ParquetValue]) throws {
        try guarded { try encoder.append(row: row, output.write) }
    }

    /// Ends the current row group early (e.g. at a natural boundary of the data).
    public func flushRowGroup() throws {
        try guarded { try encoder.flushRowGroup(output.write) }
    }

    /// Writes the footer and commits the file atomically.
    @discardableResult
    public func close() throws -> ParquetWriteSummary {
        try guarded {
            try encoder.finish(output.write)
            try output.commit()
        }
        return ParquetWriteSummary(
            path: path, rows: encoder.totalRows, rowGroups: encoder.rowGroupCount, bytes: output.bytesWritten)
    }

    /// Discards everything written; no file appears at `path`.
    public func abort() {
        failed = true
        output.abort()
    }

    private func guarded(_ body: () throws -> Void) throws {
        guard !failed else {
            throw ParquetError(.invalidArgument, path: path, "the writer already failed or was closed")
        }
        do { try body() } catch let error as ParquetError {
            // Schema mismatches are caught before any state changes; anything else poisons the writer.
            if error.code != .schemaMismatch { abort() }
            throw error.path.isEmpty ? error.at(path) : error
        }
    }

    /// Encodes a whole file in memory (tests, fuzzing, small payloads).
    public static func encode(
        schema: ParquetSchema, batches: [ColumnBatch], options: ParquetWriterOptions = ParquetWriterOptions()
    ) throws -> [UInt8] {
        var encoder = try FileEncoder(schema: schema, options: options)
        var bytes: [UInt8] = []
        let sink: ([UInt8]) throws -> Void = { bytes.append(contentsOf: $0) }
        try encoder.start(sink)
        for batch in batches { try encoder.write(batch, sink) }
        try encoder.finish(sink)
        return bytes
    }
}
