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

/// Loads a run's processed slices into the warehouse and builds the models.
public struct RunLoader: Sendable {
    public let schemas: WarehouseSchemas
    private let logger: Logger

    public init(schemas: WarehouseSchemas = WarehouseSchemas(), logger: Logger) {
        self.schemas = schemas
        self.logger = logger
    }

    /// Migrates, then loads every (day, platform) slice of `slices` for titles, genres and episodes from
    /// `processedRoot` (one transaction and one `loads` ledger row per slice and table; reloading the same run with the
    /// same content changes nothing).
    nonisolated(nonsending) public func load(
        processedRoot: String, days: Set<CalendarDay>, runID: String, on connection: PGConnection
    ) async throws -> RunLoadSummary {
        _ = try await Migrator(schemas: schemas, logger: logger).migrate(on: connection)
        let loader = WarehouseLoader(schemas: schemas, logger: logger)
        var results: [LoadResult] = []
        for day in days.sorted() {
            results += try await loader.loadProcessedDay(
                TitleRow.self, processedRoot: processedRoot, snapshotDate: day, runID: runID, on: connection)
            results += try await loader.loadProcessedDay(
                GenreRow.self, processedRoot: processedRoot, snapshotDate: day, runID: runID, on: connection)
            results += try await loader.loadProcessedDay(
                EpisodeRow.self, processedRoot: processedRoot, snapshotDate: day, runID: runID, on: connection)
        }
        return RunLoadSummary(results: results)
    }

    /// Builds every model; a failing data test is `WarehouseError.dataTestFailures` with the offending rows.
    nonisolated(nonsending) public func buildModels(on connection: PGConnection) async throws -> ModelBuildReport {
        try await ModelBuilder(schemas: schemas, logger: logger).build(on: connection)
    }
}
