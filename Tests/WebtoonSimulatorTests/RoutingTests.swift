import NIOCore
import Testing
@testable import WebtoonSimulator

/// Routing and request parsing without sockets.
@Suite struct RoutingTests {
    let snapshot = SimSnapshot(catalog: SimCatalog(seed: 42, scale: .small), day: CalendarDay(iso: "2026-11-25")!)

    @Test func queryItemsArePercentDecodedAndTheFirstOccurrenceWins() {
        let request = SimRequest(uri: "/v1/search/contents?q=COMIC%5B1_2%5D&x=a+b&x=second&flag&e=%ZZ", headers: [:])
        #expect(request.path == "/v1/search/contents")
        #expect(request.query["q"] == "COMIC[1_2]")
        #expect(request.query["x"] == "a b")
        #expect(request.query["flag"] == "")
        #expect(request.query["e"] == "%ZZ")
        #expect(SimRequest(uri: "/plain", headers: [:]).query.isEmpty)
    }

    @Test func pathsOutsideBothPlatformsAreNotRouted() {
        #expect(snapshot.respond(to: SimRequest(path: "/")) == nil)
        #expect(snapshot.respond(to: SimRequest(path: "/api/nothing")) == nil)
        let kakao = ["accept-language": "ko"]
        #expect(snapshot.respond(to: SimRequest(path: "/decorator/v2/decorator/contents/1001/other", headers: kakao)) == nil)
        #expect(snapshot.respond(to: SimRequest(path: "/decorator/v2/decorator/contents/1001/profile", headers: kakao))?
            .status == 200)
        #expect(snapshot.respond(to: SimRequest(path: "/decorator/v2/decorator/contents/abc", headers: kakao))?
            .status == 400)
    }

    @Test func prewarmingCachesTheListBodiesWithoutChangingThem() {
        let catalog = SimCatalog(seed: 8, scale: .small)
        let day = CalendarDay(iso: "2026-11-29")!
        let warm = SimSnapshot(catalog: catalog, day: day)
        warm.prewarm()
        let finishedPages = (catalog.naver.count(where: \.completed) + warm.naverFinishedPageSize - 1)
            / warm.naverFinishedPageSize
        #expect(warm.cachedBodyCount == 1 + finishedPages + 8)
        let cold = SimSnapshot(catalog: catalog, day: day)
        let kakao = ["accept-language": "ko"]
        for request in [
            SimRequest(path: "/api/webtoon/titlelist/weekday", query: ["order": "view"]),
            SimRequest(path: "/api/webtoon/titlelist/finished", query: ["order": "view", "page": "2"]),
            SimRequest(path: "/section/v2/timetables/days", query: ["placement": "timetable_completed"], headers: kakao),
        ] {
            #expect(warm.respond(to: request) == cold.respond(to: request))
        }
        #expect(warm.cachedBodyCount == 1 + finishedPages + 8)
    }

    @Test func malformedParametersGetClearErrorsNotCrashes() {
        var random = SplitMix64(seed: 21)
        let paths = [
            "/api/article/list", "/api/article/list/info", "/api/userAction/info", "/v1/search/contents",
            "/commentBox/cbox/web_naver_list_jsonp.json", "/comment/api/community/v2/posts",
            "/episode/v2/views/content-home/contents/1001/episodes", "/comment/v1/comments",
            "/popularity/v1/reviews/episode/10010001", "/api/webtoon/titlelist/finished",
            "/api/webtoon/titlelist/weekday", "/section/v2/timetables/days",
        ]
        let names = ["titleId", "no", "page", "q", "objectId", "pageId", "offset", "limit", "sort", "relationType",
                     "relationId", "contentId", "order", "week", "placement", "_callback"]
        let values = ["", "-1", "0", "1", "9223372036854775807", "99999999999999999999", "abc", "COMIC[", "COMIC[1_x]",
                      "1_2_3", "webtoon_1", "NO", "-NO", "EPISODE", "timetable_xyz", "mon", "dailyPlus", "a(b)"]
        let headers = ["accept-language": "ko", "referer": "https://comic.naver.com",
                       "service-ticket-id": "comic_webtoon"]
        for _ in 0..<3_000 {
            var query: [String: String] = [:]
            for _ in 0..<Int(random.next() % 4) {
                query[names[Int(random.next() % UInt64(names.count))]] = values[Int(random.next() % UInt64(values.count))]
            }
            let path = paths[Int(random.next() % UInt64(paths.count))]
            let response = snapshot.respond(to: SimRequest(path: path, query: query, headers: headers))
            #expect(response != nil, "\(path) \(query)")
            #expect([200, 400, 401, 403, 404].contains(response?.status ?? 0), "\(path) \(query)")
        }
    }
}

extension SimResponse: Equatable {
    public static func == (a: SimResponse, b: SimResponse) -> Bool { a.status == b.status && a.body == b.body }
}

@Suite struct RequestSplitTests {
    @Test func byteSplitEqualsCharacterSplitForASCIIURIs() throws {
        var random = SplitMix64(seed: 0x5_1A17)
        let pieces = ["/", "a", "Z", "7", "?", "&", "&&", "=", "==", "%", "%5B", "%ZZ", "+", " ", "titleId", "q", "~", "#"]
        for _ in 0..<4_000 {
            let uri = (0..<Int(random.next() % 14)).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }.joined()
            let fast = try #require(SimRequest.splitASCII(uri))
            let reference = SimRequest.splitByCharacters(uri)
            #expect(fast.path == reference.path && fast.query == reference.query, "\(uri)")
        }
        #expect(SimRequest.splitASCII("/é?x=1") == nil)
        #expect(SimRequest.splitASCII("/a\r\n?x=1") == nil)
    }

    @Test func everyReplacementEqualsTheLibrarys() {
        var random = SplitMix64(seed: 0xC1)
        let pieces = ["/c1/", "/c1", "c1/", "/", "c", "1", "image-comic", "x", "é", "\r\n"]
        for _ in 0..<2_000 {
            let text = (0..<Int(random.next() % 10)).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }.joined()
            for (target, replacement) in [("/c1/", "/lt2/"), ("image-comic", "shared-comic"), ("c1/c", ""), ("/", "//")] {
                #expect(text.replacingEvery(target, with: replacement) == text.replacing(target, with: replacement))
            }
        }
    }
}
