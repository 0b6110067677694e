public import Logging
public import PQKit
public import ReducerCore
public import Warehouse

/// Rows loaded per processed table by `RunLoader.load`.
public struct RunLoadSummary: Sendable, Hashable {
    public var results: [LoadResult]
    /// Rows in the loaded slices, per table (unchanged slices count too: they hold these rows).
    public var rowsPerTable: [ProcessedTable: Int] {
        results.reduce(into: [:]) { $0[$1.table, default: 0] += $1.rows }
    }
    /// Slices that were actually replaced (a second identical load replaces none).
    public var replacedSlices: Int { results.filter(\.replaced).count }
}

/// Progress of a whole run's load, over every slice of every table.
public struct RunLoadProgress: Sendable, Hashable {
    /// Rows sent so far, over all slices.
    public var rows: Int
    /// Rows in every planned slice (from the Parquet footers).
    public var totalRows: Int
    public var elapsedSeconds: Double
    public var rowsPerSecond: Double
    /// At the current rate; nil before the rate is known.
    public var estimatedSecondsRemaining: Double?
    /// The slice being loaded.
    public var table: ProcessedTable
    public var platform: String
    public var snapshotDate: CalendarDay
}

/// Loads a run's processed slices into the warehouse and builds the models.
public struct RunLoader: Sendable {
    public let schemas: WarehouseSchemas
    /// See `WarehouseLoader.replacesChangedRuns`.
    public let replacesChangedRuns: Bool
    private let logger: Logger

    public init(schemas: WarehouseSchemas = WarehouseSchemas(), replacingChangedRuns: Bool = false, logger: Logger) {
        self.schemas = schemas
        self.replacesChangedRuns = replacingChangedRuns
        self.logger = logger
    }

    /// Migrates, then loads every (day, platform) slice of `days` for titles, genres, episodes and (when the reduce
    /// wrote it) comments from `processedRoot`: one transaction and one `loads` ledger row per slice and table;
    /// reloading the same run with the same content changes nothing. `progress` gets the overall rows, rate and ETA
    /// about once per `progressInterval`, and once at the end.
    nonisolated(nonsending) public func load(
        processedRoot: String, days: Set<CalendarDay>, runID: String, on connection: PGConnection,
        progressInterval: Duration = .seconds(1), progress: ((RunLoadProgress) -> Void)? = nil
    ) async throws -> RunLoadSummary {
        _ = try await Migrator(schemas: schemas, logger: logger).migrate(on: connection)
        let loader = WarehouseLoader(schemas: schemas, replacingChangedRuns: replacesChangedRuns, logger: logger)
        let plans = try await onDedicatedThread(name: "webtoon-load-plan") {
            var plans: [ProcessedSlicePlan] = []
            for day in days.sorted() {
                for table in [ProcessedTable.titles, .genres, .episodes, .comments] {
                    plans += try WarehouseLoader.planProcessedDay(table, processedRoot: processedRoot, snapshotDate: day)
                }
            }
            return plans
        }
        let totalRows = plans.reduce(0) { $0 + $1.rows }
        let clock = ContinuousClock()
        let started = clock.now
        var finishedRows = 0
        func report(_ plan: ProcessedSlicePlan, sliceRows: Int) {
            guard let progress else { return }
            let elapsed = (clock.now - started) / .seconds(1)
            let rows = finishedRows + sliceRows
            let rate = elapsed > 0 ? Double(rows) / elapsed : 0
            progress(
                RunLoadProgress(
                    rows: rows, totalRows: totalRows, elapsedSeconds: elapsed, rowsPerSecond: rate,
                    estimatedSecondsRemaining: rate > 0 ? Double(max(0, totalRows - rows)) / rate : nil,
                    table: plan.table, platform: plan.platform, snapshotDate: plan.snapshotDate))
        }
        var results: [LoadResult] = []
        for plan in plans {
            nonisolated(nonsending) func load<Row: WarehouseRow & ParquetRow>(_ type: Row.Type) async throws -> LoadResult {
                try await loader.loadPlannedSlice(
                    type, plan, on: connection, runID: runID, progressInterval: progressInterval,
                    progress: { report(plan, sliceRows: $0.rows) })
            }
            let result =
                switch plan.table {
                case .titles: try await load(TitleRow.self)
                case .genres: try await load(GenreRow.self)
                case .episodes: try await load(EpisodeRow.self)
                case .comments: try await load(CommentRow.self)
                }
            finishedRows += result.rows
            results.append(result)
        }
        if let last = plans.last { report(last, sliceRows: 0) }
        return RunLoadSummary(results: results)
    }

    /// Builds every model; a failing data test is `WarehouseError.dataTestFailures` with the offending rows.
    nonisolated(nonsending) public func buildModels(on connection: PGConnection) async throws -> ModelBuildReport {
        try await ModelBuilder(schemas: schemas, logger: logger).build(on: connection)
    }
}
