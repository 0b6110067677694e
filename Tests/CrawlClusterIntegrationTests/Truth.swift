import Foundation
import Testing
import WebtoonCore
import WebtoonSimulator

// The ground-truth shape and the records → ground-truth mapping of WebtoonCrawlerTests/EndToEndTests.swift
// (test targets cannot import each other), so the cluster's output is judged exactly as the local crawl's.

/// The ground-truth shape of GROUNDTRUTH.md, field for field, decoded from the simulator's Codable form.
struct Truth: Codable, Equatable {
    var crawlDate: String
    var mode: String
    var titles: [Title]
    var episodes: [Episode]
    struct Title: Codable, Hashable {
        var platform: String
        var id: Int64
        var name: String
        var author: String
        var weekdays: [Int]
        var completed: Bool
        var restricted: Bool
        var dailyPass: Bool
        var ageRating: String?
        var genres: [String]
        var views: Int64?
        var favoriteCount: Int64?
        var thumbnailUrl: String
    }
    struct Episode: Codable, Hashable {
        var platform: String
        var titleId: Int64
        var episodeId: Int64
        var no: Int
        var title: String
        var publishedDate: String
        var likes: Int64
        var comments: Int64
        var rating: Double?
        var thumbnailUrl: String
    }

    init(crawlDate: String, mode: String, titles: [Title], episodes: [Episode]) {
        self.crawlDate = crawlDate
        self.mode = mode
        self.titles = titles
        self.episodes = episodes
    }

    init(_ simulator: GroundTruth) throws {
        self = try JSONDecoder().decode(Truth.self, from: JSONEncoder().encode(simulator))
    }
}

/// Maps crawl records into the ground-truth shape, failing on duplicates or dangling rows.
func groundTruthShape(_ records: RecordBatch, crawlDate: CrawlDate, mode: CrawlMode) throws -> Truth {
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

/// Compares piecewise first, so a failure names the first differing title or episode rather than dumping it all.
func expectEqual(_ crawled: Truth, _ truth: Truth) {
    #expect(crawled.titles.count == truth.titles.count)
    #expect(crawled.episodes.count == truth.episodes.count)
    if let i = crawled.titles.indices.first(where: { $0 < truth.titles.count && crawled.titles[$0] != truth.titles[$0] }) {
        Issue.record("title \(i) differs:\ncrawled \(crawled.titles[i])\ntruth   \(truth.titles[i])")
    }
    if let i = crawled.episodes.indices.first(where: { $0 < truth.episodes.count && crawled.episodes[$0] != truth.episodes[$0] }) {
        Issue.record("episode \(i) differs:\ncrawled \(crawled.episodes[i])\ntruth   \(truth.episodes[i])")
    }
    #expect(crawled == truth)
}
