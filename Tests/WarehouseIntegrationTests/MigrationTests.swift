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
                "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name",
                [.text(schemas.warehouse)]
            ).rows.compactMap { $0[0] }
            #expect(tables == ["comments", "episodes", "genres", "loads", "schema_migrations", "titles"])
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
}
