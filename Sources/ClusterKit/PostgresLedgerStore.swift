import ClusterCore
import Foundation
import Logging
import PQKit

/// A store failure: which step failed and why (the underlying PGError or decoding error is in `detail`).
public struct LedgerStoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable { case invalidSchemaName, migrationFailed, newerSchema, corruptRow, encodingFailed }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        /// The schema name is not `[a-z_][a-z0-9_]{0,62}`.
        public static let invalidSchemaName = Code(.invalidSchemaName)
        public static let migrationFailed = Code(.migrationFailed)
        /// The database was migrated by a newer build; refusing to run against it.
        public static let newerSchema = Code(.newerSchema)
        /// A persisted record does not decode.
        public static let corruptRow = Code(.corruptRow)
        public static let encodingFailed = Code(.encodingFailed)
        public var description: String {
            switch base {
            case .invalidSchemaName: "invalid schema name"
            case .migrationFailed: "migration failed"
            case .newerSchema: "schema is newer than this build"
            case .corruptRow: "corrupt row"
            case .encodingFailed: "encoding failed"
            }
        }
    }

    public let code: Code
    public let schema: String
    public let detail: String
    public init(code: Code, schema: String, detail: String) {
        self.code = code
        self.schema = schema
        self.detail = detail
    }
    public var description: String { "ledger store (schema \(schema)): \(code): \(detail)" }
}

/// The durable ledger in its own PostgreSQL schema.
///
/// Each row stores the full record as `jsonb` (the source of truth for `load`; a done unit's accepted files are
/// rows of `outputs` instead of a manifest inside it) plus typed columns for operators' SQL. A lease grant is one
/// `lease_grants` row for all its units (the `units` row keeps the unit's previous state until its next
/// transition); the journal is cleared when a restarted coordinator has rewritten every leased row.
/// `persist` writes one drained batch in one statement (one implicit transaction), so a batch is all or nothing:
/// the coordinator persists before it replies, and after a crash `load` rebuilds exactly the state that replies
/// were based on.
public struct PostgresLedgerStore: Sendable {
    public let connection: PGConnection
    public let schema: String
    private let logger: Logger

    /// One schema version: statements run in one transaction with the version row.
    public struct Migration: Sendable {
        public let version: Int
        public let statements: [String]
    }

    public init(connection: PGConnection, schema: String = "cluster", logger: Logger) throws(LedgerStoreError) {
        let bytes = Array(schema.utf8)
        let validStart = bytes.first.map { ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F } ?? false
        guard validStart, bytes.count <= 63, bytes.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }) else {
            throw LedgerStoreError(code: .invalidSchemaName, schema: schema, detail: "use [a-z_][a-z0-9_]{0,62}")
        }
        self.connection = connection
        self.schema = schema
        self.logger = logger
    }

    /// The schema's versions in order; `{s}` stands for the quoted schema name.
    public static let migrations: [Migration] = [
        Migration(version: 1, statements: [
            """
            CREATE TABLE {s}.runs (
                id text PRIMARY KEY,
                state text NOT NULL,
                crawl_date text NOT NULL,
                mode text NOT NULL,
                created_at_ms int8 NOT NULL,
                finished_at_ms int8,
                last_progress_ms int8 NOT NULL,
                record jsonb NOT NULL)
            """,
            """
            CREATE TABLE {s}.units (
                id text PRIMARY KEY,
                run_id text NOT NULL REFERENCES {s}.runs (id),
                parent_id text,
                platform text NOT NULL,
                kind text NOT NULL,
                state text NOT NULL CHECK (state IN ('pending', 'leased', 'done', 'dead')),
                attempts int4 NOT NULL,
                lease_epoch int8 NOT NULL,
                lease_token text,
                lease_worker text,
                lease_deadline_ms int8,
                last_error text,
                pending_seq int8 NOT NULL,
                created_at_ms int8 NOT NULL,
                updated_at_ms int8 NOT NULL,
                record jsonb NOT NULL)
            """,
            "CREATE INDEX units_run_state ON {s}.units (run_id, state)",
            "CREATE INDEX units_platform_kind_state ON {s}.units (platform, kind, state)",
            """
            CREATE TABLE {s}.outputs (
                unit_id text NOT NULL REFERENCES {s}.units (id),
                lease_token text NOT NULL,
                path text NOT NULL,
                table_name text NOT NULL,
                rows int8 NOT NULL,
                bytes int8 NOT NULL,
                sha256 text NOT NULL,
                PRIMARY KEY (unit_id, path))
            """,
        ]),
        Migration(version: 2, statements: [
            """
            CREATE TABLE {s}.lease_grants (
                seq bigserial PRIMARY KEY,
                worker text NOT NULL,
                granted_at_ms int8 NOT NULL,
                deadline_ms int8 NOT NULL,
                record jsonb NOT NULL)
            """,
            // Operators' view of every unit's current state: a unit leased since the coordinator started still has
            // its pending row in `units`; the journal entry with a newer epoch makes it leased (one more attempt).
            """
            CREATE VIEW {s}.unit_states AS
            WITH journal AS (
                SELECT e.id, max(((g.record->'epochs')->>((e.n - 1)::int))::int8) AS epoch
                FROM {s}.lease_grants g
                CROSS JOIN LATERAL jsonb_array_elements_text(g.record->'units') WITH ORDINALITY AS e(id, n)
                GROUP BY e.id)
            SELECT u.id, u.run_id, u.parent_id, u.platform, u.kind,
                   CASE WHEN u.state = 'pending' AND j.epoch > u.lease_epoch THEN 'leased' ELSE u.state END AS state,
                   u.attempts + CASE WHEN u.state = 'pending' AND j.epoch > u.lease_epoch THEN 1 ELSE 0 END AS attempts,
                   u.last_error, u.updated_at_ms
            FROM {s}.units u LEFT JOIN journal j ON j.id = u.id
            """,
        ]),
    ]

    /// Creates the schema and applies missing migrations, each in its own transaction under an advisory lock so
    /// two coordinators starting at once do not race. Refuses a database migrated by a newer build.
    public func migrate() async throws {
        let s = try await connection.quoteIdentifier(schema)
        let latest = Self.migrations.last?.version ?? 0
        try await connection.execute("CREATE SCHEMA IF NOT EXISTS \(s)")
        try await connection.execute(
            "CREATE TABLE IF NOT EXISTS \(s).schema_migrations (version int4 PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
        for migration in Self.migrations {
            try await connection.withTransaction { conn in
                _ = try await conn.query("SELECT pg_advisory_xact_lock(hashtext($1))", [.text("webtoon-cluster-migrate:" + schema)])
                let applied = try await conn.query("SELECT max(version) FROM \(s).schema_migrations")
                let current = try applied.rows.first?.value(0, as: Int.self) ?? 0
                if current > latest {
                    throw LedgerStoreError(code: .newerSchema, schema: schema, detail: "database is at version \(current), this build knows \(latest)")
                }
                guard current < migration.version else { return }
                do {
                    for statement in migration.statements {
                        try await conn.execute(statement.replacingOccurrences(of: "{s}", with: s))
                    }
                    try await conn.execute("INSERT INTO \(s).schema_migrations (version) VALUES ($1)", [.int(Int64(migration.version))])
                } catch {
                    throw LedgerStoreError(code: .migrationFailed, schema: schema, detail: "version \(migration.version): \(error)")
                }
                logger.info("ledger schema migrated", metadata: ["schema": "\(schema)", "version": "\(migration.version)"])
            }
        }
    }

    /// The applied schema version (0 if none).
    public func schemaVersion() async throws -> Int {
        let s = try await connection.quoteIdentifier(schema)
        return try await connection.query("SELECT coalesce(max(version), 0) FROM \(s).schema_migrations").rows.first?.value(0, as: Int.self) ?? 0
    }

    /// Persists one batch from `Ledger.drainChanges()` atomically (group commit). Accepted outputs of units that
    /// became done are inserted into `outputs` in the same transaction. `clearingLeaseJournal`: the batch rewrites
    /// every leased unit's row (`CoordinatorCore.resume`), so the journal entries persisted before it are deleted in
    /// the same transaction.
    public func persist(_ changes: [LedgerChange], clearingLeaseJournal: Bool = false) async throws {
        guard !changes.isEmpty || clearingLeaseJournal else { return }
        var runs: [RunRecord] = []
        var units: [UnitRecord] = []
        var grants: [LeaseGrantRecord] = []
        for change in changes {
            switch change {
            case .run(let run): runs.append(run)
            case .unit(let unit): units.append(unit)
            case .leases(let grant): grants.append(grant)
            }
        }
        let runJSON = try encode(runs)
        // A done unit's files go to `outputs` only, as flat rows; its `record` leaves the manifest out. Writing
        // them twice cost PostgreSQL most of its time per unit (parsing, storing and often compressing a record
        // several times larger).
        let unitJSON = RecordJSONWriter.array(units)
        let grantJSON = RecordJSONWriter.grantArray(grants)
        let outputJSON = RecordJSONWriter.outputArray(units)
        // The name was validated to [a-z_][a-z0-9_]*, so quoting needs no escaping (and no trip to the PG thread).
        let s = "\"\(schema)\""
        // One statement is one transaction: a single round trip instead of BEGIN, three statements and COMMIT,
        // which is what bounds a group commit's latency. Foreign keys are checked at the end of the statement,
        // after every part has run.
        _ = try await connection.execute(
            """
            WITH run_rows AS (
                INSERT INTO \(s).runs (id, state, crawl_date, mode, created_at_ms, finished_at_ms, last_progress_ms, record)
                SELECT r->>'id', r->>'state', r->'spec'->>'crawlDate', r->'spec'->>'mode', (r->>'createdAt')::int8,
                       (r->>'finishedAt')::int8, (r->>'lastProgressAt')::int8, r
                FROM jsonb_array_elements($1::jsonb) AS r
                ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, finished_at_ms = EXCLUDED.finished_at_ms,
                    last_progress_ms = EXCLUDED.last_progress_ms, record = EXCLUDED.record
            ), unit_rows AS (
                INSERT INTO \(s).units (id, run_id, parent_id, platform, kind, state, attempts, lease_epoch, lease_token,
                    lease_worker, lease_deadline_ms, last_error, pending_seq, created_at_ms, updated_at_ms, record)
                SELECT r->>'id', r->>'run', r->>'parent', r->'seed'->>'platform', r->'seed'->>'kind', r->>'state',
                       (r->>'attempts')::int4, (r->>'leaseEpoch')::int8, r->'lease'->>'token', r->'lease'->>'worker',
                       (r->'lease'->>'deadline')::int8, r->>'lastError', (r->>'pendingSeq')::int8,
                       (r->>'createdAt')::int8, (r->>'updatedAt')::int8, r
                FROM jsonb_array_elements($2::jsonb) AS r
                ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, attempts = EXCLUDED.attempts,
                    lease_epoch = EXCLUDED.lease_epoch, lease_token = EXCLUDED.lease_token,
                    lease_worker = EXCLUDED.lease_worker, lease_deadline_ms = EXCLUDED.lease_deadline_ms,
                    last_error = EXCLUDED.last_error, pending_seq = EXCLUDED.pending_seq,
                    updated_at_ms = EXCLUDED.updated_at_ms, record = EXCLUDED.record
            ), grant_rows AS (
                INSERT INTO \(s).lease_grants (worker, granted_at_ms, deadline_ms, record)
                SELECT r->>'worker', (r->>'grantedAt')::int8, (r->>'deadline')::int8, r FROM jsonb_array_elements($4::jsonb) AS r
            )\(clearingLeaseJournal ? ", cleared AS (DELETE FROM \(s).lease_grants)" : "")
            INSERT INTO \(s).outputs (unit_id, lease_token, path, table_name, rows, bytes, sha256)
            SELECT f->>'unit', f->>'token', f->>'path', f->>'table', (f->>'rows')::int8, (f->>'bytes')::int8, f->>'sha256'
            FROM jsonb_array_elements($3::jsonb) AS f
            ON CONFLICT (unit_id, path) DO NOTHING
            """, [.text(runJSON), .text(unitJSON), .text(outputJSON), .text(grantJSON)])
    }

    /// Deletes lease journal entries (the oldest `limit` at most) whose every unit was rewritten since the grant (its
    /// row's lease epoch has reached the entry's): a restart ignores them, so nothing changes for recovery, and the
    /// journal stays about as large as the leases in flight instead of one row per grant of the whole run. Rows only
    /// move forward, so this is safe beside concurrent commits. Returns the entries deleted.
    public func compactLeaseJournal(limit: Int = 20_000) async throws -> Int {
        let s = "\"\(schema)\""
        return try await connection.execute(
            """
            DELETE FROM \(s).lease_grants g
            WHERE g.seq IN (SELECT seq FROM \(s).lease_grants ORDER BY seq LIMIT $1)
              AND NOT EXISTS (
                SELECT 1 FROM jsonb_array_elements_text(g.record->'units') WITH ORDINALITY AS e(id, n)
                LEFT JOIN \(s).units u ON u.id = e.id
                WHERE u.id IS NULL OR u.lease_epoch < ((g.record->'epochs')->>((e.n - 1)::int))::int8)
            """, [.int(Int64(limit))])
    }

    /// The persisted rows a restart needs whole, as change records: runs, units that are not done, lease grants
    /// last. Done units are read by `loadCompleted` from their typed columns instead: their records (seed, manifest,
    /// statistics) are most of the store and the ledger keeps none of it.
    public func load() async throws -> [LedgerChange] {
        let s = try await connection.quoteIdentifier(schema)
        let decoder = JSONDecoder()
        var changes: [LedgerChange] = []
        for (table, query) in [
            ("runs", "SELECT record::text FROM \(s).runs ORDER BY id"),
            ("units", "SELECT record::text FROM \(s).units WHERE state <> 'done' ORDER BY id"),
            ("lease_grants", "SELECT record::text FROM \(s).lease_grants ORDER BY seq"),
        ] {
            let result = try await connection.query(query)
            for row in result.rows {
                guard let text = row[0] else { continue }
                do {
                    let data = Data(text.utf8)
                    switch table {
                    case "runs": changes.append(.run(try decoder.decode(RunRecord.self, from: data)))
                    case "units": changes.append(.unit(try decoder.decode(UnitRecord.self, from: data)))
                    default: changes.append(.leases(try decoder.decode(LeaseGrantRecord.self, from: data)))
                    }
                } catch {
                    throw LedgerStoreError(code: .corruptRow, schema: schema, detail: "\(table) row \(text.prefix(120)): \(error)")
                }
            }
        }
        return changes
    }

    /// The done units, `pageSize` rows at a time in id order (keyset pages, so memory stays at one page however
    /// many millions there are), from their typed columns.
    public func loadCompleted(pageSize: Int = 50_000, _ page: ([CompletedUnitRow]) -> Void) async throws {
        let s = try await connection.quoteIdentifier(schema)
        var after = ""
        while true {
            let result = try await connection.query(
                """
                SELECT id, run_id, platform, kind, lease_epoch, pending_seq FROM \(s).units
                WHERE state = 'done' AND id > $1 ORDER BY id LIMIT $2
                """, [.text(after), .int(Int64(pageSize))])
            var rows: [CompletedUnitRow] = []
            rows.reserveCapacity(result.rows.count)
            for row in result.rows {
                let idText = try row.value(0, as: String.self) ?? ""
                let runText = try row.value(1, as: String.self) ?? ""
                guard let id = UnitID(rawValue: idText), let run = RunID(rawValue: runText),
                      let platform = try row.value(2, as: String.self), let kind = try row.value(3, as: String.self),
                      let epoch = try row.value(4, as: Int64.self).flatMap(UInt32.init(exactly:)),
                      let seq = try row.value(5, as: Int64.self).flatMap(UInt64.init(exactly:))
                else {
                    throw LedgerStoreError(code: .corruptRow, schema: schema, detail: "done unit '\(idText.prefix(80))' of run '\(runText.prefix(100))' has an invalid id, run, platform, kind, lease epoch or pending seq")
                }
                rows.append(CompletedUnitRow(id: id, run: run, platform: platform, kind: kind, epoch: epoch, pendingSeq: seq))
            }
            guard let last = rows.last else { return }
            page(rows)
            if rows.count < pageSize { return }
            after = last.id.rawValue
        }
    }

    /// Rebuilds the ledger state machine from the store.
    public func loadLedger(config: LedgerConfig) async throws -> Ledger {
        var ledger = Ledger(config: config, restoring: try await load())
        try await loadCompleted { ledger.restoreCompleted($0) }
        return ledger
    }

    /// Every unit of a run as its full stored row, done ones included, in id order (the ledger in memory keeps
    /// only the compact form of a done unit), each done unit with its manifest from `outputs` (files in path order).
    public func units(run: RunID) async throws -> [UnitRecord] {
        let s = try await connection.quoteIdentifier(schema)
        let result = try await connection.query("SELECT record::text FROM \(s).units WHERE run_id = $1 ORDER BY id", [.text(run.rawValue)])
        var files: [String: [OutputFile]] = [:]
        for output in try await acceptedOutputs(run: run) { files[output.unit, default: []].append(output.file) }
        let decoder = JSONDecoder()
        return try result.rows.compactMap { row in
            guard let text = row[0] else { return nil }
            let unit: UnitRecord
            do {
                unit = try decoder.decode(UnitRecord.self, from: Data(text.utf8))
            } catch {
                throw LedgerStoreError(code: .corruptRow, schema: schema, detail: "units row \(text.prefix(120)): \(error)")
            }
            guard unit.state == .done, unit.manifest == nil else { return unit }
            return unit.withManifest(Manifest(files: files[unit.id.rawValue] ?? []))
        }
    }

    /// Accepted outputs of a run: the only files downstream readers may use.
    public func acceptedOutputs(run: RunID) async throws -> [AcceptedOutput] {
        let s = try await connection.quoteIdentifier(schema)
        let result = try await connection.query(
            """
            SELECT o.unit_id, o.lease_token, o.path, o.table_name, o.rows, o.bytes, o.sha256
            FROM \(s).outputs o JOIN \(s).units u ON u.id = o.unit_id
            WHERE u.run_id = $1 ORDER BY o.unit_id, o.path
            """, [.text(run.rawValue)])
        return try result.rows.map { row in
            AcceptedOutput(
                unit: try row.value(0, as: String.self) ?? "", leaseToken: try row.value(1, as: String.self) ?? "",
                file: OutputFile(
                    path: try row.value(2, as: String.self) ?? "", table: try row.value(3, as: String.self) ?? "",
                    rows: try row.value(4, as: Int64.self) ?? 0, bytes: try row.value(5, as: Int64.self) ?? 0,
                    sha256: try row.value(6, as: String.self) ?? ""))
        }
    }

    /// Finished runs with their dead units, oldest finish first (what a following reducer picks up).
    public func finishedRuns() async throws -> [(run: RunID, deadUnits: Int)] {
        let s = try await connection.quoteIdentifier(schema)
        let result = try await connection.query(
            """
            SELECT r.id, (SELECT count(*) FROM \(s).units u WHERE u.run_id = r.id AND u.state = 'dead')
            FROM \(s).runs r WHERE r.state = 'finished' ORDER BY r.finished_at_ms, r.id
            """)
        return try result.rows.compactMap { row in
            guard let id = try row.value(0, as: String.self).flatMap(RunID.init(rawValue:)) else { return nil }
            return (id, Int(try row.value(1, as: Int64.self) ?? 0))
        }
    }

    private func encode(_ value: some Encodable) throws(LedgerStoreError) -> String {
        do {
            return String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
        } catch {
            throw LedgerStoreError(code: .encodingFailed, schema: schema, detail: "\(error)")
        }
    }
}

/// One accepted output file with the unit and lease that produced it.
public struct AcceptedOutput: Hashable, Sendable {
    public let unit: String
    public let leaseToken: String
    public let file: OutputFile
}
