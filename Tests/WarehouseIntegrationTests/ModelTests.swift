import Foundation
import PQKit
import ReducerCore
import Testing
import Warehouse

/// A small hand-written warehouse: two snapshots two days apart, the same id on both platforms, a title under two
/// weekdays, a completed title, a title first seen in the second snapshot, and episodes with unknown likes.
struct ModelFixture {
    let day1 = day("2026-11-01")
    let day2 = day("2026-11-03")
    var titles: [TitleRow] = []
    var genres: [GenreRow] = []
    var episodes: [EpisodeRow] = []

    init() {
        for snapshot in [day1, day2] {
            let second = snapshot == day2
            // naver 100: Monday and Thursday; its views are unknown (Naver has none).
            titles += [0, 3].map { title("naver", 100, on: snapshot, releaseDay: $0, name: "네이버 A", views: nil) }
            // kakao 100: the same id on the other platform.
            titles.append(title("kakao", 100, on: snapshot, releaseDay: 2, name: "카카오 A", views: second ? 1500 : 1000))
            titles.append(title("naver", 300, on: snapshot, releaseDay: 7, name: "완결작", views: nil))
            genres += (second ? ["판타지"] : ["판타지", "액션"]).map {
                GenreRow(
                    platform: "naver", titleID: 100, genreName: $0, snapshotDate: snapshot,
                    fetchedAt: fetchTime(snapshot))
            }
            genres.append(
                GenreRow(
                    platform: "kakao", titleID: 100, genreName: "판타지", snapshotDate: snapshot,
                    fetchedAt: fetchTime(snapshot)))
            episodes += [
                episode(
                    "naver", 100, 1, on: snapshot, likes: second ? 16 : 10, comments: second ? 5 : 2,
                    published: day("2026-10-20")),
                episode(
                    "naver", 100, 2, on: snapshot, likes: nil, comments: second ? 3 : 1, published: day("2026-10-27")),
                episode(
                    "kakao", 100, 1, on: snapshot, likes: second ? 130 : 100, comments: second ? 26 : 20,
                    published: day("2026-10-20")),
            ]
        }
        titles.append(title("kakao", 200, on: day2, releaseDay: 5, name: "신작", views: 50))
        genres.append(
            GenreRow(platform: "kakao", titleID: 200, genreName: "로맨스", snapshotDate: day2, fetchedAt: fetchTime(day2)))
        episodes.append(episode("kakao", 200, 5, on: day2, likes: 7, comments: 1, published: day2))
    }

    struct TitleKey: Hashable, Comparable {
        var platform: String
        var id: Int64
        static func < (a: TitleKey, b: TitleKey) -> Bool { (a.platform, a.id) < (b.platform, b.id) }
    }

    /// Latest snapshot of each episode, computed here independently of the SQL.
    var latestEpisodes: [EpisodeRow] {
        Dictionary(grouping: episodes) { "\($0.platform)/\($0.titleID)/\($0.episodeID)" }.values
            .map { $0.max { $0.snapshotDate < $1.snapshotDate }! }
    }

    struct ExpectedTitle: Equatable {
        var releaseDays: [Int]
        var views: Int64?
        var genres: [String]?
        var episodeCount: Int
        var likes: Int64?
        var comments: Int64?
        var missingLikes: Int
        var firstSeen: CalendarDay
    }

    var expectedTitles: [TitleKey: ExpectedTitle] {
        var result: [TitleKey: ExpectedTitle] = [:]
        for (key, rows) in Dictionary(grouping: titles, by: { TitleKey(platform: $0.platform, id: $0.id) }) {
            let latestDay = rows.map(\.snapshotDate).max()!
            let latest = rows.filter { $0.snapshotDate == latestDay }
            let genreRows = genres.filter { $0.platform == key.platform && $0.titleID == key.id }
            let genreDay = genreRows.map(\.snapshotDate).max()
            let titleEpisodes = latestEpisodes.filter { $0.platform == key.platform && $0.titleID == key.id }
            let knownLikes = titleEpisodes.compactMap(\.likes)
            let knownComments = titleEpisodes.compactMap(\.comments)
            result[key] = ExpectedTitle(
                releaseDays: latest.map(\.releaseDay).sorted(), views: latest[0].views,
                genres: genreDay.map { d in genreRows.filter { $0.snapshotDate == d }.map(\.genreName).sorted() },
                episodeCount: titleEpisodes.count,
                likes: knownLikes.isEmpty ? nil : knownLikes.reduce(0, +),
                comments: knownComments.isEmpty ? nil : knownComments.reduce(0, +),
                missingLikes: titleEpisodes.count - knownLikes.count, firstSeen: rows.map(\.snapshotDate).min()!)
        }
        return result
    }

    func load(into connection: PGConnection, schemas: WarehouseSchemas) async throws {
        let loader = WarehouseLoader(schemas: schemas, logger: testLogger)
        for snapshot in [day1, day2] {
            for platform in ["naver", "kakao"] {
                let run = "run-\(snapshot)"
                _ = try await loader.loadSlice(
                    titles.filter { $0.snapshotDate == snapshot && $0.platform == platform }, on: connection,
                    runID: run, snapshotDate: snapshot, platform: platform)
                _ = try await loader.loadSlice(
                    genres.filter { $0.snapshotDate == snapshot && $0.platform == platform }, on: connection,
                    runID: run, snapshotDate: snapshot, platform: platform)
                _ = try await loader.loadSlice(
                    episodes.filter { $0.snapshotDate == snapshot && $0.platform == platform }, on: connection,
                    runID: run, snapshotDate: snapshot, platform: platform)
            }
        }
    }
}

func optionalInt(_ text: String?) -> Int64? { text.flatMap { Int64($0) } }

/// `{a,b}` → ["a", "b"] for PostgreSQL text arrays of simple elements.
func arrayElements(_ text: String?) -> [String]? {
    guard let text else { return nil }
    let inner = text.dropFirst().dropLast()
    return inner.isEmpty
        ? [] : inner.split(separator: ",").map { String($0).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
}

@Suite struct ModelTests {
    @Test func siteAndDashboardModelsMatchIndependentlyDerivedValues() async throws {
        try await withWarehouse { connection, schemas in
            let fixture = ModelFixture()
            try await fixture.load(into: connection, schemas: schemas)
            let builder = ModelBuilder(schemas: schemas, logger: testLogger)
            let report = try await builder.build(on: connection)
            #expect(report.tests.allSatisfy { $0.passed }, "\(report.tests.filter { !$0.passed })")
            let site = try await connection.quoteIdentifier(schemas.site)
            let dashboard = try await connection.quoteIdentifier(schemas.dashboard)

            // dim_webtoon_titles: one row per (platform, id), values from the latest snapshot.
            let expected = fixture.expectedTitles
            let dim = try await connection.query(
                """
                SELECT platform, id, release_days::text, views, genres::text, episode_count, likes, comments,
                    episodes_missing_likes, first_seen_date::text FROM \(site).dim_webtoon_titles
                """)
            #expect(dim.rows.count == expected.count)
            for row in dim.rows {
                let key = ModelFixture.TitleKey(platform: row[0]!, id: Int64(row[1]!)!)
                let want = try #require(expected[key], "unexpected title \(key)")
                let got = ModelFixture.ExpectedTitle(
                    releaseDays: arrayElements(row[2])!.map { Int($0)! }, views: optionalInt(row[3]),
                    genres: arrayElements(row[4]), episodeCount: Int(row[5]!)!, likes: optionalInt(row[6]),
                    comments: optionalInt(row[7]), missingLikes: Int(row[8]!)!, firstSeen: CalendarDay(row[9]!)!)
                #expect(got == want, "\(key)")
            }

            // fct_webtoon_episodes: the latest snapshot per episode, NULL likes stay NULL, keyed with platform.
            let fct = try await connection.query(
                "SELECT platform, title_id, episode_id, likes, comments, missing_reason, snapshot_date::text FROM \(site).fct_webtoon_episodes"
            )
            let latest = Dictionary(
                uniqueKeysWithValues: fixture.latestEpisodes.map {
                    ("\($0.platform)/\($0.titleID)/\($0.episodeID)", $0)
                })
            #expect(fct.rows.count == latest.count)
            for row in fct.rows {
                let want = try #require(latest["\(row[0]!)/\(row[1]!)/\(row[2]!)"])
                #expect(optionalInt(row[3]) == want.likes)
                #expect(optionalInt(row[4]) == want.comments)
                #expect(row[5] == want.missingReason)
                #expect(row[6] == want.snapshotDate.description)
            }

            // Popularity by weekday: a title under two weekdays counts under both.
            var weekday: [String: (titles: Int, likes: Int64?)] = [:]
            for (key, title) in expected {
                for day in title.releaseDays {
                    let slot = "\(key.platform)/\(day)"
                    let previous = weekday[slot] ?? (0, nil)
                    let likes = [previous.likes, title.likes].compactMap { $0 }
                    weekday[slot] = (previous.titles + 1, likes.isEmpty ? nil : likes.reduce(0, +))
                }
            }
            let byWeekday = try await connection.query(
                "SELECT platform, release_day, title_count, likes FROM \(dashboard).popularity_by_weekday")
            #expect(byWeekday.rows.count == weekday.count)
            for row in byWeekday.rows {
                let want = try #require(weekday["\(row[0]!)/\(row[1]!)"])
                #expect(Int(row[2]!) == want.titles)
                #expect(optionalInt(row[3]) == want.likes)
            }

            // Genre ranking: each title once per genre of its latest genre snapshot, values from the latest snapshot.
            var genreTotals: [String: (titles: Int, score: Int64)] = [:]
            for (key, title) in expected {
                for genre in title.genres ?? [] {
                    let slot = "\(key.platform)/\(genre)"
                    let previous = genreTotals[slot] ?? (0, 0)
                    genreTotals[slot] = (
                        previous.titles + 1,
                        previous.score + (title.views ?? 0) + (title.likes ?? 0) + (title.comments ?? 0)
                    )
                }
            }
            let ranking = try await connection.query(
                "SELECT platform, genre_name, title_count, popularity_score FROM \(dashboard).genre_ranking")
            #expect(ranking.rows.count == genreTotals.count)
            for row in ranking.rows {
                let want = try #require(genreTotals["\(row[0]!)/\(row[1]!)"])
                #expect(Int(row[2]!) == want.titles)
                #expect(Int64(row[3]!) == want.score)
            }

            // Top titles by views per episode: only titles with known views and episodes.
            let top = try await connection.query(
                "SELECT platform, title_id, avg_views_per_episode FROM \(dashboard).top_titles_by_views_per_episode")
            let rankable = expected.filter { $0.value.views != nil && $0.value.episodeCount > 0 }
            #expect(top.rows.count == rankable.count)
            for row in top.rows {
                let want = try #require(rankable[ModelFixture.TitleKey(platform: row[0]!, id: Int64(row[1]!)!)])
                #expect(Double(row[2]!) == Double(want.views!) / Double(want.episodeCount))
            }

            // Growth: per title, per-episode differences between consecutive snapshots divided by the days between.
            let gap = Double(fixture.day2.daysSinceEpoch - fixture.day1.daysSinceEpoch)
            var growth: [String: Double] = [:]
            for e2 in fixture.episodes where e2.snapshotDate == fixture.day2 {
                guard
                    let e1 = fixture.episodes.first(where: {
                        $0.snapshotDate == fixture.day1 && $0.platform == e2.platform && $0.titleID == e2.titleID
                            && $0.episodeID == e2.episodeID
                    }), let now = e2.likes, let then = e1.likes
                else { continue }
                growth["\(e2.platform)/\(e2.titleID)", default: 0] += Double(now - then) / gap
            }
            let daily = try await connection.query(
                "SELECT platform, title_id, snapshot_date::text, likes_per_day FROM \(dashboard).new_title_growth_daily"
            )
            #expect(daily.rows.count == growth.count)
            for row in daily.rows {
                #expect(row[2] == fixture.day2.description)
                #expect(Double(row[3]!) == growth["\(row[0]!)/\(row[1]!)"])
            }
            let newTitles = try await connection.query(
                "SELECT platform, title_id, first_seen_date::text, present_at_first_snapshot FROM \(dashboard).new_title_growth ORDER BY 1, 2"
            )
            #expect(newTitles.rows.count == expected.count, "every title is within 30 days of the latest snapshot here")
            let newest = newTitles.rows.first { $0[0] == "kakao" && $0[1] == "200" }
            #expect(newest?[2] == fixture.day2.description)
            #expect(newest?[3] == "f")
        }
    }

    @Test func failingDataTestsReportTheOffendingRowsAndKeepThePreviousBuild() async throws {
        try await withWarehouse { connection, schemas in
            let fixture = ModelFixture()
            try await fixture.load(into: connection, schemas: schemas)
            let builder = ModelBuilder(schemas: schemas, sampleLimit: 5, logger: testLogger)
            _ = try await builder.build(on: connection)
            let site = try await connection.quoteIdentifier(schemas.site)
            let before = try await contentHash(connection, "\(site).fct_webtoon_episodes")

            // An episode whose title was never loaded: the relationship test must name it.
            let orphan = episode("naver", 999, 42, on: fixture.day2, likes: 1, comments: 1)
            let orphanDay = fixture.day2
            _ = try await WarehouseLoader(schemas: schemas, logger: testLogger).loadSlice(
                fixture.episodes.filter { $0.snapshotDate == orphanDay && $0.platform == "naver" } + [orphan],
                on: connection, runID: "with-orphan", snapshotDate: orphanDay, platform: "naver")
            let error = await #expect(throws: WarehouseError.self) { _ = try await builder.build(on: connection) }
            #expect(error?.code == .dataTestsFailed)
            let failure = try #require(
                error?.dataTestFailures.first {
                    $0.name.contains("relationship") && $0.name.contains("fct_webtoon_episodes")
                })
            #expect(failure.failingRows == 1)
            let titleColumn = try #require(failure.columns.firstIndex(of: "title_id"))
            #expect(failure.sample.map { $0[titleColumn] } == ["999"])
            #expect(error?.description.contains("999") == true)
            #expect(
                try await contentHash(connection, "\(site).fct_webtoon_episodes") == before,
                "the failed build was swapped in")

            // Tests on the live schema report injected bad rows too.
            try await connection.execute(
                "UPDATE \(site).dim_webtoon_titles SET title = NULL WHERE platform = 'kakao' AND id = 100")
            let results = try await builder.test(on: connection)
            let notNull = try #require(
                results.first { $0.name.contains("not_null") && $0.name.contains("dim_webtoon_titles") })
            #expect(notNull.failingRows == 1)
            #expect(results.filter { !$0.passed }.count == 1)
        }
    }
}
