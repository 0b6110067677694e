/// The typed rows the pipeline stores (Parquet tables titles, title_details, genres, episodes, episode_stats,
/// comments). Every record carries its platform, the ids taken from the request that produced it (never from a
/// storage path or from the first list entry), the job's KST crawl date, and when the source was fetched.
/// A value the platform did not give stays `nil`; nothing is invented.

/// One title as a title list shows it. A title under several weekdays is one record with several `weekdays`.
public struct TitleRecord: Codable, Sendable, Hashable {
    public var platform: Platform
    public var titleId: Int64
    public var name: String
    /// Naver: the list's `author` ("글 / 그림"); Kakao: `authors[].name` joined with " / ".
    public var author: String
    public var thumbnailUrl: String
    /// 0 = Monday … 6 = Sunday, sorted and unique; empty for finished titles.
    public var weekdays: [Int]
    public var completed: Bool
    public var adult: Bool
    public var crawlDate: CrawlDate
    /// Epoch milliseconds of the (last) list response this record came from.
    public var fetchedAt: Int64

    public init(
        platform: Platform, titleId: Int64, name: String, author: String, thumbnailUrl: String, weekdays: [Int],
        completed: Bool, adult: Bool, crawlDate: CrawlDate, fetchedAt: Int64
    ) {
        self.platform = platform
        self.titleId = titleId
        self.name = name
        self.author = author
        self.thumbnailUrl = thumbnailUrl
        self.weekdays = weekdays
        self.completed = completed
        self.adult = adult
        self.crawlDate = crawlDate
        self.fetchedAt = fetchedAt
    }

    /// Folds another listing of the same title (another weekday list, or the finished list) into this one.
    public mutating func merge(_ other: TitleRecord) {
        precondition(other.platform == platform && other.titleId == titleId, "merging different titles")
        weekdays = Array(Set(weekdays).union(other.weekdays)).sorted()
        completed = completed || other.completed
        adult = adult || other.adult
        fetchedAt = max(fetchedAt, other.fetchedAt)
    }
}

/// What the title's info endpoint (Naver N3, Kakao K3) and its episode list say about it.
public struct TitleDetailRecord: Codable, Sendable, Hashable {
    public var platform: Platform
    public var titleId: Int64
    /// Naver `age.type` (RATE_ALL …); Kakao "ADULT" when the list marks the title adult, else nil.
    public var ageRating: String?
    /// The episode list refused an anonymous client (Naver 401 on adult titles): no episodes were crawled.
    public var restricted: Bool
    /// Naver daily-pass title: only a few newest episodes are public, by design.
    public var dailyPass: Bool
    public var finished: Bool?
    /// Naver `favoriteCount`; nil for Kakao.
    public var favoriteCount: Int64?
    /// Kakao `statistics.viewCount`; nil for Naver (its viewCount is always 0 and is not kept).
    public var views: Int64?
    public var synopsis: String?
    /// Weekdays the info endpoint publishes on (Naver `publishDayOfWeekList`, Kakao `WEEKDAYS` badges).
    public var publishWeekdays: [Int]
    /// The platform's own episode total (Naver `totalCount`, Kakao `pagination.totalCount`); may exceed the
    /// episodes visible to us.
    public var totalEpisodeCount: Int?
    /// Episodes actually enumerated from the list pages.
    public var visibleEpisodeCount: Int
    public var crawlDate: CrawlDate
    public var fetchedAt: Int64

    public init(
        platform: Platform, titleId: Int64, ageRating: String?, restricted: Bool, dailyPass: Bool, finished: Bool?,
        favoriteCount: Int64?, views: Int64?, synopsis: String?, publishWeekdays: [Int], totalEpisodeCount: Int?,
        visibleEpisodeCount: Int, crawlDate: CrawlDate, fetchedAt: Int64
    ) {
        self.platform = platform
        self.titleId = titleId
        self.ageRating = ageRating
        self.restricted = restricted
        self.dailyPass = dailyPass
        self.finished = finished
        self.favoriteCount = favoriteCount
        self.views = views
        self.synopsis = synopsis
        self.publishWeekdays = publishWeekdays
        self.totalEpisodeCount = totalEpisodeCount
        self.visibleEpisodeCount = visibleEpisodeCount
        self.crawlDate = crawlDate
        self.fetchedAt = fetchedAt
    }
}

/// One genre or tag of a title, without any leading "#".
public struct GenreRecord: Codable, Sendable, Hashable {
    public var platform: Platform
    public var titleId: Int64
    public var name: String
    /// Where it came from: Naver `curationType` (GENRE_PURE, CUSTOM_TAG …), Kakao "SEO_KEYWORD".
    public var source: String
    public var crawlDate: CrawlDate

    public init(platform: Platform, titleId: Int64, name: String, source: String, crawlDate: CrawlDate) {
        self.platform = platform
        self.titleId = titleId
        self.name = name
        self.source = source
        self.crawlDate = crawlDate
    }
}

/// One episode as the episode list shows it. Keyed on (platform, titleId, episodeId).
public struct EpisodeRecord: Codable, Sendable, Hashable {
    public var platform: Platform
    public var titleId: Int64
    /// Naver: article `no` (not the episode number: it has gaps); Kakao: the global episode `id`.
    public var episodeId: Int64
    /// Naver: article `no`; Kakao: the per-title `no`.
    public var no: Int64
    public var title: String
    /// The KST day it was published (Naver `serviceDateDescription`, Kakao `serialStartDateTime`).
    public var publishedDate: CrawlDate?
    /// The source's date text as given, offset included.
    public var publishedSource: String?
    public var thumbnailUrl: String?
    /// Naver `charge`, Kakao `useType != "FREE"`, when given.
    public var paid: Bool?
    public var crawlDate: CrawlDate
    public var fetchedAt: Int64

    public init(
        platform: Platform, titleId: Int64, episodeId: Int64, no: Int64, title: String, publishedDate: CrawlDate?,
        publishedSource: String?, thumbnailUrl: String?, paid: Bool?, crawlDate: CrawlDate, fetchedAt: Int64
    ) {
        self.platform = platform
        self.titleId = titleId
        self.episodeId = episodeId
        self.no = no
        self.title = title
        self.publishedDate = publishedDate
        self.publishedSource = publishedSource
        self.thumbnailUrl = thumbnailUrl
        self.paid = paid
        self.crawlDate = crawlDate
        self.fetchedAt = fetchedAt
    }
}

/// Likes, comment count, rating and views of one episode on the crawl date. An episode with no comments has
/// `comments == 0`, never a missing row.
public struct EpisodeStatsRecord: Codable, Sendable, Hashable {
    public var platform: Platform
    public var titleId: Int64
    public var episodeId: Int64
    public var likes: Int64?
    public var comments: Int64?
    /// Naver `averageStarScore`; nil for Kakao.
    public var rating: Double?
    public var ratingCount: Int64?
    /// Nil on both platforms today (Naver's per-episode viewCount is always 0); kept for the schema.
    public var views: Int64?
    /// Why a value is nil when the platform should have given it (e.g. "likes: no reactions entry").
    public var missingReason: String?
    public var crawlDate: CrawlDate
    public var fetchedAt: Int64

    public init(
        platform: Platform, titleId: Int64, episodeId: Int64, likes: Int64?, comments: Int64?, rating: Double?,
        ratingCount: Int64?, views: Int64?, missingReason: String?, crawlDate: CrawlDate, fetchedAt: Int64
    ) {
        self.platform = platform
        self.titleId = titleId
        self.episodeId = episodeId
        self.likes = likes
        self.comments = comments
        self.rating = rating
        self.ratingCount = ratingCount
        self.views = views
        self.missingReason = missingReason
        self.crawlDate = crawlDate
        self.fetchedAt = fetchedAt
    }
}

/// One of the top-N comments of an episode (optional, off by default). No user names or ids are kept.
public struct CommentRecord: Codable, Sendable, Hashable {
    public var platform: Platform
    public var titleId: Int64
    public var episodeId: Int64
    public var commentId: String
    public var text: String
    public var likes: Int64
    /// The source timestamp as given (offset included).
    public var createdAt: String?
    public var crawlDate: CrawlDate

    public init(
        platform: Platform, titleId: Int64, episodeId: Int64, commentId: String, text: String, likes: Int64,
        createdAt: String?, crawlDate: CrawlDate
    ) {
        self.platform = platform
        self.titleId = titleId
        self.episodeId = episodeId
        self.commentId = commentId
        self.text = text
        self.likes = likes
        self.createdAt = createdAt
        self.crawlDate = crawlDate
    }
}

/// Everything a task produced, grouped by table.
public struct RecordBatch: Codable, Sendable, Hashable {
    public var titles: [TitleRecord] = []
    public var titleDetails: [TitleDetailRecord] = []
    public var genres: [GenreRecord] = []
    public var episodes: [EpisodeRecord] = []
    public var episodeStats: [EpisodeStatsRecord] = []
    public var comments: [CommentRecord] = []

    public init() {}

    public mutating func append(contentsOf other: RecordBatch) {
        titles += other.titles
        titleDetails += other.titleDetails
        genres += other.genres
        episodes += other.episodes
        episodeStats += other.episodeStats
        comments += other.comments
    }

    public var count: Int {
        titles.count + titleDetails.count + genres.count + episodes.count + episodeStats.count + comments.count
    }
}
