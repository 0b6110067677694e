import ClusterCore
import CrawlReduce
import ReducerCore
import Testing
import WebtoonCore

/// The pure mapping rules, in milliseconds (no files, no database).
@Suite struct MappingTests {
    static let date = CrawlDate("2026-11-25")!
    static let snapshot = CalendarDay("2026-11-25")!

    func title(_ platform: Platform, _ id: Int64, weekdays: [Int], completed: Bool = false, at ms: Int64 = 1_000) -> TitleRecord {
        TitleRecord(
            platform: platform, titleId: id, name: "t\(id)", author: "a / b", thumbnailUrl: "https://img/\(id)",
            weekdays: weekdays, completed: completed, adult: false, crawlDate: Self.date, fetchedAt: ms)
    }

    func detail(_ platform: Platform, _ id: Int64, weekdays: [Int], views: Int64?, restricted: Bool = false) -> TitleDetailRecord {
        TitleDetailRecord(
            platform: platform, titleId: id, ageRating: nil, restricted: restricted, dailyPass: false, finished: nil,
            favoriteCount: platform == .naver ? 7 : nil, views: views, synopsis: nil, publishWeekdays: weekdays,
            totalEpisodeCount: nil, visibleEpisodeCount: 0, crawlDate: Self.date, fetchedAt: 2_000)
    }

    @Test func releaseDaysAreTheUnionOfListsAndDetailsPlusSevenWhenCompleted() {
        let rows = CrawlRowMapper.titleRows(
            titles: [
                title(.kakao, 1, weekdays: [0]), title(.kakao, 1, weekdays: [3]), title(.kakao, 2, weekdays: [], completed: true),
                title(.naver, 1, weekdays: [6], completed: true),
            ],
            details: [
                detail(.kakao, 1, weekdays: [3, 5], views: 99), detail(.kakao, 2, weekdays: [], views: 5),
                detail(.naver, 1, weekdays: [], views: 1234, restricted: true),
            ])
        let days = Dictionary(grouping: rows) { "\($0.platform)/\($0.id)" }.mapValues { $0.map(\.releaseDay).sorted() }
        #expect(days == ["kakao/1": [0, 3, 5], "kakao/2": [7], "naver/1": [6, 7]])
        // Kakao views come from the detail; Naver's never do (its API reports 0), whatever the record holds.
        #expect(rows.filter { $0.platform == "kakao" && $0.id == 1 }.allSatisfy { $0.views == 99 && $0.favoriteCount == nil })
        #expect(rows.filter { $0.platform == "naver" }.allSatisfy { $0.views == nil && $0.restricted && $0.favoriteCount == 7 })
        // Latest of the title's and detail's fetch times, in microseconds.
        #expect(rows.allSatisfy { $0.fetchedAt == 2_000_000 && $0.snapshotDate == Self.snapshot })
        for row in rows { #expect(throws: Never.self) { try row.validate() } }
    }

    @Test func genresLoseTheirHashAndEmptyNamesAreDropped() {
        let rows = CrawlRowMapper.genreRows(
            genres: [
                GenreRecord(platform: .naver, titleId: 1, name: "#로맨스", source: "tag", crawlDate: Self.date),
                GenreRecord(platform: .naver, titleId: 1, name: "##  판타지 ", source: "tag", crawlDate: Self.date),
                GenreRecord(platform: .naver, titleId: 1, name: "#", source: "tag", crawlDate: Self.date),
            ],
            details: [detail(.naver, 1, weekdays: [], views: nil)])
        #expect(rows.map(\.genreName) == ["로맨스", "판타지"])
        #expect(rows.allSatisfy { $0.fetchedAt == 2_000_000 })
    }

    @Test func episodesWithoutStatsKeepNullCountsWithAReason() throws {
        let episode = EpisodeRecord(
            platform: .naver, titleId: 1, episodeId: 10, no: 10, title: "10화", publishedDate: CrawlDate("2026-11-20"),
            publishedSource: "26.11.20", thumbnailUrl: nil, paid: nil, crawlDate: Self.date, fetchedAt: 3_000)
        let none = CrawlRowMapper.episodeRow(episode, stats: nil)
        #expect(none.likes == nil && none.comments == nil && none.rating == nil && none.missingReason != nil)
        try none.validate()

        let partial = EpisodeStatsRecord(
            platform: .naver, titleId: 1, episodeId: 10, likes: 5, comments: nil, rating: 9.5, ratingCount: nil,
            views: nil, missingReason: "comments: HTTP 500 after 3 attempts", crawlDate: Self.date, fetchedAt: 4_000)
        let half = CrawlRowMapper.episodeRow(episode, stats: partial)
        #expect(half.likes == 5 && half.comments == nil && half.missingReason == "comments: HTTP 500 after 3 attempts")
        #expect(half.fetchedAt == 4_000_000 && half.publishedDate == CalendarDay("2026-11-20"))
        try half.validate()

        var full = partial
        full.comments = 0
        full.missingReason = nil
        let complete = CrawlRowMapper.episodeRow(episode, stats: full)
        #expect(complete.comments == 0 && complete.missingReason == nil && complete.imageURL == "")

        // Of two stats rows of one episode, the later fetch wins.
        var older = full
        older.likes = 1
        older.fetchedAt = 1
        let index = CrawlRowMapper.statsIndex([full, older])
        #expect(index[CrawlRowMapper.StatsKey(titleID: 1, episodeID: 10)]?.likes == 5)
    }

    @Test func outputListsAreCheckedAndSizesParsed() throws {
        func output(_ path: String, _ table: String) -> OutputFile {
            OutputFile(path: path, table: table, rows: 1, bytes: 1, sha256: String(repeating: "0", count: 64))
        }
        let good = "optimized/episodes/year=2026/month=11/day=25/platform=naver/part-u1-a1.parquet"
        #expect(try RunReducer.slices(of: [output(good, "episodes")]) == [ProcessedSlice(snapshotDate: Self.snapshot, platform: "naver")])
        for (path, table) in [
            (good, "likes"), ("optimized/episodes/year=2026/month=11/day=25/platform=line/x.parquet", "episodes"),
            ("optimized/episodes/year=2026/month=13/day=25/platform=naver/x.parquet", "episodes"),
            ("optimized/titles/year=2026/month=11/day=25/platform=naver/x.parquet", "episodes"),
            ("optimized/episodes/../year=2026/month=11/day=25/platform=naver/x.parquet", "episodes"),
        ] {
            #expect(throws: CrawlReduceError.self, "\(table) \(path)") { try RunReducer.slices(of: [output(path, table)]) }
        }
        #expect(RunReducer.parseBytes("1GiB") == 1 << 30)
        #expect(RunReducer.parseBytes("256MiB") == 256 << 20)
        #expect(RunReducer.parseBytes("4096") == 4096)
        #expect(RunReducer.parseBytes("0") == nil && RunReducer.parseBytes("lots") == nil)
        #expect(RunReducer.parseBytes("99999999999999999GiB") == nil)
        #expect(RunReducer.fileSafe("2026-11-25.daily.kakao+naver") == "2026-11-25_daily_kakao_naver")
    }

    @Test func commentTimesAreParsedWithTheirOffsetAndFetchTimesComeFromStats() {
        // 2026-11-25T23:10:11+0900 is 14:10:11 UTC.
        let utc = (Int64(Self.snapshot.daysSinceEpoch) * 86_400 + 14 * 3600 + 10 * 60 + 11) * 1_000_000
        #expect(CrawlRowMapper.microseconds(iso8601: "2026-11-25T23:10:11+0900") == utc)
        #expect(CrawlRowMapper.microseconds(iso8601: "2026-11-25T23:10:11+09:00") == utc)
        #expect(CrawlRowMapper.microseconds(iso8601: "2026-11-25T14:10:11Z") == utc)
        #expect(CrawlRowMapper.microseconds(iso8601: "2026-11-25T14:10:11.5Z") == utc + 500_000)
        #expect(CrawlRowMapper.microseconds(iso8601: "2026-11-25T14:10:11.1234567Z") == utc + 123_456)
        #expect(CrawlRowMapper.microseconds(iso8601: "2026-11-25T09:10:11-0500") == utc)
        // No offset: the platforms' zone, KST (the same rule as an episode's published day).
        #expect(CrawlRowMapper.microseconds(iso8601: "2026-11-25T23:10:11") == utc)
        #expect(CrawlRowMapper.microseconds(iso8601: "2026-11-25 23:10:11.000250+09") == utc + 250)
        for bad in ["", "2026-11-25", "2026-11-25T14:10", "2026-13-25T14:10:11Z", "2026-11-25T24:00:00Z",
                    "2026-11-25T14:10:11+9", "2026-11-25T14:10:11Zjunk", "2026-11-25T14:10:11."] {
            #expect(CrawlRowMapper.microseconds(iso8601: bad) == nil, "\(bad)")
        }
        let stats = CrawlRowMapper.statsIndex([
            EpisodeStatsRecord(
                platform: .naver, titleId: 7, episodeId: 1, likes: 1, comments: 1, rating: nil, ratingCount: nil,
                views: nil, missingReason: nil, crawlDate: Self.date, fetchedAt: 6_000)
        ])
        let rows = CrawlRowMapper.commentRows(
            [
                CommentRecord(platform: .naver, titleId: 7, episodeId: 1, commentId: "c1", text: "좋아요", likes: 3,
                              createdAt: "2026-11-25T23:10:11+0900", crawlDate: Self.date),
                CommentRecord(platform: .naver, titleId: 7, episodeId: 2, commentId: "c2", text: "", likes: 0,
                              createdAt: "yesterday", crawlDate: Self.date),
            ], stats: stats)
        #expect(rows.map(\.fetchedAt) == [6_000_000, Int64(Self.snapshot.daysSinceEpoch) * 86_400_000_000])
        #expect(rows.map(\.createdAt) == [utc, nil])
        #expect(rows.allSatisfy { $0.author == nil && $0.snapshotDate == Self.snapshot })
        #expect(rows.map(\.body) == ["좋아요", ""])
    }
}
