/// `full`: every weekly and finished title with every visible episode; `daily`: the crawl date's weekday titles
/// with their newest episodes (see GROUNDTRUTH.md).
public enum CrawlMode: String, Codable, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case daily
    case full
    public var description: String { rawValue }
}

/// Which title list a list task reads.
public enum TitleList: String, Codable, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// The weekday lists (Naver: one response for all days; Kakao: one per day). In daily mode only the crawl
    /// date's weekday is kept (Kakao: only that day is fetched).
    case weekly
    /// Naver finished titles (all pages) / Kakao completed titles.
    case finished
    public var description: String { rawValue }
}

/// List one title list of one platform; its children are one `CrawlTitleTask` per title.
public struct ListTitlesTask: Codable, Sendable, Hashable {
    public var platform: Platform
    public var list: TitleList
    public var mode: CrawlMode
    public var crawlDate: CrawlDate
    /// Episodes per batch task, handed down to every title task this list creates; nil: the catalog's.
    /// Part of the plan (not of the key), so whichever runner splits a title, the batches are the same.
    public var episodeBatchSize: Int?
    public init(platform: Platform, list: TitleList, mode: CrawlMode, crawlDate: CrawlDate, episodeBatchSize: Int? = nil) {
        self.platform = platform
        self.list = list
        self.mode = mode
        self.crawlDate = crawlDate
        self.episodeBatchSize = episodeBatchSize
    }
}

/// Crawl one title: its info and every episode list page (daily: the newest episodes only); its children are
/// episode batches.
public struct CrawlTitleTask: Codable, Sendable, Hashable {
    public var platform: Platform
    public var titleId: Int64
    public var mode: CrawlMode
    public var crawlDate: CrawlDate
    /// The list marked the title adult (Kakao's only age signal).
    public var listedAdult: Bool
    /// Episodes per batch task; nil: the catalog's `crawl.episodeBatchSize`. Not part of the key.
    public var episodeBatchSize: Int?
    public init(
        platform: Platform, titleId: Int64, mode: CrawlMode, crawlDate: CrawlDate, listedAdult: Bool = false,
        episodeBatchSize: Int? = nil
    ) {
        self.platform = platform
        self.titleId = titleId
        self.mode = mode
        self.crawlDate = crawlDate
        self.listedAdult = listedAdult
        self.episodeBatchSize = episodeBatchSize
    }
}

/// Fetch likes, comment counts and (Naver) ratings of a batch of one title's episodes.
public struct CrawlEpisodesTask: Codable, Sendable, Hashable {
    public var platform: Platform
    public var titleId: Int64
    /// Naver article `no`s / Kakao global episode ids, in list order.
    public var episodeIds: [Int64]
    public var mode: CrawlMode
    public var crawlDate: CrawlDate
    public init(platform: Platform, titleId: Int64, episodeIds: [Int64], mode: CrawlMode, crawlDate: CrawlDate) {
        self.platform = platform
        self.titleId = titleId
        self.episodeIds = episodeIds
        self.mode = mode
        self.crawlDate = crawlDate
    }
}

/// One unit of crawl work the coordinator can hand out. `key` is stable and deterministic: the same work always
/// has the same key, so a coordinator derives its unit id from it and creates a reported child only once.
public enum CrawlTask: Sendable, Hashable, CustomStringConvertible {
    case listTitles(ListTitlesTask)
    case crawlTitle(CrawlTitleTask)
    case crawlEpisodes(CrawlEpisodesTask)

    public var platform: Platform {
        switch self {
        case .listTitles(let t): t.platform
        case .crawlTitle(let t): t.platform
        case .crawlEpisodes(let t): t.platform
        }
    }

    public var crawlDate: CrawlDate {
        switch self {
        case .listTitles(let t): t.crawlDate
        case .crawlTitle(let t): t.crawlDate
        case .crawlEpisodes(let t): t.crawlDate
        }
    }

    public var mode: CrawlMode {
        switch self {
        case .listTitles(let t): t.mode
        case .crawlTitle(let t): t.mode
        case .crawlEpisodes(let t): t.mode
        }
    }

    /// `{date}/{mode}/{platform}/list/{list}`, `…/title/{titleId}`,
    /// `…/episodes/{titleId}/{first}-{last}/{count}-{fnv64 of the ids}`. Only digits, enum names and dashes.
    public var key: String {
        let prefix = "\(crawlDate)/\(mode)/\(platform)"
        switch self {
        case .listTitles(let t):
            return "\(prefix)/list/\(t.list)"
        case .crawlTitle(let t):
            return "\(prefix)/title/\(t.titleId)"
        case .crawlEpisodes(let t):
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for id in t.episodeIds {
                for byte in Swift.withUnsafeBytes(of: id.littleEndian, Array.init) {
                    hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
                }
            }
            let hex = String(hash, radix: 16)
            let padded = String(repeating: "0", count: 16 - hex.count) + hex
            return "\(prefix)/episodes/\(t.titleId)/\(t.episodeIds.first ?? 0)-\(t.episodeIds.last ?? 0)/"
                + "\(t.episodeIds.count)-\(padded)"
        }
    }

    public var description: String { key }
}

extension CrawlTask: Codable {
    private enum CodingKeys: String, CodingKey { case kind, task }
    private enum Kind: String, Codable { case listTitles, crawlTitle, crawlEpisodes }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decode(Kind.self, forKey: .kind) {
        case .listTitles: self = .listTitles(try container.decode(ListTitlesTask.self, forKey: .task))
        case .crawlTitle: self = .crawlTitle(try container.decode(CrawlTitleTask.self, forKey: .task))
        case .crawlEpisodes: self = .crawlEpisodes(try container.decode(CrawlEpisodesTask.self, forKey: .task))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .listTitles(let t):
            try container.encode(Kind.listTitles, forKey: .kind)
            try container.encode(t, forKey: .task)
        case .crawlTitle(let t):
            try container.encode(Kind.crawlTitle, forKey: .kind)
            try container.encode(t, forKey: .task)
        case .crawlEpisodes(let t):
            try container.encode(Kind.crawlEpisodes, forKey: .kind)
            try container.encode(t, forKey: .task)
        }
    }
}

/// The root tasks of a crawl.
public enum CrawlPlan {
    /// Full mode: each platform's weekly and finished lists; daily mode: each platform's weekly list (filtered to the
    /// crawl date's weekday by the task). `episodeBatchSize` (nil: each catalog's) travels down to every title task.
    public static func rootTasks(
        platforms: [Platform], mode: CrawlMode, crawlDate: CrawlDate, episodeBatchSize: Int? = nil
    ) -> [CrawlTask] {
        var tasks: [CrawlTask] = []
        for platform in platforms {
            tasks.append(
                .listTitles(
                    ListTitlesTask(
                        platform: platform, list: .weekly, mode: mode, crawlDate: crawlDate,
                        episodeBatchSize: episodeBatchSize)))
            if mode == .full {
                tasks.append(
                    .listTitles(
                        ListTitlesTask(
                            platform: platform, list: .finished, mode: mode, crawlDate: crawlDate,
                            episodeBatchSize: episodeBatchSize)))
            }
        }
        return tasks
    }

    /// Splits episode ids into batch tasks of at most `batchSize`, in order.
    public static func episodeBatches(
        platform: Platform, titleId: Int64, episodeIds: [Int64], batchSize: Int, mode: CrawlMode, crawlDate: CrawlDate
    ) -> [CrawlTask] {
        let size = max(1, batchSize)
        return stride(from: 0, to: episodeIds.count, by: size).map { start in
            .crawlEpisodes(
                CrawlEpisodesTask(
                    platform: platform, titleId: titleId,
                    episodeIds: Array(episodeIds[start..<min(start + size, episodeIds.count)]), mode: mode,
                    crawlDate: crawlDate))
        }
    }
}

extension CrawlTask {
    /// A file-name stem for this task's raw segments, built only from enum names and numbers:
    /// `{mode}-list-{list}`, `{mode}-title-{titleId}`, `{mode}-episodes-{titleId}-{first}-{last}-{count}-{hash}`.
    public var segmentName: String {
        let parts = key.split(separator: "/").dropFirst(3)  // date, mode, platform
        return "\(mode)-" + parts.joined(separator: "-")
    }
}
