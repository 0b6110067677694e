import ClusterCore
import ClusterKit
import CrawlCluster
import CrawlReduce
import Crypto
import Foundation
import PQKit
import ReducerCore
import Testing
import Warehouse
import WebtoonSimulator
import WebtoonTestSupport

/// Real `webtoon` processes crawl the small simulated catalog on two consecutive days; the reduce and load put
/// exactly the simulator's ground truth into PostgreSQL, a second load changes nothing, the day-to-day likes growth
/// matches the two ground truths, and a corrupted accepted file stops a reduce by name without touching anything.
@Suite(.serialized) struct RunReduceTests {
    static let day1 = "2026-11-25"
    static let day2 = "2026-11-26"

    static func truth(_ date: String) throws -> Truth {
        var truth = try Truth(
            SimulatorCatalog(configuration: SimulatorConfiguration(seed: 42, scale: .small, date: date)).groundTruth(mode: .full))
        // The warehouse has no daily-pass column; everything else is compared.
        truth.titles = truth.titles.map { var t = $0; t.dailyPass = false; return t }
        return truth
    }

    @Test func crawlReduceLoadEqualsGroundTruthOnTwoDays() async throws {
        try await withScratchDatabase { connection, ledger, tag in
            let root = try temporaryFolder("days")
            defer { try? FileManager.default.removeItem(atPath: root) }
            let schemas = WarehouseSchemas(suffix: tag)
            let w = schemas.warehouse
            func crawl(_ date: String, load: Bool) async throws -> String {
                var arguments = [
                    "run", "--workers", "2", "--concurrency", "3", "--mode", "full", "--scale", "small", "--date", date,
                    "--data-root", root, "--schema", ledger, "--warehouse-suffix", tag, "--log-level", "warning",
                ]
                if !load { arguments.append("--no-load") }
                let (status, log) = try await runWebtoon(arguments, logs: root, name: "run-\(date)")
                #expect(status == 0, "webtoon run \(date) failed:\n\(log.suffix(4000))")
                #expect(log.contains("dead 0"), "\(log.suffix(2000))")
                return log
            }

            // Day 1 through `webtoon run` itself: crawl, reduce, load, models.
            let truth1 = try Self.truth(Self.day1)
            let log1 = try await crawl(Self.day1, load: true)
            #expect(log1.contains("loaded episodes: \(truth1.episodes.count) rows"), "\(log1.suffix(3000))")
            #expect(log1.contains("data tests passed"), "\(log1.suffix(3000))")
            expectEqual(try await warehouseTruth(connection, w, date: Self.day1), truth1)
            // `webtoon run` notes the run as completed, so a following reducer (`reduce --watch`) leaves it alone.
            #expect(try await count(connection, "SELECT count(*) FROM \(w).completed_runs WHERE run_id = '\(Self.day1).full.kakao+naver' AND input_files > 0 AND loaded_rows > 0") == 1)

            // Loading the same run again changes nothing: no slice replaced, same rows, same ledger.
            let run1 = "\(Self.day1).full.kakao+naver"
            let tables = ["titles", "genres", "episodes", "loads"].map { "\(w).\($0)" }
            var before: [String] = []
            for table in tables { before.append(try await contentHash(connection, table)) }
            let loads = try await count(connection, "SELECT count(*) FROM \(w).loads")
            #expect(loads == 6, "one ledger row per (table, platform) slice of day 1")
            let again = try await RunLoader(schemas: schemas, logger: testLogger).load(
                processedRoot: root + "/processed", days: [CalendarDay(Self.day1)!], runID: run1, on: connection)
            #expect(again.replacedSlices == 0)
            #expect(again.rowsPerTable[.episodes] == truth1.episodes.count)
            var after: [String] = []
            for table in tables { after.append(try await contentHash(connection, table)) }
            #expect(after == before)

            // Day 2: crawl only, then reduce and load in process.
            let truth2 = try Self.truth(Self.day2)
            _ = try await crawl(Self.day2, load: false)
            let run2 = "\(Self.day2).full.kakao+naver"
            let outputs = try await acceptedOutputs(ledger: ledger, run: run2)
            let reducer = RunReducer(dataRoot: try DataRoot(url: "file://" + root), memoryBudget: 8 << 20, logger: testLogger)
            let summary = try await reducer.reduceOnDedicatedThread(outputs: outputs, runID: run2)
            #expect(summary.slices.map(\.platform) == ["kakao", "naver"])
            #expect(summary.tables.first { $0.table == .episodes }?.outputRows == truth2.episodes.count)
            let loaded = try await RunLoader(schemas: schemas, logger: testLogger).load(
                processedRoot: reducer.processedRoot, days: Set(summary.slices.map(\.snapshotDate)), runID: run2,
                on: connection)
            #expect(loaded.replacedSlices == 6)
            expectEqual(try await warehouseTruth(connection, w, date: Self.day2), truth2)
            // Day 1 is still there, untouched.
            expectEqual(try await warehouseTruth(connection, w, date: Self.day1), truth1)

            // Per-episode growth of likes from day 1 to day 2, as the two ground truths say.
            struct Key: Hashable { let platform: String; let title: Int64; let episode: Int64 }
            var likes1: [Key: Int64] = [:]
            for e in truth1.episodes { likes1[Key(platform: e.platform, title: e.titleId, episode: e.episodeId)] = e.likes }
            var expected: [Key: Int64] = [:]
            for e in truth2.episodes {
                let key = Key(platform: e.platform, title: e.titleId, episode: e.episodeId)
                if let old = likes1[key] { expected[key] = e.likes - old }
            }
            let growth = try await connection.query(
                """
                SELECT b.platform, b.title_id, b.episode_id, b.likes - a.likes
                FROM \(w).episodes a JOIN \(w).episodes b USING (platform, title_id, episode_id)
                WHERE a.snapshot_date = $1::date AND b.snapshot_date = $2::date
                """, [.text(Self.day1), .text(Self.day2)])
            var measured: [Key: Int64] = [:]
            for row in growth.rows {
                measured[Key(platform: row[0]!, title: Int64(row[1]!)!, episode: Int64(row[2]!)!)] = Int64(row[3]!)
            }
            #expect(!expected.isEmpty && expected.values.contains { $0 > 0 }, "the simulator's likes grow between days")
            #expect(measured == expected)
            let report = try await RunLoader(schemas: schemas, logger: testLogger).buildModels(on: connection)
            #expect(report.tests.filter { !$0.passed }.isEmpty)
            // Two snapshots now: the growth model has rows.
            #expect((report.tableRows["dashboard.new_title_growth_daily"] ?? 0) > 0, "\(report.tableRows)")

            // A corrupted accepted file: `webtoon reduce` fails naming it; processed/ and the warehouse stay as they were.
            let victim = try #require(outputs.first { $0.file.table == "episodes" })
            let victimPath = root + "/" + victim.file.path
            var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: victimPath)))
            bytes[bytes.count / 2] ^= 0x5A
            try Data(bytes).write(to: URL(fileURLWithPath: victimPath))
            let processedBefore = try folderDigest(root + "/processed")
            var warehouseBefore: [String] = []
            for table in tables { warehouseBefore.append(try await contentHash(connection, table)) }
            let (status, log) = try await runWebtoon(
                ["reduce", "--run", run2, "--data-root", "file://" + root, "--schema", ledger, "--warehouse-suffix", tag],
                logs: root, name: "reduce-corrupt")
            #expect(status != 0)
            #expect(log.contains(victimPath) && log.contains("corruptInput"), "\(log.suffix(2000))")
            let processedAfter = try folderDigest(root + "/processed")
            #expect(processedAfter == processedBefore)
            var warehouseAfter: [String] = []
            for table in tables { warehouseAfter.append(try await contentHash(connection, table)) }
            #expect(warehouseAfter == warehouseBefore)
            #expect(!FileManager.default.fileExists(atPath: root + "/.reduce-staging-" + RunReducer.fileSafe(run2)))
        }
    }
}

/// Every file under `folder` with its size and content, as one sorted description.
func folderDigest(_ folder: String) throws -> [String] {
    let files = try FileManager.default.subpathsOfDirectory(atPath: folder).sorted()
    return try files.map { name in
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder + "/" + name, isDirectory: &isDirectory) else {
            throw TestFailure("\(name) vanished while listing \(folder)")
        }
        if isDirectory.boolValue { return name + "/" }
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name))
        return "\(name) \(data.count) \(SHA256.hash(data: data).description)"
    }
}

/// The warehouse's rows of one snapshot day in the ground-truth shape.
func warehouseTruth(_ connection: PGConnection, _ w: String, date: String) async throws -> Truth {
    let titleRows = try await connection.query(
        """
        SELECT platform, id, title, author, string_agg(release_day::text, ',' ORDER BY release_day), bool_or(is_completed),
               bool_or(restricted), max(age_rating), max(views), max(favorite_count), max(image_url), count(DISTINCT title)
        FROM \(w).titles WHERE snapshot_date = $1::date GROUP BY platform, id, title, author
        """, [.text(date)])
    var genres: [String: [String]] = [:]
    for row in try await connection.query(
        "SELECT platform, title_id, genre_name FROM \(w).genres WHERE snapshot_date = $1::date", [.text(date)]
    ).rows {
        genres["\(row[0]!)/\(row[1]!)", default: []].append(row[2]!)
    }
    var titles: [Truth.Title] = []
    for row in titleRows.rows {
        let days = row[4]!.split(separator: ",").map { Int($0)! }
        let completed = row[5]! == "t"
        #expect(completed == days.contains(7) || days == [7], "release day 7 iff completed: \(row[0]!)/\(row[1]!)")
        titles.append(
            Truth.Title(
                platform: row[0]!, id: Int64(row[1]!)!, name: row[2]!, author: row[3]!,
                weekdays: days.filter { $0 < 7 }, completed: completed, restricted: row[6]! == "t", dailyPass: false,
                ageRating: row[7], genres: (genres["\(row[0]!)/\(row[1]!)"] ?? []).sorted(),
                views: row[8].flatMap { Int64($0) }, favoriteCount: row[9].flatMap { Int64($0) }, thumbnailUrl: row[10]!))
    }
    var episodes: [Truth.Episode] = []
    for row in try await connection.query(
        """
        SELECT platform, title_id, episode_id, no, title, published_date::text, likes, comments, rating, image_url,
               missing_reason
        FROM \(w).episodes WHERE snapshot_date = $1::date
        """, [.text(date)]
    ).rows {
        #expect(row[10] == nil, "missing reason \(row[10] ?? "") on \(row[0]!)/\(row[2]!)")
        episodes.append(
            Truth.Episode(
                platform: row[0]!, titleId: Int64(row[1]!)!, episodeId: Int64(row[2]!)!, no: Int(row[3]!)!, title: row[4]!,
                publishedDate: row[5] ?? "NULL", likes: row[6].flatMap { Int64($0) } ?? -1,
                comments: row[7].flatMap { Int64($0) } ?? -1, rating: row[8].flatMap { Double($0) }, thumbnailUrl: row[9]!))
    }
    return Truth(
        crawlDate: date, mode: "full",
        titles: titles.sorted { ($0.platform, $0.id) < ($1.platform, $1.id) },
        episodes: episodes.sorted { ($0.platform, $0.titleId, $0.episodeId) < ($1.platform, $1.titleId, $1.episodeId) })
}

