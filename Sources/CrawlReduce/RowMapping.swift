public import ReducerCore
public import WebtoonCore

/// Worker records of one (crawl day, platform) → processed rows. Pure: no I/O, so it tests in milliseconds.
///
/// Rules (docs/crawler.md, GROUNDTRUTH.md): a title's release days are the union of the weekday lists it was
/// listed under and the weekdays of its detail page, plus 7 when it is completed; views come only from Kakao title
/// details (Naver's are always 0 and stay NULL); an episode without a stats row keeps NULL counts with a
/// `missing_reason`, never an invented value.
public enum CrawlRowMapper {
    /// `fetchedAt` of worker records is in milliseconds; processed rows keep microseconds.
    static func micros(_ millis: Int64) -> Int64 { millis.multipliedReportingOverflow(by: 1000).partialValue }

    static func day(_ date: CrawlDate) -> CalendarDay { CalendarDay(daysSinceEpoch: Int32(clamping: date.daysSinceEpoch)) }

    /// One row per (title, release day). Titles listed several times (one record per weekday list) merge first.
    public static func titleRows(titles: [TitleRecord], details: [TitleDetailRecord]) -> [TitleRow] {
        struct Key: Hashable { let platform: Platform; let id: Int64; let date: CrawlDate }
        var merged: [Key: TitleRecord] = [:]
        var order: [Key] = []
        for title in titles {
            let key = Key(platform: title.platform, id: title.titleId, date: title.crawlDate)
            if merged[key] == nil {
                merged[key] = title
                order.append(key)
            } else {
                merged[key]!.merge(title)
            }
        }
        var detailOf: [Key: TitleDetailRecord] = [:]
        for detail in details {
            let key = Key(platform: detail.platform, id: detail.titleId, date: detail.crawlDate)
            if let existing = detailOf[key], existing.fetchedAt >= detail.fetchedAt { continue }
            detailOf[key] = detail
        }
        var rows: [TitleRow] = []
        for key in order {
            let title = merged[key]!
            let detail = detailOf[key]
            var days = Set(title.weekdays.filter { (0...6).contains($0) })
            days.formUnion((detail?.publishWeekdays ?? []).filter { (0...6).contains($0) })
            if title.completed || days.isEmpty { days.insert(7) }
            let fetchedAt = max(title.fetchedAt, detail?.fetchedAt ?? title.fetchedAt)
            for releaseDay in days.sorted() {
                rows.append(
                    TitleRow(
                        platform: key.platform.rawValue, id: key.id, title: title.name, author: title.author,
                        views: key.platform == .kakao ? detail?.views : nil, favoriteCount: detail?.favoriteCount,
                        imageURL: title.thumbnailUrl, releaseDay: releaseDay, isCompleted: title.completed,
                        restricted: detail?.restricted ?? false, ageRating: detail?.ageRating,
                        snapshotDate: day(key.date), fetchedAt: micros(fetchedAt)))
            }
        }
        return rows
    }

    /// Genres without any leading `#`; empty names are dropped. `fetchedAt` is the title detail's when known.
    public static func genreRows(genres: [GenreRecord], details: [TitleDetailRecord]) -> [GenreRow] {
        struct Key: Hashable { let platform: Platform; let id: Int64; let date: CrawlDate }
        var fetched: [Key: Int64] = [:]
        for detail in details {
            let key = Key(platform: detail.platform, id: detail.titleId, date: detail.crawlDate)
            fetched[key] = max(fetched[key] ?? 0, detail.fetchedAt)
        }
        var rows: [GenreRow] = []
        for genre in genres {
            var name = Substring(genre.name)
            while name.hasPrefix("#") { name = name.dropFirst() }
            let trimmed = name.trimmingWhitespace()
            guard !trimmed.isEmpty else { continue }
            let key = Key(platform: genre.platform, id: genre.titleId, date: genre.crawlDate)
            rows.append(
                GenreRow(
                    platform: genre.platform.rawValue, titleID: genre.titleId, genreName: trimmed,
                    snapshotDate: day(genre.crawlDate), fetchedAt: micros(fetched[key] ?? 0)))
        }
        return rows
    }

    /// The stats of one episode, latest fetch first.
    public struct StatsKey: Hashable, Sendable {
        public let titleID: Int64
        public let episodeID: Int64
        public init(titleID: Int64, episodeID: Int64) {
            self.titleID = titleID
            self.episodeID = episodeID
        }
    }

    /// Index of stats rows of one (day, platform), keeping the latest fetch of each episode.
    public static func statsIndex(_ stats: [EpisodeStatsRecord]) -> [StatsKey: EpisodeStatsRecord] {
        var index: [StatsKey: EpisodeStatsRecord] = [:]
        for s in stats {
            let key = StatsKey(titleID: s.titleId, episodeID: s.episodeId)
            if let existing = index[key], existing.fetchedAt >= s.fetchedAt { continue }
            index[key] = s
        }
        return index
    }

    static let noStatsReason = "no episode_stats row for this episode"

    /// episodes ⟕ episode_stats on (platform, title_id, episode_id) of the same day.
    public static func episodeRow(_ e: EpisodeRecord, stats: EpisodeStatsRecord?) -> EpisodeRow {
        var reason: String?
        if let stats {
            if stats.likes == nil || stats.comments == nil {
                reason = stats.missingReason ?? "episode_stats has no \(stats.likes == nil ? "likes" : "comments")"
            }
        } else {
            reason = noStatsReason
        }
        return EpisodeRow(
            platform: e.platform.rawValue, titleID: e.titleId, episodeID: e.episodeId, no: e.no, title: e.title,
            likes: stats?.likes, comments: stats?.comments, rating: stats?.rating, imageURL: e.thumbnailUrl ?? "",
            publishedDate: e.publishedDate.map(day), snapshotDate: day(e.crawlDate),
            fetchedAt: micros(max(e.fetchedAt, stats?.fetchedAt ?? e.fetchedAt)), missingReason: reason)
    }
}

extension CrawlRowMapper {
    /// Comment text (Naver top comments, when the crawl collects them) → processed comments. A comment has no fetch
    /// time of its own: it came in the same response as its episode's stats, so it takes that stats row's
    /// `fetchedAt` (latest fetch wins in the reducer's dedup), or the start of the crawl day when the stats row is
    /// not in `stats`. `created_at` is parsed from the source's ISO 8601 text (no offset: KST); unparseable stays
    /// NULL. The platforms expose no author.
    public static func commentRows(_ comments: [CommentRecord], stats: [StatsKey: EpisodeStatsRecord]) -> [CommentRow] {
        comments.map { c in
            let fetched = stats[StatsKey(titleID: c.titleId, episodeID: c.episodeId)]?.fetchedAt
            let snapshot = day(c.crawlDate)
            return CommentRow(
                platform: c.platform.rawValue, titleID: c.titleId, episodeID: c.episodeId, commentID: c.commentId,
                author: nil, body: c.text, likes: c.likes, createdAt: c.createdAt.flatMap(microseconds(iso8601:)),
                snapshotDate: snapshot,
                fetchedAt: fetched.map(micros) ?? Int64(snapshot.daysSinceEpoch) * 86_400_000_000)
        }
    }

    /// Source timestamp text → microseconds since 1970-01-01 UTC, by WebtoonCore's one parser (no offset means KST).
    public static func microseconds(iso8601 text: String) -> Int64? {
        CrawlDate.epochMicroseconds(ofISO8601: text)
    }
}

extension Substring {
    fileprivate func trimmingWhitespace() -> String {
        var s = self
        while let first = s.first, first.isWhitespace { s = s.dropFirst() }
        while let last = s.last, last.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
