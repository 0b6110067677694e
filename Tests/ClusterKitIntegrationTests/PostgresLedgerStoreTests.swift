import ClusterCore
import ClusterKit
import Foundation
import Logging
import PQKit
import Testing

/// Runs against the real PostgreSQL named by DATABASE_URL, each test in its own throw-away schema.
@Suite struct PostgresLedgerStoreTests {
    struct Clock {
        var now = Timestamp(millis: 1_764_000_000_000)
        mutating func advance(_ millis: Int64) { now = now.adding(millis: millis) }
    }

    static func withStore(_ body: (PostgresLedgerStore) async throws -> Void) async throws {
        let url = try #require(
            ProcessInfo.processInfo.environment["DATABASE_URL"],
            "DATABASE_URL is not set (e.g. postgresql://postgres@127.0.0.1:55432/webtoon)")
        let connection = try await PGConnection.connect(url)
        let schema = "cluster_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        let store = try PostgresLedgerStore(connection: connection, schema: String(schema), logger: Logger(label: "test"))
        do {
            try await body(store)
        } catch {
            _ = try? await connection.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE")
            await connection.close()
            throw error
        }
        try await connection.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE")
        await connection.close()
    }

    static func seed(_ key: String, kind: String = "title", platform: String = "naver") -> UnitSeed {
        try! UnitSeed(kind: kind, platform: platform, key: key, payload: Array("payload \(key) 웹툰".utf8))
    }

    static func manifest(_ path: String, rows: Int64) -> Manifest {
        Manifest(files: [OutputFile(path: path, table: "episodes", rows: rows, bytes: rows * 3, sha256: String(repeating: "0f", count: 32))])
    }

    @Test func migrationsApplyOnceAndAreRecorded() async throws {
        try await Self.withStore { store in
            try await store.migrate()
            try await store.migrate()
            #expect(try await store.schemaVersion() == PostgresLedgerStore.migrations.last?.version)
            let tables = try await store.connection.query(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name", [.text(store.schema)])
            #expect(tables.rows.map { $0[0] } == ["lease_grants", "outputs", "runs", "schema_migrations", "unit_states", "units"])
        }
    }

    @Test func invalidSchemaNamesAreRefused() async throws {
        let url = try #require(ProcessInfo.processInfo.environment["DATABASE_URL"], "DATABASE_URL is not set")
        let connection = try await PGConnection.connect(url)
        for name in ["Cluster", "a;drop", "", "1abc", String(repeating: "a", count: 64)] {
            let error = #expect(throws: LedgerStoreError.self) { try PostgresLedgerStore(connection: connection, schema: name, logger: Logger(label: "test")) }
            #expect(error?.code == .invalidSchemaName)
        }
        await connection.close()
    }

    /// A random workload persisted batch by batch (group commit). At random points the coordinator "crashes": the
    /// ledger is rebuilt from PostgreSQL alone (rows plus the lease journal), must equal the in-memory one, and the
    /// run continues on the rebuilt ledger; every other restart resumes like the coordinator does (every leased
    /// row rewritten, the journal cleared in the same commit), which must lose nothing either. Stale completions
    /// write files named `stale-*`, which must never reach `outputs`.
    @Test(arguments: [1, 2, 3])
    func crashAnywhereAndRebuildFromPostgres(seedValue: Int) async throws {
        try await Self.withStore { store in
            try await store.migrate()
            var random = SplitMix64(seed: UInt64(seedValue) &* 1_000_003)
            var clock = Clock()
            let config = LedgerConfig(leaseMillis: 10_000, maxAttempts: 2)
            var ledger = Ledger(config: config)
            let spec = try RunSpec(platforms: ["naver", "kakao"], mode: .full, crawlDate: "2026-11-25")
            let run = spec.defaultID
            try ledger.createRun(spec, roots: (0..<8).map { Self.seed("list\($0)", kind: "list", platform: $0 % 2 == 0 ? "naver" : "kakao") }, now: clock.now)
            try await store.persist(ledger.drainChanges())
            let workers = ["w1", "w2"].map { WorkerID(rawValue: $0)! }
            var issued: [(LeaseToken, WorkerID)] = []
            var restarts = 0
            var journalClears = 0
            var compacted = 0
            // What the ledger accepted, as the reducer must find it in `outputs` (the ledger itself keeps only
            // the compact form of a done unit once its row is stored).
            var accepted: [String] = []
            for step in 0..<250 {
                let actor = workers[Int(random.next() % 2)]
                switch random.next() % 10 {
                case 0, 1, 2:
                    for unit in ledger.lease(worker: actor, maxUnits: Int(random.next() % 3) + 1, platforms: ["naver", "kakao"], now: clock.now) {
                        issued.append((unit.lease!.token, actor))
                    }
                case 3, 4, 5:
                    guard let (token, holder) = issued.randomElement(using: &random) else { break }
                    let children = (0..<Int(random.next() % 3)).map { _ in Self.seed("t\(random.next() % 40)", platform: random.next() % 2 == 0 ? "naver" : "kakao") }
                    let current = ledger.units[token.unit]?.lease?.token == token
                    let path = current ? "out/\(token.rawValue).parquet" : "stale-\(step).parquet"
                    let rows = Int64(random.next() % 20)
                    if ledger.complete(worker: holder, token: token, manifest: Self.manifest(path, rows: rows), children: children, stats: TaskStats(requests: 1), now: clock.now) == .accepted {
                        accepted.append("\(token.unit.rawValue) \(token.rawValue) \(path) \(rows)")
                    }
                case 6:
                    guard let (token, holder) = issued.randomElement(using: &random) else { break }
                    _ = ledger.fail(worker: holder, token: token, error: "HTTP 500\u{0} at step \(step)", retryable: random.next() % 3 != 0, stats: TaskStats(requests: 1, status5xx: 1), now: clock.now)
                case 7:
                    _ = ledger.heartbeat(worker: actor, tokens: issued.suffix(3).map(\.0), now: clock.now)
                case 8:
                    clock.advance(Int64(random.next() % 8_000))
                    ledger.expireLeases(now: clock.now)
                default:
                    _ = ledger.retry(run: run, now: clock.now)
                }
                try await store.persist(ledger.drainChanges())
                // The running coordinator's journal compaction, at random points: never changes what a rebuild sees.
                if random.next() % 4 == 0 { compacted += try await store.compactLeaseJournal(limit: Int(random.next() % 50) + 1) }
                if random.next() % 25 == 0 {
                    var rebuilt = try await store.loadLedger(config: config)
                    #expect(rebuilt.snapshot == ledger.snapshot, "step \(step): rebuilt from PostgreSQL equals the original")
                    // Operators' view applies the journal as the rebuild does.
                    // (Attempts of done units are in their rows only.)
                    let view = try await store.connection.query(
                        "SELECT state, count(*), sum(attempts) FILTER (WHERE state <> 'done') FROM \(store.schema).unit_states GROUP BY state ORDER BY state")
                    #expect(!ledger.units.values.contains { $0.state == .done }, "drained done units are compact")
                    let done = ledger.snapshot.completed.count
                    let memory = (Dictionary(grouping: ledger.units.values, by: \.state).map { state, units in
                        "\(state.rawValue)=\(units.count)/\(units.reduce(0) { $0 + $1.attempts })"
                    } + (done > 0 ? ["done=\(done)/0"] : [])).sorted()
                    #expect(try view.rows.map { "\($0[0]!)=\($0[1]!)/\(try $0.value(2, as: Int.self) ?? 0)" } == memory, "step \(step): unit_states")
                    if restarts % 2 == 1 {
                        rebuilt.extendOutstandingLeases(to: clock.now.adding(millis: config.leaseMillis), now: clock.now)
                        try await store.persist(rebuilt.drainChanges(), clearingLeaseJournal: true)
                        let journal = try await store.connection.query("SELECT count(*) FROM \(store.schema).lease_grants")
                        #expect(try journal.rows.first?.value(0, as: Int.self) == 0, "step \(step): journal cleared")
                        let reloaded = try await store.loadLedger(config: config)
                        #expect(reloaded.snapshot == rebuilt.snapshot, "step \(step): nothing lost with the journal cleared")
                        #expect(reloaded.leasedUnitIDs == ledger.leasedUnitIDs, "step \(step): every lease survives the clearing")
                        journalClears += 1
                    }
                    ledger = rebuilt
                    restarts += 1
                }
            }
            #expect(restarts > 3 && journalClears > 1)
            // Finish the run on the last rebuilt ledger, then compare once more.
            for _ in 0..<100 where ledger.runs[run]?.state == .active {
                clock.advance(10_000)
                ledger.expireLeases(now: clock.now)
                _ = ledger.retry(run: run, now: clock.now)
                for unit in ledger.lease(worker: workers[0], maxUnits: 100, platforms: ["naver", "kakao"], now: clock.now) {
                    let token = unit.lease!.token
                    if ledger.complete(worker: workers[0], token: token, manifest: Self.manifest("out/\(token.rawValue).parquet", rows: 1), children: [], stats: .zero, now: clock.now) == .accepted {
                        accepted.append("\(token.unit.rawValue) \(token.rawValue) out/\(token.rawValue).parquet 1")
                    }
                }
                try await store.persist(ledger.drainChanges())
            }
            let final = try await store.loadLedger(config: config)
            #expect(final.snapshot == ledger.snapshot)
            #expect(final.runs[run]?.state == .finished)
            // Every unit was rewritten after its last grant, so compaction empties the journal, and the ledger is
            // still the same.
            #expect(compacted > 0)
            _ = try await store.compactLeaseJournal()
            let left = try await store.connection.query("SELECT count(*) FROM \(store.schema).lease_grants")
            #expect(try left.rows.first?.value(0, as: Int.self) == 0, "a finished run needs no journal entry")
            #expect(try await store.loadLedger(config: config).snapshot == ledger.snapshot)

            // outputs holds exactly the manifests of done units, each from its accepting lease.
            let outputs = try await store.acceptedOutputs(run: run)
            #expect(outputs.map { "\($0.unit) \($0.leaseToken) \($0.file.path) \($0.file.rows)" }.sorted() == accepted.sorted())
            #expect(Set(outputs.map(\.unit)).count == final.counts(run: run).done, "one accepted completion per done unit")
            #expect(!outputs.contains { $0.file.path.hasPrefix("stale-") })
            #expect(outputs.allSatisfy { $0.file.path == "out/\($0.leaseToken).parquet" })
            let rowTotal = outputs.reduce(Int64(0)) { $0 + $1.file.rows }
            #expect(final.runs[run]?.totals.rowsByTable["episodes", default: 0] == rowTotal)
            // Typed columns agree with the records.
            let states = try await store.connection.query("SELECT state, count(*) FROM \(store.schema).units GROUP BY state ORDER BY state")
            #expect(states.rows.map { "\($0[0]!)=\($0[1]!)" } == ["done=\(final.counts(run: run).done)"])
        }
    }

    /// Done units come back from their typed columns in keyset pages: every one exactly once, whatever the page
    /// size, and the rebuilt ledger knows each one's accepted lease; a done row whose columns are out of range is
    /// refused with its id.
    @Test func doneUnitsRestoreInPagesFromTheirColumns() async throws {
        try await Self.withStore { store in
            try await store.migrate()
            var ledger = Ledger(config: LedgerConfig())
            let spec = try RunSpec(platforms: ["naver", "kakao"], mode: .daily, crawlDate: "2026-11-25")
            let now = Timestamp(millis: 1_764_000_000_000)
            try ledger.createRun(spec, roots: (0..<7).map { Self.seed("t\($0)", platform: $0 % 2 == 0 ? "naver" : "kakao") } + [Self.seed("open")], now: now)
            let worker = WorkerID(rawValue: "w1")!
            var tokens: [LeaseToken] = []
            for unit in ledger.lease(worker: worker, maxUnits: 8, platforms: ["naver", "kakao"], now: now) where unit.seed.key != "open" {
                let token = unit.lease!.token
                #expect(ledger.complete(worker: worker, token: token, manifest: Self.manifest("out/\(token.rawValue).parquet", rows: 2), children: [], stats: .zero, now: now) == .accepted)
                tokens.append(token)
            }
            try await store.persist(ledger.drainChanges())
            #expect(ledger.units.count == 1 && ledger.unitCount == 8, "seven done units are compact, the leased one whole")

            for pageSize in [1, 3, 7, 50] {
                var pages: [[CompletedUnitRow]] = []
                try await store.loadCompleted(pageSize: pageSize) { pages.append($0) }
                #expect(pages.allSatisfy { $0.count <= pageSize && !$0.isEmpty })
                let ids = pages.flatMap { $0.map(\.id) }
                #expect(ids == tokens.map(\.unit).sorted(), "page size \(pageSize)")
                #expect(pages.joined().allSatisfy { row in tokens.contains(LeaseToken(unit: row.id, epoch: row.epoch)) })
            }
            let rebuilt = try await store.loadLedger(config: LedgerConfig())
            #expect(rebuilt.snapshot == ledger.snapshot)
            #expect(tokens.allSatisfy { rebuilt.completedUnit($0.unit) == CompletedUnit(run: spec.defaultID, token: $0) })
            #expect(rebuilt.counts(run: spec.defaultID) == StateCounts(pending: 0, leased: 1, done: 7, dead: 0))

            // Records leave the manifest out; the full rows come back with it from `outputs`.
            let withManifest = try await store.connection.query("SELECT count(*) FROM \(store.schema).units WHERE record ? 'manifest'")
            #expect(try withManifest.rows.first?.value(0, as: Int.self) == 0)
            let stored = try await store.units(run: spec.defaultID)
            #expect(stored.count == 8 && stored.filter { $0.state == .done }.allSatisfy { unit in
                unit.manifest == Self.manifest("out/\(unit.completedBy!.rawValue).parquet", rows: 2)
            })

            let broken = tokens[3].unit
            try await store.connection.execute("UPDATE \(store.schema).units SET lease_epoch = -1 WHERE id = $1", [.text(broken.rawValue)])
            let error = await #expect(throws: LedgerStoreError.self) { try await store.loadLedger(config: LedgerConfig()) }
            #expect(error?.code == .corruptRow && error?.detail.contains(broken.rawValue) == true, "\(String(describing: error))")
        }
    }

    @Test func aFailingBatchStoresNothing() async throws {
        try await Self.withStore { store in
            try await store.migrate()
            var ledger = Ledger(config: LedgerConfig())
            let spec = try RunSpec(platforms: ["naver"], mode: .daily, crawlDate: "2026-11-25")
            try ledger.createRun(spec, roots: [Self.seed("a"), Self.seed("b")], now: Timestamp(millis: 1))
            let changes = ledger.drainChanges()
            // Units without their run violate the foreign key: the whole batch must roll back.
            let unitsOnly = changes.filter { if case .unit = $0 { true } else { false } }
            await #expect(throws: (any Error).self) { try await store.persist(unitsOnly) }
            #expect(try await store.load().isEmpty)
            try await store.persist(changes)
            #expect(try await store.load().count == 3)
        }
    }
}

struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
