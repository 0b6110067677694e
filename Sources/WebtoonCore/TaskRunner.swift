import Synchronization

/// One HTTP answer as the task runner sees it (after the crawler's retries).
public struct FetchedResponse: Sendable, Hashable {
    public var status: Int
    public var body: [UInt8]
    /// The final URL (after redirects).
    public var url: String
    /// Epoch milliseconds when the answer arrived.
    public var fetchedAt: Int64
    public init(status: Int, body: [UInt8], url: String, fetchedAt: Int64) {
        self.status = status
        self.body = body
        self.url = url
        self.fetchedAt = fetchedAt
    }
}

/// What the task runner needs from the network. The crawler implements it over HTTP with rate limits, retries and
/// a circuit breaker; a non-2xx status that survives retries is returned, not thrown. Throwing means "gave up".
public protocol EndpointFetching: Sendable {
    func fetch(_ request: EndpointRequest) async throws -> FetchedResponse
}

/// One raw response kept for reprocessing, with the validated values its storage path derives from.
public struct RawResponse: Codable, Sendable, Hashable {
    public var platform: Platform
    public var kind: RawKind
    public var endpoint: Endpoint
    public var parameters: EndpointParameters
    public var url: String
    public var status: Int
    public var fetchedAt: Int64
    public var body: [UInt8]

    public init(request: EndpointRequest, response: FetchedResponse) {
        platform = request.platform
        kind = request.endpoint.rawKind
        endpoint = request.endpoint
        parameters = request.parameters
        url = request.url
        status = response.status
        fetchedAt = response.fetchedAt
        body = response.body
    }

    /// The original project's file path below `raw/{platform}/{kind}/YYYY/MM/DD/`. Built only from numbers and
    /// enum names. Kakao episode pages after the first (we page; the original asked for 9999 at once) are
    /// `episodes_{offset}.json`; a Naver cbox body is stored unwrapped from JSONP by the writer, as the original did.
    public var originalFileName: String {
        let t = parameters.titleId.map(String.init) ?? "0"
        let e = parameters.episodeId.map(String.init) ?? "0"
        switch (platform, kind) {
        case (.naver, .titles): return "titles.json"
        case (.naver, .finishedTitles): return "finished_titles_\(parameters.page ?? 1).json"
        case (.kakao, .titles): return "titles_\(parameters.day ?? 0).json"
        case (.kakao, .finishedTitles): return "finished_titles.json"
        case (_, .titleInfo): return "\(t).json"
        case (.naver, .episodes): return "\(t)/episodes_\(parameters.page ?? 1).json"
        case (.kakao, .episodes):
            let offset = parameters.offset ?? 0
            return offset == 0 ? "\(t)/episodes.json" : "\(t)/episodes_\(offset).json"
        case (_, .episodeInfo), (_, .comments), (_, .episodeLikes): return "\(t)/\(e).json"
        }
    }
}

/// What a task produced: its records, every raw response, and the child tasks it discovered.
public struct TaskOutput: Sendable, Hashable {
    public var records: RecordBatch
    public var raw: [RawResponse]
    public var children: [CrawlTask]
    public init(records: RecordBatch = RecordBatch(), raw: [RawResponse] = [], children: [CrawlTask] = []) {
        self.records = records
        self.raw = raw
        self.children = children
    }
}

/// A task that could not complete. The raw responses fetched so far (the bad body included) are kept for
/// inspection; `response` is set when a body or status was the problem, `fetchFailure` when the crawler gave up.
public struct TaskFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public var taskKey: String
    public var response: ResponseError?
    public var fetchFailure: String?
    public var raw: [RawResponse]

    public init(taskKey: String, response: ResponseError?, fetchFailure: String?, raw: [RawResponse]) {
        self.taskKey = taskKey
        self.response = response
        self.fetchFailure = fetchFailure
        self.raw = raw
    }

    public var description: String {
        "task \(taskKey) failed: " + (response.map { "\($0)" } ?? fetchFailure ?? "unknown")
    }
}

/// Runs tasks: decides which endpoints to call, parses the answers into records, and plans child tasks. All I/O goes
/// through the injected fetcher, so this logic tests without a network.
public struct TaskRunner: Sendable {
    public let catalogs: [Platform: EndpointCatalog]
    public let fetcher: any EndpointFetching
    /// Episodes of one batch fetched at once (the crawler's per-platform limits still apply).
    public let episodeParallelism: Int

    public init(catalogs: [EndpointCatalog], fetcher: any EndpointFetching, episodeParallelism: Int = 4) {
        var map: [Platform: EndpointCatalog] = [:]
        for catalog in catalogs { map[catalog.platform] = catalog }
        self.catalogs = map
        self.fetcher = fetcher
        self.episodeParallelism = max(1, episodeParallelism)
    }

    public func run(_ task: CrawlTask) async throws(TaskFailure) -> TaskOutput {
        guard let catalog = catalogs[task.platform] else {
            throw TaskFailure(
                taskKey: task.key, response: nil, fetchFailure: "no catalog for platform \(task.platform)", raw: [])
        }
        let context = TaskContext(catalog: catalog, fetcher: fetcher, taskKey: task.key)
        do {
            switch task {
            case .listTitles(let t): try await context.listTitles(t)
            case .crawlTitle(let t): try await context.crawlTitle(t)
            case .crawlEpisodes(let t): try await context.crawlEpisodes(t, parallelism: episodeParallelism)
            }
        } catch let error as ResponseError {
            throw TaskFailure(taskKey: task.key, response: error, fetchFailure: nil, raw: context.log.raw)
        } catch {
            throw TaskFailure(taskKey: task.key, response: nil, fetchFailure: "\(error)", raw: context.log.raw)
        }
        return TaskOutput(records: context.log.records, raw: context.log.raw, children: context.log.children)
    }
}

/// Collects what a task produced (episodes of a batch run concurrently). A lock, not an actor: every response is
/// added from one of up to `episodeParallelism` concurrent episodes, and a contended actor call queues a job and
/// wakes a pool thread each time.
final class TaskLog: Sendable {
    private struct State {
        var records = RecordBatch()
        var raw: [RawResponse] = []
        var children: [CrawlTask] = []
    }
    private let state = Mutex(State())
    var records: RecordBatch { state.withLock { $0.records } }
    var raw: [RawResponse] { state.withLock { $0.raw } }
    var children: [CrawlTask] { state.withLock { $0.children } }
    func add(_ response: RawResponse) { state.withLock { $0.raw.append(response) } }
    func add(_ batch: RecordBatch) { state.withLock { $0.records.append(contentsOf: batch) } }
    func add(children tasks: [CrawlTask]) { state.withLock { $0.children += tasks } }
}

struct TaskContext: Sendable {
    let catalog: EndpointCatalog
    let fetcher: any EndpointFetching
    let taskKey: String
    let log = TaskLog()

    var platform: Platform { catalog.platform }

    /// Fetches, keeps the raw response, and returns the body of a 2xx answer; other statuses are errors unless
    /// listed in `accept`.
    func get(_ endpoint: Endpoint, _ parameters: EndpointParameters, accept: Set<Int> = [])
        async throws -> (request: EndpointRequest, response: FetchedResponse)
    {
        let request = catalog.request(endpoint, parameters)
        let response = try await fetcher.fetch(request)
        log.add(RawResponse(request: request, response: response))
        guard (200..<300).contains(response.status) || accept.contains(response.status) else {
            throw ResponseDecoding.failure(request, .unexpectedStatus, "HTTP \(response.status)")
        }
        return (request, response)
    }

    // MARK: Lists

    func listTitles(_ task: ListTitlesTask) async throws {
        var titles: [Int64: TitleRecord] = [:]
        var order: [Int64] = []
        func add(_ record: TitleRecord) {
            if titles[record.titleId] == nil {
                order.append(record.titleId)
                titles[record.titleId] = record
            } else {
                titles[record.titleId]!.merge(record)
            }
        }
        let today = task.crawlDate.weekday
        switch (platform, task.list) {
        case (.naver, .weekly):
            let (request, response) = try await get(.weekdayTitles, EndpointParameters())
            let listed = try NaverParsers.weekdayTitles(response.body, request)
            var days: [Int64: Set<Int>] = [:]
            for (day, title) in listed where day >= 0 { days[title.titleId, default: []].insert(day) }
            for (day, title) in listed where day >= 0 {
                if task.mode == .daily && !(days[title.titleId] ?? []).contains(today) { continue }
                add(naverRecord(title, weekdays: [day], completed: false, task, response.fetchedAt))
            }
        case (.naver, .finished):
            var page = 1
            var seen: Set<Int64> = []
            while true {
                let (request, response) = try await get(.finishedTitles, EndpointParameters(page: page))
                let (listed, info) = try NaverParsers.finishedTitles(response.body, request)
                let fresh = listed.filter { !seen.contains($0.titleId) }
                // A page past the end repeats the last page: a page with nothing new is the end.
                if fresh.isEmpty { break }
                for title in fresh {
                    seen.insert(title.titleId)
                    add(naverRecord(title, weekdays: [], completed: true, task, response.fetchedAt))
                }
                if let info, page >= info.totalPages { break }
                page += 1
                if page > catalog.crawl.maxPages {
                    throw ResponseDecoding.failure(
                        request, .inconsistent, "more than maxPages=\(catalog.crawl.maxPages) pages")
                }
            }
        case (.kakao, .weekly):
            let days = task.mode == .daily ? [today] : Array(0..<7)
            for day in days {
                let (request, response) = try await get(.weekdayTitles, EndpointParameters(day: day))
                for title in try KakaoParsers.timetable(response.body, request) {
                    add(kakaoRecord(title, weekdays: [day], completed: false, task, response.fetchedAt))
                }
            }
        case (.kakao, .finished):
            let (request, response) = try await get(.finishedTitles, EndpointParameters())
            for title in try KakaoParsers.timetable(response.body, request) {
                add(kakaoRecord(title, weekdays: [], completed: true, task, response.fetchedAt))
            }
        }
        var batch = RecordBatch()
        batch.titles = order.sorted().compactMap { titles[$0] }
        log.add(batch)
        log.add(
            children: batch.titles.map {
                .crawlTitle(
                    CrawlTitleTask(
                        platform: platform, titleId: $0.titleId, mode: task.mode, crawlDate: task.crawlDate,
                        listedAdult: $0.adult, episodeBatchSize: task.episodeBatchSize))
            })
    }

    func naverRecord(
        _ t: NaverParsers.ListedTitle, weekdays: [Int], completed: Bool, _ task: ListTitlesTask, _ at: Int64
    ) -> TitleRecord {
        TitleRecord(
            platform: .naver, titleId: t.titleId, name: t.name, author: t.author, thumbnailUrl: t.thumbnailUrl,
            weekdays: weekdays, completed: completed, adult: t.adult, crawlDate: task.crawlDate, fetchedAt: at)
    }

    func kakaoRecord(
        _ t: KakaoParsers.ListedTitle, weekdays: [Int], completed: Bool, _ task: ListTitlesTask, _ at: Int64
    ) -> TitleRecord {
        TitleRecord(
            platform: .kakao, titleId: t.titleId, name: t.name, author: t.author, thumbnailUrl: t.thumbnailUrl,
            weekdays: weekdays, completed: completed, adult: t.adult, crawlDate: task.crawlDate, fetchedAt: at)
    }

    // MARK: Titles

    func crawlTitle(_ task: CrawlTitleTask) async throws {
        switch platform {
        case .naver: try await crawlNaverTitle(task)
        case .kakao: try await crawlKakaoTitle(task)
        }
    }

    func crawlNaverTitle(_ task: CrawlTitleTask) async throws {
        let (infoRequest, infoResponse) = try await get(.titleInfo, EndpointParameters(titleId: task.titleId))
        let info = try NaverParsers.titleInfo(infoResponse.body, infoRequest)
        var episodes: [EpisodeRecord] = []
        var seen: Set<Int64> = []
        var restricted = false
        var totalCount: Int?
        var dailyPass = info.dailyPass
        let pageSize = catalog.crawl.episodePageSize
        let wanted = task.mode == .daily ? catalog.crawl.dailyEpisodeCount : Int.max
        var page = 1
        var lastFetch = infoResponse.fetchedAt
        pages: while episodes.count < wanted {
            // 401: an adult title without login. Recorded as restricted, never retried.
            let (request, response) = try await get(
                .episodeList, EndpointParameters(titleId: task.titleId, page: page), accept: [401])
            if response.status == 401 {
                restricted = true
                break
            }
            lastFetch = response.fetchedAt
            let parsed = try NaverParsers.articlePage(response.body, request)
            totalCount = parsed.totalCount
            if parsed.dailyPass == true { dailyPass = true }
            var fresh = 0
            for article in parsed.articles where !seen.contains(article.no) {
                if episodes.count >= wanted { break pages }
                seen.insert(article.no)
                fresh += 1
                episodes.append(
                    EpisodeRecord(
                        platform: .naver, titleId: task.titleId, episodeId: article.no, no: article.no,
                        title: article.subtitle, publishedDate: CrawlDate.naverShortDate(article.serviceDate),
                        publishedSource: article.serviceDate, thumbnailUrl: article.thumbnailUrl,
                        paid: article.charge, crawlDate: task.crawlDate, fetchedAt: response.fetchedAt))
            }
            // Ends: no new article (a page past the end repeats the last one), the last page by pageInfo, or a
            // short page when pageInfo is absent. Never `1...totalCount`: `no` has gaps.
            if fresh == 0 || task.mode == .daily { break }
            if let info = parsed.pageInfo {
                if page >= info.totalPages { break }
            } else if parsed.articles.count < pageSize {
                break
            }
            page += 1
            if page > catalog.crawl.maxPages {
                throw ResponseDecoding.failure(request, .inconsistent, "more than maxPages=\(catalog.crawl.maxPages) pages")
            }
        }
        var batch = RecordBatch()
        batch.titleDetails = [
            TitleDetailRecord(
                platform: .naver, titleId: task.titleId, ageRating: info.ageRating, restricted: restricted,
                dailyPass: dailyPass, finished: info.finished, favoriteCount: info.favoriteCount, views: nil,
                synopsis: info.synopsis, publishWeekdays: info.publishWeekdays, totalEpisodeCount: totalCount,
                visibleEpisodeCount: episodes.count, crawlDate: task.crawlDate, fetchedAt: lastFetch)
        ]
        batch.genres = genreRecords(info.tags, task)
        batch.episodes = episodes
        log.add(batch)
        log.add(children: batches(episodes, task))
    }

    func crawlKakaoTitle(_ task: CrawlTitleTask) async throws {
        let (infoRequest, infoResponse) = try await get(.titleInfo, EndpointParameters(titleId: task.titleId))
        let info = try KakaoParsers.titleInfo(infoResponse.body, infoRequest)
        var episodes: [EpisodeRecord] = []
        var seen: Set<Int64> = []
        var restricted = false
        var totalCount: Int?
        let limit = task.mode == .daily ? catalog.crawl.dailyEpisodeCount : catalog.crawl.episodePageSize
        var offset = 0
        var pages = 0
        var lastFetch = infoResponse.fetchedAt
        while true {
            let (request, response) = try await get(
                .episodeList, EndpointParameters(titleId: task.titleId, offset: offset, limit: limit), accept: [401])
            if response.status == 401 {
                restricted = true
                break
            }
            lastFetch = response.fetchedAt
            let parsed = try KakaoParsers.episodePage(response.body, request)
            totalCount = parsed.totalCount ?? totalCount
            var fresh = 0
            for e in parsed.episodes where !seen.contains(e.id) {
                seen.insert(e.id)
                fresh += 1
                episodes.append(
                    EpisodeRecord(
                        platform: .kakao, titleId: task.titleId, episodeId: e.id, no: e.no, title: e.title,
                        publishedDate: e.serialStart.flatMap(CrawlDate.kstDay(ofISO8601:)),
                        publishedSource: e.serialStart, thumbnailUrl: e.thumbnailUrl,
                        paid: e.useType.map { $0 != "FREE" }, crawlDate: task.crawlDate, fetchedAt: response.fetchedAt))
            }
            pages += 1
            offset += parsed.episodes.count
            if task.mode == .daily || fresh == 0 || parsed.last == true { break }
            if let total = parsed.totalCount, offset >= total { break }
            if pages >= catalog.crawl.maxPages {
                throw ResponseDecoding.failure(request, .inconsistent, "more than maxPages=\(catalog.crawl.maxPages) pages")
            }
        }
        let adult = info.adult ?? task.listedAdult
        var batch = RecordBatch()
        batch.titleDetails = [
            TitleDetailRecord(
                platform: .kakao, titleId: task.titleId, ageRating: adult ? "ADULT" : nil, restricted: restricted,
                dailyPass: false, finished: nil, favoriteCount: nil, views: info.views, synopsis: info.synopsis,
                publishWeekdays: info.publishWeekdays, totalEpisodeCount: totalCount,
                visibleEpisodeCount: episodes.count, crawlDate: task.crawlDate, fetchedAt: lastFetch)
        ]
        batch.genres = genreRecords(info.keywords.map { ($0, "SEO_KEYWORD") }, task)
        batch.episodes = episodes
        log.add(batch)
        log.add(children: batches(episodes, task))
    }

    func genreRecords(_ tags: [(name: String, source: String)], _ task: CrawlTitleTask) -> [GenreRecord] {
        var seen: Set<String> = []
        var records: [GenreRecord] = []
        for tag in tags {
            guard let name = KakaoParsers.keyword(tag.name), seen.insert(name).inserted else { continue }
            records.append(
                GenreRecord(platform: platform, titleId: task.titleId, name: name, source: tag.source, crawlDate: task.crawlDate))
        }
        return records
    }

    func batches(_ episodes: [EpisodeRecord], _ task: CrawlTitleTask) -> [CrawlTask] {
        CrawlPlan.episodeBatches(
            platform: platform, titleId: task.titleId, episodeIds: episodes.map(\.episodeId),
            batchSize: task.episodeBatchSize ?? catalog.crawl.episodeBatchSize, mode: task.mode, crawlDate: task.crawlDate)
    }

    // MARK: Episode statistics

    func crawlEpisodes(_ task: CrawlEpisodesTask, parallelism: Int) async throws {
        var stats: [Int64: (EpisodeStatsRecord, [CommentRecord])] = [:]
        try await withThrowingTaskGroup(of: (Int64, EpisodeStatsRecord, [CommentRecord]).self) { group in
            var next = 0
            func launch() {
                let id = task.episodeIds[next]
                next += 1
                group.addTask {
                    let (record, comments) = try await self.episodeStats(task, episodeId: id)
                    return (id, record, comments)
                }
            }
            while next < task.episodeIds.count && next < parallelism { launch() }
            while let (id, record, comments) = try await group.next() {
                stats[id] = (record, comments)
                if next < task.episodeIds.count { launch() }
            }
        }
        var batch = RecordBatch()
        for id in task.episodeIds {
            guard let (record, comments) = stats[id] else { continue }
            batch.episodeStats.append(record)
            batch.comments += comments
        }
        log.add(batch)
    }

    func episodeStats(_ task: CrawlEpisodesTask, episodeId: Int64) async throws
        -> (EpisodeStatsRecord, [CommentRecord])
    {
        let parameters = EndpointParameters(
            titleId: task.titleId, episodeId: episodeId, limit: max(1, catalog.crawl.topComments))
        var reasons: [String] = []
        var rating: NaverParsers.Rating?
        var commentCount: Int64
        var comments: [CommentRecord] = []
        var likes: Int64?
        var fetchedAt: Int64 = 0
        switch platform {
        case .naver:
            let (rq, rs) = try await get(.episodeRating, parameters)
            rating = try NaverParsers.rating(rs.body, rq)
            let (cq, cs) = try await get(catalog.crawl.commentApi, parameters)
            let summary =
                catalog.crawl.commentApi == .comments
                ? try NaverParsers.cboxComments(cs.body, cq, top: catalog.crawl.topComments)
                : try NaverParsers.communityComments(cs.body, cq, countField: catalog.crawl.communityCountField)
            commentCount = summary.total
            comments = summary.top.map {
                CommentRecord(
                    platform: .naver, titleId: task.titleId, episodeId: episodeId, commentId: $0.id, text: $0.text,
                    likes: $0.likes, createdAt: $0.createdAt, crawlDate: task.crawlDate)
            }
            let (lq, ls) = try await get(.episodeLikes, parameters)
            likes = try NaverParsers.likes(ls.body, lq)
            if likes == nil { reasons.append("likes: the like service has no entry for \(task.titleId)_\(episodeId)") }
            fetchedAt = max(rs.fetchedAt, cs.fetchedAt, ls.fetchedAt)
        case .kakao:
            let (cq, cs) = try await get(.comments, parameters)
            commentCount = try KakaoParsers.commentCount(cs.body, cq)
            let (lq, ls) = try await get(.episodeLikes, parameters)
            likes = try KakaoParsers.likes(ls.body, lq)
            fetchedAt = max(cs.fetchedAt, ls.fetchedAt)
        }
        let record = EpisodeStatsRecord(
            platform: platform, titleId: task.titleId, episodeId: episodeId, likes: likes, comments: commentCount,
            rating: rating?.average, ratingCount: rating?.count, views: nil,
            missingReason: reasons.isEmpty ? nil : reasons.joined(separator: "; "), crawlDate: task.crawlDate,
            fetchedAt: fetchedAt)
        return (record, comments)
    }
}
