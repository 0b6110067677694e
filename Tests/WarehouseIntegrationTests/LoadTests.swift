import Foundation
import PQKit
import ReducerCore
import Synchronization
import Testing
import Warehouse

@Suite struct LoadTests {
    static func episodes(_ count: Int, on snapshot: CalendarDay, platform: String = "kakao", marker: String)
        -> [EpisodeRow]
    {
        var g = SplitMix64(seed: UInt64(count) &+ UInt64(bitPattern: Int64(snapshot.daysSinceEpoch)))
        return (0..<count).map { i in
            let likes: Int64? = i % 7 == 0 ? nil : Int64.random(in: 0...100_000, using: &g)
            return episode(
                platform, Int64(i / 50), Int64(i), on: snapshot, likes: likes, comments: Int64(i % 300),
                published: snapshot.adding(days: -Int32(i % 30)), title: "\(marker) \(i) 에피소드")
        }
    }

    @Test func reloadingARunChangesNothingAndDaysAreIndependent() async throws {
        try await withWarehouse { connection, schemas in
            let loader = WarehouseLoader(schemas: schemas, logger: testLogger)
            let table = try await qualified(connection, schemas.warehouse, "episodes")
            let ledger = try await qualified(connection, schemas.warehouse, "loads")
            let day1 = day("2026-11-24")
            let day2 = day("2026-11-25")
            let rows1 = Self.episodes(500, on: day1, marker: "run-a")
            let first = try await loader.loadSlice(
                rows1, on: connection, runID: "run-a", snapshotDate: day1, platform: "kakao")
            #expect(first.replaced && first.rows == 500 && first.previousRunID == nil)
            let hash = try await contentHash(connection, table)
            let loadedAt: String? = try await scalar(connection, "SELECT loaded_at::text FROM \(ledger)")

            // Same run again, rows in another order: same fingerprint, nothing replaced, ledger untouched.
            let again = try await loader.loadSlice(
                rows1.reversed(), on: connection, runID: "run-a", snapshotDate: day1, platform: "kakao")
            #expect(!again.replaced)
            #expect(again.checksum == first.checksum)
            #expect(try await contentHash(connection, table) == hash)
            #expect(try await scalar(connection, "SELECT loaded_at::text FROM \(ledger)") == loadedAt)
            let ledgerRows: Int? = try await scalar(connection, "SELECT count(*) FROM \(ledger)")
            #expect(ledgerRows == 1)

            // Same run id with other rows is refused, and changes nothing.
            let conflict = await #expect(throws: WarehouseError.self) {
                _ = try await loader.loadSlice(
                    Array(rows1.dropLast()), on: connection, runID: "run-a", snapshotDate: day1, platform: "kakao")
            }
            #expect(conflict?.code == .runConflict)
            #expect(conflict?.detail.contains("--replace-changed-run") == true)
            #expect(try await contentHash(connection, table) == hash)

            // Unless replacing changed runs is asked for: then the new content replaces the slice and the ledger
            // keeps the new fingerprint (loading it again is a no-op), and the old content can come back the same way.
            let replacing = WarehouseLoader(schemas: schemas, replacingChangedRuns: true, logger: testLogger)
            let changed = try await replacing.loadSlice(
                Array(rows1.dropLast()), on: connection, runID: "run-a", snapshotDate: day1, platform: "kakao")
            #expect(changed.replaced && changed.rows == 499 && changed.previousRunID == "run-a")
            #expect(try await scalar(connection, "SELECT checksum FROM \(ledger)") == changed.checksum)
            let same = try await replacing.loadSlice(
                Array(rows1.dropLast()), on: connection, runID: "run-a", snapshotDate: day1, platform: "kakao")
            #expect(!same.replaced)
            let back = try await replacing.loadSlice(
                rows1, on: connection, runID: "run-a", snapshotDate: day1, platform: "kakao")
            #expect(back.replaced && back.checksum == first.checksum)
            #expect(try await contentHash(connection, table) == hash)
            let ledgerRowsAfter: Int? = try await scalar(connection, "SELECT count(*) FROM \(ledger)")
            #expect(ledgerRowsAfter == 1, "one ledger row per slice and run, updated in place")

            // Another day is its own slice; the first stays as it was.
            let rows2 = Self.episodes(300, on: day2, marker: "run-b")
            _ = try await loader.loadSlice(rows2, on: connection, runID: "run-b", snapshotDate: day2, platform: "kakao")
            let perDay = try await connection.query(
                "SELECT snapshot_date::text, count(*) FROM \(table) GROUP BY 1 ORDER BY 1"
            ).rows.map { [$0[0], $0[1]] }
            #expect(perDay == [["2026-11-24", "500"], ["2026-11-25", "300"]])

            // A new run for day 1 replaces that slice exactly (no append).
            let rows1b = Self.episodes(120, on: day1, marker: "run-c")
            let replaced = try await loader.loadSlice(
                rows1b, on: connection, runID: "run-c", snapshotDate: day1, platform: "kakao")
            #expect(replaced.replaced && replaced.previousRunID == "run-a")
            let markers = try await connection.query(
                "SELECT split_part(title, ' ', 1), count(*) FROM \(table) WHERE snapshot_date = $1 GROUP BY 1",
                [.date(PGDate(year: 2026, month: 11, day: 24)!)]
            ).rows.map { [$0[0], $0[1]] }
            #expect(markers == [["run-c", "120"]])

            // NULL likes arrive as NULL with their reason, never as 0.
            let nulls: Int? = try await scalar(
                connection, "SELECT count(*) FROM \(table) WHERE likes IS NULL AND missing_reason IS NOT NULL")
            let expectedNulls = (rows1b + rows2).filter { $0.likes == nil }.count
            #expect(nulls == expectedNulls)
        }
    }

    @Test func rowsOfAnotherSliceAreRefused() async throws {
        try await withWarehouse { connection, schemas in
            let loader = WarehouseLoader(schemas: schemas, logger: testLogger)
            let rows = Self.episodes(10, on: day("2026-11-24"), platform: "naver", marker: "x")
            let error = await #expect(throws: WarehouseError.self) {
                _ = try await loader.loadSlice(
                    rows, on: connection, runID: "r", snapshotDate: day("2026-11-24"), platform: "kakao")
            }
            #expect(error?.code == .rowOutsideSlice)
            let table = try await qualified(connection, schemas.warehouse, "episodes")
            let count: Int? = try await scalar(connection, "SELECT count(*) FROM \(table)")
            #expect(count == 0)
        }
    }

    @Test func concurrentLoadsOfOneSliceNeverInterleave() async throws {
        try await withWarehouse { connection, schemas in
            let loader = WarehouseLoader(schemas: schemas, logger: testLogger)
            let snapshot = day("2026-11-25")
            let a = try await connect()
            let b = try await connect()
            let rowsA = Self.episodes(3000, on: snapshot, marker: "A")
            let rowsB = Self.episodes(2000, on: snapshot, marker: "B")
            let loadA = Task {
                try await loader.loadSlice(rowsA, on: a, runID: "A", snapshotDate: snapshot, platform: "kakao")
            }
            let loadB = Task {
                try await loader.loadSlice(rowsB, on: b, runID: "B", snapshotDate: snapshot, platform: "kakao")
            }
            let results = [try await loadA.value, try await loadB.value]
            #expect(results.allSatisfy { $0.replaced })
            let table = try await qualified(connection, schemas.warehouse, "episodes")
            let markers = try await connection.query(
                "SELECT split_part(title, ' ', 1), count(*) FROM \(table) GROUP BY 1"
            ).rows.map { [$0[0], $0[1]] }
            // Exactly one run's rows, complete: the one that committed last, which the ledger names as current.
            let ledger = try await qualified(connection, schemas.warehouse, "loads")
            let current: String? = try await scalar(
                connection, "SELECT run_id FROM \(ledger) ORDER BY loaded_at DESC LIMIT 1")
            let expectedCount = current == "A" ? rowsA.count : rowsB.count
            #expect(markers == [[current, String(expectedCount)]])
            let loser = results.first { $0.runID != current }
            #expect(loser?.previousRunID == nil, "the first committer saw an empty slice")
            #expect(results.first { $0.runID == current }?.previousRunID == loser?.runID)
            await a.close()
            await b.close()
        }
    }

    /// Loads of other slices of one table run at the same time (each swaps only its own partition) and never
    /// deadlock; each slice ends up holding exactly its own run's rows in one leaf.
    @Test func loadsOfOtherSlicesOfOneTableRunConcurrently() async throws {
        try await withWarehouse { connection, schemas in
            let loader = WarehouseLoader(schemas: schemas, logger: testLogger)
            let days = (20...25).map { day("2026-11-\($0)") }
            // Day 20 already loaded, so one of the concurrent loads swaps out an existing leaf.
            _ = try await loader.loadSlice(
                Self.episodes(50, on: days[0], marker: "old"), on: connection, runID: "old", snapshotDate: days[0],
                platform: "kakao")
            try await withThrowingTaskGroup(of: LoadResult.self) { group in
                for (index, snapshot) in days.enumerated() {
                    group.addTask {
                        let own = try await connect()
                        let rows = Self.episodes(1000 + index * 100, on: snapshot, marker: "d\(index)")
                        let result = try await loader.loadSlice(
                            rows, on: own, runID: "run-\(index)", snapshotDate: snapshot, platform: "kakao")
                        await own.close()
                        return result
                    }
                }
                for try await result in group { #expect(result.replaced) }
            }
            let table = try await qualified(connection, schemas.warehouse, "episodes")
            let perDay = try await connection.query(
                "SELECT snapshot_date::text, split_part(title, ' ', 1), count(*) FROM \(table) GROUP BY 1, 2 ORDER BY 1"
            ).rows.map { [$0[0], $0[1], $0[2]] }
            #expect(perDay == days.indices.map { ["2026-11-\(20 + $0)", "d\($0)", String(1000 + $0 * 100)] })
            let leafNames = try await leaves(connection, schemas.warehouse, "episodes_kakao")
            #expect(leafNames.count == days.count)
            // The model build that follows every load gives each new leaf its column statistics (only ANALYZE
            // writes them; the primary key's build sets the row estimate alone).
            func statisticsColumns(_ name: String) async throws -> Int64? {
                try await scalar(
                    connection, "SELECT count(*) FROM pg_stats WHERE schemaname = $1 AND tablename = $2",
                    [.text(schemas.warehouse), .text(name)])
            }
            for name in leafNames { #expect(try await statisticsColumns(name) == 0, "\(name) before the build") }
            try await ModelBuilder(schemas: schemas, logger: testLogger).analyzeNewSlices(on: connection)
            for name in leafNames {
                #expect(try await statisticsColumns(name) == Int64(EpisodeRow.columns.count), "\(name) after the build")
            }
        }
    }

    @Test func aLoadKilledMidCopyLeavesThePreviousStateAndARetryWorks() async throws {
        try await withWarehouse { connection, schemas in
            let loader = WarehouseLoader(schemas: schemas, logger: testLogger)
            let snapshot = day("2026-11-25")
            let table = try await qualified(connection, schemas.warehouse, "episodes")
            let ledger = try await qualified(connection, schemas.warehouse, "loads")
            _ = try await loader.loadSlice(
                Self.episodes(400, on: snapshot, marker: "old"), on: connection, runID: "old", snapshotDate: snapshot,
                platform: "kakao")
            let before = try await contentHash(connection, table)
            let ledgerBefore = try await contentHash(connection, ledger)

            let victim = try await connect()
            let victimPID: Int = try #require(try await scalar(victim, "SELECT pg_backend_pid()"))
            let newRows = Self.episodes(20_000, on: snapshot, marker: "new")
            let copyStarted = Mutex(false)
            let backendKilled = Mutex(false)
            let killer = Task {
                let admin = try await connect()
                // Wait until the victim is inside COPY, then terminate its backend and tell the producer.
                for _ in 0..<2000 {
                    if copyStarted.withLock({ $0 }) { break }
                    try await Task.sleep(for: .milliseconds(10))
                }
                let killed: Bool? = try await scalar(
                    admin, "SELECT pg_terminate_backend($1::integer)", [.int(Int64(victimPID))])
                backendKilled.withLock { $0 = true }
                await admin.close()
                return killed
            }
            let error = await #expect(throws: (any Error).self) {
                _ = try await loader.loadSlice(
                    EpisodeRow.self, on: victim, runID: "new", snapshotDate: snapshot, platform: "kakao"
                ) { writer in
                    for (index, row) in newRows.enumerated() {
                        try await writer.write(row)
                        if index == 1000 {
                            copyStarted.withLock { $0 = true }
                            // A slow producer: it waits (at most 20 s) until the kill has landed with the COPY open.
                            for _ in 0..<2000 where !backendKilled.withLock({ $0 }) {
                                try await Task.sleep(for: .milliseconds(10))
                            }
                        }
                    }
                }
            }
            #expect(try await killer.value == true)
            // The failure is the lost connection, not something else that happened to throw.
            #expect((error as? PGError)?.code == .connectionLost, "\(String(describing: error))")
            #expect(try await contentHash(connection, table) == before, "a partial load became visible")
            #expect(try await contentHash(connection, ledger) == ledgerBefore)
            let leavesAfterKill = try await leaves(connection, schemas.warehouse, "episodes_kakao")
            #expect(leavesAfterKill.count == 1, "the killed load left a table behind: \(leavesAfterKill)")
            await victim.close()

            let retry = try await connect()
            let result = try await loader.loadSlice(
                newRows, on: retry, runID: "new", snapshotDate: snapshot, platform: "kakao")
            #expect(result.replaced && result.rows == newRows.count && result.previousRunID == "old")
            let count: Int? = try await scalar(connection, "SELECT count(*) FROM \(table) WHERE title LIKE 'new %'")
            #expect(count == newRows.count)
            let leavesAfterRetry = try await leaves(connection, schemas.warehouse, "episodes_kakao")
            #expect(leavesAfterRetry.count == 1 && leavesAfterRetry != leavesAfterKill, "\(leavesAfterRetry)")
            await retry.close()
        }
    }

    @Test func progressIsReportedWithRateAndEstimate() async throws {
        try await withWarehouse { connection, schemas in
            let loader = WarehouseLoader(schemas: schemas, logger: testLogger)
            let snapshot = day("2026-11-25")
            let rows = Self.episodes(5000, on: snapshot, marker: "p")
            var reports: [LoadProgress] = []
            let result = try await loader.loadSlice(
                EpisodeRow.self, on: connection, runID: "p", snapshotDate: snapshot, platform: "kakao",
                expectedRows: rows.count, progressInterval: .zero, progress: { reports.append($0) }
            ) { writer in
                for row in rows { try await writer.write(row) }
            }
            #expect(result.rows == rows.count)
            #expect(reports.count >= 2)
            #expect(reports.map(\.rows) == reports.map(\.rows).sorted())
            #expect(reports.last?.rows == rows.count)
            #expect(reports.last?.estimatedSecondsRemaining == 0)
            #expect(reports.allSatisfy { $0.rowsPerSecond > 0 && $0.expectedRows == rows.count })
        }
    }

    @Test func everyTableLoads() async throws {
        try await withWarehouse { connection, schemas in
            let loader = WarehouseLoader(schemas: schemas, logger: testLogger)
            let snapshot = day("2026-11-25")
            let titles = [
                title("naver", 7, on: snapshot, releaseDay: 0, name: "월", views: nil),
                title("naver", 7, on: snapshot, releaseDay: 3, name: "월", views: nil),
            ]
            let genres = [
                GenreRow(platform: "naver", titleID: 7, genreName: "판타지", snapshotDate: snapshot, fetchedAt: 1)
            ]
            let comments = [
                CommentRow(
                    platform: "naver", titleID: 7, episodeID: 1, commentID: "c1", author: nil, body: "재밌다",
                    likes: 3, createdAt: fetchTime(snapshot, -60), snapshotDate: snapshot,
                    fetchedAt: fetchTime(snapshot))
            ]
            #expect(
                try await loader.loadSlice(
                    titles, on: connection, runID: "r", snapshotDate: snapshot, platform: "naver"
                ).rows == 2)
            #expect(
                try await loader.loadSlice(
                    genres, on: connection, runID: "r", snapshotDate: snapshot, platform: "naver"
                ).rows == 1)
            #expect(
                try await loader.loadSlice(
                    comments, on: connection, runID: "r", snapshotDate: snapshot, platform: "naver"
                ).rows == 1)
            let days = try await connection.query(
                "SELECT release_day, title, views IS NULL, fetched_at = to_timestamp($1) FROM \(try await qualified(connection, schemas.warehouse, "titles")) ORDER BY 1",
                [.double(Double(fetchTime(snapshot)) / 1e6)]
            ).rows.map(\.values)
            #expect(days == [["0", "월", "t", "t"], ["3", "월", "t", "t"]])
        }
    }
}
