import Foundation
import Testing
import WebtoonCore
import WebtoonSimulator

// The ground-truth shape of CrawlClusterIntegrationTests/Truth.swift (test targets cannot import each other).

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

