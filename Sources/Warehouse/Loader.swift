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

/// Where a slice producer writes rows. Each row is checked to belong to the slice and fingerprinted as it streams.
public final class SliceWriter<Row: WarehouseRow> {
    private let copy: PGCopyWriter
    private let platform: String
    private let snapshotDate: CalendarDay
    private let expectedRows: Int?
    private let progressInterval: Duration
    private let progress: ((LoadProgress) -> Void)?
    private let clock = ContinuousClock()
    private let started: ContinuousClock.Instant
    private var lastReport: ContinuousClock.Instant
    private var encoding = RowWriter()
    private var sum: UInt64 = 0
    public private(set) var rows = 0

    init(
        copy: PGCopyWriter, platform: String, snapshotDate: CalendarDay, expectedRows: Int?,
        progressInterval: Duration, progress: ((LoadProgress) -> Void)?
    ) {
        self.copy = copy
        self.platform = platform
        self.snapshotDate = snapshotDate
        self.expectedRows = expectedRows
        self.progressInterval = progressInterval
        self.progress = progress
        started = clock.now
        lastReport = started
    }

    var checksum: String { "\(rows):\(FNV1a64.hexString(sum))" }

    /// Validates, fingerprints and sends one row.
    nonisolated(nonsending) public func write(_ row: Row) async throws {
        guard row.platform == platform, row.snapshotDate == snapshotDate else {
            throw WarehouseError(
                code: .rowOutsideSlice, operation: "load \(Row.table)", subject: "\(platform)/\(snapshotDate)",
                detail: "row of \(row.platform)/\(row.snapshotDate) handed to this slice")
        }
        try row.validate()
        encoding.removeAll()
        row.encode(to: &encoding)
        var hash = FNV1a64()
        hash.combine(encoding.bytes)
        sum = sum &+ hash.value
        try await copy.writeRow(fieldCount: Row.columns.count) { fields in try row.writeFields(to: &fields) }
        rows += 1
        if progress != nil, rows & 1023 == 0, clock.now - lastReport >= progressInterval { report() }
    }

    func report() {
        guard let progress else { return }
        let now = clock.now
        lastReport = now
        let elapsed = (now - started) / .seconds(1)
        let rate = elapsed > 0 ? Double(rows) / elapsed : 0
        var remaining: Double?
        if let expectedRows, rate > 0 { remaining = Double(max(0, expectedRows - rows)) / rate }
        progress(
            LoadProgress(
                table: Row.table, rows: rows, elapsedSeconds: elapsed, rowsPerSecond: rate, expectedRows: expectedRows,
                estimatedSecondsRemaining: remaining))
    }
}

extension FNV1a64 {
    static func hexString(_ value: UInt64) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: 16 - text.count) + text
    }
}

/// Loads one (snapshot date, platform) slice of a warehouse table atomically and idempotently.
///
/// In ONE transaction: take an advisory lock for the slice (two loads of a slice never interleave), binary-COPY the
/// rows into a temporary staging table, compare with the load ledger, and unless this run with the same fingerprint
/// is already current, DELETE the slice, INSERT it from staging and record the run in `<warehouse>.loads`. If the
/// connection dies at any point the server rolls the transaction back, so readers see the old slice or the new one,
/// never a mix, and a retry on a new connection starts clean.
public struct WarehouseLoader: Sendable {
    public let schemas: WarehouseSchemas
    private let logger: Logger

    public init(schemas: WarehouseSchemas = WarehouseSchemas(), logger: Logger) {
        self.schemas = schemas
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
        try schemas.validate()
        guard acceptedPlatforms.contains(platform) else {
            throw WarehouseError(
                code: .rowOutsideSlice, operation: "load \(Row.table)", subject: platform,
                detail: "platform must be naver or kakao")
        }
        let template = SQLTemplate(schemas)
        let target = template.render("{{warehouse}}.") + quoteIdentifier(Row.table.rawValue)
        let ledger = template.render("{{warehouse}}.loads")
        let stage = "webtoon_stage_\(Row.table.rawValue)"
        let columns = Row.columns.map(quoteIdentifier).joined(separator: ", ")
        let slice: [PGValue?] = [.text(platform), snapshotDate.parameter]
        let lock = advisoryLockKey("webtoon.load.\(schemas.warehouse).\(Row.table).\(platform).\(snapshotDate)")

        let result = try await connection.withTransaction { connection -> LoadResult in
            try await connection.execute("SELECT pg_advisory_xact_lock($1)", [.int(lock)])
            try await connection.execute(
                "CREATE TEMPORARY TABLE \(quoteIdentifier(stage)) (LIKE \(target) INCLUDING DEFAULTS) ON COMMIT DROP")
            var writer: SliceWriter<Row>?
            let copied = try await connection.copyIn(
                table: stage, schema: "pg_temp", columns: Row.columns, format: .binary
            ) { copy in
                let sink = SliceWriter<Row>(
                    copy: copy, platform: platform, snapshotDate: snapshotDate, expectedRows: expectedRows,
                    progressInterval: progressInterval, progress: progress)
                writer = sink
                try await produce(sink)
            }
            guard let writer, copied == writer.rows else {
                throw WarehouseError(
                    code: .rowOutsideSlice, operation: "load \(Row.table)", subject: target,
                    detail: "server stored \(copied) rows, producer wrote \(writer?.rows ?? 0)")
            }
            writer.report()
            let checksum = writer.checksum
            var result = LoadResult(
                table: Row.table, platform: platform, snapshotDate: snapshotDate, runID: runID, rows: copied,
                checksum: checksum, replaced: true, previousRunID: nil)

            let sameRun = try await connection.query(
                "SELECT checksum FROM \(ledger) WHERE platform = $1 AND snapshot_date = $2 AND table_name = $3 "
                    + "AND run_id = $4",
                slice + [.text(Row.table.rawValue), .text(runID)])
            if let recorded = sameRun.rows.first?[0], recorded != checksum {
                throw WarehouseError(
                    code: .runConflict, operation: "load \(Row.table)", subject: "\(platform)/\(snapshotDate)",
                    detail: "run \(runID) was loaded before with fingerprint \(recorded), now \(checksum)")
            }
            let current = try await connection.query(
                "SELECT run_id FROM \(ledger) WHERE platform = $1 AND snapshot_date = $2 AND table_name = $3 "
                    + "ORDER BY loaded_at DESC, run_id DESC LIMIT 1",
                slice + [.text(Row.table.rawValue)])
            result.previousRunID = current.rows.first?[0]
            if result.previousRunID == runID {
                result.replaced = false
                return result
            }
            try await connection.execute("DELETE FROM \(target) WHERE platform = $1 AND snapshot_date = $2", slice)
            try await connection.execute(
                "INSERT INTO \(target) (\(columns)) SELECT \(columns) FROM pg_temp.\(quoteIdentifier(stage))")
            try await connection.execute(
                "INSERT INTO \(ledger) (platform, snapshot_date, table_name, run_id, row_count, checksum) "
                    + "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (platform, snapshot_date, table_name, run_id) "
                    + "DO UPDATE SET row_count = EXCLUDED.row_count, loaded_at = clock_timestamp()",
                slice + [.text(Row.table.rawValue), .text(runID), .int(Int64(copied)), .text(checksum)])
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

    /// Loads the files of one `processed/TABLE/year=/month=/day=/platform=P/` partition as the whole slice, one row
    /// group in memory at a time.
    nonisolated(nonsending) public func loadProcessedFiles<Row: WarehouseRow & ParquetRow>(
        _ type: Row.Type, files: [String], on connection: PGConnection, runID: String, snapshotDate: CalendarDay,
        platform: String, progress: ((LoadProgress) -> Void)? = nil
    ) async throws -> LoadResult {
        try await loadSlice(
            Row.self, on: connection, runID: runID, snapshotDate: snapshotDate, platform: platform, progress: progress
        ) { writer in
            for file in files {
                let reader = try ProcessedFileReader<Row>(path: file, platform: platform)
                while let rows = try reader.nextRowGroup() {
                    for row in rows { try await writer.write(row) }
                }
            }
        }
    }

    /// Loads every platform partition of one day of `processedRoot/TABLE/` (as `ProcessedReducer` writes it), each as
    /// its own slice. A platform without a partition that day is left as it is in the warehouse.
    nonisolated(nonsending) public func loadProcessedDay<Row: WarehouseRow & ParquetRow>(
        _ type: Row.Type, processedRoot: String, snapshotDate: CalendarDay, runID: String, on connection: PGConnection,
        progress: ((LoadProgress) -> Void)? = nil
    ) async throws -> [LoadResult] {
        let (year, month, day) = snapshotDate.components
        let keys = try HivePartition.daily(year: year, month: month, day: day, platform: "naver").keys
        var filter: [String: String] = [:]
        for key in keys where key.name != "platform" { filter[key.name] = key.value }
        let dataset = ParquetDataset(root: processedRoot + "/" + Row.table.rawValue)
        var results: [LoadResult] = []
        for partition in try dataset.partitions(where: filter) {
            guard let platform = partition.partition.value(of: "platform") else { continue }
            results.append(
                try await loadProcessedFiles(
                    Row.self, files: partition.files, on: connection, runID: runID, snapshotDate: snapshotDate,
                    platform: platform, progress: progress))
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
