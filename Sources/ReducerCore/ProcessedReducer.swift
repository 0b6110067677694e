public import Logging
public import ParquetKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One partition a reduce wrote.
public struct ReducedPartition: Sendable, Hashable {
    public var snapshotDate: CalendarDay
    public var platform: String
    /// `…/processed/TABLE/year=YYYY/month=MM/day=DD/platform=P`
    public var directory: String
    public var file: String
    public var rows: Int
}

/// What one reduce did.
public struct ReduceSummary: Sendable, Hashable {
    public var table: ProcessedTable
    public var inputFiles: Int
    public var inputRows: Int
    public var outputRows: Int
    public var partitions: [ReducedPartition]
    public var sort: ExternalSortStatistics
}

/// Reads accepted worker output files of one processed table, sorts and deduplicates them with a bounded memory
/// budget (latest fetch wins per natural key), and writes one compacted Parquet file per (snapshot day, platform)
/// under `processed/TABLE/year=/month=/day=/platform=/`.
///
/// Every partition the inputs touch is REPLACED, never appended to (re-running a day gives the same files, not
/// twice the rows): the file is written into a hidden staging folder beside the partition, then the old folder is
/// renamed away, the staging folder renamed into place and the old one removed. Readers that skip hidden names (as
/// `ParquetDataset`, pyarrow and duckdb do) see the old partition or the new one, or for an instant none, never a mix.
/// The inputs of one reduce must therefore hold ALL rows of each (day, platform) they contain.
///
/// Blocking file I/O: run it on a dedicated thread.
public struct ProcessedReducer: Sendable {
    /// The `processed` folder.
    public let outputRoot: String
    /// Rows per batch handed to the Parquet writer (its columnar fast path).
    static let batchRows = 32_768
    public var sortConfiguration: ExternalSortConfiguration
    public var writerOptions: ParquetWriterOptions
    private let logger: Logger

    /// Row groups of at most 256 Ki rows / 32 MiB, so the writer's buffered group stays small beside the sort budget.
    public static var defaultWriterOptions: ParquetWriterOptions {
        var options = ParquetWriterOptions()
        options.rowGroupRows = 256 << 10
        options.rowGroupBytes = 32 << 20
        return options
    }

    /// Peak memory is about `sortConfiguration.memoryBudget` plus one decoded input row group plus one buffered
    /// output row group.
    public init(
        outputRoot: String, sortConfiguration: ExternalSortConfiguration = ExternalSortConfiguration(),
        writerOptions: ParquetWriterOptions = ProcessedReducer.defaultWriterOptions, logger: Logger
    ) {
        self.outputRoot = outputRoot.count > 1 && outputRoot.hasSuffix("/") ? String(outputRoot.dropLast()) : outputRoot
        self.sortConfiguration = sortConfiguration
        self.writerOptions = writerOptions
        self.logger = logger
    }

    /// Reduces `inputs` (paths of accepted files holding every `Row.parquetColumns` column) into `processed/`.
    /// `runID` (`[A-Za-z0-9_-]{1,128}`) names the output files.
    public func reduce<Row: ParquetRow>(_ type: Row.Type, inputs: [String], runID: String) throws -> ReduceSummary {
        let fileName = try ParquetDataset.fileName(unitId: runID, attempt: 0)
        try recover(Row.table)
        let sorter = try ProcessedRowSorter<Row>(configuration: sortConfiguration, logger: logger)
        var inputRows = 0
        for path in inputs {
            try Self.readRows(Row.self, from: path) { row throws(ReducerError) in
                try sorter.add(row)
                inputRows += 1
            }
        }
        let dataset = ParquetDataset(root: outputRoot + "/" + Row.table.rawValue)
        let columns = Row.parquetColumns.filter { $0.name != "platform" }
        let platformIndex = Row.parquetColumns.firstIndex { $0.name == "platform" }!
        let schema = try ParquetSchema(columns)
        var partitions: [ReducedPartition] = []
        var open: (partition: ReducedPartition, staging: String, writer: ParquetWriter)?

        var batch = ParquetBatchBuilder(columns: columns)

        func commit() throws {
            guard let current = open else { return }
            open = nil
            if batch.count > 0 { try current.writer.write(batch.take()) }
            let summary = try current.writer.close()
            try replaceDirectory(current.partition.directory, with: current.staging, runID: runID)
            var done = current.partition
            done.rows = summary.rows
            partitions.append(done)
        }

        do {
            let statistics = try sorter.finish { row in
                if let current = open,
                    current.partition.snapshotDate != row.snapshotDate
                        || current.partition.platform != row.platform
                {
                    try commit()
                }
                if open == nil {
                    let (year, month, day) = row.snapshotDate.components
                    let partition = try HivePartition.daily(year: year, month: month, day: day, platform: row.platform)
                    let directory = dataset.directory(of: partition)
                    let parent = String(directory[..<directory.lastIndex(of: "/")!])
                    let staging = parent + "/.staging-\(runID)-platform=\(row.platform)"
                    try makeDirectories(parent)
                    try removeTree(staging)
                    try makeDirectories(staging)
                    let writer = try ParquetWriter(
                        path: staging + "/" + fileName, schema: schema, options: writerOptions)
                    open = (
                        ReducedPartition(
                            snapshotDate: row.snapshotDate, platform: row.platform, directory: directory,
                            file: directory + "/" + fileName, rows: 0),
                        staging, writer
                    )
                }
                var cells = row.parquetValues
                cells.remove(at: platformIndex)
                batch.append(cells)
                if batch.count >= Self.batchRows { try open!.writer.write(batch.take()) }
            }
            try commit()
            let summary = ReduceSummary(
                table: Row.table, inputFiles: inputs.count, inputRows: inputRows,
                outputRows: statistics.outputRecords, partitions: partitions, sort: statistics)
            logger.info(
                "reduced processed table",
                metadata: [
                    "table": "\(Row.table)", "run": "\(runID)", "inputs": "\(inputs.count)", "rows_in": "\(inputRows)",
                    "rows_out": "\(summary.outputRows)", "partitions": "\(partitions.count)",
                    "spilled_runs": "\(statistics.spilledRuns)",
                ])
            return summary
        } catch {
            if let current = open {
                current.writer.abort()
                try? removeTree(current.staging)
            }
            throw error
        }
    }

    /// Repairs what an interrupted reduce can leave under `processed/TABLE/`: a partition renamed aside
    /// (`.old-RUN-platform=P`) whose replacement never arrived is put back; other `.old-…` and `.staging-…` folders
    /// are removed. Runs at the start of every `reduce`.
    public func recover(_ table: ProcessedTable) throws {
        try recoverFolder(outputRoot + "/" + table.rawValue)
    }

    private func recoverFolder(_ folder: String) throws {
        for name in try listFolder(folder) {
            let path = folder + "/" + name
            if name.hasPrefix(".staging-") {
                try removeTree(path)
            } else if name.hasPrefix(".old-"), let range = name.firstRange(of: "-platform=") {
                let target = folder + "/" + name[name.index(after: range.lowerBound)...]
                if access(target, F_OK) != 0 {
                    if rename(path, target) != 0 { throw fileError("restore partition", path) }
                    logger.warning(
                        "restored a partition left aside by an interrupted reduce", metadata: ["partition": "\(target)"]
                    )
                } else {
                    try removeTree(path)
                }
            } else if !name.hasPrefix("."), !name.hasPrefix("platform="), isFolder(path) {
                try recoverFolder(path)
            }
        }
    }

    /// Streams the rows of one Parquet file. `platform` supplies that column when the file lacks it (files under
    /// `processed/…/platform=P/` store it only in their path).
    public static func readRows<Row: ParquetRow>(
        _ type: Row.Type, from path: String, platform: String? = nil,
        _ body: (Row) throws(ReducerError) -> Void
    ) throws {
        let reader = try ProcessedFileReader<Row>(path: path, platform: platform)
        while try reader.forEachRowOfNextGroup(body) {}
    }
}

/// Reads one Parquet file of processed rows a row group at a time (memory bounded by one row group), for callers
/// that must await between rows, such as a warehouse load.
public final class ProcessedFileReader<Row: ParquetRow> {
    public let path: String
    private let reader: ParquetReader
    private var cells: ParquetCells
    private var nextGroup = 0

    /// `platform` supplies that column when the file lacks it (a `processed/…/platform=P/` file).
    public init(path: String, platform: String? = nil) throws {
        self.path = path
        reader = try ParquetReader(path: path)
        var index: [String: Int] = [:]
        for (position, column) in reader.schema.columns.enumerated() { index[column.name] = position }
        let fileColumns = reader.schema.columns.count
        if platform != nil, index["platform"] == nil { index["platform"] = fileColumns }
        cells = ParquetCells(index: index, table: Row.table.rawValue, source: path)
        if let platform, index["platform"] == fileColumns { cells.set(fileColumns, .string(platform)) }
    }

    /// The rows of the next row group, or nil after the last.
    public func nextRowGroup() throws -> [Row]? {
        var rows: [Row] = []
        guard try forEachRowOfNextGroup({ rows.append($0) }) else { return nil }
        return rows
    }

    /// Calls `body` with each row of the next row group without collecting them; false after the last group.
    public func forEachRowOfNextGroup(_ body: (Row) throws(ReducerError) -> Void) throws -> Bool {
        guard nextGroup < reader.rowGroupCount else { return false }
        let batch = try reader.readRowGroup(nextGroup)
        nextGroup += 1
        let columns = reader.schema.columns
        for row in 0..<batch.rowCount {
            for column in columns.indices {
                cells.set(column, batch.columns[column].value(at: row, as: columns[column].type))
            }
            try body(try Row(parquet: cells))
        }
        return true
    }
}

/// Collects rows as cells and turns them into one typed `ColumnBatch` (the writer's columnar path, linear in rows).
struct ParquetBatchBuilder {
    let columns: [ParquetColumn]
    private var cells: [[ParquetValue]]
    private(set) var count = 0

    init(columns: [ParquetColumn]) {
        self.columns = columns
        cells = Array(repeating: [], count: columns.count)
    }

    mutating func append(_ row: [ParquetValue]) {
        for index in cells.indices { cells[index].append(row[index]) }
        count += 1
    }

    /// One column's cells as typed column storage; list cells flatten into their element column.
    static func columnValues(_ column: [ParquetValue], type: ParquetType) -> ColumnValues {
        switch type {
        case .boolean:
            return .booleans(column.map { if case .boolean(let v) = $0 { v } else { nil } })
        case .int32:
            return .int32s(column.map { if case .int32(let v) = $0 { v } else { nil } })
        case .date:
            return .int32s(column.map { if case .date(let v) = $0 { v } else { nil } })
        case .int64:
            return .int64s(column.map { if case .int64(let v) = $0 { v } else { nil } })
        case .timestamp:
            return .int64s(column.map { if case .timestamp(let v) = $0 { v } else { nil } })
        case .double:
            return .doubles(column.map { if case .double(let v) = $0 { v } else { nil } })
        case .string:
            return .strings(column.map { if case .string(let v) = $0 { v } else { nil } })
        case .list(let element):
            var offsets = [0]
            var flattened: [ParquetValue] = []
            var validity: [Bool] = []
            for cell in column {
                if case .list(let items) = cell {
                    flattened += items
                    validity.append(true)
                } else {
                    validity.append(false)
                }
                offsets.append(flattened.count)
            }
            let elements = columnValues(flattened, type: element)
            return ColumnValues(
                .list(offsets: offsets, elements: elements), validity: validity.allSatisfy { $0 } ? nil : validity)
        }
    }

    /// The collected rows as a batch; the builder is empty afterwards.
    mutating func take() -> ColumnBatch {
        var values: [ColumnValues] = []
        for index in columns.indices {
            values.append(Self.columnValues(cells[index], type: columns[index].type))
        }
        for index in cells.indices { cells[index].removeAll(keepingCapacity: true) }
        count = 0
        return ColumnBatch(values)
    }
}

private func fileError(_ operation: String, _ path: String) -> ReducerError { posixError(operation, path) }

/// Names in `path` (not `.`/`..`); none when it does not exist.
func listFolder(_ path: String) throws(ReducerError) -> [String] {
    guard let directory = opendir(path) else {
        if errno == ENOENT { return [] }
        throw fileError("open folder", path)
    }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

func isFolder(_ path: String) -> Bool {
    var status = stat()
    return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
}

/// `mkdir -p`.
func makeDirectories(_ path: String) throws(ReducerError) {
    var current = path.hasPrefix("/") ? "" : "."
    for component in path.split(separator: "/") {
        current += "/" + component
        if mkdir(current, 0o755) != 0 && errno != EEXIST { throw fileError("create folder", current) }
    }
}

/// `rm -r`, for folders this reducer created; a missing path is not an error.
func removeTree(_ path: String) throws(ReducerError) {
    var status = stat()
    guard lstat(path, &status) == 0 else {
        if errno == ENOENT { return }
        throw fileError("inspect", path)
    }
    guard (status.st_mode & S_IFMT) == S_IFDIR else {
        if unlink(path) != 0 && errno != ENOENT { throw fileError("remove file", path) }
        return
    }
    for child in try listFolder(path).map({ path + "/" + $0 }) {
        var status = stat()
        guard lstat(child, &status) == 0 else { continue }
        if (status.st_mode & S_IFMT) == S_IFDIR {
            try removeTree(child)
        } else if unlink(child) != 0 && errno != ENOENT {
            throw fileError("remove file", child)
        }
    }
    if rmdir(path) != 0 && errno != ENOENT { throw fileError("remove folder", path) }
}

/// Puts `staging` in place of `target`: rename the old folder aside, rename the new one in, remove the old one,
/// and fsync the parent so the swap survives a crash.
func replaceDirectory(_ target: String, with staging: String, runID: String) throws(ReducerError) {
    let parent = String(target[..<target.lastIndex(of: "/")!])
    let name = String(target[target.index(after: target.lastIndex(of: "/")!)...])
    let old = parent + "/.old-\(runID)-\(name)"
    try removeTree(old)
    if rename(target, old) != 0 && errno != ENOENT { throw fileError("move old partition aside", target) }
    if rename(staging, target) != 0 { throw fileError("move new partition into place", staging) }
    try removeTree(old)
    let descriptor = open(parent, O_RDONLY | O_DIRECTORY)
    if descriptor >= 0 {
        fsync(descriptor)
        close(descriptor)
    }
}
