import ClusterCore
import CrawlCluster
import CrawlReduce
import Crypto
import CurlKit
import Foundation
import Logging
import PQKit
import ParquetKit
import ProcessTestSupport
import ReducerCore
import Testing
import Warehouse
import WebtoonCore
import WebtoonCrawler
import WebtoonSimulator
import WebtoonTestSupport

/// A real crawl of the simulator that collects comment text (`topComments = 1`), written as workers write their
/// accepted files, reduced and loaded: the warehouse's comments are exactly what the crawl wrote (the latest copy of
/// each), and match the ground truth's comment counts (the simulator's cbox list holds one comment when the count is
/// above 0). The processed tree the same reduce wrote reads in DuckDB as one table per folder with its partition
/// columns.
@Suite(.serialized) struct CommentsEndToEndTests {
    static let date = "2026-11-25"

    struct Crawl {
        var records: RecordBatch
        var truth: Truth
    }

    static func crawl() async throws -> Crawl {
        let simulator = try await PlatformSimulator.start(
            configuration: SimulatorConfiguration(seed: 42, scale: .small, date: date))
        let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let catalogs = try Platform.allCases.map { platform in
            var catalog = try EndpointCatalog.builtIn(platform).overridingBaseURL(simulator.baseURL)
                .withPoliteness(requestsPerSecond: 5000, burst: 50, maxConcurrency: 8)
            // Comment text comes from cbox (the community API gives counts only).
            if platform == .naver { catalog.crawl.commentApi = .comments }
            catalog.crawl.topComments = 1
            return catalog
        }
        var configuration = HTTPClient.Configuration()
        configuration.maxConnectionsPerHost = 16
        configuration.maxTotalConnections = 16
        let client = try HTTPClient(configuration: configuration)
        let fetcher = EndpointHTTPFetcher(catalogs: catalogs, http: client, stats: CrawlStats(), logger: quiet)
        let raw = try temporaryFolder("comments-raw")
        defer { try? FileManager.default.removeItem(atPath: raw) }
        let crawler = LocalCrawler(
            runner: TaskRunner(catalogs: catalogs, fetcher: fetcher), storage: RawStorage(root: raw), concurrency: 12,
            logger: quiet)
        let crawlDate = try #require(CrawlDate(date))
        let summary = await crawler.run(
            CrawlPlan.rootTasks(platforms: Platform.allCases, mode: .daily, crawlDate: crawlDate))
        await client.shutdown()
        let truth = try Truth(simulator.groundTruth(mode: .daily))
        await simulator.shutdown()
        #expect(summary.failures.isEmpty, "\(summary.failures.prefix(3))")
        return Crawl(records: summary.records, truth: truth)
    }

    @Test func commentsOfARealCrawlReachTheWarehouseAndTheTreeReadsInDuckDB() async throws {
        let crawl = try await Self.crawl()
        let comments = crawl.records.comments
        // The simulator answers one comment per Naver episode with comments, none for Kakao (count only).
        let truthNaver = crawl.truth.episodes.filter { $0.platform == "naver" }
        #expect(comments.count == truthNaver.filter { $0.comments > 0 }.count)
        #expect(comments.allSatisfy { $0.platform == .naver } && !comments.isEmpty)

        try await withScratchDatabase { connection, _, tag in
            let root = try temporaryFolder("comments")
            defer { try? FileManager.default.removeItem(atPath: root) }
            // Unit "a" is the crawl as it was; unit "b" fetched the stats (and so the comments) of the first ten
            // episodes with comments again a minute later, unit "c" a minute earlier, each with other likes: the
            // latest fetch must win, whatever the likes (c's are the largest, so a tie-break would pick them).
            func refetch(_ shift: Int64, likes: Int64) -> RecordBatch {
                var batch = RecordBatch()
                for comment in comments.prefix(10) {
                    var changed = comment
                    changed.likes += likes
                    batch.comments.append(changed)
                    if var s = crawl.records.episodeStats.first(where: {
                        $0.titleId == comment.titleId && $0.episodeId == comment.episodeId
                    }) {
                        s.fetchedAt += shift
                        batch.episodeStats.append(s)
                    }
                }
                return batch
            }
            let again = refetch(60_000, likes: 1000)
            let stale = refetch(-60_000, likes: 5000)
            #expect(again.episodeStats.count == 10)
            let files =
                try writeAcceptedFiles(crawl.records, unit: "a", root: root) + writeAcceptedFiles(again, unit: "b", root: root)
                + writeAcceptedFiles(stale, unit: "c", root: root)
            let runID = "\(Self.date).daily.kakao+naver"
            let reducer = RunReducer(
                dataRoot: try DataRoot(url: "file://" + root), memoryBudget: 8 << 20, logger: testLogger)
            let summary = try await onDedicatedThread { try reducer.reduce(files: files, runID: runID) }
            let reducedComments = try #require(summary.tables.first { $0.table == .comments })
            #expect(reducedComments.outputRows == comments.count)

            let schemas = WarehouseSchemas(suffix: tag)
            let loader = RunLoader(schemas: schemas, logger: testLogger)
            var reports: [RunLoadProgress] = []
            let loaded = try await loader.load(
                processedRoot: reducer.processedRoot, days: Set(summary.slices.map(\.snapshotDate)), runID: runID,
                on: connection, progressInterval: .zero, progress: { reports.append($0) })
            #expect(loaded.rowsPerTable[.comments] == comments.count)
            let total = loaded.results.reduce(0) { $0 + $1.rows }
            #expect(reports.last?.rows == total && reports.last?.totalRows == total)
            #expect(reports.map(\.rows) == reports.map(\.rows).sorted())

            // Exactly the crawled comments, the refetched ones with their later likes.
            var expected: [String: String] = [:]
            for c in comments + again.comments {
                let created = c.createdAt.flatMap(CrawlRowMapper.microseconds(iso8601:)).map { String($0) } ?? "null"
                expected["\(c.platform.rawValue)/\(c.titleId)/\(c.episodeId)/\(c.commentId)"] =
                    "\(c.text)|\(c.likes)|\(created)"
            }
            let w = schemas.warehouse
            let rows = try await connection.query(
                "SELECT platform, title_id, episode_id, comment_id, body, likes, "
                    + "coalesce((extract(epoch FROM created_at) * 1000000)::bigint::text, 'null'), author IS NULL "
                    + "FROM \(w).comments")
            var actual: [String: String] = [:]
            for row in rows.rows {
                actual["\(row[0]!)/\(row[1]!)/\(row[2]!)/\(row[3]!)"] = "\(row[4]!)|\(row[5]!)|\(row[6]!)"
                #expect(row[7] == "t")
            }
            #expect(actual == expected)
            #expect(actual.values.filter { $0.contains("null") }.isEmpty, "every simulator comment has a parsable time")
            // Per episode, the ground truth's count says whether there is a comment.
            let withComment = Set(rows.rows.map { "\($0[1]!)/\($0[2]!)" })
            #expect(withComment == Set(truthNaver.filter { $0.comments > 0 }.map { "\($0.titleId)/\($0.episodeId)" }))

            // A second load of the run changes nothing.
            let before = try await contentHash(connection, "\(w).comments")
            let second = try await loader.load(
                processedRoot: reducer.processedRoot, days: Set(summary.slices.map(\.snapshotDate)), runID: runID,
                on: connection)
            #expect(second.replacedSlices == 0)
            #expect(try await contentHash(connection, "\(w).comments") == before)

            try await Self.compareWithDuckDB(processedRoot: reducer.processedRoot)
        }
    }

    /// DuckDB reads each processed table folder as one hive-partitioned table (year, month, day, platform restored
    /// from the paths); its per-partition counts and key sums equal ours from reading the same files.
    static func compareWithDuckDB(processedRoot: String) async throws {
        let python = try #require(
            ProcessInfo.processInfo.environment["WEBTOON_PYTHON"],
            "WEBTOON_PYTHON is not set: export WEBTOON_PYTHON=/work/main/.venv/bin/python (cluster/setup.sh sets it)")
        let keyColumn: [ProcessedTable: String] = [.titles: "id", .genres: "title_id", .episodes: "episode_id", .comments: "episode_id"]
        let script = """
            import duckdb, json, sys
            root, tables = sys.argv[1], sys.argv[2].split(',')
            out = {}
            for table in tables:
                table, key = table.split(':')
                rel = duckdb.sql(f"SELECT * FROM read_parquet('{root}/{table}/**/*.parquet', hive_partitioning=true)")
                columns = rel.columns
                assert all(c in columns for c in ('year', 'month', 'day', 'platform', 'snapshot_date')), columns
                rows = duckdb.sql(f\"\"\"
                    SELECT platform, year, month, day, strftime(min(snapshot_date), '%Y-%m-%d'), strftime(max(snapshot_date), '%Y-%m-%d'),
                           count(*), sum({key})
                    FROM read_parquet('{root}/{table}/**/*.parquet', hive_partitioning=true)
                    GROUP BY ALL ORDER BY ALL\"\"\").fetchall()
                out[table] = [[str(v) for v in r] for r in rows]
            print(json.dumps(out))
            """
        let tables = [ProcessedTable.titles, .genres, .episodes, .comments]
        let (status, output, errors) = await runOffPool(
            python, ["-c", script, processedRoot, tables.map { "\($0.rawValue):\(keyColumn[$0]!)" }.joined(separator: ",")])
        #expect(status == 0, "duckdb failed: \(errors.suffix(2000))")
        let duck = try JSONDecoder().decode([String: [[String]]].self, from: Data(output.utf8))

        // Our own reading of the same files, partition by partition.
        for table in tables {
            var ours: [[String]] = []
            for partition in try ParquetDataset(root: processedRoot + "/" + table.rawValue).partitions() {
                let platform = try #require(partition.partition.value(of: "platform"))
                var count = 0
                var keySum: Int64 = 0
                var days = Set<CalendarDay>()
                func add<Row: ParquetRow>(_ type: Row.Type, key: (Row) -> Int64) throws {
                    for file in partition.files {
                        let reader = try ProcessedFileReader<Row>(path: file, platform: platform)
                        while let rows = try reader.nextRowGroup() {
                            for row in rows {
                                #expect(row.platform == platform)
                                count += 1
                                keySum += key(row)
                                days.insert(row.snapshotDate)
                            }
                        }
                    }
                }
                switch table {
                case .titles: try add(TitleRow.self) { $0.id }
                case .genres: try add(GenreRow.self) { $0.titleID }
                case .episodes: try add(EpisodeRow.self) { $0.episodeID }
                case .comments: try add(CommentRow.self) { $0.episodeID }
                }
                let day = try #require(days.count == 1 ? days.first : nil)
                let (y, m, d) = day.components
                ours.append([platform, String(y), String(m), String(d), "\(day)", "\(day)", String(count), String(keySum)])
            }
            #expect(
                ours.sorted { $0.lexicographicallyPrecedes($1) } == duck[table.rawValue],
                "\(table): ours \(ours), duckdb \(duck[table.rawValue] ?? [])")
        }
    }
}
