public import Logging
public import PQKit

/// A data test: a query (template) that returns the offending rows; it passes when there are none.
public struct DataTest: Sendable, Hashable {
    public let name: String
    let sql: String
    let parameters: [PGValue?]

    /// `sql` must select the offending rows; `{{warehouse}}`, `{{site}}`, `{{dashboard}}` are substituted.
    public init(name: String, sql: String, parameters: [PGValue?] = []) {
        self.name = name
        self.sql = sql
        self.parameters = parameters
    }

    /// Rows where any of `columns` is NULL.
    public static func notNull(_ table: String, _ columns: [String]) -> DataTest {
        let condition = columns.map { "\(quoteIdentifier($0)) IS NULL" }.joined(separator: " OR ")
        return DataTest(
            name: "not_null(\(table): \(columns.joined(separator: ", ")))",
            sql: "SELECT * FROM \(table) WHERE \(condition)")
    }

    /// Key values that occur more than once, with their count.
    public static func unique(_ table: String, _ columns: [String]) -> DataTest {
        let list = columns.map(quoteIdentifier).joined(separator: ", ")
        return DataTest(
            name: "unique(\(table): \(columns.joined(separator: ", ")))",
            sql: "SELECT \(list), count(*) AS occurrences FROM \(table) GROUP BY \(list) HAVING count(*) > 1")
    }

    /// Child rows whose key has no parent row.
    public static func relationship(
        _ child: String, _ childColumns: [String], references parent: String, _ parentColumns: [String]
    ) -> DataTest {
        let join = zip(childColumns, parentColumns)
            .map { "p.\(quoteIdentifier($1)) = c.\(quoteIdentifier($0))" }.joined(separator: " AND ")
        return DataTest(
            name: "relationship(\(child) (\(childColumns.joined(separator: ", "))) -> \(parent))",
            sql: "SELECT c.* FROM \(child) c WHERE NOT EXISTS (SELECT 1 FROM \(parent) p WHERE \(join))")
    }

    /// Rows whose `column` (text) is not one of `values` (bound as a parameter).
    public static func acceptedValues(_ table: String, _ column: String, _ values: [String]) -> DataTest {
        let elements = values.map { "\"" + $0.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\"" }
        let literal = "{" + elements.joined(separator: ",") + "}"
        return DataTest(
            name: "accepted_values(\(table).\(column) in \(values.joined(separator: ", ")))",
            sql: "SELECT * FROM \(table) WHERE NOT (\(quoteIdentifier(column))::text = ANY ($1::text[]))",
            parameters: [.text(literal)])
    }

    /// One row when `table` is empty although `whenNotEmpty` has rows (so an empty warehouse is not a failure).
    public static func rowCountPositive(_ table: String, whenNotEmpty source: String) -> DataTest {
        DataTest(
            name: "row_count_positive(\(table))",
            sql: "SELECT (SELECT count(*) FROM \(source)) AS source_rows, 0 AS rows "
                + "WHERE EXISTS (SELECT 1 FROM \(source)) AND NOT EXISTS (SELECT 1 FROM \(table))")
    }
}

/// The outcome of one data test: how many rows offend and the first few of them.
public struct DataTestResult: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    public let failingRows: Int
    public let columns: [String]
    /// Up to the builder's `sampleLimit` offending rows, as PostgreSQL text.
    public let sample: [[String?]]
    public var passed: Bool { failingRows == 0 }

    public var description: String {
        guard !passed else { return "PASS \(name)" }
        var lines = [
            "FAIL \(name): \(failingRows) offending rows; first \(sample.count):",
            "  " + columns.joined(separator: " | "),
        ]
        for row in sample { lines.append("  " + row.map { $0 ?? "NULL" }.joined(separator: " | ")) }
        return lines.joined(separator: "\n")
    }
}

/// What a model build did.
public struct ModelBuildReport: Sendable, Hashable {
    public var models: [String]
    public var tableRows: [String: Int]
    public var tests: [DataTestResult]
}

/// Builds the site and dashboard models and runs the data tests.
///
/// `build` runs in ONE transaction: it builds every model into `<site>_next` / `<dashboard>_next`, runs the data
/// tests there, and only if all pass drops the old schemas and renames the new ones into place. Readers see the
/// old tables until the commit, then the new ones; a failing test rolls everything back and throws
/// `WarehouseError.dataTestsFailed` with the offending rows.
public struct ModelBuilder: Sendable {
    public let schemas: WarehouseSchemas
    public let models: [SQLModel]
    public let sampleLimit: Int
    private let logger: Logger

    public init(
        schemas: WarehouseSchemas = WarehouseSchemas(), models: [SQLModel] = WarehouseModels.all,
        sampleLimit: Int = 20, logger: Logger
    ) {
        self.schemas = schemas
        self.models = models
        self.sampleLimit = sampleLimit
        self.logger = logger
    }

    /// The data tests, as templates over `{{warehouse}}`, `{{site}}` and `{{dashboard}}`.
    public static let dataTests: [DataTest] = {
        let dim = "{{site}}.dim_webtoon_titles"
        let fct = "{{site}}.fct_webtoon_episodes"
        let genres = "{{site}}.dim_webtoon_genres"
        let platforms = ["naver", "kakao"]
        return [
            .notNull(dim, ["platform", "id", "title", "release_days", "is_completed", "last_seen_date"]),
            .notNull(fct, ["platform", "title_id", "episode_id", "no", "snapshot_date"]),
            .unique(dim, ["platform", "id"]),
            .unique(fct, ["platform", "title_id", "episode_id"]),
            .unique(genres, ["platform", "title_id", "genre_name"]),
            .relationship(fct, ["platform", "title_id"], references: dim, ["platform", "id"]),
            .relationship(genres, ["platform", "title_id"], references: dim, ["platform", "id"]),
            .acceptedValues(dim, "platform", platforms),
            .acceptedValues(fct, "platform", platforms),
            .acceptedValues("{{warehouse}}.titles", "release_day", (0...7).map(String.init)),
            DataTest(
                name: "accepted_values(\(dim).release_days in 0..7, non-empty)",
                sql: "SELECT platform, id, release_days FROM \(dim) "
                    + "WHERE cardinality(release_days) = 0 OR NOT (release_days <@ ARRAY[0,1,2,3,4,5,6,7])"),
            DataTest(
                name: "missing_has_reason(\(fct))",
                sql: "SELECT platform, title_id, episode_id, likes, comments FROM \(fct) "
                    + "WHERE (likes IS NULL OR comments IS NULL) AND missing_reason IS NULL"),
            DataTest(
                name: "one_value_per_title_snapshot({{warehouse}}.titles)",
                sql:
                    "SELECT platform, id, snapshot_date, count(DISTINCT (title, author, views, is_completed)) AS versions "
                    + "FROM {{warehouse}}.titles GROUP BY platform, id, snapshot_date "
                    + "HAVING count(DISTINCT (title, author, views, is_completed)) > 1"),
            .rowCountPositive(dim, whenNotEmpty: "{{warehouse}}.titles"),
            .rowCountPositive(fct, whenNotEmpty: "{{warehouse}}.episodes"),
            .rowCountPositive("{{dashboard}}.popularity_by_weekday", whenNotEmpty: "{{warehouse}}.titles"),
            .unique("{{dashboard}}.genre_ranking", ["platform", "genre_name"]),
            .unique("{{dashboard}}.top_titles_by_views_per_episode", ["platform", "title_id"]),
        ]
    }()

    private var lockKey: Int64 { advisoryLockKey("webtoon.models.\(schemas.site).\(schemas.dashboard)") }

    /// Builds every model and swaps it into place if every data test passes.
    public func build(on connection: PGConnection) async throws -> ModelBuildReport {
        try schemas.validate()
        let next = WarehouseSchemas(
            warehouse: schemas.warehouse, site: schemas.site + "_next", dashboard: schemas.dashboard + "_next")
        let building = SQLTemplate(next)
        // Outside the build's transaction: the statistics stay even when a data test fails the build.
        try await analyzeNewSlices(on: connection)
        let report = try await connection.withTransaction { connection -> ModelBuildReport in
            try await connection.execute("SELECT pg_advisory_xact_lock($1)", [.int(lockKey)])
            for schema in [next.site, next.dashboard] {
                try await connection.execute("DROP SCHEMA IF EXISTS \(quoteIdentifier(schema)) CASCADE")
                try await connection.execute("CREATE SCHEMA \(quoteIdentifier(schema))")
            }
            for model in models {
                for statement in model.statements { try await connection.execute(building.render(statement)) }
            }
            let results = try await runTests(on: connection, template: building)
            let failures = results.filter { !$0.passed }
            guard failures.isEmpty else {
                throw WarehouseError(
                    code: .dataTestsFailed, operation: "build models", subject: "\(schemas.site), \(schemas.dashboard)",
                    detail: "\(failures.count) data tests failed; nothing was swapped in\n"
                        + failures.map(\.description).joined(separator: "\n"),
                    dataTestFailures: failures)
            }
            var rows: [String: Int] = [:]
            for model in models {
                let table = building.render(model.qualifiedTemplate)
                // The site queries these at once: plan them from statistics, not from defaults.
                try await connection.execute("ANALYZE \(table)")
                rows[model.name] =
                    try await connection.query("SELECT count(*) FROM \(table)").rows.first?
                    .value(0, as: Int.self) ?? 0
            }
            for (old, new) in [(schemas.site, next.site), (schemas.dashboard, next.dashboard)] {
                try await connection.execute("DROP SCHEMA IF EXISTS \(quoteIdentifier(old)) CASCADE")
                try await connection.execute(
                    "ALTER SCHEMA \(quoteIdentifier(new)) RENAME TO \(quoteIdentifier(old))")
            }
            return ModelBuildReport(models: models.map(\.name), tableRows: rows, tests: results)
        }
        logger.info(
            "built models",
            metadata: [
                "site": "\(schemas.site)", "dashboard": "\(schemas.dashboard)", "tests": "\(report.tests.count)",
            ])
        return report
    }

    /// Slices loaded since the last build have no column statistics (a load leaves them to this step, which
    /// follows every load, rather than spend 15–20% of its own time on them): the models are planned from them.
    /// Only leaves without any are sampled, so the cost follows the new slices, not the warehouse's size.
    public func analyzeNewSlices(on connection: PGConnection) async throws {
        let leaves = try await connection.query(
            """
            SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relispartition AND c.reltuples <> 0
              AND NOT EXISTS (SELECT 1 FROM pg_stats s WHERE s.schemaname = n.nspname AND s.tablename = c.relname)
            ORDER BY 1
            """, [.text(schemas.warehouse)])
        for row in leaves.rows {
            guard let leaf = row[0] else { continue }
            try await connection.execute("ANALYZE \(leaf)")
        }
        if !leaves.rows.isEmpty { logger.info("analyzed new warehouse slices", metadata: ["slices": "\(leaves.rows.count)"]) }
    }

    /// Runs the data tests against the live schemas (after a build, or on demand).
    public func test(on connection: PGConnection) async throws -> [DataTestResult] {
        try schemas.validate()
        return try await runTests(on: connection, template: SQLTemplate(schemas))
    }

    private func runTests(on connection: PGConnection, template: SQLTemplate) async throws -> [DataTestResult] {
        var results: [DataTestResult] = []
        for test in Self.dataTests {
            let sql = template.render(test.sql)
            let count =
                try await connection.query("SELECT count(*) FROM (\(sql)) offending", test.parameters)
                .rows.first?.value(0, as: Int.self) ?? 0
            var columns: [String] = []
            var sample: [[String?]] = []
            if count > 0 {
                let rows = try await connection.query(
                    "SELECT * FROM (\(sql)) offending LIMIT $\(test.parameters.count + 1)",
                    test.parameters + [.int(Int64(sampleLimit))])
                columns = rows.columns.map(\.name)
                sample = rows.rows.map(\.values)
            }
            results.append(
                DataTestResult(
                    name: template.render(test.name), failingRows: count, columns: columns, sample: sample))
        }
        return results
    }
}
