public import ClusterKit
public import ClusterCore
public import CrawlCluster
import Crypto
import Foundation
public import Logging
import ParquetKit
public import ReducerCore
import WebtoonCore

/// What `RunReducer.reduce` did: per processed table, the reducer's summary.
public struct RunReduceSummary: Sendable, Hashable {
    public var inputFiles: Int
    public var tables: [ReduceSummary]
    /// Every (snapshot day, platform) the run's processed tables now hold.
    public var slices: [ProcessedSlice]
}

/// An accepted output file and the unit that wrote it.
public struct UnitFile: Sendable, Hashable {
    public var unit: String
    public var file: OutputFile
    public init(unit: String, file: OutputFile) {
        self.unit = unit
        self.file = file
    }
}

/// One (snapshot day, platform) of the processed tables.
public struct ProcessedSlice: Sendable, Hashable, Comparable {
    public var snapshotDate: CalendarDay
    public var platform: String
    public init(snapshotDate: CalendarDay, platform: String) {
        self.snapshotDate = snapshotDate
        self.platform = platform
    }
    public static func < (a: ProcessedSlice, b: ProcessedSlice) -> Bool {
        (a.snapshotDate, a.platform) < (b.snapshotDate, b.platform)
    }
}

/// Turns the accepted optimized files of one run into `processed/` tables (titles, genres, episodes, and comments
/// when the crawl collected comment text).
///
/// Inputs are ONLY the files the ledger accepted (never a directory listing): each is checked against its manifest
/// entry (size, SHA-256) and read back; any failure stops the reduce before anything under `processed/` changes.
/// Per (day, platform) the small tables (titles, details, genres) are held in memory; episodes join their stats one
/// unit at a time (episodes whose stats another unit wrote, in a second pass). The mapped rows go to private staging
/// files, which `ProcessedReducer` sorts and deduplicates within `memoryBudget` and swaps in partition by partition.
///
/// Blocking file I/O: call `reduce` on a dedicated thread (`reduceOnDedicatedThread` does).
public struct RunReducer: Sendable {
    public let dataRoot: DataRoot
    public let memoryBudget: Int
    private let logger: Logger

    /// Tests only: called after each table is staged; a throw stands for a failure of that table's reduce.
    var failureInjection: (@Sendable (ProcessedTable) throws -> Void)?

    public init(dataRoot: DataRoot, memoryBudget: Int = 1 << 30, logger: Logger) {
        self.dataRoot = dataRoot
        self.memoryBudget = memoryBudget
        self.logger = logger
    }

    /// `<dataRoot>/processed`.
    public var processedRoot: String { dataRoot.path + "/processed" }

    /// Runs `reduce` on its own thread so the cooperative pool never blocks on file I/O.
    public func reduceOnDedicatedThread(outputs: [AcceptedOutput], runID: String) async throws -> RunReduceSummary {
        try await onDedicatedThread(name: "webtoon-reduce") { try self.reduce(outputs: outputs, runID: runID) }
    }

    /// Blocking. `runID` is the cluster run id (it names the processed files after filtering to `[A-Za-z0-9_-]`).
    public func reduce(outputs: [AcceptedOutput], runID: String) throws -> RunReduceSummary {
        try reduce(files: outputs.map { UnitFile(unit: $0.unit, file: $0.file) }, runID: runID)
    }

    /// Blocking; the same for accepted files given with the unit that wrote each.
    public func reduce(files outputs: [UnitFile], runID: String) throws -> RunReduceSummary {
        let groups = try Self.group(outputs.map { ($0.unit, $0.file) })
        try checkPresent(outputs.map(\.file), runID: runID)
        let fileRunID = Self.fileSafe(runID)
        let staging = dataRoot.path + "/.reduce-staging-" + fileRunID
        try? FileManager.default.removeItem(atPath: staging)
        defer { try? FileManager.default.removeItem(atPath: staging) }
        var mapped = MappedFiles(root: staging)
        for (slice, files) in groups.sorted(by: { $0.key < $1.key }) {
            try mapSlice(slice, files: files, into: &mapped)
        }
        try mapped.closeAll()
        let reducer = ProcessedReducer(
            outputRoot: processedRoot,
            sortConfiguration: ExternalSortConfiguration(memoryBudget: memoryBudget), logger: logger)
        // Every table is staged before any is swapped in, and the swap of all of them is one journaled commit:
        // a failure on a later table leaves the earlier ones untouched.
        var staged: [StagedReduce] = []
        do {
            staged.append(try reducer.stage(TitleRow.self, inputs: mapped.files(.titles), runID: fileRunID))
            try failureInjection?(.titles)
            staged.append(try reducer.stage(GenreRow.self, inputs: mapped.files(.genres), runID: fileRunID))
            try failureInjection?(.genres)
            staged.append(try reducer.stage(EpisodeRow.self, inputs: mapped.files(.episodes), runID: fileRunID))
            try failureInjection?(.episodes)
            // Optional: only a crawl that collects comment text writes them.
            if !mapped.files(.comments).isEmpty {
                staged.append(try reducer.stage(CommentRow.self, inputs: mapped.files(.comments), runID: fileRunID))
            }
        } catch {
            reducer.discard(staged)
            throw error
        }
        try reducer.commit(staged)
        return RunReduceSummary(
            inputFiles: outputs.count, tables: staged.map(\.summary), slices: groups.keys.sorted())
    }

    /// The (day, platform) slices the accepted outputs cover, from their paths alone (no file is read).
    public static func slices(of outputs: [AcceptedOutput]) throws -> [ProcessedSlice] {
        try slices(of: outputs.map(\.file))
    }

    /// The (day, platform) slices of accepted files; a path or table the workers never write is refused by name.
    public static func slices(of files: [OutputFile]) throws -> [ProcessedSlice] {
        try group(files.map { ("", $0) }).keys.sorted()
    }

    /// Parses `1GiB`, `512MiB`, `64KiB` or a plain byte count.
    public static func parseBytes(_ text: String) -> Int? {
        let units: [(String, Int)] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1), ("", 1)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            guard let value = Int(text.dropLast(suffix.count)), value > 0 else { continue }
            let (bytes, overflow) = value.multipliedReportingOverflow(by: factor)
            return overflow ? nil : bytes
        }
        return nil
    }

    /// `[A-Za-z0-9_-]` only (run ids may hold `.` and `+`), as `ProcessedReducer` names files with it.
    public static func fileSafe(_ runID: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in runID.unicodeScalars.prefix(128) {
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "_", "-": scalars.append(scalar)
            default: scalars.append("_")
            }
        }
        return String(scalars)
    }

    struct InputFile {
        let unit: String
        let output: OutputFile
        let table: CrawlTable
        let platform: Platform
    }

    /// Accepted outputs by (day, platform), from their hive paths; anything else is refused by name.
    static func group(_ outputs: [(unit: String, file: OutputFile)]) throws(CrawlReduceError) -> [ProcessedSlice: [InputFile]] {
        var groups: [ProcessedSlice: [InputFile]] = [:]
        for (unit, output) in outputs {
            let path = output.path
            guard let table = CrawlTable(rawValue: output.table) else {
                throw CrawlReduceError(.badOutputList, subject: path, "table '\(output.table)' is not a worker table")
            }
            var values: [String: String] = [:]
            for part in path.split(separator: "/") {
                guard let eq = part.firstIndex(of: "=") else { continue }
                values[String(part[..<eq])] = String(part[part.index(after: eq)...])
            }
            guard let platformName = values["platform"], let platform = Platform(rawValue: platformName),
                let year = values["year"].flatMap({ Int($0) }), let month = values["month"].flatMap({ Int($0) }),
                let dayOfMonth = values["day"].flatMap({ Int($0) }),
                let day = CalendarDay(year: year, month: month, day: dayOfMonth),
                path.hasPrefix("optimized/\(table.rawValue)/"), !path.split(separator: "/").contains("..")
            else {
                throw CrawlReduceError(
                    .badOutputList, subject: path, "not an optimized/TABLE/year=/month=/day=/platform= path")
            }
            groups[ProcessedSlice(snapshotDate: day, platform: platform.rawValue), default: []].append(
                InputFile(unit: unit, output: output, table: table, platform: platform))
        }
        return groups
    }

    private func mapSlice(_ slice: ProcessedSlice, files: [InputFile], into mapped: inout MappedFiles) throws {
        func batch(_ tables: Set<CrawlTable>) throws -> RecordBatch {
            var batch = RecordBatch()
            for file in files where tables.contains(file.table) { try read(file, into: &batch) }
            return batch
        }
        let small = try batch([.titles, .titleDetails, .genres])
        try mapped.write(CrawlRowMapper.titleRows(titles: small.titles, details: small.titleDetails).map(\.parquetValues), .titles, TitleRow.parquetColumns)
        try mapped.write(CrawlRowMapper.genreRows(genres: small.genres, details: small.titleDetails).map(\.parquetValues), .genres, GenreRow.parquetColumns)
        // Episodes join their stats unit by unit (a unit writes an episode page and its stats together), so memory
        // is bounded by one unit; episodes whose stats another unit wrote are matched in a second pass.
        func key(_ e: EpisodeRecord) -> CrawlRowMapper.StatsKey { .init(titleID: e.titleId, episodeID: e.episodeId) }
        // Comments come in the same responses as their episode's stats, so they join the unit's stats for their
        // fetch time.
        let statsFiles = Dictionary(grouping: files.filter { $0.table == .episodeStats }, by: \.unit)
        let episodeFiles = Dictionary(grouping: files.filter { $0.table == .episodes }, by: \.unit)
        let commentFiles = Dictionary(grouping: files.filter { $0.table == .comments }, by: \.unit)
        var unmatched: [EpisodeRecord] = []
        for unit in Set(episodeFiles.keys).union(commentFiles.keys).sorted() {
            var records = RecordBatch()
            for file in statsFiles[unit] ?? [] { try read(file, into: &records) }
            let stats = CrawlRowMapper.statsIndex(records.episodeStats)
            for file in commentFiles[unit] ?? [] { try read(file, into: &records) }
            try mapped.write(
                CrawlRowMapper.commentRows(records.comments, stats: stats).map(\.parquetValues), .comments,
                CommentRow.parquetColumns)
            for file in episodeFiles[unit] ?? [] { try read(file, into: &records) }
            var rows: [[ParquetValue]] = []
            for e in records.episodes {
                if let s = stats[key(e)] { rows.append(CrawlRowMapper.episodeRow(e, stats: s).parquetValues) } else {
                    unmatched.append(e)
                }
            }
            try mapped.write(rows, .episodes, EpisodeRow.parquetColumns)
        }
        var missing = 0
        if !unmatched.isEmpty {
            let wanted = Set(unmatched.map(key))
            var found: [CrawlRowMapper.StatsKey: EpisodeStatsRecord] = [:]
            for file in files where file.table == .episodeStats {
                var records = RecordBatch()
                try read(file, into: &records)
                for (k, s) in CrawlRowMapper.statsIndex(records.episodeStats) where wanted.contains(k) {
                    if let existing = found[k], existing.fetchedAt >= s.fetchedAt { continue }
                    found[k] = s
                }
            }
            let rows = unmatched.map { e in
                let s = found[key(e)]
                if s == nil { missing += 1 }
                return CrawlRowMapper.episodeRow(e, stats: s).parquetValues
            }
            try mapped.write(rows, .episodes, EpisodeRow.parquetColumns)
        }
        if missing > 0 {
            logger.warning(
                "episodes without stats keep NULL counts",
                metadata: ["day": "\(slice.snapshotDate)", "platform": "\(slice.platform)", "episodes": "\(missing)"])
        }
    }

    /// Fails before any file is read when accepted files are missing, naming how many and the first. When none is
    /// there, the likeliest cause is a different `--data-root` from the one the workers wrote to, so it says so.
    func checkPresent(_ files: [OutputFile], runID: String) throws {
        let missing = files.filter { !FileManager.default.fileExists(atPath: dataRoot.path + "/" + $0.path) }
        guard let first = missing.first else { return }
        let path = dataRoot.path + "/" + first.path
        if missing.count == files.count {
            throw CrawlReduceError(
                .unreadableInput, subject: dataRoot.path,
                "none of the \(files.count) files the ledger accepted for run \(runID) is under this data root "
                    + "(first: \(first.path)); reduce with the --data-root the workers wrote to")
        }
        throw CrawlReduceError(
            .unreadableInput, subject: path,
            "missing: \(missing.count) of the \(files.count) files the ledger accepted for run \(runID) are not under "
                + "\(dataRoot.path) (this is the first); were they moved or deleted?")
    }

    /// Checks one accepted file against its manifest entry, then appends its records.
    private func read(_ file: InputFile, into batch: inout RecordBatch) throws {
        let path = dataRoot.path + "/" + file.output.path
        let bytes: Data
        do {
            bytes = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
        } catch {
            throw CrawlReduceError(.unreadableInput, subject: path, "\(error)")
        }
        guard Int64(bytes.count) == file.output.bytes else {
            throw CrawlReduceError(
                .corruptInput, subject: path, "\(bytes.count) bytes, the ledger accepted \(file.output.bytes)")
        }
        let digest = SHA256.hash(data: bytes).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
        guard digest == file.output.sha256 else {
            throw CrawlReduceError(
                .corruptInput, subject: path, "SHA-256 \(digest) differs from the accepted \(file.output.sha256)")
        }
        do {
            let reader = try ParquetReader(bytes: [UInt8](bytes), name: path)
            guard Int64(reader.rowCount) == file.output.rows else {
                throw CrawlReduceError(
                    .corruptInput, subject: path, "\(reader.rowCount) rows, the ledger accepted \(file.output.rows)")
            }
            let columns = file.table.schema.columns
            for group in 0..<reader.rowGroupCount {
                let decoded = try reader.readRowGroup(group)
                var rows: [[ParquetValue]] = []
                rows.reserveCapacity(decoded.rowCount)
                for i in 0..<decoded.rowCount {
                    rows.append(zip(decoded.columns, columns).map { $0.value(at: i, as: $1.type) })
                }
                try CrawlRows.append(rows: rows, table: file.table, platform: file.platform, to: &batch)
            }
        } catch let error as CrawlReduceError {
            throw error
        } catch {
            throw CrawlReduceError(.corruptInput, subject: path, "\(error)")
        }
    }
}

/// The mapped staging files, one open writer per processed table, rolled over every `rowsPerFile` rows.
struct MappedFiles {
    let root: String
    static let rowsPerFile = 1 << 20
    private var writers: [ProcessedTable: (writer: ParquetWriter, rows: Int)] = [:]
    private var done: [ProcessedTable: [String]] = [:]
    private var counter = 0

    init(root: String) { self.root = root }

    func files(_ table: ProcessedTable) -> [String] { done[table] ?? [] }

    mutating func write(_ rows: [[ParquetValue]], _ table: ProcessedTable, _ columns: [ParquetColumn]) throws {
        guard !rows.isEmpty else { return }
        do {
            if writers[table] == nil {
                let folder = root + "/" + table.rawValue
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                counter += 1
                let path = folder + "/mapped-\(counter).parquet"
                writers[table] = (try ParquetWriter(path: path, schema: try ParquetSchema(columns)), 0)
                done[table, default: []].append(path)
            }
            for row in rows { try writers[table]!.writer.append(row: row) }
            writers[table]!.rows += rows.count
            if writers[table]!.rows >= Self.rowsPerFile {
                _ = try writers.removeValue(forKey: table)!.writer.close()
            }
        } catch {
            throw CrawlReduceError(.writeFailed, subject: root + "/" + table.rawValue, "\(error)")
        }
    }

    mutating func closeAll() throws {
        for (table, open) in writers {
            do { _ = try open.writer.close() } catch {
                throw CrawlReduceError(.writeFailed, subject: root + "/" + table.rawValue, "\(error)")
            }
        }
        writers = [:]
    }
}
