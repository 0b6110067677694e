import Foundation
import Testing
import WebtoonCore
import WebtoonSimulator

// Shared by every test target that judges a crawl against the simulator's ground truth (the local crawl, the
// cluster's Parquet output, the loaded warehouse), so all of them are judged by the same shape and mapping.

/// The ground-truth shape of GROUNDTRUTH.md, field for field, decoded from the simulator's Codable form.
public struct Truth: Codable, Equatable, Sendable {
    public var crawlDate: String
    public var mode: String
    public var titles: [Title]
    public var episodes: [Episode]
    public struct Title: Codable, Hashable, Sendable {
        public var platform: String
        public var id: Int64
        public var name: String
        public var author: String
        public var weekdays: [Int]
        public var completed: Bool
        public var restricted: Bool
        public var dailyPass: Bool
        public var ageRating: String?
        public var genres: [String]
        public var views: Int64?
        public var favoriteCount: Int64?
        public var thumbnailUrl: String

        public init(
            platform: String, id: Int64, name: String, author: String, weekdays: [Int], completed: Bool,
            restricted: Bool, dailyPass: Bool, ageRating: String?, genres: [String], views: Int64?,
            favoriteCount: Int64?, thumbnailUrl: String
        ) {
            self.platform = platform
            self.id = id
            self.name = name
            self.author = author
            self.weekdays = weekdays
            self.completed = completed
            self.restricted = restricted
            self.dailyPass = dailyPass
            self.ageRating = ageRating
            self.genres = genres
            self.views = views
            self.favoriteCount = favoriteCount
            self.thumbnailUrl = thumbnailUrl
        }
    }
    public struct Episode: Codable, Hashable, Sendable {
        public var platform: String
        public var titleId: Int64
        public var episodeId: Int64
        public var no: Int
        public var title: String
        public var publishedDate: String
        public var likes: Int64
        public var comments: Int64
        public var rating: Double?
        public var thumbnailUrl: String

        public init(
            platform: String, titleId: Int64, episodeId: Int64, no: Int, title: String, publishedDate: String,
            likes: Int64, comments: Int64, rating: Double?, thumbnailUrl: String
        ) {
            self.platform = platform
            self.titleId = titleId
            self.episodeId = episodeId
            self.no = no
            self.title = title
            self.publishedDate = publishedDate
            self.likes = likes
            self.comments = comments
            self.rating = rating
            self.thumbnailUrl = thumbnailUrl
        }
    }

    public init(crawlDate: String, mode: String, titles: [Title], episodes: [Episode]) {
        self.crawlDate = crawlDate
        self.mode = mode
        self.titles = titles
        self.episodes = episodes
    }

    public init(_ simulator: GroundTruth) throws {
        self = try JSONDecoder().decode(Truth.self, from: JSONEncoder().encode(simulator))
    }
}

/// Maps crawl records into the ground-truth shape, failing on duplicates or dangling rows.
public func groundTruthShape(_ records: RecordBatch, crawlDate: CrawlDate, mode: CrawlMode) throws -> Truth {
    struct Key: Hashable { let platform: Platform; let id: Int64 }
    struct EpisodeKey: Hashable { let platform: Platform; let titleId: Int64; let episodeId: Int64 }
    var titles: [Key: TitleRecord] = [:]
    for title in records.titles {
        let key = Key(platform: title.platform, id: title.titleId)
        if titles[key] == nil { titles[key] = title } else { titles[key]!.merge(title) }
    }
    var details: [Key: TitleDetailRecord] = [:]
    for detail in records.titleDetails {
        let key = Key(platform: detail.platform, id: detail.titleId)
        #expect(details[key] == nil, "duplicate title detail \(key)")
        details[key] = detail
    }
    var genres: [Key: Set<String>] = [:]
    for genre in records.genres { genres[Key(platform: genre.platform, id: genre.titleId), default: []].insert(genre.name) }
    var stats: [EpisodeKey: EpisodeStatsRecord] = [:]
    for s in records.episodeStats {
        let key = EpisodeKey(platform: s.platform, titleId: s.titleId, episodeId: s.episodeId)
        #expect(stats[key] == nil, "duplicate stats \(key)")
        stats[key] = s
    }
    var gtTitles: [Truth.Title] = []
    for (key, title) in titles {
        let detail = try #require(details[key], "no detail for \(key)")
        gtTitles.append(
            Truth.Title(
                platform: key.platform.rawValue, id: key.id, name: title.name, author: title.author,
                weekdays: Set(title.weekdays).union(detail.publishWeekdays).sorted(), completed: title.completed,
                restricted: detail.restricted, dailyPass: detail.dailyPass, ageRating: detail.ageRating,
                genres: (genres[key] ?? []).sorted(), views: detail.views, favoriteCount: detail.favoriteCount,
                thumbnailUrl: title.thumbnailUrl))
    }
    #expect(Set(details.keys) == Set(titles.keys), "details without titles or titles without details")
    var gtEpisodes: [Truth.Episode] = []
    var seen: Set<EpisodeKey> = []
    for e in records.episodes {
        let key = EpisodeKey(platform: e.platform, titleId: e.titleId, episodeId: e.episodeId)
        #expect(seen.insert(key).inserted, "duplicate episode \(key)")
        let s = try #require(stats[key], "no stats for \(key)")
        gtEpisodes.append(
            Truth.Episode(
                platform: e.platform.rawValue, titleId: e.titleId, episodeId: e.episodeId, no: Int(e.no), title: e.title,
                publishedDate: e.publishedDate?.description ?? "unparsed \(e.publishedSource ?? "nil")",
                likes: try #require(s.likes, "likes missing: \(s.missingReason ?? "")"),
                comments: try #require(s.comments), rating: s.rating, thumbnailUrl: e.thumbnailUrl ?? ""))
    }
    #expect(Set(stats.keys) == seen, "stats without episodes")
    return Truth(
        crawlDate: crawlDate.description, mode: mode.rawValue,
        titles: gtTitles.sorted { ($0.platform, $0.id) < ($1.platform, $1.id) },
        episodes: gtEpisodes.sorted { ($0.platform, $0.titleId, $0.episodeId) < ($1.platform, $1.titleId, $1.episodeId) })
}

/// Compares piecewise first, so a failure names the first differing title or episode rather than dumping the whole
/// catalog twice.
public func expectEqual(_ actual: Truth, _ truth: Truth, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.titles.count == truth.titles.count, sourceLocation: sourceLocation)
    #expect(actual.episodes.count == truth.episodes.count, sourceLocation: sourceLocation)
    if let i = actual.titles.indices.first(where: { $0 < truth.titles.count && actual.titles[$0] != truth.titles[$0] }) {
        Issue.record("title \(i) differs:\nactual \(actual.titles[i])\ntruth  \(truth.titles[i])", sourceLocation: sourceLocation)
    }
    if let i = actual.episodes.indices.first(where: { $0 < truth.episodes.count && actual.episodes[$0] != truth.episodes[$0] }) {
        Issue.record(
            "episode \(i) differs:\nactual \(actual.episodes[i])\ntruth  \(truth.episodes[i])", sourceLocation: sourceLocation)
    }
    let equal = actual == truth
    #expect(equal, "result differs from the ground truth of \(truth.crawlDate) (\(truth.mode))", sourceLocation: sourceLocation)
}
