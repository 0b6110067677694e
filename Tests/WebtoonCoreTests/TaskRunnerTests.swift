import Foundation
import Synchronization
import Testing
import WebtoonCore

/// A small in-memory platform pair, answering by endpoint and parameters, and counting requests.
final class FakePlatforms: EndpointFetching, Sendable {
    let requests = Mutex<[EndpointRequest]>([])
    let overrides: @Sendable (EndpointRequest) -> FetchedResponse?

    init(overrides: @escaping @Sendable (EndpointRequest) -> FetchedResponse? = { _ in nil }) {
        self.overrides = overrides
    }

    // Naver: 10 (Mon+Wed, 40 articles with gaps, no pageInfo), 11 (Wed, daily pass: 3 of 100), 12 (Fri, adult: 401).
    static let naverArticles: [Int64] = (1...45).filter { $0 % 10 != 3 }.map(Int64.init).reversed()  // 40 nos: 3, 13, 23, 33, 43 are gaps

    func count(_ endpoint: Endpoint, titleId: Int64? = nil) -> Int {
        requests.withLock { $0.filter { $0.endpoint == endpoint && (titleId == nil || $0.parameters.titleId == titleId) }.count }
    }

    func fetch(_ request: EndpointRequest) async throws -> FetchedResponse {
        requests.withLock { $0.append(request) }
        if let override = overrides(request) { return override }
        let p = request.parameters
        func ok(_ json: String) -> FetchedResponse {
            FetchedResponse(status: 200, body: Array(json.utf8), url: request.url, fetchedAt: 1_795_532_400_000)
        }
        func item(_ id: Int, _ name: String, adult: Bool = false) -> String {
            #"{"titleId":\#(id),"titleName":"\#(name)","author":"글 / 그림","thumbnailUrl":"https://t/\#(id)","adult":\#(adult),"viewCount":0}"#
        }
        switch (request.platform, request.endpoint) {
        case (.naver, .weekdayTitles):
            return ok(
                #"{"titleListMap":{"MONDAY":[\#(item(10, "열"))],"WEDNESDAY":[\#(item(11, "십일")),\#(item(10, "열"))],"FRIDAY":[\#(item(12, "성인", adult: true))],"DAILY_PLUS":[\#(item(99, "x"))]}}"#)
        case (.naver, .finishedTitles):
            // Page 3 and later repeat page 2; pageInfo lies about the total.
            let page = min(p.page ?? 1, 2)
            return ok(#"{"titleList":[\#(item(20 + page, "완결" + String(page)))],"pageInfo":{"page":\#(page),"totalPages":9}}"#)
        case (.naver, .titleInfo):
            let id = p.titleId!
            let dailyPass = id == 11
            let age = id == 12 ? "RATE_18" : "RATE_ALL"
            return ok(
                ##"{"titleId":\##(id),"age":{"type":"\##(age)"},"dailyPass":\##(dailyPass),"favoriteCount":\##(id * 100),"publishDayOfWeekList":["WEDNESDAY"],"curationTagList":[{"id":\##(id),"tagName":"판타지","curationType":"GENRE_FANTASY"},{"id":5,"tagName":"#회귀","curationType":"CUSTOM_TAG"},{"id":6,"tagName":"판타지","curationType":"CUSTOM_TAG"}]}"##)
        case (.naver, .episodeList):
            let id = p.titleId!
            if id == 12 { return FetchedResponse(status: 401, body: [], url: request.url, fetchedAt: 0) }
            let all: [Int64] = id == 11 ? [100, 99, 98] : Self.naverArticles
            let page = max(1, min(p.page ?? 1, (all.count + 19) / 20))  // past the end: the last page again
            let slice = all.dropFirst((page - 1) * 20).prefix(20)
            let articles = slice.map {
                #"{"no":\#($0),"subtitle":"\#($0)화","serviceDateDescription":"25.01.\#(String(format: "%02d", Int($0 % 28) + 1))","thumbnailUrl":"https://e/\#($0)"}"#
            }
            let total = id == 11 ? 100 : all.count
            return ok(#"{"titleId":\#(id),"totalCount":\#(total),"dailyPass":\#(id == 11),"articleList":[\#(articles.joined(separator: ","))]}"#)
        case (.naver, .episodeRating):
            return ok(#"{"starInfo":{"averageStarScore":9.5,"starScoreCount":\#(p.episodeId!)},"viewCount":0}"#)
        case (.naver, .communityComments):
            let count = p.episodeId! == 5 ? 0 : p.episodeId! * 2
            return ok(#"{"status":"success","result":{"posts":[],"postCount":\#(count + 1),"activePostCount":\#(count)}}"#)
        case (.naver, .comments):
            let count = p.episodeId! == 5 ? 0 : p.episodeId! * 2
            let list = p.episodeId! == 7 ? #"[{"commentNo":99,"contents":"최고","sympathyCount":12,"modTime":"2025-02-09T23:10:11+0900"},{"commentNo":"100","contents":"x","deleted":true}]"# : "[]"
            return ok(#"_callback({"success":true,"result":{"count":{"comment":\#(count),"reply":0,"total":\#(count)},"commentList":\#(list)}});"#)
        case (.naver, .episodeLikes):
            return ok(#"{"contents":[{"contentsId":"\#(p.titleId!)_\#(p.episodeId!)","reactions":[{"count":\#(p.episodeId! * 3)}]}],"timestamp":1}"#)
        case (.kakao, .weekdayTitles), (.kakao, .finishedTitles):
            let ids: [Int] = p.day == 0 ? [500, 501] : p.day == 1 ? [501] : p.day == nil ? [600] : []
            let cards = ids.map {
                ##"{"id":"c\##($0)","content":{"id":\##($0),"title":"카카오\##($0)","adult":\##($0 == 501),"authors":[{"name":"A","type":"AUTHOR"},{"name":"B","type":"ILLUSTRATOR"}],"seoKeywords":["#판타지","#로맨스"],"featuredCharacterImageA":"https://k/\##($0)"}}"##
            }
            return ok(#"{"data":[{"title":"월","cardGroups":[{"cards":[\#(cards.joined(separator: ","))]}]}],"meta":{}}"#)
        case (.kakao, .titleInfo):
            return ok(##"{"data":{"id":\##(p.titleId!),"statistics":{"viewCount":\##(p.titleId! * 1000)},"badges":[{"type":"WEEKDAYS","title":"mon"}],"seoKeywords":["#판타지"]}}"##)
        case (.kakao, .episodeList):
            let total = 7
            let offset = p.offset ?? 0
            let limit = p.limit ?? 20
            let ids = (0..<total).map { Int64(9000 + total - $0) }  // newest first
            let page = ids.dropFirst(offset).prefix(limit)
            let episodes = page.map {
                #"{"id":\#($0),"contentId":\#(p.titleId!),"no":\#($0 - 9000),"title":"\#($0 - 9000)화","useType":"FREE","serialStartDateTime":"2026-11-24T15:00:00Z","asset":{"thumbnailImage":"https://ke/\#($0)"}}"#
            }
            let last = offset + page.count >= total
            return ok(#"{"meta":{"pagination":{"totalCount":\#(total),"last":\#(last)}},"data":{"episodes":[\#(episodes.joined(separator: ","))]}}"#)
        case (.kakao, .comments):
            return ok(#"{"meta":{"pagination":{"totalCount":\#(p.episodeId! % 3)}},"data":[]}"#)
        case (.kakao, .episodeLikes):
            return ok(#"{"data":{"episodeId":\#(p.episodeId!),"likeCount":\#(p.episodeId! - 9000)}}"#)
        default:
            return FetchedResponse(status: 404, body: [], url: request.url, fetchedAt: 0)
        }
    }
}

func runner(_ fake: FakePlatforms, batchSize: Int = 50, commentApi: Endpoint = .communityComments, kakaoPage: Int = 3)
    -> TaskRunner
{
    var n = naver
    n.crawl.episodeBatchSize = batchSize
    n.crawl.commentApi = commentApi
    var k = kakao
    k.crawl.episodePageSize = kakaoPage
    k.crawl.episodeBatchSize = batchSize
    return TaskRunner(catalogs: [n, k], fetcher: fake)
}

func titleTask(_ platform: Platform, _ id: Int64, _ mode: CrawlMode = .full) -> CrawlTask {
    .crawlTitle(CrawlTitleTask(platform: platform, titleId: id, mode: mode, crawlDate: testDate))
}

@Suite struct TaskRunnerTests {
    @Test func naverWeeklyListMergesWeekdaysAndIgnoresUnknownKeys() async throws {
        let fake = FakePlatforms()
        let out = try await runner(fake).run(.listTitles(ListTitlesTask(platform: .naver, list: .weekly, mode: .full, crawlDate: testDate)))
        #expect(out.records.titles.map(\.titleId) == [10, 11, 12])
        #expect(out.records.titles.first { $0.titleId == 10 }?.weekdays == [0, 2])
        #expect(out.records.titles.allSatisfy { $0.platform == .naver && !$0.completed && $0.crawlDate == testDate })
        #expect(out.children.map(\.key) == [10, 11, 12].map { "2026-11-25/full/naver/title/\($0)" })
        #expect(out.raw.map(\.originalFileName) == ["titles.json"])
    }

    @Test func dailyListKeepsOnlyTodaysTitlesWithAllTheirWeekdays() async throws {
        let fake = FakePlatforms()
        let out = try await runner(fake).run(.listTitles(ListTitlesTask(platform: .naver, list: .weekly, mode: .daily, crawlDate: testDate)))
        #expect(out.records.titles.map(\.titleId).sorted() == [10, 11])
        #expect(out.records.titles.first { $0.titleId == 10 }?.weekdays == [0, 2])
        let kakaoOut = try await runner(fake).run(
            .listTitles(ListTitlesTask(platform: .kakao, list: .weekly, mode: .daily, crawlDate: testDate.adding(days: -2))))
        #expect(kakaoOut.records.titles.map(\.titleId) == [500, 501])  // Monday only: one request
        #expect(fake.count(.weekdayTitles) == 2)
    }

    @Test func finishedPagesStopWhenAPageRepeats() async throws {
        let fake = FakePlatforms()
        let out = try await runner(fake).run(.listTitles(ListTitlesTask(platform: .naver, list: .finished, mode: .full, crawlDate: testDate)))
        #expect(out.records.titles.map(\.titleId) == [21, 22])
        #expect(out.records.titles.allSatisfy { $0.completed && $0.weekdays.isEmpty })
        #expect(fake.count(.finishedTitles) == 3)  // page 3 repeated page 2: the end, despite totalPages 9
        #expect(out.raw.map(\.originalFileName) == ["finished_titles_1.json", "finished_titles_2.json", "finished_titles_3.json"])
    }

    /// The batch size is part of the plan: a list hands its size to every title, and a title carrying one is split
    /// the same whatever the runner's catalog says, so workers with different settings report identical children
    /// (equal keys, hence equal unit ids).
    @Test func theTasksBatchSizeWinsOverTheRunnersCatalog() async throws {
        let list = try await runner(FakePlatforms(), batchSize: 50).run(
            .listTitles(ListTitlesTask(platform: .naver, list: .weekly, mode: .full, crawlDate: testDate, episodeBatchSize: 15)))
        #expect(!list.children.isEmpty)
        for child in list.children {
            guard case .crawlTitle(let title) = child else { Issue.record("not a title: \(child)"); continue }
            #expect(title.episodeBatchSize == 15)
        }
        let planned = CrawlTask.crawlTitle(CrawlTitleTask(platform: .naver, titleId: 10, mode: .full, crawlDate: testDate, episodeBatchSize: 15))
        let a = try await runner(FakePlatforms(), batchSize: 50).run(planned)
        let b = try await runner(FakePlatforms(), batchSize: 7).run(planned)
        #expect(a.children.map(\.key) == b.children.map(\.key))
        #expect(a.children.count == 3)
        // Without a planned size each runner falls back to its catalog, and the splits differ.
        let c = try await runner(FakePlatforms(), batchSize: 7).run(titleTask(.naver, 10))
        #expect(c.children.count == 6 && c.children.map(\.key) != a.children.map(\.key))
        // The size travels in the task's JSON but is not part of its key.
        let decoded = try JSONDecoder().decode(CrawlTask.self, from: try JSONEncoder().encode(planned))
        #expect(decoded == planned && planned.key == titleTask(.naver, 10).key)
    }

    @Test func naverEpisodesComeFromTheListPagesNotFromTotalCount() async throws {
        let fake = FakePlatforms()
        let out = try await runner(fake, batchSize: 15).run(titleTask(.naver, 10))
        #expect(out.records.episodes.map(\.episodeId) == FakePlatforms.naverArticles)
        #expect(Set(out.records.episodes.map(\.episodeId)).count == 40)
        #expect(!out.records.episodes.contains { $0.episodeId == 3 || $0.episodeId == 13 })
        #expect(fake.count(.episodeList) == 3)  // page 3 repeats page 2
        #expect(out.records.episodes.first?.publishedDate?.description == "2025-01-18")
        let detail = try #require(out.records.titleDetails.first)
        #expect(detail.ageRating == "RATE_ALL" && !detail.restricted && detail.favoriteCount == 1000)
        #expect(detail.visibleEpisodeCount == 40 && detail.totalEpisodeCount == 40)
        #expect(out.records.genres.map(\.name) == ["판타지", "회귀"])  // unique, "#" stripped
        #expect(out.children.count == 3)
        guard case .crawlEpisodes(let first) = out.children[0] else { Issue.record("not a batch"); return }
        #expect(first.episodeIds == Array(FakePlatforms.naverArticles.prefix(15)))
        #expect(out.raw.map(\.originalFileName) == ["10.json", "10/episodes_1.json", "10/episodes_2.json", "10/episodes_3.json"])
    }

    @Test func adultTitleIsRestrictedNotRetried() async throws {
        let fake = FakePlatforms()
        let out = try await runner(fake).run(titleTask(.naver, 12))
        let detail = try #require(out.records.titleDetails.first)
        #expect(detail.restricted && detail.ageRating == "RATE_18")
        #expect(out.records.episodes.isEmpty && out.children.isEmpty)
        #expect(fake.count(.episodeList) == 1)
    }

    @Test func dailyPassTitleExposesFewEpisodesAndThatIsFine() async throws {
        let fake = FakePlatforms()
        let out = try await runner(fake).run(titleTask(.naver, 11))
        #expect(out.records.episodes.map(\.episodeId) == [100, 99, 98])
        let detail = try #require(out.records.titleDetails.first)
        #expect(detail.dailyPass && detail.totalEpisodeCount == 100 && detail.visibleEpisodeCount == 3)
    }

    @Test func dailyModeTakesTheNewestTwentyFromPageOne() async throws {
        let fake = FakePlatforms()
        let out = try await runner(fake).run(titleTask(.naver, 10, .daily))
        #expect(out.records.episodes.map(\.episodeId) == Array(FakePlatforms.naverArticles.prefix(20)))
        #expect(fake.count(.episodeList) == 1)
        let kakaoOut = try await runner(fake).run(titleTask(.kakao, 500, .daily))
        #expect(kakaoOut.records.episodes.count == 7)
        #expect(fake.requests.withLock { $0.last { $0.endpoint == .episodeList }?.url.hasSuffix("sort=-NO&offset=0&limit=20") } == true)
    }

    @Test(arguments: [Endpoint.communityComments, .comments])
    func episodeStatsKeepIdsAndZeroComments(api: Endpoint) async throws {
        let fake = FakePlatforms()
        let task = CrawlTask.crawlEpisodes(
            CrawlEpisodesTask(platform: .naver, titleId: 10, episodeIds: [7, 6, 5, 4], mode: .full, crawlDate: testDate))
        let out = try await runner(fake, commentApi: api).run(task)
        #expect(out.records.episodeStats.map(\.episodeId) == [7, 6, 5, 4])
        let zero = try #require(out.records.episodeStats.first { $0.episodeId == 5 })
        #expect(zero.comments == 0 && zero.titleId == 10 && zero.likes == 15 && zero.rating == 9.5)
        #expect(out.records.episodeStats.first?.comments == 14)
        #expect(fake.count(api) == 4 && fake.count(.episodeLikes) == 4 && fake.count(.episodeRating) == 4)
        #expect(Set(out.raw.map(\.originalFileName)) == Set([7, 6, 5, 4].map { "10/\($0).json" }))
    }

    @Test func topCommentsAreKeptOnlyWhenAskedFor() async throws {
        let fake = FakePlatforms()
        let task = CrawlTask.crawlEpisodes(
            CrawlEpisodesTask(platform: .naver, titleId: 10, episodeIds: [7, 6], mode: .full, crawlDate: testDate))
        let off = try await runner(fake, commentApi: .comments).run(task)
        #expect(off.records.comments.isEmpty)
        var n = naver
        n.crawl.commentApi = .comments
        n.crawl.topComments = 5
        let on = try await TaskRunner(catalogs: [n], fetcher: fake).run(task)
        #expect(on.records.comments == [
            CommentRecord(platform: .naver, titleId: 10, episodeId: 7, commentId: "99", text: "최고", likes: 12,
                          createdAt: "2025-02-09T23:10:11+0900", crawlDate: testDate)
        ])  // the deleted one is skipped
        #expect(fake.requests.withLock { $0.last { $0.endpoint == .comments }?.url.contains("pageSize=5") } == true)
    }

    @Test func kakaoTitleInSeveralDaysIsOneTitle() async throws {
        let fake = FakePlatforms()
        let out = try await runner(fake).run(.listTitles(ListTitlesTask(platform: .kakao, list: .weekly, mode: .full, crawlDate: testDate)))
        #expect(fake.count(.weekdayTitles) == 7)
        #expect(out.records.titles.map(\.titleId) == [500, 501])
        #expect(out.records.titles.map(\.weekdays) == [[0], [0, 1]])
        #expect(out.records.titles.first?.author == "A / B")
        #expect(out.raw.map(\.originalFileName) == (0..<7).map { "titles_\($0).json" })
        guard case .crawlTitle(let child) = out.children[1] else { Issue.record("not a title task"); return }
        #expect(child.listedAdult)
    }

    @Test func kakaoEpisodesPageByOffsetAndStatsFollow() async throws {
        let fake = FakePlatforms()
        let out = try await runner(fake, batchSize: 4, kakaoPage: 3).run(
            .crawlTitle(CrawlTitleTask(platform: .kakao, titleId: 501, mode: .full, crawlDate: testDate, listedAdult: true)))
        #expect(out.records.episodes.map(\.episodeId) == (9001...9007).reversed().map(Int64.init))
        #expect(fake.count(.episodeList) == 3)
        #expect(out.records.episodes.first?.publishedDate?.description == "2026-11-25")  // 15:00Z is midnight KST
        let detail = try #require(out.records.titleDetails.first)
        #expect(detail.views == 501_000 && detail.ageRating == "ADULT" && detail.publishWeekdays == [0])
        #expect(out.records.genres.map(\.name) == ["판타지"])
        #expect(out.raw.map(\.originalFileName) == ["501.json", "501/episodes.json", "501/episodes_3.json", "501/episodes_6.json"])
        #expect(out.children.count == 2)
        let stats = try await runner(fake).run(out.children[0])
        #expect(stats.records.episodeStats.map(\.likes) == [7, 6, 5, 4])
        let expectedComments: [Int64?] = [9007 % 3, 9006 % 3, 9005 % 3, 9004 % 3]
        #expect(stats.records.episodeStats.map(\.comments) == expectedComments)
    }

    @Test func badBodyFailsTheTaskNamingEndpointAndTitleAndKeepsTheBody() async throws {
        let fake = FakePlatforms { request in
            guard request.endpoint == .episodeList, request.parameters.page == 2 else { return nil }
            return FetchedResponse(status: 200, body: Array(#"{"totalCount":1,"articleList":[{"no":"../../x"}]}"#.utf8), url: request.url, fetchedAt: 5)
        }
        let error = await #expect(throws: TaskFailure.self) { try await runner(fake).run(titleTask(.naver, 10)) }
        #expect(error?.response?.endpoint == .episodeList)
        #expect(error?.response?.field == "articleList[0].no")
        #expect(error?.description.contains("title 10 page 2") == true)
        #expect(error?.raw.last?.body == Array(#"{"totalCount":1,"articleList":[{"no":"../../x"}]}"#.utf8))
        #expect(error?.raw.count == 3)
    }

    @Test func serverErrorsThatSurviveRetriesFailTheTask() async throws {
        let fake = FakePlatforms { request in
            request.endpoint == .episodeLikes ? FetchedResponse(status: 503, body: Array("busy".utf8), url: request.url, fetchedAt: 1) : nil
        }
        let task = CrawlTask.crawlEpisodes(CrawlEpisodesTask(platform: .kakao, titleId: 1, episodeIds: [9001], mode: .full, crawlDate: testDate))
        let error = await #expect(throws: TaskFailure.self) { try await runner(fake).run(task) }
        #expect(error?.response?.code == .unexpectedStatus)
        #expect(error?.raw.contains { $0.status == 503 } == true)
    }

    @Test func keysAreStableDistinctAndRoundTrip() throws {
        let roots = CrawlPlan.rootTasks(platforms: Platform.allCases, mode: .full, crawlDate: testDate)
        #expect(roots.map(\.key) == [
            "2026-11-25/full/naver/list/weekly", "2026-11-25/full/naver/list/finished",
            "2026-11-25/full/kakao/list/weekly", "2026-11-25/full/kakao/list/finished",
        ])
        #expect(CrawlPlan.rootTasks(platforms: [.kakao], mode: .daily, crawlDate: testDate).map(\.key) == ["2026-11-25/daily/kakao/list/weekly"])
        let a = CrawlPlan.episodeBatches(platform: .naver, titleId: 1, episodeIds: [5, 4, 2, 1], batchSize: 3, mode: .full, crawlDate: testDate)
        let b = CrawlPlan.episodeBatches(platform: .naver, titleId: 1, episodeIds: [5, 4, 3, 1], batchSize: 3, mode: .full, crawlDate: testDate)
        #expect(a.count == 2 && a.map(\.key) != b.map(\.key))
        #expect(a[0].key.hasPrefix("2026-11-25/full/naver/episodes/1/5-2/3-"))
        #expect(a.map(\.key) == CrawlPlan.episodeBatches(platform: .naver, titleId: 1, episodeIds: [5, 4, 2, 1], batchSize: 3, mode: .full, crawlDate: testDate).map(\.key))
        for task in roots + a + [titleTask(.kakao, 3)] {
            let data = try JSONEncoder().encode(task)
            #expect(try JSONDecoder().decode(CrawlTask.self, from: data) == task)
            #expect(task.key.allSatisfy { $0.isLetter || $0.isNumber || "/-".contains($0) })
        }
        // Same title, other platform: other key.
        #expect(titleTask(.naver, 3).key != titleTask(.kakao, 3).key)
    }
}
