import PQKit
import Testing
import Warehouse

@Suite struct MigrationTests {
    @Test func appliesToAnEmptySchemaThenIsANoOp() async throws {
        try await withWarehouse(migrate: false) { connection, schemas in
            let migrator = Migrator(schemas: schemas, logger: testLogger)
            let first = try await migrator.migrate(on: connection)
            #expect(first.applied == WarehouseMigrations.all.map(\.version))
            #expect(first.alreadyApplied.isEmpty)
            let tables = try await connection.query(
                "SELECT c.relname, c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    + "WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1",
                [.text(schemas.warehouse)]
            ).rows.map { [$0[0], $0[1]] }
            #expect(
                tables == [
                    ["comments", "p"], ["completed_runs", "r"], ["episodes", "p"], ["genres", "p"], ["loads", "r"],
                    ["schema_migrations", "r"], ["titles", "p"],
                ])
            // One sub-partitioned table per platform under each snapshot table, no leaf yet.
            let partitions = try await connection.query(
                "SELECT c.relname, c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    + "WHERE n.nspname = $1 AND c.relispartition AND c.relkind IN ('r', 'p') ORDER BY 1",
                [.text(schemas.warehouse)]
            ).rows.map { [$0[0], $0[1]] }
            #expect(partitions.count == 8)
            #expect(partitions.contains(["episodes_kakao", "p"]) && partitions.contains(["titles_naver", "p"]))
            let second = try await migrator.migrate(on: connection)
            #expect(second.applied.isEmpty)
            #expect(second.alreadyApplied == first.applied)
            let recorded = try await connection.query(
                "SELECT version, checksum FROM \(try await qualified(connection, schemas.warehouse, "schema_migrations"))"
            )
            #expect(recorded.rows.map { $0[1] } == WarehouseMigrations.all.map(\.checksum))
        }
    }

    @Test func aChangedAppliedMigrationIsAClearError() async throws {
        try await withWarehouse { connection, schemas in
            let ledger = try await qualified(connection, schemas.warehouse, "schema_migrations")
            // Tampered in the database …
            try await connection.execute("UPDATE \(ledger) SET checksum = 'tampered' WHERE version = 1")
            let error = await #expect(throws: WarehouseError.self) {
                _ = try await Migrator(schemas: schemas, logger: testLogger).migrate(on: connection)
            }
            #expect(error?.code == .migrationChanged)
            #expect(error?.detail.contains("tampered") == true)
            // … or edited in code.
            let original = try #require(WarehouseMigrations.all.first)
            try await connection.execute(
                "UPDATE \(ledger) SET checksum = $1 WHERE version = 1", [.text(original.checksum)])
            let edited = Migration(
                version: original.version, name: original.name, statements: original.statements + ["SELECT 1"])
            let codeError = await #expect(throws: WarehouseError.self) {
                _ = try await Migrator(schemas: schemas, migrations: [edited], logger: testLogger).migrate(
                    on: connection)
            }
            #expect(codeError?.code == .migrationChanged)
            // A version the binary does not know means the database is newer than the binary.
            try await connection.execute("INSERT INTO \(ledger) (version, name, checksum) VALUES (99, 'future', 'x')")
            let unknown = await #expect(throws: WarehouseError.self) {
                _ = try await Migrator(schemas: schemas, logger: testLogger).migrate(on: connection)
            }
            #expect(unknown?.code == .unknownMigration)
        }
    }

    @Test func concurrentMigratorsApplyEachMigrationOnce() async throws {
        try await withWarehouse(migrate: false) { _, schemas in
            // Not idempotent on purpose: applying either twice would fail, and the sleep widens the race window.
            let migrations = [
                Migration(
                    version: 1, name: "one",
                    statements: ["CREATE TABLE {{warehouse}}.once (n int)", "SELECT pg_sleep(0.3)"]),
                Migration(version: 2, name: "two", statements: ["ALTER TABLE {{warehouse}}.once ADD COLUMN m int"]),
            ]
            let migrator = Migrator(schemas: schemas, migrations: migrations, logger: testLogger)
            let a = try await connect()
            let b = try await connect()
            let first = Task { try await migrator.migrate(on: a) }
            let second = Task { try await migrator.migrate(on: b) }
            let reports = [try await first.value, try await second.value]
            #expect((reports[0].applied + reports[1].applied).sorted() == [1, 2])
            #expect(reports.allSatisfy { Set($0.applied + $0.alreadyApplied) == [1, 2] })
            let ledger = try await qualified(a, schemas.warehouse, "schema_migrations")
            let rows: Int? = try await scalar(a, "SELECT count(*) FROM \(ledger)")
            #expect(rows == 2)
            await a.close()
            await b.close()
        }
    }

    /// Version 1 tables holding rows of several slices (and a ledger) are converted by migration 2: every row kept
    /// byte for byte, one leaf per slice with its primary key, and the next load swaps one slice only.
    @Test func partitioningKeepsTheRowsOfVersionOne() async throws {
        try await withWarehouse(migrate: false) { connection, schemas in
            let v1 = WarehouseMigrations.all.filter { $0.version == 1 }
            let first = try await Migrator(schemas: schemas, migrations: v1, logger: testLogger).migrate(on: connection)
            #expect(first.applied == [1])
            let w = try await connection.quoteIdentifier(schemas.warehouse)
            let slices = "unnest(ARRAY['naver', 'kakao']) p, unnest(ARRAY[date '2026-11-24', date '2026-11-25']) d"
            try await connection.execute(
                """
                INSERT INTO \(w).titles SELECT p, g, d, g % 8, 'title ' || g, 'author', CASE WHEN p = 'kakao' THEN g * 10 END,
                    CASE WHEN p = 'naver' THEN g END, 'https://img/' || g, g % 8 = 7, false, NULL, d + interval '9 hours'
                FROM \(slices), generate_series(1, 40) g
                """)
            try await connection.execute(
                """
                INSERT INTO \(w).genres SELECT p, g, d, 'genre ' || (g % 3), d + interval '9 hours'
                FROM \(slices), generate_series(1, 40) g
                """)
            try await connection.execute(
                """
                INSERT INTO \(w).episodes SELECT p, g / 10, g, d, g % 100, 'v1 ' || g,
                    CASE WHEN g % 7 = 0 THEN NULL ELSE g * 3 END, g % 50, CASE WHEN p = 'naver' THEN 9.5 END,
                    'https://img/' || g, d - (g % 30), CASE WHEN g % 7 = 0 THEN 'likes: HTTP 500' END,
                    d + interval '9 hours'
                FROM \(slices), generate_series(1, 500) g
                """)
            try await connection.execute(
                """
                INSERT INTO \(w).comments SELECT p, 1, g / 5, 'c' || g, d, NULL, '본문 ' || g, g, NULL, d + interval '9 hours'
                FROM unnest(ARRAY['naver']) p, unnest(ARRAY[date '2026-11-25']) d, generate_series(1, 30) g
                """)
            try await connection.execute(
                """
                INSERT INTO \(w).loads (platform, snapshot_date, table_name, run_id, row_count, checksum)
                SELECT p, d, 'episodes', 'v1-run', 500, 'x' FROM \(slices)
                """)
            let tables = ["titles", "genres", "episodes", "comments", "loads"]
            var before: [String] = []
            for table in tables { before.append(try await contentHash(connection, "\(w).\(table)")) }

            let second = try await Migrator(schemas: schemas, logger: testLogger).migrate(on: connection)
            #expect(second.applied == [2, 3] && second.alreadyApplied == [1])
            var after: [String] = []
            for table in tables { after.append(try await contentHash(connection, "\(w).\(table)")) }
            #expect(after == before, "migration 2 changed rows")
            // One leaf per slice that had rows (4 per table, 1 for comments), each with the table's primary key.
            let leaves = try await connection.query(
                """
                SELECT parent.relname, count(*), count(*) FILTER (WHERE EXISTS (
                    SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p'))
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                JOIN pg_inherits i ON i.inhrelid = c.oid JOIN pg_class parent ON parent.oid = i.inhparent
                WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relispartition GROUP BY 1 ORDER BY 1
                """, [.text(schemas.warehouse)]
            ).rows.map { [$0[0], $0[1], $0[2]] }
            #expect(
                leaves == [
                    ["comments_naver", "1", "1"], ["episodes_kakao", "2", "2"], ["episodes_naver", "2", "2"],
                    ["genres_kakao", "2", "2"], ["genres_naver", "2", "2"], ["titles_kakao", "2", "2"],
                    ["titles_naver", "2", "2"],
                ])
            // The primary key still refuses a duplicate across the converted rows.
            await #expect(throws: PGError.self) {
                try await connection.execute(
                    "INSERT INTO \(w).genres SELECT platform, title_id, snapshot_date, genre_name, fetched_at "
                        + "FROM \(w).genres LIMIT 1")
            }

            // A load replaces one converted slice and leaves the other three as they were.
            let loader = WarehouseLoader(schemas: schemas, logger: testLogger)
            let snapshot = day("2026-11-25")
            let otherSlices =
                "SELECT platform, snapshot_date, title FROM \(w).episodes "
                + "WHERE NOT (platform = 'kakao' AND snapshot_date = '2026-11-25')"
            let othersBefore: String? = try await scalar(
                connection, "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM (\(otherSlices)) t")
            let rows = LoadTests.episodes(120, on: snapshot, marker: "v2")
            let result = try await loader.loadSlice(
                rows, on: connection, runID: "v2-run", snapshotDate: snapshot, platform: "kakao")
            #expect(result.replaced && result.previousRunID == "v1-run")
            let marked: Int? = try await scalar(
                connection,
                "SELECT count(*) FROM \(w).episodes WHERE platform = 'kakao' AND snapshot_date = '2026-11-25' "
                    + "AND title LIKE 'v2 %'")
            let slice: Int? = try await scalar(
                connection,
                "SELECT count(*) FROM \(w).episodes WHERE platform = 'kakao' AND snapshot_date = '2026-11-25'")
            #expect(marked == 120 && slice == 120)
            let othersAfter: String? = try await scalar(
                connection, "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM (\(otherSlices)) t")
            #expect(othersAfter == othersBefore)
        }
    }
}
