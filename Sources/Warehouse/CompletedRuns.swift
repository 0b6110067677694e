public import Logging
public import PQKit

/// `<warehouse>.completed_runs`: the runs whose reduce, load, model build and data tests all passed. A following
/// reducer (`webtoon reduce --watch`) skips them, so it takes each finished run once.
public struct CompletedRuns: Sendable {
    public let schemas: WarehouseSchemas
    private let logger: Logger

    public init(schemas: WarehouseSchemas = WarehouseSchemas(), logger: Logger) {
        self.schemas = schemas
        self.logger = logger
    }

    /// Every completed run id; none before migration 3 created the table (no run was noted then). Read on every
    /// look of a following reducer, so it does not migrate: `record` does, after a load that migrated anyway.
    nonisolated(nonsending) public func all(on connection: PGConnection) async throws -> Set<String> {
        let exists = try await connection.query("SELECT to_regclass($1) IS NOT NULL", [.text(table)])
        guard try exists.rows.first?.value(0, as: Bool.self) == true else { return [] }
        let result = try await connection.query("SELECT run_id FROM \(table)")
        return Set(try result.rows.compactMap { try $0.value(0, as: String.self) })
    }

    /// Notes `runID` as completed; a repeat (the same run reduced again by hand) updates its figures.
    nonisolated(nonsending) public func record(
        runID: String, inputFiles: Int, loadedRows: Int, on connection: PGConnection
    ) async throws {
        _ = try await Migrator(schemas: schemas, logger: logger).migrate(on: connection)
        _ = try await connection.execute(
            """
            INSERT INTO \(table) (run_id, input_files, loaded_rows) VALUES ($1, $2::bigint, $3::bigint)
            ON CONFLICT (run_id) DO UPDATE SET input_files = EXCLUDED.input_files,
                loaded_rows = EXCLUDED.loaded_rows, completed_at = clock_timestamp()
            """, [.text(runID), .text(String(inputFiles)), .text(String(loadedRows))])
    }

    private var table: String { SQLTemplate(schemas).render("{{warehouse}}.completed_runs") }
}
