import Foundation
import Testing
@testable import WebtoonSimulator

/// A straightforward crawler written against the platform notes (not the simulator's internals): what it finds over
/// HTTP must equal the exported ground truth, and the request counters must equal the requests it made.
@Suite struct CrawlConsistencyTests {
    @Test(arguments: GroundTruthMode.allCases)
    func crawlOverHTTPFindsExactlyTheGroundTruth(mode: GroundTruthMode) async throws {
        try await withSimulator(.init(seed: 77, scale: .small, date: "2026-11-27")) { sim in
            let (crawled, requests) = try await TestConnection.with(port: sim.port) { c in
                var crawler = TestCrawler(connection: c, date: sim.date, mode: mode)
                try await crawler.crawl()
                return (crawler.result(), crawler.requests)
            }
            let truth = sim.groundTruth(mode: mode)
            #expect(crawled.titles == truth.titles)
            #expect(crawled.episodes.count == truth.episodes.count)
            #expect(crawled.episodes == truth.episodes)
            #expect(crawled == truth)
            #expect(!truth.episodes.isEmpty)

            let stats = sim.stats()
            #expect(stats.platformRequests == requests.values.reduce(0, +))
            for (endpoint, count) in requests { #expect(stats.endpoints[endpoint]?.requests == count, "\(endpoint)") }

            // The HTTP export is the same document.
            let exported = try await oneShotJSON(port: sim.port, "/__sim/ground-truth?mode=\(mode.rawValue)")
            #expect(try JSONDecoder().decode(GroundTruth.self, from: Data(exported)) == truth)
            #expect(sim.stats().platformRequests == stats.platformRequests)  // /__sim/* is not a platform request
        }
    }

    @Test func switchingTheDayOverHTTPChangesWhatIsServed() async throws {
        try await withSimulator { sim in
            let before = sim.groundTruth(mode: .full)
            let answer = try await oneShotJSON(port: sim.port, "/__sim/date?set=2026-11-26")
            #expect(String(decoding: answer, as: UTF8.self) == "{\"date\":\"2026-11-26\"}")
            #expect(sim.date == "2026-11-26")
            let after = sim.groundTruth(mode: .full)
            #expect(after.crawlDate == "2026-11-26")
            #expect(after.episodes.count > before.episodes.count)
            #expect(after == (try SimulatorCatalog(configuration: .init(seed: 42, scale: .small, date: "2026-11-26"))
                .groundTruth(mode: .full)))
            guard case .response(let bad) = await oneShot(port: sim.port, "/__sim/date?set=2026-02-31") else {
                Issue.record("no answer")
                return
            }
            #expect(bad.status == 400)
            #expect(sim.date == "2026-11-26")
        }
    }
}

func oneShotJSON(port: Int, _ uri: String) async throws -> [UInt8] {
    guard case .response(let response) = await oneShot(port: port, uri), response.status == 200 else {
        throw TestFailure("GET \(uri) failed")
    }
    return response.body
}

/// Crawls both platforms the way GROUNDTRUTH.md describes, counting requests per endpoint.
struct TestCrawler {
    let connection: TestConnection
    let date: String
    let mode: GroundTruthMode
    var requests: [String: Int] = [:]
    var titles: [GroundTruth.Title] = []
    var episodes: [GroundTruth.Episode] = []

    init(connection: TestConnection, date: String, mode: GroundTruthMode) {
        self.connection = connection
        self.date = date
        self.mode = mode
    }

    static let naverDays = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
    static let kakaoDays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

    var weekday: Int { CalendarDay(iso: date)!.weekday }

    mutating func get(_ endpoint: String, _ uri: String, _ headers: [String: String]) async throws -> TestResponse {
        requests[endpoint, default: 0] += 1
        return try await connection.get(uri, headers: headers)
    }

    mutating func json(_ endpoint: String, _ uri: String, _ headers: [String: String]) async throws -> JSONValue {
        let response = try await get(endpoint, uri, headers)
        guard response.status == 200 else { throw TestFailure("\(uri) answered \(response.status)") }
        return try response.json()
    }

    mutating func crawl() async throws {
        try await crawlNaver()
        try await crawlKakao()
    }

    func result() -> GroundTruth {
        GroundTruth(
            crawlDate: date, mode: mode.rawValue,
            titles: titles.sorted { ($0.platform, $0.id) < ($1.platform, $1.id) },
            episodes: episodes.sorted {
                ($0.platform, $0.titleId, $0.episodeId) < ($1.platform, $1.titleId, $1.episodeId)
            })
    }

    mutating func crawlNaver() async throws {
        let h = TestHeaders.naver
        var items: [Int64: JSONValue] = [:]
        var weekdays: [Int64: [Int]] = [:]
        var completed: Set<Int64> = []
        let weekly = try await json("naver.titlelist.weekday", "/api/webtoon/titlelist/weekday?order=view", h)
        for (d, key) in Self.naverDays.enumerated() {
            for item in weekly["titleListMap"][key].array {
                let id = item["titleId"].int64!
                items[id] = item
                weekdays[id, default: []].append(d)
            }
        }
        if mode == .full {
            var page = 1
            var previous: JSONValue?
            while true {
                let list = try await json("naver.titlelist.finished",
                                          "/api/webtoon/titlelist/finished?order=view&page=\(page)", h)
                if list["titleList"] == previous { break }
                previous = list["titleList"]
                for item in list["titleList"].array {
                    items[item["titleId"].int64!] = item
                    completed.insert(item["titleId"].int64!)
                }
                if page >= list["pageInfo"]["totalPages"].int! { break }
                page += 1
            }
        }
        for (id, item) in items {
            let days = (weekdays[id] ?? []).sorted()
            if mode == .daily && !days.contains(weekday) { continue }
            let info = try await json("naver.article.info", "/api/article/list/info?titleId=\(id)", h)
            let genres = Array(Set(info["curationTagList"].array.compactMap { $0["tagName"].string })).sorted()
            var restricted = false
            var articles: [JSONValue] = []
            var page = 1
            while true {
                let response = try await get("naver.article.list", "/api/article/list?titleId=\(id)&page=\(page)", h)
                if response.status == 401 {
                    restricted = true
                    break
                }
                let list = try response.json()
                articles += list["articleList"].array
                if mode == .daily || page >= list["pageInfo"]["totalPages"].int! { break }
                page += 1
            }
            titles.append(GroundTruth.Title(
                platform: "naver", id: id, name: item["titleName"].string!, author: item["author"].string!,
                weekdays: days, completed: completed.contains(id), restricted: restricted,
                dailyPass: info["dailyPass"].bool!, ageRating: info["age"]["type"].string, genres: genres, views: nil,
                favoriteCount: info["favoriteCount"].int64, thumbnailUrl: item["thumbnailUrl"].string!))
            for article in articles {
                let no = article["no"].int!
                let rating = try await json("naver.userAction", "/api/userAction/info?titleId=\(id)&no=\(no)", h)
                let cbox = try await get(
                    "naver.cbox", "/commentBox/cbox/web_naver_list_jsonp.json?ticket=comic&templateId=webtoon"
                        + "&pool=cbox3&lang=ko&country=KR&objectId=\(id)_\(no)&pageSize=100&page=1&sort=NEW", h)
                let comments = try JSONDecoder().decode(JSONValue.self, from: Data(try unwrapJSONP(cbox.body)))
                let likes = try await json("naver.likes", "/v1/search/contents?q=COMIC%5B\(id)_\(no)%5D", [:])
                let short = article["serviceDateDescription"].string!
                episodes.append(GroundTruth.Episode(
                    platform: "naver", titleId: id, episodeId: Int64(no), no: no, title: article["subtitle"].string!,
                    publishedDate: "20" + short.replacingOccurrences(of: ".", with: "-"),
                    likes: likes["contents"][0]["reactions"].array.compactMap { $0["count"].int64 }.reduce(0, +),
                    comments: comments["result"]["count"]["total"].int64!,
                    rating: rating["starInfo"]["averageStarScore"].double,
                    thumbnailUrl: article["thumbnailUrl"].string!))
            }
        }
    }

    mutating func crawlKakao() async throws {
        let h = TestHeaders.kakao
        var contents: [Int64: JSONValue] = [:]
        var weekdays: [Int64: [Int]] = [:]
        var completed: Set<Int64> = []
        var placements = Self.kakaoDays.enumerated().map { ($0.offset, "timetable_\($0.element)") }
        if mode == .daily { placements = [placements[weekday]] } else { placements.append((7, "timetable_completed")) }
        for (d, placement) in placements {
            let list = try await json("kakao.timetable", "/section/v2/timetables/days?placement=\(placement)", h)
            for card in list["data"][0]["cardGroups"][0]["cards"].array {
                let id = card["content"]["id"].int64!
                contents[id] = card["content"]
                if d == 7 { completed.insert(id) } else { weekdays[id, default: []].append(d) }
            }
        }
        // A daily crawl only sees today's list, so a multi-day title's other days come from the decorator badges.
        for (id, content) in contents {
            let decorator = try await json("kakao.decorator", "/decorator/v2/decorator/contents/\(id)", h)
            let badgeDays = decorator["data"]["badges"].array.filter { $0["type"].string == "WEEKDAYS" }
                .compactMap { $0["title"].string.flatMap { Self.kakaoDays.firstIndex(of: $0) } }
            let keywords = content["seoKeywords"].array.compactMap { $0.string.map { String($0.dropFirst()) } }
            let genres = Array(Set(keywords)).sorted()
            titles.append(GroundTruth.Title(
                platform: "kakao", id: id, name: content["title"].string!,
                author: content["authors"].array.compactMap { $0["name"].string }.joined(separator: " / "),
                weekdays: mode == .daily ? badgeDays.sorted() : (weekdays[id] ?? []).sorted(),
                completed: completed.contains(id), restricted: false, dailyPass: false,
                ageRating: content["adult"].bool! ? "ADULT" : nil, genres: genres,
                views: decorator["data"]["statistics"]["viewCount"].int64, favoriteCount: nil,
                thumbnailUrl: content["featuredCharacterImageA"].string!))
            var list: [JSONValue] = []
            var offset = 0
            while true {
                let limit = mode == .daily ? 20 : 30
                let uri = "/episode/v2/views/content-home/contents/\(id)/episodes?sort=-NO&offset=\(offset)&limit=\(limit)"
                let page = try await json("kakao.episodes", uri, h)
                list += page["data"]["episodes"].array
                if mode == .daily || page["meta"]["pagination"]["last"].bool == true { break }
                offset += limit
            }
            for episode in list {
                let episodeId = episode["id"].int64!
                let comments = try await json(
                    "kakao.comments",
                    "/comment/v1/comments?relationType=EPISODE&relationId=\(episodeId)&sort=-LIKE&offset=0&limit=10", h)
                let likes = try await json("kakao.popularity",
                                           "/popularity/v1/reviews/episode/\(episodeId)?contentId=\(id)", h)
                episodes.append(GroundTruth.Episode(
                    platform: "kakao", titleId: id, episodeId: episodeId, no: episode["no"].int!,
                    title: episode["title"].string!,
                    publishedDate: String(episode["serialStartDateTime"].string!.prefix(10)),
                    likes: likes["data"]["likeCount"].int64!,
                    comments: comments["meta"]["pagination"]["totalCount"].int64!, rating: nil,
                    thumbnailUrl: episode["asset"]["thumbnailImage"].string!))
            }
        }
    }
}
