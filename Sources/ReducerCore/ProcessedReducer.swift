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
    /// Tests only: called after each partition swap of a commit; a throw stands for a crash at that point.
    var afterSwap: (@Sendable (Int) throws -> Void)?

    /// Row groups of at most 256 Ki rows / 32 MiB, so the writer's buffered group stays small beside the sort budget.
    public static var defaultWriterOptions: ParquetWriterOptions {
        var options = ParquetWriterOptions()
        options.rowGroupRows = 256 << 10
        options.rowGroupBytes = 32 << 20
        return options
    }

    /// On the columnar path everything (input slices and compressed row group, sort entries, spill merge, output
    /// row group) is counted within `sortConfiguration.memoryBudget` (`ColumnarMemoryPlan`); the row path's peak is
    /// about the budget plus one decoded input row group plus one buffered output row group.
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
    /// `runID` (`[A-Za-z0-9_-]{1,128}`) names the output files. The same as `stage` then `commit` of one table.
    public func reduce<Row: ParquetRow>(_ type: Row.Type, inputs: [String], runID: String) throws -> ReduceSummary {
        let staged = try stage(type, inputs: inputs, runID: runID)
        try commit([staged])
        return staged.summary
    }

    /// Sorts, deduplicates and writes every partition of `inputs` into hidden staging folders beside the partitions
    /// it replaces, changing nothing readers see; `commit` swaps them in, `discard` removes them. Row types that
    /// declare `naturalKeyColumns` take the columnar path (no per-row values), others the row path.
    public func stage<Row: ParquetRow>(_ type: Row.Type, inputs: [String], runID: String) throws -> StagedReduce {
        let fileName = try ParquetDataset.fileName(unitId: runID, attempt: 0)
        try recover(Row.table)
        // The writer's buffered row group is part of the output's share of the budget (`ColumnarMemoryPlan`).
        var options = writerOptions
        options.rowGroupBytes = min(options.rowGroupBytes, max(256 << 10, sortConfiguration.memoryBudget / 32))
        func makeSink() throws -> PartitionSink {
            try PartitionSink(
                table: Row.table, columns: Row.parquetColumns, root: outputRoot, fileName: fileName, runID: runID,
                writerOptions: options)
        }
        var sinks = [try makeSink()]
        do {
            let statistics: ExternalSortStatistics
            if let layout = ColumnarLayout(Row.self) {
                statistics = try reduceColumns(Row.self, layout: layout, inputs: inputs, sinks: &sinks, make: makeSink)
            } else {
                statistics = try reduceRows(type, inputs: inputs, into: sinks[0])
            }
            // Workers each wrote whole partitions; list them in key order, as one worker would have.
            let written = sinks.flatMap(\.partitions).sorted {
                ($0.partition.snapshotDate, $0.partition.platform) < ($1.partition.snapshotDate, $1.partition.platform)
            }
            var stats = statistics
            stats.outputRecords = written.reduce(0) { $0 + $1.partition.rows }
            let summary = ReduceSummary(
                table: Row.table, inputFiles: inputs.count, inputRows: stats.inputRecords,
                outputRows: stats.outputRecords, partitions: written.map(\.partition), sort: stats)
            logger.info(
                "reduced processed table",
                metadata: [
                    "table": "\(Row.table)", "run": "\(runID)", "inputs": "\(inputs.count)",
                    "rows_in": "\(summary.inputRows)", "rows_out": "\(summary.outputRows)",
                    "partitions": "\(summary.partitions.count)", "spilled_runs": "\(stats.spilledRuns)",
                    "columnar": "\(sinks[0].layout != nil)", "workers": "\(stats.partitionWorkers)",
                ])
            return StagedReduce(summary: summary, stagings: written.map(\.staging), runID: runID)
        } catch {
            for sink in sinks { sink.abort() }
            throw error
        }
    }

    /// The columnar path: on `partitionWorkers` threads when the budget can be shared (each with its own sink,
    /// appended to `sinks`), else on the calling thread. Output row groups are cut by a row count taken from the
    /// widest input row, so the files are the same either way.
    private func reduceColumns<Row: ParquetRow>(
        _: Row.Type, layout: ColumnarLayout, inputs: [String], sinks: inout [PartitionSink],
        make: () throws -> PartitionSink
    ) throws -> ExternalSortStatistics {
        let plan = ColumnarMemoryPlan(budget: sortConfiguration.memoryBudget)
        // Footers only, read once; an unreadable file fails properly when it is read.
        let footers = ColumnarInput(layout: layout, sliceBytes: plan.sliceBytes).footers(inputs)
        let worker = PartitionedColumnarReduce<Row>.workerConfiguration(sortConfiguration, footers: footers)
        if worker != nil { for _ in 1..<sortConfiguration.partitionWorkers { sinks.append(try make()) } }
        for sink in sinks { sink.layout = layout }
        guard let worker else {
            let reduce = try ColumnarReduce<Row>(layout: layout, configuration: sortConfiguration, logger: logger)
            reduce.reserve(forRows: footers.rows)
            try reduce.reduce(inputs, into: sinks[0]) {
                plan.outputRowGroupRows(bytesPerRow: $0, limit: writerOptions.rowGroupRows)
            }
            return reduce.statistics
        }
        let reduce = try PartitionedColumnarReduce<Row>(
            layout: layout, worker: worker, sliceBytes: plan.sliceBytes, sinks: sinks, inputs: inputs,
            expectedRows: footers.rows, logger: logger)
        let limit = writerOptions.rowGroupRows
        return try reduce.run { plan.outputRowGroupRows(bytesPerRow: $0, limit: limit) }
    }

    /// The row path: each row decoded to `Row`, encoded for `ExternalSorter`, decoded again after the merge.
    private func reduceRows<Row: ParquetRow>(_: Row.Type, inputs: [String], into sink: PartitionSink) throws
        -> ExternalSortStatistics
    {
        let sorter = try ProcessedRowSorter<Row>(configuration: sortConfiguration, logger: logger)
        for path in inputs {
            try Self.readRows(Row.self, from: path) { row throws(ReducerError) in try sorter.add(row) }
        }
        let platformIndex = Row.parquetColumns.firstIndex { $0.name == "platform" }!
        var batch = ParquetBatchBuilder(columns: sink.schema.columns)
        var current: (day: CalendarDay, platform: String)?
        let statistics = try sorter.finish { row in
            if let open = current, open.day != row.snapshotDate || open.platform != row.platform {
                if batch.count > 0 { try sink.write(batch.take()) }
                current = nil
            }
            if current == nil {
                try sink.open(day: row.snapshotDate, platform: row.platform)
                current = (row.snapshotDate, row.platform)
            }
            var cells = row.parquetValues
            cells.remove(at: platformIndex)
            batch.append(cells)
            if batch.count >= Self.batchRows { try sink.write(batch.take()) }
        }
        if batch.count > 0 { try sink.write(batch.take()) }
        try sink.closeCurrent()
        return statistics
    }

    /// Swaps every staged partition of `staged` (one or more tables of one run) into place, all or nothing: a
    /// journal listing the swaps is made durable first, so a crash part-way is finished by the next `recover`
    /// (roll forward) rather than leaving some tables new and others old. A failure before the journal exists
    /// removes the staging folders and leaves `processed/` as it was.
    public func commit(_ staged: [StagedReduce]) throws {
        let pairs = staged.flatMap { zip($0.summary.partitions.map(\.directory), $0.stagings) }
        guard let runID = staged.first?.runID, !pairs.isEmpty else { return }
        let journal = outputRoot + "/.commit-" + runID
        do {
            var text = ""
            for (target, staging) in pairs { text += relative(target) + "\t" + relative(staging) + "\n" }
            try writeDurably(journal, text)
        } catch {
            discard(staged)
            throw error
        }
        for (index, (target, staging)) in pairs.enumerated() {
            try rollForward(target, staging: staging, runID: runID)
            try afterSwap?(index)
        }
        if unlink(journal) != 0 { throw fileError("remove commit journal", journal) }
        syncFolder(outputRoot)
    }

    /// Removes the staging folders of reduces that will not be committed (and the empty folders made for them).
    public func discard(_ staged: [StagedReduce]) {
        for reduce in staged {
            for staging in reduce.stagings {
                try? removeTree(staging)
                removeEmptyParents(of: staging, below: outputRoot)
            }
        }
    }

    private func relative(_ path: String) -> String { String(path.dropFirst(outputRoot.count + 1)) }

    /// Puts `staging` in place of `target` if it is still there (rename the old folder aside, rename the new one
    /// in), then removes the old one; repeatable after a crash at any step.
    private func rollForward(_ target: String, staging: String, runID: String) throws(ReducerError) {
        let parent = String(target[..<target.lastIndex(of: "/")!])
        let name = String(target[target.index(after: target.lastIndex(of: "/")!)...])
        let old = parent + "/.old-\(runID)-\(name)"
        if access(staging, F_OK) == 0 {
            try removeTree(old)
            if rename(target, old) != 0 && errno != ENOENT { throw fileError("move old partition aside", target) }
            if rename(staging, target) != 0 { throw fileError("move new partition into place", staging) }
        }
        try removeTree(old)
        syncFolder(parent)
    }

    /// Finishes the swaps of every commit journal under the output root (a commit interrupted after its journal
    /// was written), and removes journals that were never completed.
    private func recoverJournals() throws {
        for name in try listFolder(outputRoot) where name.hasPrefix(".commit-") {
            let path = outputRoot + "/" + name
            if name.hasSuffix(".tmp") {
                try removeTree(path)
                continue
            }
            let runID = String(name.dropFirst(".commit-".count))
            let text = try readSmallFile(path)
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: "\t", omittingEmptySubsequences: false)
                guard parts.count == 2, !parts.contains(where: { $0.isEmpty || $0.contains("..") }) else {
                    throw ReducerError(
                        code: .io, operation: "recover commit journal", subject: path,
                        detail: "malformed line '\(line)'")
                }
                try rollForward(
                    outputRoot + "/" + parts[0], staging: outputRoot + "/" + parts[1], runID: runID)
            }
            if unlink(path) != 0 { throw fileError("remove commit journal", path) }
            logger.warning("finished a commit interrupted by a crash", metadata: ["journal": "\(path)"])
        }
        syncFolder(outputRoot)
    }

    /// Repairs what an interrupted reduce can leave under `processed/TABLE/`: a partition renamed aside
    /// (`.old-RUN-platform=P`) whose replacement never arrived is put back; other `.old-…` and `.staging-…` folders
    /// are removed. Runs at the start of every `stage`, after any interrupted commit has been finished.
    public func recover(_ table: ProcessedTable) throws {
        try recoverJournals()
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

/// Removes now-empty folders from `path`'s parent up to (not including) `root`.
func removeEmptyParents(of path: String, below root: String) {
    var folder = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
    while folder.count > root.count + 1, folder.hasPrefix(root + "/"), rmdir(folder) == 0 {
        folder = String(folder[..<(folder.lastIndex(of: "/") ?? folder.startIndex)])
    }
}

/// fsync of a folder, so renames inside it survive a crash (best effort: some file systems refuse it).
func syncFolder(_ path: String) {
    let descriptor = open(path, O_RDONLY | O_DIRECTORY)
    if descriptor >= 0 {
        fsync(descriptor)
        close(descriptor)
    }
}

/// Writes `text` to `path` so that it is either absent or complete and durable: a temporary file, fsync, rename.
func writeDurably(_ path: String, _ text: String) throws(ReducerError) {
    let temporary = path + ".tmp"
    let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else { throw fileError("create", temporary) }
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeMutableBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
        if written < 0 {
            if errno == EINTR { continue }
            let error = fileError("write", temporary)
            close(descriptor)
            unlink(temporary)
            throw error
        }
        offset += written
    }
    guard fsync(descriptor) == 0, close(descriptor) == 0 else {
        let error = fileError("sync", temporary)
        unlink(temporary)
        throw error
    }
    guard rename(temporary, path) == 0 else {
        let error = fileError("rename", temporary)
        unlink(temporary)
        throw error
    }
    syncFolder(String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]))
}

/// The whole of a small text file (a commit journal).
func readSmallFile(_ path: String) throws(ReducerError) -> String {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { throw fileError("open", path) }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 << 10)
    while true {
        let got = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress!, $0.count) }
        if got < 0 {
            if errno == EINTR { continue }
            throw fileError("read", path)
        }
        if got == 0 { break }
        bytes += chunk[0..<got]
        guard bytes.count <= 64 << 20 else {
            throw ReducerError(code: .io, operation: "read", subject: path, detail: "larger than 64 MiB")
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// The partitions of one table of a run, written under staging names and not yet visible.
public struct StagedReduce: Sendable {
    public let summary: ReduceSummary
    /// The staging folder of each of `summary.partitions`, in the same order.
    let stagings: [String]
    let runID: String
}

/// Opens one staging writer per (day, platform) partition in turn and collects what was written; as a
/// `WinnerSink` it gathers the winners' columns straight into output batches.
final class PartitionSink: WinnerSink {
    struct Staged {
        var partition: ReducedPartition
        let staging: String
    }

    let schema: ParquetSchema
    private let root: String
    private let dataset: ParquetDataset
    private let fileName: String
    private let runID: String
    /// `rowGroupRows` is set once the inputs are read (`ColumnarMemoryPlan.outputRowGroupRows`).
    var writerOptions: ParquetWriterOptions
    private(set) var partitions: [Staged] = []
    private var writer: ParquetWriter?
    private var currentWord: UInt64?
    /// Set on the columnar path: which columns a winner's row has.
    var layout: ColumnarLayout?

    init(
        table: ProcessedTable, columns: [ParquetColumn], root: String, fileName: String, runID: String,
        writerOptions: ParquetWriterOptions
    ) throws {
        schema = try ParquetSchema(columns.filter { $0.name != "platform" })
        self.root = root
        dataset = ParquetDataset(root: root + "/" + table.rawValue)
        self.fileName = fileName
        self.runID = runID
        self.writerOptions = writerOptions
    }

    /// Starts the partition of (day, platform) in a fresh staging folder beside it.
    func open(day: CalendarDay, platform: String) throws {
        let (year, month, dayOfMonth) = day.components
        let partition = try HivePartition.daily(year: year, month: month, day: dayOfMonth, platform: platform)
        let directory = dataset.directory(of: partition)
        let parent = String(directory[..<directory.lastIndex(of: "/")!])
        let staging = parent + "/.staging-\(runID)-platform=\(platform)"
        try makeDirectories(parent)
        try removeTree(staging)
        try makeDirectories(staging)
        writer = try ParquetWriter(path: staging + "/" + fileName, schema: schema, options: writerOptions)
        partitions.append(
            Staged(
                partition: ReducedPartition(
                    snapshotDate: day, platform: platform, directory: directory, file: directory + "/" + fileName,
                    rows: 0),
                staging: staging))
    }

    func write(_ batch: ColumnBatch) throws { try writer!.write(batch) }

    /// Closes the open partition's file (committing it inside its staging folder).
    func closeCurrent() throws {
        guard let open = writer else { return }
        writer = nil
        partitions[partitions.count - 1].partition.rows = try open.close().rows
    }

    /// Drops everything staged so far.
    func abort() {
        writer?.abort()
        writer = nil
        for staged in partitions {
            try? removeTree(staged.staging)
            removeEmptyParents(of: staged.staging, below: root)
        }
    }

    func accept(_ entry: SortEntry, from gatherer: Gatherer) throws {
        if entry.w0 != currentWord {
            try flush(gatherer)
            try closeCurrent()
            let day = CalendarDay(daysSinceEpoch: Int32(bitPattern: UInt32(truncatingIfNeeded: entry.w0 >> 32) ^ 0x8000_0000))
            let platform = String(decoding: ColumnarLayout.platforms[Int(entry.w0 & 0xFF)], as: UTF8.self)
            try open(day: day, platform: platform)
            currentWord = entry.w0
        }
        gatherer.pick(entry.ref)
        if gatherer.shouldFlush { try flush(gatherer) }
    }

    func finish(from gatherer: Gatherer) throws {
        try flush(gatherer)
        try closeCurrent()
    }

    private func flush(_ gatherer: Gatherer) throws {
        guard !gatherer.picks.isEmpty else { return }
        guard let layout else { return }
        try write(gatherer.gather(layout.outputColumns, layout: layout))
        gatherer.clearPicks()
    }
}
