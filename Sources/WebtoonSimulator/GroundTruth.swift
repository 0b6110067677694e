/// Which crawl the ground truth describes (see GROUNDTRUTH.md).
public enum GroundTruthMode: String, Sendable, CaseIterable, Codable {
    /// Every weekly and finished/completed title with every visible episode.
    case full
    /// The titles listed under the crawl date's weekday, with their 20 newest visible episodes.
    case daily
}

/// What a correct anonymous crawl of the simulator must find: the contract shared with the crawler.
public struct GroundTruth: Codable, Sendable, Equatable {
    public var crawlDate: String
    public var mode: String
    public var titles: [Title]
    public var episodes: [Episode]

    public struct Title: Codable, Sendable, Hashable {
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
    }

    public struct Episode: Codable, Sendable, Hashable {
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
    }
}

extension SimCatalog {
    /// The number of newest episodes a daily crawl takes per title (one Naver page, one Kakao `limit=20` call).
    static let dailyEpisodeCount = 20

    /// Visible episode indices of `title` on `day` for `mode`, oldest first.
    func groundTruthEpisodeRange(_ title: SimTitle, mode: GroundTruthMode, on day: CalendarDay) -> Range<Int> {
        let visible: Range<Int> =
            title.platform == .naver ? naverVisibleRange(title, on: day) : 0..<title.schedule.count(on: day)
        guard mode == .daily else { return visible }
        return max(visible.lowerBound, visible.upperBound - Self.dailyEpisodeCount)..<visible.upperBound
    }

    /// The titles a crawl in `mode` visits on `day`, in ground-truth order (platform, id).
    func groundTruthTitles(mode: GroundTruthMode, on day: CalendarDay) -> [SimTitle] {
        func included(_ title: SimTitle) -> Bool { mode == .full || title.weekdays.contains(day.weekday) }
        return (kakao.filter(included) + naver.filter(included)).sorted {
            ($0.platform.rawValue, $0.id) < ($1.platform.rawValue, $1.id)
        }
    }

    func groundTruthTitle(_ title: SimTitle, on day: CalendarDay) -> GroundTruth.Title {
        GroundTruth.Title(
            platform: title.platform.rawValue, id: title.id, name: title.name, author: title.author,
            weekdays: title.weekdays, completed: title.completed,
            restricted: title.platform == .naver && title.adult,
            dailyPass: title.dailyPass,
            ageRating: title.platform == .naver ? title.ageType : (title.adult ? "ADULT" : nil),
            genres: title.genres,
            views: title.platform == .kakao ? counter(title, on: day) : nil,
            favoriteCount: title.platform == .naver ? counter(title, on: day) : nil,
            thumbnailUrl: title.thumbnailUrl)
    }

    func groundTruthEpisode(_ title: SimTitle, _ episode: SimEpisode) -> GroundTruth.Episode {
        GroundTruth.Episode(
            platform: title.platform.rawValue, titleId: title.id, episodeId: episode.episodeId, no: episode.no,
            title: episode.title, publishedDate: episode.date.iso, likes: episode.likes, comments: episode.comments,
            rating: title.platform == .naver ? Double(episode.ratingHundredths) / 100 : nil,
            thumbnailUrl: episode.thumbnailUrl)
    }

    /// The ground truth as a value (materialises every episode: use `writeGroundTruth` for full-scale exports).
    func groundTruth(mode: GroundTruthMode, on day: CalendarDay) -> GroundTruth {
        var titles: [GroundTruth.Title] = []
        var episodes: [GroundTruth.Episode] = []
        for title in groundTruthTitles(mode: mode, on: day) {
            titles.append(groundTruthTitle(title, on: day))
            // Episode ids grow with the index on both platforms, so index order is (titleId, episodeId) order.
            for k in groundTruthEpisodeRange(title, mode: mode, on: day) {
                episodes.append(groundTruthEpisode(title, episode(title, index: k, on: day)))
            }
        }
        return GroundTruth(crawlDate: day.iso, mode: mode.rawValue, titles: titles, episodes: episodes)
    }

    /// The ground truth as JSON with the field names of `GroundTruth`, written without building the value.
    func writeGroundTruth(mode: GroundTruthMode, on day: CalendarDay) -> [UInt8] {
        let selected = groundTruthTitles(mode: mode, on: day)
        var w = JSONWriter(capacity: 1 << 16)
        w.object { w in
            w.field("crawlDate", day.iso)
            w.field("mode", mode.rawValue)
            w.array("titles") { w in
                for title in selected {
                    let t = groundTruthTitle(title, on: day)
                    w.object { w in
                        w.field("platform", t.platform)
                        w.field("id", t.id)
                        w.field("name", t.name)
                        w.field("author", t.author)
                        w.array("weekdays") { w in for d in t.weekdays { w.int(d) } }
                        w.field("completed", t.completed)
                        w.field("restricted", t.restricted)
                        w.field("dailyPass", t.dailyPass)
                        w.field("ageRating", t.ageRating)
                        w.array("genres") { w in for g in t.genres { w.string(g) } }
                        w.key("views")
                        if let views = t.views { w.int(views) } else { w.null() }
                        w.key("favoriteCount")
                        if let favorites = t.favoriteCount { w.int(favorites) } else { w.null() }
                        w.field("thumbnailUrl", t.thumbnailUrl)
                    }
                }
            }
            w.array("episodes") { w in
                for title in selected {
                    for k in groundTruthEpisodeRange(title, mode: mode, on: day) {
                        let e = episode(title, index: k, on: day)
                        w.object { w in
                            w.field("platform", title.platform.rawValue)
                            w.field("titleId", title.id)
                            w.field("episodeId", e.episodeId)
                            w.field("no", e.no)
                            w.field("title", e.title)
                            w.field("publishedDate", e.date.iso)
                            w.field("likes", e.likes)
                            w.field("comments", e.comments)
                            w.key("rating")
                            if title.platform == .naver { w.hundredths(e.ratingHundredths) } else { w.null() }
                            w.field("thumbnailUrl", e.thumbnailUrl)
                        }
                    }
                }
            }
        }
        return w.bytes
    }
}
