import Foundation
import PQKit
import ParquetKit
import ReducerCore
import Testing
import Warehouse

@Suite struct ReduceThenLoadTests {
    @Test func processedPartitionsLoadIntoTheWarehouseAsSlices() async throws {
        try await withWarehouse { connection, schemas in
            let folder = NSTemporaryDirectory() + "reduce-load-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let snapshot = day("2026-11-25")
            // Two accepted worker files with overlapping keys; the later fetch of each key must win.
            var inputs: [String] = []
            var latest: [String: EpisodeRow] = [:]
            for file in 0..<2 {
                let rows = (0..<600).map { i -> EpisodeRow in
                    var row = episode(
                        i % 2 == 0 ? "naver" : "kakao", Int64(i / 10), Int64(i), on: snapshot,
                        likes: i % 9 == 0 ? nil : Int64(i * 10 + file), comments: Int64(file))
                    row.fetchedAt += Int64(file)
                    return row
                }
                for row in rows { latest["\(row.platform)/\(row.episodeID)"] = row }
                let path = folder + "/accepted-\(file).parquet"
                let writer = try ParquetWriter(path: path, schema: try ParquetSchema(EpisodeRow.parquetColumns))
                for row in rows { try writer.append(row: row.parquetValues) }
                try writer.close()
                inputs.append(path)
            }
            let summary = try ProcessedReducer(outputRoot: folder + "/processed", logger: testLogger)
                .reduce(EpisodeRow.self, inputs: inputs, runID: "run-7")
            #expect(summary.outputRows == latest.count)

            let loader = WarehouseLoader(schemas: schemas, logger: testLogger)
            // One partition by hand …
            let partitions = try ParquetDataset(root: folder + "/processed/episodes").partitions()
            #expect(partitions.count == 2)
            let first = try #require(partitions.first)
            let platform = try #require(first.partition.value(of: "platform"))
            let single = try await loader.loadProcessedFiles(
                EpisodeRow.self, files: first.files, on: connection, runID: "run-7", snapshotDate: snapshot,
                platform: platform)
            #expect(single.rows == latest.values.filter { $0.platform == platform }.count)
            // … then the whole day: that slice is unchanged (same run), the other one is loaded.
            let results = try await loader.loadProcessedDay(
                EpisodeRow.self, processedRoot: folder + "/processed", snapshotDate: snapshot, runID: "run-7",
                on: connection)
            #expect(results.map(\.platform).sorted() == ["kakao", "naver"])
            #expect(results.filter { $0.replaced }.map(\.platform) == results.map(\.platform).filter { $0 != platform })
            let table = try await qualified(connection, schemas.warehouse, "episodes")
            let loaded = try await connection.query(
                "SELECT platform, episode_id, likes, comments FROM \(table) ORDER BY platform, episode_id")
            #expect(loaded.rows.count == latest.count)
            for row in loaded.rows {
                let want = try #require(latest["\(row[0]!)/\(row[1]!)"])
                #expect(optionalInt(row[2]) == want.likes)
                #expect(optionalInt(row[3]) == want.comments)
            }
        }
    }

    /// The reader thread's failures reach the load as errors and abort the COPY: a file that is not Parquet after a
    /// good one (batches of it already sent), or a file holding another slice's rows. The slice keeps its previous
    /// content and no table is left behind; the connection stays usable.
    @Test func aFailingFileAbortsTheLoadAndKeepsThePreviousSlice() async throws {
        try await withWarehouse { connection, schemas in
            let folder = NSTemporaryDirectory() + "reduce-load-fail-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let snapshot = day("2026-11-25")
            func write(_ rows: [EpisodeRow], _ name: String) throws -> String {
                let path = folder + "/" + name
                let writer = try ParquetWriter(path: path, schema: try ParquetSchema(EpisodeRow.parquetColumns))
                for (index, row) in rows.enumerated() {
                    try writer.append(row: row.parquetValues)
                    if index % 4096 == 4095 { try writer.flushRowGroup() }
                }
                _ = try writer.close()
                return path
            }
            let good = try write(LoadTests.episodes(30_000, on: snapshot, marker: "good"), "good.parquet")
            let other = try write(LoadTests.episodes(10, on: day("2026-11-24"), marker: "other"), "other.parquet")
            let garbage = folder + "/garbage.parquet"
            try Data(repeating: 0x2A, count: 4096).write(to: URL(fileURLWithPath: garbage))
            let loader = WarehouseLoader(schemas: schemas, logger: testLogger)
            let first = try await loader.loadProcessedFiles(
                EpisodeRow.self, files: [good], on: connection, runID: "first", snapshotDate: snapshot, platform: "kakao")
            #expect(first.rows == 30_000)
            let table = try await qualified(connection, schemas.warehouse, "episodes")
            let ledger = try await qualified(connection, schemas.warehouse, "loads")
            let before = [try await contentHash(connection, table), try await contentHash(connection, ledger)]
            let leavesBefore = try await leaves(connection, schemas.warehouse, "episodes_kakao")

            await #expect(throws: (any Error).self) {
                _ = try await loader.loadProcessedFiles(
                    EpisodeRow.self, files: [good, garbage], on: connection, runID: "second", snapshotDate: snapshot,
                    platform: "kakao")
            }
            let outside = await #expect(throws: WarehouseError.self) {
                _ = try await loader.loadProcessedFiles(
                    EpisodeRow.self, files: [good, other], on: connection, runID: "third", snapshotDate: snapshot,
                    platform: "kakao")
            }
            #expect(outside?.code == .rowOutsideSlice)
            #expect([try await contentHash(connection, table), try await contentHash(connection, ledger)] == before)
            #expect(try await leaves(connection, schemas.warehouse, "episodes_kakao") == leavesBefore)
            // The same connection still loads.
            let retry = try await loader.loadProcessedFiles(
                EpisodeRow.self, files: [good], on: connection, runID: "fourth", snapshotDate: snapshot, platform: "kakao")
            #expect(retry.replaced && retry.previousRunID == "first")
        }
    }
}
