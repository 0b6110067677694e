public import Logging
public import PQKit

/// One versioned schema change. Statements are SQL templates (`{{warehouse}}` …) run in order inside one
/// transaction; the checksum covers the templates, so it is the same whatever the schema names are.
public struct Migration: Sendable, Hashable {
    public let version: Int
    public let name: String
    public let statements: [String]

    public init(version: Int, name: String, statements: [String]) {
        self.version = version
        self.name = name
        self.statements = statements
    }

    /// Hex FNV-1a-64 of the name and every statement, each followed by a NUL.
    public var checksum: String {
        var hash = FNV1a64()
        for part in [name] + statements {
            hash.combine(part.utf8)
            hash.combine([0])
        }
        return hash.hex
    }
}

/// What `Migrator.migrate` did.
public struct MigrationReport: Sendable, Hashable {
    /// Versions applied by this call, in order.
    public var applied: [Int] = []
    /// Versions found already applied with a matching checksum.
    public var alreadyApplied: [Int] = []
}

/// Creates and upgrades the warehouse schema with versioned migrations.
///
/// Each migration runs once, in its own transaction, recorded in `<warehouse>.schema_migrations` with its checksum.
/// Every transaction first takes `pg_advisory_xact_lock` on a key derived from the warehouse schema name, so two
/// starters serialise: the second sees the first one's rows and applies nothing. A recorded migration whose checksum
/// differs from this binary's, or a recorded version this binary does not know, stops the upgrade with an error.
public struct Migrator: Sendable {
    public let schemas: WarehouseSchemas
    public let migrations: [Migration]
    private let logger: Logger

    public init(
        schemas: WarehouseSchemas = WarehouseSchemas(), migrations: [Migration] = WarehouseMigrations.all,
        logger: Logger
    ) {
        self.schemas = schemas
        self.migrations = migrations.sorted { $0.version < $1.version }
        self.logger = logger
    }

    private var lockKey: Int64 { advisoryLockKey("webtoon.migrate." + schemas.warehouse) }

    public func migrate(on connection: PGConnection) async throws -> MigrationReport {
        try schemas.validate()
        let template = SQLTemplate(schemas)
        let table = template.render("{{warehouse}}.schema_migrations")
        try await connection.withTransaction { connection in
            try await connection.execute("SELECT pg_advisory_xact_lock($1)", [.int(lockKey)])
            try await connection.execute(template.render("CREATE SCHEMA IF NOT EXISTS {{warehouse}}"))
            try await connection.execute(
                """
                CREATE TABLE IF NOT EXISTS \(table) (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """)
        }
        var report = MigrationReport()
        for migration in migrations {
            let applied = try await connection.withTransaction { connection -> Bool in
                try await connection.execute("SELECT pg_advisory_xact_lock($1)", [.int(lockKey)])
                let recorded = try await connection.query("SELECT version, checksum FROM \(table) ORDER BY version")
                var known: [Int: String] = [:]
                for row in recorded.rows {
                    guard let version = try row.value(0, as: Int.self), let checksum = row[1] else { continue }
                    known[version] = checksum
                }
                try verify(known)
                if known[migration.version] != nil { return false }
                for statement in migration.statements { try await connection.execute(template.render(statement)) }
                try await connection.execute(
                    "INSERT INTO \(table) (version, name, checksum) VALUES ($1, $2, $3)",
                    [.int(Int64(migration.version)), .text(migration.name), .text(migration.checksum)])
                return true
            }
            if applied {
                report.applied.append(migration.version)
                logger.info(
                    "applied migration",
                    metadata: [
                        "version": "\(migration.version)", "name": "\(migration.name)",
                        "schema": "\(schemas.warehouse)",
                    ])
            } else {
                report.alreadyApplied.append(migration.version)
            }
        }
        return report
    }

    /// Every recorded version must be one of ours with the same checksum.
    private func verify(_ recorded: [Int: String]) throws(WarehouseError) {
        let ours = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        for (version, checksum) in recorded.sorted(by: { $0.key < $1.key }) {
            guard let migration = ours[version] else {
                throw WarehouseError(
                    code: .unknownMigration, operation: "migrate", subject: schemas.warehouse,
                    detail: "migration \(version) is recorded in the database but unknown to this binary")
            }
            guard migration.checksum == checksum else {
                throw WarehouseError(
                    code: .migrationChanged, operation: "migrate", subject: schemas.warehouse,
                    detail: "migration \(version) (\(migration.name)) was applied with checksum \(checksum), "
                        + "but this binary's is \(migration.checksum); add a new migration instead of editing it")
            }
        }
    }
}

/// The warehouse's migrations, oldest first. Never edit one that has shipped: append a new one.
public enum WarehouseMigrations {
    public static let all: [Migration] = [initial, partitionedSlices, completedRuns]

    /// Runs whose reduce, load, model build and data tests all passed, so a following reducer
    /// (`webtoon reduce --watch`) takes each finished run once, and one that `webtoon run` handled not at all.
    static let completedRuns = Migration(
        version: 3, name: "completed pipeline runs",
        statements: [
            """
            CREATE TABLE {{warehouse}}.completed_runs (
                run_id text PRIMARY KEY,
                input_files bigint NOT NULL CHECK (input_files >= 0),
                loaded_rows bigint NOT NULL CHECK (loaded_rows >= 0),
                completed_at timestamptz NOT NULL DEFAULT clock_timestamp()
            )
            """
        ])

    /// Snapshot tables keyed platform first, one row per natural key and snapshot day, plus the load ledger.
    ///
    /// `titles` has one row per (platform, id, snapshot_date, release_day): a title listed under two weekdays keeps
    /// both, the site filters on a plain btree column, binary COPY needs no array encoding, and the reducer's natural
    /// key is the same. Per-title values (views…) repeat on those rows; the data tests check that they agree.
    static let initial = Migration(
        version: 1, name: "snapshot tables and load ledger",
        statements: [
            """
            CREATE TABLE {{warehouse}}.titles (
                platform text NOT NULL CHECK (platform IN ('naver', 'kakao')),
                id bigint NOT NULL,
                snapshot_date date NOT NULL,
                release_day integer NOT NULL CHECK (release_day BETWEEN 0 AND 7),
                title text NOT NULL,
                author text NOT NULL,
                views bigint CHECK (views >= 0),
                favorite_count bigint CHECK (favorite_count >= 0),
                image_url text NOT NULL,
                is_completed boolean NOT NULL,
                restricted boolean NOT NULL,
                age_rating text,
                fetched_at timestamptz NOT NULL,
                PRIMARY KEY (platform, id, snapshot_date, release_day)
            )
            """,
            "CREATE INDEX titles_slice ON {{warehouse}}.titles (platform, snapshot_date)",
            """
            CREATE TABLE {{warehouse}}.genres (
                platform text NOT NULL CHECK (platform IN ('naver', 'kakao')),
                title_id bigint NOT NULL,
                snapshot_date date NOT NULL,
                genre_name text NOT NULL CHECK (genre_name <> '' AND left(genre_name, 1) <> '#'),
                fetched_at timestamptz NOT NULL,
                PRIMARY KEY (platform, title_id, snapshot_date, genre_name)
            )
            """,
            "CREATE INDEX genres_slice ON {{warehouse}}.genres (platform, snapshot_date)",
            """
            CREATE TABLE {{warehouse}}.episodes (
                platform text NOT NULL CHECK (platform IN ('naver', 'kakao')),
                title_id bigint NOT NULL,
                episode_id bigint NOT NULL,
                snapshot_date date NOT NULL,
                no bigint NOT NULL,
                title text NOT NULL,
                likes bigint CHECK (likes >= 0),
                comments bigint CHECK (comments >= 0),
                rating double precision,
                image_url text NOT NULL,
                published_date date,
                missing_reason text,
                fetched_at timestamptz NOT NULL,
                PRIMARY KEY (platform, title_id, episode_id, snapshot_date),
                CHECK ((likes IS NOT NULL AND comments IS NOT NULL) OR missing_reason IS NOT NULL)
            )
            """,
            "CREATE INDEX episodes_slice ON {{warehouse}}.episodes (platform, snapshot_date)",
            """
            CREATE TABLE {{warehouse}}.comments (
                platform text NOT NULL CHECK (platform IN ('naver', 'kakao')),
                title_id bigint NOT NULL,
                episode_id bigint NOT NULL,
                comment_id text NOT NULL,
                snapshot_date date NOT NULL,
                author text,
                body text NOT NULL,
                likes bigint,
                created_at timestamptz,
                fetched_at timestamptz NOT NULL,
                PRIMARY KEY (platform, title_id, episode_id, comment_id, snapshot_date)
            )
            """,
            "CREATE INDEX comments_slice ON {{warehouse}}.comments (platform, snapshot_date)",
            """
            CREATE TABLE {{warehouse}}.loads (
                platform text NOT NULL,
                snapshot_date date NOT NULL,
                table_name text NOT NULL,
                run_id text NOT NULL,
                row_count bigint NOT NULL,
                checksum text NOT NULL,
                loaded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                PRIMARY KEY (platform, snapshot_date, table_name, run_id)
            )
            """,
        ])

    /// The four snapshot tables become partitioned by slice: `T` is `PARTITION BY LIST (platform)`, `T_naver` and
    /// `T_kakao` are `PARTITION BY LIST (snapshot_date)`, and each (platform, day) is one leaf table
    /// `T_<platform>_<yyyymmdd>_<tag>`. A load builds a fresh leaf and swaps it in (`WarehouseLoader`), so rows
    /// are written once and the primary key is built by one sort instead of row-by-row inserts. Primary keys and
    /// column constraints are unchanged; the `(platform, snapshot_date)` slice indexes go, since partition pruning
    /// does their work. Existing rows move into one leaf per slice (tag `m2`).
    static let partitionedSlices = Migration(
        version: 2, name: "snapshot tables partitioned by (platform, snapshot_date)",
        statements: [
            // The DO block below finds the schema through current_schema(); SET LOCAL ends with this transaction.
            "SET LOCAL search_path TO {{warehouse}}",
            "ALTER TABLE {{warehouse}}.titles RENAME CONSTRAINT titles_pkey TO titles_v1_pkey",
            "ALTER TABLE {{warehouse}}.titles RENAME TO titles_v1",
            "DROP INDEX {{warehouse}}.titles_slice",
            """
            CREATE TABLE {{warehouse}}.titles (
                platform text NOT NULL CHECK (platform IN ('naver', 'kakao')),
                id bigint NOT NULL,
                snapshot_date date NOT NULL,
                release_day integer NOT NULL CHECK (release_day BETWEEN 0 AND 7),
                title text NOT NULL,
                author text NOT NULL,
                views bigint CHECK (views >= 0),
                favorite_count bigint CHECK (favorite_count >= 0),
                image_url text NOT NULL,
                is_completed boolean NOT NULL,
                restricted boolean NOT NULL,
                age_rating text,
                fetched_at timestamptz NOT NULL,
                PRIMARY KEY (platform, id, snapshot_date, release_day)
            ) PARTITION BY LIST (platform)
            """,
            "ALTER TABLE {{warehouse}}.genres RENAME CONSTRAINT genres_pkey TO genres_v1_pkey",
            "ALTER TABLE {{warehouse}}.genres RENAME TO genres_v1",
            "DROP INDEX {{warehouse}}.genres_slice",
            """
            CREATE TABLE {{warehouse}}.genres (
                platform text NOT NULL CHECK (platform IN ('naver', 'kakao')),
                title_id bigint NOT NULL,
                snapshot_date date NOT NULL,
                genre_name text NOT NULL CHECK (genre_name <> '' AND left(genre_name, 1) <> '#'),
                fetched_at timestamptz NOT NULL,
                PRIMARY KEY (platform, title_id, snapshot_date, genre_name)
            ) PARTITION BY LIST (platform)
            """,
            "ALTER TABLE {{warehouse}}.episodes RENAME CONSTRAINT episodes_pkey TO episodes_v1_pkey",
            "ALTER TABLE {{warehouse}}.episodes RENAME TO episodes_v1",
            "DROP INDEX {{warehouse}}.episodes_slice",
            """
            CREATE TABLE {{warehouse}}.episodes (
                platform text NOT NULL CHECK (platform IN ('naver', 'kakao')),
                title_id bigint NOT NULL,
                episode_id bigint NOT NULL,
                snapshot_date date NOT NULL,
                no bigint NOT NULL,
                title text NOT NULL,
                likes bigint CHECK (likes >= 0),
                comments bigint CHECK (comments >= 0),
                rating double precision,
                image_url text NOT NULL,
                published_date date,
                missing_reason text,
                fetched_at timestamptz NOT NULL,
                PRIMARY KEY (platform, title_id, episode_id, snapshot_date),
                CHECK ((likes IS NOT NULL AND comments IS NOT NULL) OR missing_reason IS NOT NULL)
            ) PARTITION BY LIST (platform)
            """,
            "ALTER TABLE {{warehouse}}.comments RENAME CONSTRAINT comments_pkey TO comments_v1_pkey",
            "ALTER TABLE {{warehouse}}.comments RENAME TO comments_v1",
            "DROP INDEX {{warehouse}}.comments_slice",
            """
            CREATE TABLE {{warehouse}}.comments (
                platform text NOT NULL CHECK (platform IN ('naver', 'kakao')),
                title_id bigint NOT NULL,
                episode_id bigint NOT NULL,
                comment_id text NOT NULL,
                snapshot_date date NOT NULL,
                author text,
                body text NOT NULL,
                likes bigint,
                created_at timestamptz,
                fetched_at timestamptz NOT NULL,
                PRIMARY KEY (platform, title_id, episode_id, comment_id, snapshot_date)
            ) PARTITION BY LIST (platform)
            """,
            """
            DO $migrate$
            DECLARE
                t text;
                p text;
                s record;
            BEGIN
                FOREACH t IN ARRAY ARRAY['titles', 'genres', 'episodes', 'comments'] LOOP
                    FOREACH p IN ARRAY ARRAY['naver', 'kakao'] LOOP
                        EXECUTE format(
                            'CREATE TABLE %I.%I PARTITION OF %I.%I FOR VALUES IN (%L) PARTITION BY LIST (snapshot_date)',
                            current_schema(), t || '_' || p, current_schema(), t, p);
                    END LOOP;
                    FOR s IN EXECUTE format(
                        'SELECT DISTINCT platform, snapshot_date FROM %I.%I ORDER BY 1, 2', current_schema(), t || '_v1')
                    LOOP
                        EXECUTE format(
                            'CREATE TABLE %I.%I PARTITION OF %I.%I FOR VALUES IN (%L)', current_schema(),
                            t || '_' || s.platform || '_' || to_char(s.snapshot_date, 'YYYYMMDD') || '_m2',
                            current_schema(), t || '_' || s.platform, s.snapshot_date);
                    END LOOP;
                    EXECUTE format('INSERT INTO %I.%I SELECT * FROM %I.%I', current_schema(), t, current_schema(), t || '_v1');
                    EXECUTE format('DROP TABLE %I.%I', current_schema(), t || '_v1');
                END LOOP;
            END
            $migrate$
            """,
        ])
}
