import Foundation
public import Logging
public import PQKit
import ParquetKit
public import ReducerCore

/// Progress of a running slice load, reported about once per `progressInterval`.
public struct LoadProgress: Sendable, Hashable {
    public var table: ProcessedTable
    public var rows: Int
    public var elapsedSeconds: Double
    public var rowsPerSecond: Double
    /// What the caller said to expect, if anything.
    public var expectedRows: Int?
    /// Remaining time at the current rate, when `expectedRows` is known.
    public var estimatedSecondsRemaining: Double?
}

/// One (snapshot date, platform) partition of a processed table, ready to load.
public struct ProcessedSlicePlan: Sendable, Hashable {
    public var table: ProcessedTable
    public var snapshotDate: CalendarDay
    public var platform: String
    public var files: [String]
    /// Rows in the files, from their footers.
    public var rows: Int
}

/// The result of loading one (snapshot date, platform) slice of one table.
public struct LoadResult: Sendable, Hashable {
    public var table: ProcessedTable
    public var platform: String
    public var snapshotDate: CalendarDay
    public var runID: String
    public var rows: Int
    /// Order-independent fingerprint of the rows: `<count>:<hex>`.
    public var checksum: String
    /// False when this run was already the slice's current load with the same data: nothing changed.
    public var replaced: Bool
    /// The run this load replaced, if any.
    public var previousRunID: String?
}

/// Validates, fingerprints and COPY-encodes the rows of one slice. Pure (no I/O), so it runs wherever the rows are
/// produced: on the caller's task for `SliceWriter`, on the reader thread for processed files.
struct SliceEncoder<Row: WarehouseRow> {
    let platform: String
    let snapshotDate: CalendarDay
    /// Rows only (no binary header): `PGCopyWriter.writeEncodedRows` joins them to the stream.
    private var encoder = PGCopyEncoder(format: .binary, reservingCapacity: PGCopyWriter.batchBytes + 4096, header: false)
    private var fingerprint = RowWriter()
    private var sum: UInt64 = 0
    private(set) var rows = 0
    private(set) var pendingRows = 0

    init(platform: String, snapshotDate: CalendarDay) {
        self.platform = platform
        self.snapshotDate = snapshotDate
    }

    /// `<count>:<hex>`: the FNV-1a-64 of each row's reducer encoding, summed, so row order does not matter.
    var checksum: String { "\(rows):\(FNV1a64.hexString(sum))" }
    var pendingBytes: Int { encoder.bytes.count }

    mutating func append(_ row: Row) throws {
        guard row.platform == platform, row.snapshotDate == snapshotDate else {
            throw WarehouseError(
                code: .rowOutsideSlice, operation: "load \(Row.table)", subject: "\(platform)/\(snapshotDate)",
                detail: "row of \(row.platform)/\(row.snapshotDate) handed to this slice")
        }
        try row.validate()
        fingerprint.removeAll()
        row.encode(to: &fingerprint)
        var hash = FNV1a64()
        hash.combine(fingerprint.bytes)
        sum = sum &+ hash.value
        try encoder.beginRow(fieldCount: Row.columns.count)
        do {
            try row.writeFields(to: &encoder)
        } catch {
            encoder.cancelRow()
            throw error
        }
        try encoder.endRow()
        rows += 1
        pendingRows += 1
    }

    /// The rows encoded since the last call.
    mutating func takeBatch() -> EncodedRows {
        defer { pendingRows = 0 }
        return EncodedRows(bytes: encoder.takeBytes(), rows: pendingRows)
    }
}

/// Whole COPY rows encoded off the connection's thread.
struct EncodedRows: Sendable {
    var bytes: [UInt8]
    var rows: Int
}

/// Counts the rows sent for one slice and reports progress about once per `interval`.
final class ProgressMeter {
    private let table: ProcessedTable
    private let expectedRows: Int?
    private let interval: Duration
    private let report: ((LoadProgress) -> Void)?
    private let clock = ContinuousClock()
    private let started: ContinuousClock.Instant
    private var lastReport: ContinuousClock.Instant
    private(set) var rows = 0

    init(table: ProcessedTable, expectedRows: Int?, interval: Duration, report: ((LoadProgress) -> Void)?) {
        self.table = table
        self.expectedRows = expectedRows
        self.interval = interval
        self.report = report
        started = clock.now
        lastReport = started
    }

    func add(_ count: Int) {
        rows += count
        if report != nil, clock.now - lastReport >= interval { send() }
    }

    func send() {
        guard let report else { return }
        let now = clock.now
        lastReport = now
        let elapsed = (now - started) / .seconds(1)
        let rate = elapsed > 0 ? Double(rows) / elapsed : 0
        var remaining: Double?
        if let expectedRows, rate > 0 { remaining = Double(max(0, expectedRows - rows)) / rate }
        report(
            LoadProgress(
                table: table, rows: rows, elapsedSeconds: elapsed, rowsPerSecond: rate, expectedRows: expectedRows,
                estimatedSecondsRemaining: remaining))
    }
}

/// Where a slice producer writes rows. Each row is checked to belong to the slice and fingerprinted as it streams.
public final class SliceWriter<Row: WarehouseRow> {
    private let copy: PGCopyWriter
    private let meter: ProgressMeter
    private var encoder: SliceEncoder<Row>

    init(copy: PGCopyWriter, platform: String, snapshotDate: CalendarDay, meter: ProgressMeter) {
        self.copy = copy
        self.meter = meter
        encoder = SliceEncoder(platform: platform, snapshotDate: snapshotDate)
    }

    public var rows: Int { encoder.rows }
    var checksum: String { encoder.checksum }

    /// Validates, fingerprints and sends one row.
    nonisolated(nonsending) public func write(_ row: Row) async throws {
        try encoder.append(row)
        if encoder.pendingBytes >= PGCopyWriter.batchBytes { try await send() }
    }

    /// Sends what is still buffered.
    nonisolated(nonsending) func finish() async throws { try await send() }

    nonisolated(nonsending) private func send() async throws {
        let batch = encoder.takeBatch()
        guard batch.rows > 0 else { return }
        try await copy.writeEncodedRows(batch.bytes, rowCount: batch.rows)
        meter.add(batch.rows)
    }
}

func required<T>(_ value: T?, _ table: ProcessedTable, _ detail: String) throws(WarehouseError) -> T {
    guard let value else {
        throw WarehouseError(code: .unexpectedResponse, operation: "load \(table)", subject: "\(table)", detail: detail)
    }
    return value
}

extension FNV1a64 {
    static func hexString(_ value: UInt64) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: 16 - text.count) + text
    }
}

/// Loads one (snapshot date, platform) slice of a warehouse table atomically and idempotently.
///
/// Each slice is one leaf partition (`WarehouseMigrations.partitionedSlices`). In ONE transaction: take an advisory
/// lock for the slice (two loads of a slice never interleave); create a fresh leaf table like the table, with a
/// CHECK matching the partition bound; binary `COPY … FREEZE` the rows into it (each row written once, no index to
/// maintain); compare with the load ledger; and unless this run with the same fingerprint is already current, add
/// the primary key (one sort), detach and drop the old leaf, attach the new one (the CHECK spares the scan) and
/// record the run in `<warehouse>.loads`. Until that swap the load holds only a share lock on the table (from
/// `LIKE`); the exclusive lock DETACH needs on `T_<platform>` is held from the swap to COMMIT. If the connection
/// dies at any point the server rolls everything back, so readers see the old slice or the new one, never a mix,
/// and a retry on a new connection starts clean.
public struct WarehouseLoader: Sendable {
    public let schemas: WarehouseSchemas
    /// Whether a run id loaded before with other content replaces that slice (after a ledger reset re-crawled the
    /// same run, or a newer reducer changed its output) instead of failing with `runConflict`.
    public let replacesChangedRuns: Bool
    private let logger: Logger

    public init(schemas: WarehouseSchemas = WarehouseSchemas(), replacingChangedRuns: Bool = false, logger: Logger) {
        self.schemas = schemas
        self.replacesChangedRuns = replacingChangedRuns
        self.logger = logger
    }

    /// Loads the rows `produce` writes as the whole content of the slice `(snapshotDate, platform)` of `Row`'s table.
    /// `runID` names the reducer run that produced them; loading the same run with different rows is an error.
    nonisolated(nonsending) public func loadSlice<Row: WarehouseRow>(
        _ type: Row.Type, on connection: PGConnection, runID: String, snapshotDate: CalendarDay, platform: String,
        expectedRows: Int? = nil, progressInterval: Duration = .seconds(1),
        progress: ((LoadProgress) -> Void)? = nil,
        _ produce: (SliceWriter<Row>) async throws -> Void
    ) async throws -> LoadResult {
        try await replaceSlice(
            Row.self, on: connection, runID: runID, snapshotDate: snapshotDate, platform: platform,
            expectedRows: expectedRows, progressInterval: progressInterval, progress: progress
        ) { copy, meter in
            let writer = SliceWriter<Row>(copy: copy, platform: platform, snapshotDate: snapshotDate, meter: meter)
            try await produce(writer)
            try await writer.finish()
            return (writer.rows, writer.checksum)
        }
    }

    /// The swap described on the type; `copyRows` streams the rows and returns their count and fingerprint.
    nonisolated(nonsending) func replaceSlice<Row: WarehouseRow>(
        _ type: Row.Type, on connection: PGConnection, runID: String, snapshotDate: CalendarDay, platform: String,
        expectedRows: Int?, progressInterval: Duration, progress: ((LoadProgress) -> Void)?,
        copyRows: (PGCopyWriter, ProgressMeter) async throws -> (rows: Int, checksum: String)
    ) async throws -> LoadResult {
        try schemas.validate()
        guard acceptedPlatforms.contains(platform) else {
            throw WarehouseError(
                code: .rowOutsideSlice, operation: "load \(Row.table)", subject: platform,
                detail: "platform must be naver or kakao")
        }
        let schema = quoteIdentifier(schemas.warehouse)
        let table = schema + "." + quoteIdentifier(Row.table.rawValue)
        let parentName = "\(Row.table.rawValue)_\(platform)"
        let parent = schema + "." + quoteIdentifier(parentName)
        let leafPrefix = parentName + "_" + snapshotDate.description.filter { $0 != "-" } + "_"
        // Platform is one of two constants and the day is digits and dashes: safe as DDL literals (DDL takes no
        // bind parameters).
        let bound = "'\(snapshotDate)'"
        let ledger = SQLTemplate(schemas).render("{{warehouse}}.loads")
        let slice: [PGValue?] = [.text(platform), snapshotDate.parameter]
        let lock = advisoryLockKey("webtoon.load.\(schemas.warehouse).\(Row.table).\(platform).\(snapshotDate)")

        let result = try await connection.withTransaction { connection -> LoadResult in
            try await connection.execute("SELECT pg_advisory_xact_lock($1)", [.int(lock)])
            let transaction = try required(
                try await connection.query("SELECT txid_current()").rows.first?.value(0, as: Int64.self),
                Row.table, "txid_current() returned no row")
            let leafName = leafPrefix + String(transaction)
            let leaf = schema + "." + quoteIdentifier(leafName)
            try await connection.execute(
                "CREATE TABLE \(leaf) (LIKE \(table) INCLUDING DEFAULTS INCLUDING CONSTRAINTS, "
                    + "CONSTRAINT \(quoteIdentifier(leafName + "_slice")) "
                    + "CHECK (platform = '\(platform)' AND snapshot_date = DATE \(bound)))")
            let meter = ProgressMeter(
                table: Row.table, expectedRows: expectedRows, interval: progressInterval, report: progress)
            var produced: (rows: Int, checksum: String)?
            let copied = try await connection.copyIn(
                table: leafName, schema: schemas.warehouse, columns: Row.columns, format: .binary, freeze: true
            ) { copy in
                produced = try await copyRows(copy, meter)
            }
            guard let produced, copied == produced.rows else {
                throw WarehouseError(
                    code: .rowOutsideSlice, operation: "load \(Row.table)", subject: table,
                    detail: "server stored \(copied) rows, producer wrote \(produced?.rows ?? 0)")
            }
            meter.send()
            var result = LoadResult(
                table: Row.table, platform: platform, snapshotDate: snapshotDate, runID: runID, rows: copied,
                checksum: produced.checksum, replaced: true, previousRunID: nil)

            let sameRun = try await connection.query(
                "SELECT checksum FROM \(ledger) WHERE platform = $1 AND snapshot_date = $2 AND table_name = $3 "
                    + "AND run_id = $4",
                slice + [.text(Row.table.rawValue), .text(runID)])
            let recorded = sameRun.rows.first?[0]
            let changed = recorded != nil && recorded != produced.checksum
            if changed, let recorded {
                guard replacesChangedRuns else {
                    throw WarehouseError(
                        code: .runConflict, operation: "load \(Row.table)", subject: "\(platform)/\(snapshotDate)",
                        detail: "run \(runID) was loaded before with fingerprint \(recorded), now \(produced.checksum): "
                            + "the same run id with other content (was the ledger reset and the run crawled again, or "
                            + "did the reducer change?); load with --replace-changed-run to replace it")
                }
                logger.warning(
                    "replacing a slice this run loaded before with other content",
                    metadata: [
                        "table": "\(Row.table)", "platform": "\(platform)", "snapshot_date": "\(snapshotDate)",
                        "run": "\(runID)", "before": "\(recorded)", "now": "\(produced.checksum)",
                    ])
            }
            let current = try await connection.query(
                "SELECT run_id FROM \(ledger) WHERE platform = $1 AND snapshot_date = $2 AND table_name = $3 "
                    + "ORDER BY loaded_at DESC, run_id DESC LIMIT 1",
                slice + [.text(Row.table.rawValue)])
            result.previousRunID = current.rows.first?[0]
            if result.previousRunID == runID && !changed {
                try await connection.execute("DROP TABLE \(leaf)")
                result.replaced = false
                return result
            }
            // The table's own primary key, built by one sort now that the rows are in.
            let key = try required(
                try await connection.query(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = $1::regclass "
                        + "AND contype = 'p'", [.text(table)]
                ).rows.first?[0],
                Row.table, "\(table) has no primary key")
            try await connection.execute(
                "ALTER TABLE \(leaf) ADD CONSTRAINT \(quoteIdentifier(leafName + "_pkey")) \(key)")
            let previous = try await connection.query(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    + "WHERE i.inhparent = $1::regclass AND left(c.relname::text, $2::integer) = $3 ORDER BY 1",
                [.text(parent), .int(Int64(leafPrefix.count)), .text(leafPrefix)])
            for row in previous.rows {
                guard let name = row[0] else { continue }
                let old = schema + "." + quoteIdentifier(name)
                try await connection.execute("ALTER TABLE \(parent) DETACH PARTITION \(old)")
                try await connection.execute("DROP TABLE \(old)")
            }
            try await connection.execute("ALTER TABLE \(parent) ATTACH PARTITION \(leaf) FOR VALUES IN (\(bound))")
            try await connection.execute(
                "INSERT INTO \(ledger) (platform, snapshot_date, table_name, run_id, row_count, checksum) "
                    + "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (platform, snapshot_date, table_name, run_id) "
                    + "DO UPDATE SET row_count = EXCLUDED.row_count, checksum = EXCLUDED.checksum, "
                    + "loaded_at = clock_timestamp()",
                slice + [.text(Row.table.rawValue), .text(runID), .int(Int64(copied)), .text(produced.checksum)])
            return result
        }
        logger.info(
            "loaded warehouse slice",
            metadata: [
                "table": "\(Row.table)", "platform": "\(platform)", "snapshot_date": "\(snapshotDate)",
                "run": "\(runID)", "rows": "\(result.rows)", "replaced": "\(result.replaced)",
            ])
        return result
    }

    /// Loads the files of one `processed/TABLE/year=/month=/day=/platform=P/` partition as the whole slice. A
    /// dedicated thread reads the files a slice of a row group at a time and checks, fingerprints and encodes the
    /// rows straight from the decoded columns (`ProcessedSliceEncoder`), while this task hands the encoded batches to
    /// the connection's thread: reading and sending overlap, and no file I/O runs on the cooperative pool.
    nonisolated(nonsending) public func loadProcessedFiles<Row: WarehouseRow & ParquetRow>(
        _ type: Row.Type, files: [String], on connection: PGConnection, runID: String, snapshotDate: CalendarDay,
        platform: String, expectedRows: Int? = nil, progressInterval: Duration = .seconds(1),
        progress: ((LoadProgress) -> Void)? = nil
    ) async throws -> LoadResult {
        try await loadProcessedFiles(
            Row.self, files: files, on: connection, runID: runID, snapshotDate: snapshotDate, platform: platform,
            expectedRows: expectedRows, progressInterval: progressInterval, progress: progress, reading: .columns)
    }

    /// How `loadProcessedFiles` reads the files: a slice of columns at a time (every warehouse table; a row type
    /// without a columnar layout falls back to rows), or row by row into `Row` values (the tests' reference path).
    enum ProcessedFileReading { case columns, rows }

    /// Rows per slice of a row group on the columnar path: about 1 MiB of COPY data for episodes.
    static let sliceRows = 8192

    /// Decoding stays on the producer thread: `parallelDecoding` would use Dispatch's worker threads, which the
    /// cooperative pool shares on Linux, and measured no faster (the server, not the reader, sets the pace).
    static var readerOptions: ParquetReaderOptions {
        var options = ParquetReaderOptions()
        options.parallelDecoding = false
        return options
    }

    nonisolated(nonsending) func loadProcessedFiles<Row: WarehouseRow & ParquetRow>(
        _ type: Row.Type, files: [String], on connection: PGConnection, runID: String, snapshotDate: CalendarDay,
        platform: String, expectedRows: Int? = nil, progressInterval: Duration = .seconds(1),
        progress: ((LoadProgress) -> Void)? = nil, reading: ProcessedFileReading
    ) async throws -> LoadResult {
        try await replaceSlice(
            Row.self, on: connection, runID: runID, snapshotDate: snapshotDate, platform: platform,
            expectedRows: expectedRows, progressInterval: progressInterval, progress: progress
        ) { copy, meter in
            let channel = EncodedBatchChannel(capacity: 4)
            defer { channel.cancel() }
            if reading == .columns, let columnar = Row.self as? any ColumnarLoadRow.Type {
                Self.produceColumns(columnar, files: files, platform: platform, snapshotDate: snapshotDate, to: channel)
            } else {
                Self.produceRows(Row.self, files: files, platform: platform, snapshotDate: snapshotDate, to: channel)
            }
            while true {
                switch await channel.next() {
                case .rows(let batch):
                    if batch.rows > 0 { try await copy.writeEncodedRows(batch.bytes, rowCount: batch.rows) }
                    meter.add(batch.rows)
                case .end(let rows, let checksum):
                    return (rows, checksum)
                case .failed(let error):
                    throw error
                }
            }
        }
    }

    /// The columnar producer: a slice of a row group at a time, checked, fingerprinted and encoded from its columns.
    private static func produceColumns<Row: ColumnarLoadRow>(
        _ type: Row.Type, files: [String], platform: String, snapshotDate: CalendarDay, to channel: EncodedBatchChannel
    ) {
        channel.startProducer(name: "webtoon-load-\(Row.table)") { put in
            var encoder = ProcessedSliceEncoder<Row>(platform: platform, snapshotDate: snapshotDate)
            do {
                for file in files {
                    let reader = try ProcessedColumnReader<Row>(path: file, platform: platform, options: readerOptions)
                    try reader.forEachSlice(rows: sliceRows) { columns in
                        try encoder.append(columns, fileTypes: reader.fileTypes)
                        if encoder.pendingBytes >= PGCopyWriter.batchBytes {
                            guard put(encoder.takeBatch()) else { throw ConsumerStopped() }
                        }
                    }
                }
            } catch is ConsumerStopped {
                return nil
            }
            guard put(encoder.takeBatch()) else { return nil }
            return (encoder.rows, encoder.checksum)
        }
    }

    /// Ends a producer's reading loop when the consumer is gone.
    private struct ConsumerStopped: Error {}

    /// The row producer: each row built as a `Row` value, then checked, fingerprinted and encoded.
    private static func produceRows<Row: WarehouseRow & ParquetRow>(
        _ type: Row.Type, files: [String], platform: String, snapshotDate: CalendarDay, to channel: EncodedBatchChannel
    ) {
        channel.startProducer(name: "webtoon-load-\(Row.table)") { put in
            var encoder = SliceEncoder<Row>(platform: platform, snapshotDate: snapshotDate)
            for file in files {
                let reader = try ProcessedFileReader<Row>(path: file, platform: platform)
                while let rows = try reader.nextRowGroup() {
                    for row in rows {
                        try encoder.append(row)
                        if encoder.pendingBytes >= PGCopyWriter.batchBytes {
                            guard put(encoder.takeBatch()) else { return nil }
                        }
                    }
                }
            }
            guard put(encoder.takeBatch()) else { return nil }
            return (encoder.rows, encoder.checksum)
        }
    }

    /// The platform partitions of one day of `processedRoot/TABLE/` (as `ProcessedReducer` writes them), with their
    /// files and row counts from the Parquet footers. Blocking file I/O: call it off the cooperative pool
    /// (`onDedicatedThread`).
    public static func planProcessedDay(
        _ table: ProcessedTable, processedRoot: String, snapshotDate: CalendarDay
    ) throws -> [ProcessedSlicePlan] {
        let (year, month, day) = snapshotDate.components
        let keys = try HivePartition.daily(year: year, month: month, day: day, platform: "naver").keys
        var filter: [String: String] = [:]
        for key in keys where key.name != "platform" { filter[key.name] = key.value }
        let root = processedRoot + "/" + table.rawValue
        // `comments` is optional: a reduce without comment text writes no folder for it.
        if table == .comments, !FileManager.default.fileExists(atPath: root) { return [] }
        let dataset = ParquetDataset(root: root)
        var plans: [ProcessedSlicePlan] = []
        for partition in try dataset.partitions(where: filter) {
            guard let platform = partition.partition.value(of: "platform") else { continue }
            var rows = 0
            for file in partition.files { rows += try ParquetReader(path: file).rowCount }
            plans.append(
                ProcessedSlicePlan(
                    table: table, snapshotDate: snapshotDate, platform: platform, files: partition.files, rows: rows))
        }
        return plans.sorted { $0.platform < $1.platform }
    }

    /// Loads one planned slice (`planProcessedDay`), reporting progress against its row count.
    nonisolated(nonsending) public func loadPlannedSlice<Row: WarehouseRow & ParquetRow>(
        _ type: Row.Type, _ plan: ProcessedSlicePlan, on connection: PGConnection, runID: String,
        progressInterval: Duration = .seconds(1), progress: ((LoadProgress) -> Void)? = nil
    ) async throws -> LoadResult {
        precondition(plan.table == Row.table, "a \(plan.table) plan loaded as \(Row.table)")
        return try await loadProcessedFiles(
            Row.self, files: plan.files, on: connection, runID: runID, snapshotDate: plan.snapshotDate,
            platform: plan.platform, expectedRows: plan.rows, progressInterval: progressInterval, progress: progress)
    }

    /// Loads every platform partition of one day of `processedRoot/TABLE/`, each as its own slice. A platform
    /// without a partition that day is left as it is in the warehouse.
    nonisolated(nonsending) public func loadProcessedDay<Row: WarehouseRow & ParquetRow>(
        _ type: Row.Type, processedRoot: String, snapshotDate: CalendarDay, runID: String, on connection: PGConnection,
        progress: ((LoadProgress) -> Void)? = nil
    ) async throws -> [LoadResult] {
        let plans = try await onDedicatedThread {
            try Self.planProcessedDay(Row.table, processedRoot: processedRoot, snapshotDate: snapshotDate)
        }
        var results: [LoadResult] = []
        for plan in plans {
            results.append(try await loadPlannedSlice(Row.self, plan, on: connection, runID: runID, progress: progress))
        }
        return results
    }

    /// Convenience: loads an in-memory or lazily generated sequence of rows.
    nonisolated(nonsending) public func loadSlice<Row: WarehouseRow>(
        _ rows: some Sequence<Row>, on connection: PGConnection, runID: String, snapshotDate: CalendarDay,
        platform: String, progress: ((LoadProgress) -> Void)? = nil
    ) async throws -> LoadResult {
        try await loadSlice(
            Row.self, on: connection, runID: runID, snapshotDate: snapshotDate, platform: platform, progress: progress
        ) { writer in
            for row in rows { try await writer.write(row) }
        }
    }
}
