import Foundation
import Testing
@testable import WebtoonSimulator

/// Each endpoint over real HTTP, compared with the shared fixtures' field names and types.
@Suite struct ServerShapeTests {
    /// Keys the simulator adds beyond a fixture, each documented in platform-apis.md.
    static let documentedExtras: Set<String> = [
        "meta",  // Kakao success envelope {data, meta}
        "sorting", "genreFilters",  // Kakao cards (ranking.gg notes)
        "titleImageA", "titleImageB", "lookThroughImage", "lookThroughImages",  // Kakao card images
        "status", "thumbnailImage",  // Kakao decorator
        "readable",  // Kakao episode `readable?`
        "last",  // Kakao comments meta.pagination
    ]

    @Test func everyEndpointMatchesItsFixture() async throws {
        try await withSimulator { sim in
            let truth = sim.groundTruth(mode: .full)
            let naverTitle = try #require(
                truth.titles.first { $0.platform == "naver" && !$0.restricted && !$0.dailyPass })
            let naverEpisode = try #require(
                truth.episodes.first { $0.platform == "naver" && $0.titleId == naverTitle.id })
            let kakaoTitle = try #require(truth.titles.first { $0.platform == "kakao" })
            let kakaoEpisode = try #require(
                truth.episodes.first { $0.platform == "kakao" && $0.titleId == kakaoTitle.id })
            let cases: [(String, [String: String], String)] = [
                ("/api/webtoon/titlelist/weekday?order=view", TestHeaders.naver,
                 "synthetic/naver/titlelist_weekday_order_view.json"),
                ("/api/webtoon/titlelist/finished?order=view&page=1", TestHeaders.naver,
                 "synthetic/naver/titlelist_finished_order_view_page1.json"),
                ("/api/article/list/info?titleId=\(naverTitle.id)", TestHeaders.naver,
                 "real/naver/article_list_info_titleId_805671.json"),
                ("/api/article/list?titleId=\(naverTitle.id)&page=1", TestHeaders.naver,
                 "synthetic/naver/article_list_titleId_183559_page1.json"),
                ("/api/article/list?titleId=\(naverTitle.id)&page=1", TestHeaders.naver,
                 "real/naver/article_list_titleId_183559_page1_TRIMMED.json"),
                ("/api/userAction/info?titleId=\(naverTitle.id)&no=\(naverEpisode.no)", TestHeaders.naver,
                 "synthetic/naver/userAction_info_titleId_183559_no_654.json"),
                ("/commentBox/cbox/web_naver_list_jsonp.json?ticket=comic&templateId=webtoon&pool=cbox3&lang=ko"
                    + "&country=KR&objectId=\(naverTitle.id)_\(naverEpisode.no)", TestHeaders.naver,
                 "synthetic/naver/cbox_web_naver_list_jsonp_183559_654.jsonp"),
                ("/v1/search/contents?q=COMIC%5B\(naverTitle.id)_\(naverEpisode.no)%5D", [:],
                 "synthetic/naver/like_search_contents_COMIC_183559_654.json"),
                ("/section/v2/timetables/days?placement=timetable_mon", TestHeaders.kakao,
                 "synthetic/kakao/timetables_days_placement_timetable_mon.json"),
                ("/decorator/v2/decorator/contents/\(kakaoTitle.id)", TestHeaders.kakao,
                 "synthetic/kakao/decorator_v2_contents_2467.json"),
                ("/episode/v2/views/content-home/contents/\(kakaoTitle.id)/episodes?sort=-NO&offset=0&limit=30",
                 TestHeaders.kakao, "synthetic/kakao/episodes_v2_content_home_contents_2467_episodes.json"),
                ("/comment/v1/comments?relationType=EPISODE&relationId=\(kakaoEpisode.episodeId)&sort=-LIKE&offset=0"
                    + "&limit=10", TestHeaders.kakao,
                 "synthetic/kakao/comment_v1_comments_relationType_EPISODE_relationId_123456.json"),
                ("/popularity/v1/reviews/episode/\(kakaoEpisode.episodeId)?contentId=\(kakaoTitle.id)",
                 TestHeaders.kakao, "synthetic/kakao/popularity_v1_reviews_episode_123456.json"),
                ("/decorator/v2/decorator/contents/999999999", TestHeaders.kakao,
                 "synthetic/kakao/error_envelope.json"),
            ]
            try await TestConnection.with(port: sim.port) { connection in
                for (uri, headers, fixture) in cases {
                    let response = try await connection.get(uri, headers: headers)
                    let expectError = fixture.hasSuffix("error_envelope.json")
                    #expect(expectError ? response.status == 404 : response.status == 200, "\(uri)")
                    let body = fixture.hasSuffix(".jsonp") ? try unwrapJSONP(response.body) : response.body
                    let served = try JSONDecoder().decode(JSONValue.self, from: Data(body))
                    let problems = shapeDifferences(served: served, fixture: try Fixtures.load(fixture),
                                                    extras: Self.documentedExtras,
                                                    trimmed: fixture.contains("TRIMMED"))
                    #expect(problems.isEmpty, "\(uri) vs \(fixture): \(problems)")
                }
                // The new comment API: the documented root shape.
                let posts = try await connection.get(
                    "/comment/api/community/v2/posts?pageId=webtoon_\(naverTitle.id)_\(naverEpisode.no)"
                        + "&pinRepresentation=none&prevSize=0&nextSize=20", headers: TestHeaders.naver)
                let json = try posts.json()
                #expect(json["status"].string == "success")
                #expect(json["result"].keys == ["posts", "pagination", "postCount", "rootPostCount", "activePostCount",
                                                "activeRootPostCount", "isPageOwner", "tops", "pins"])
                #expect(json["result"]["postCount"].int64 == naverEpisode.comments)
            }
        }
    }

    @Test func naverQuirks() async throws {
        try await withSimulator { sim in
            let truth = sim.groundTruth(mode: .full)
            let restricted = try #require(truth.titles.first { $0.platform == "naver" && $0.restricted })
            let dailyPass = try #require(truth.titles.first { $0.platform == "naver" && $0.dailyPass })
            try await TestConnection.with(port: sim.port) { c in
                // Restricted: info answers, the article list is 401.
                #expect(try await c.get("/api/article/list/info?titleId=\(restricted.id)").status == 200)
                #expect(try await c.get("/api/article/list?titleId=\(restricted.id)&page=1").status == 401)

                // Daily pass: three articles exposed, totalCount full.
                let page = try await c.get("/api/article/list?titleId=\(dailyPass.id)&page=1").json()
                #expect(page["articleList"].array.count == 3)
                #expect(page["totalCount"].int! > 3)
                #expect(page["dailyPass"].bool == true)

                // Pages past the end repeat the last page (articles and finished titles).
                let long = try #require(truth.titles.first { t in
                    t.platform == "naver" && !t.restricted && !t.dailyPass
                        && truth.episodes.count(where: { $0.platform == "naver" && $0.titleId == t.id }) > 20
                })
                let first = try await c.get("/api/article/list?titleId=\(long.id)&page=1").json()
                let totalPages = try #require(first["pageInfo"]["totalPages"].int)
                #expect(totalPages >= 2)
                let last = try await c.get("/api/article/list?titleId=\(long.id)&page=\(totalPages)").json()
                let past = try await c.get("/api/article/list?titleId=\(long.id)&page=\(totalPages + 5)").json()
                #expect(past["articleList"] == last["articleList"])
                #expect(past["pageInfo"]["page"].int == totalPages)
                #expect(first["articleList"] != last["articleList"])
                let ascending = try await c.get("/api/article/list?titleId=\(long.id)&page=1&sort=ASC").json()
                let nos = ascending["articleList"].array.compactMap { $0["no"].int }
                #expect(nos == nos.sorted() && nos.count == 20)

                let finished1 = try await c.get("/api/webtoon/titlelist/finished?order=view&page=1").json()
                let finishedPages = try #require(finished1["pageInfo"]["totalPages"].int)
                #expect(finishedPages >= 2)
                let finishedLast = try await c.get("/api/webtoon/titlelist/finished?order=view&page=\(finishedPages)")
                let finishedPast = try await c.get(
                    "/api/webtoon/titlelist/finished?order=view&page=\(finishedPages + 1)")
                #expect(try finishedPast.json()["titleList"] == finishedLast.json()["titleList"])

                // A title under more than one weekday appears in each of those lists.
                let multi = try #require(truth.titles.first { $0.platform == "naver" && $0.weekdays.count > 1 })
                let weekly = try await c.get("/api/webtoon/titlelist/weekday?order=view").json()
                for (d, key) in ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
                    .enumerated()
                {
                    let ids = weekly["titleListMap"][key].array.compactMap { $0["titleId"].int64 }
                    #expect(ids.contains(multi.id) == multi.weekdays.contains(d))
                }

                // cbox is JSONP and needs a Referer; the v2 API needs Service-Ticket-Id.
                let episode = try #require(truth.episodes.first { $0.platform == "naver" })
                let cbox = "/commentBox/cbox/web_naver_list_jsonp.json?objectId=\(episode.titleId)_\(episode.no)"
                #expect(try await c.get(cbox).status == 403)
                let jsonp = try await c.get(cbox + "&_callback=jQuery123_456", headers: TestHeaders.naver)
                #expect(jsonp.text.hasPrefix("jQuery123_456({") && jsonp.text.hasSuffix("});"))
                let v2 = "/comment/api/community/v2/posts?pageId=webtoon_\(episode.titleId)_\(episode.no)"
                #expect(try await c.get(v2).status == 403)
                #expect(try await c.get(v2, headers: TestHeaders.naver).status == 200)

                // Unknown titles, articles and paths.
                #expect(try await c.get("/api/article/list?titleId=1").status == 404)
                #expect(try await c.get("/api/userAction/info?titleId=\(episode.titleId)&no=99999").status == 404)
                #expect(try await c.get("/api/article/list").status == 400)
                #expect(try await c.get("/nowhere").status == 404)
            }
        }
    }

    @Test func kakaoQuirks() async throws {
        try await withSimulator { sim in
            let truth = sim.groundTruth(mode: .full)
            try await TestConnection.with(port: sim.port) { c in
                let paths = [
                    "/section/v2/timetables/days?placement=timetable_mon",
                    "/decorator/v2/decorator/contents/1001",
                    "/episode/v2/views/content-home/contents/1001/episodes?sort=-NO&offset=0&limit=10",
                ]
                for path in paths {
                    let refused = try await c.get(path)
                    #expect(refused.status == 403)
                    #expect(try refused.json().keys == ["errorCode", "errorMessage"])
                    #expect(try await c.get(path, headers: ["Accept-Language": "ko-KR,ko;q=0.9"]).status == 200)
                }
                #expect(try await c.get("/section/v2/timetables/days?placement=timetable",
                                        headers: TestHeaders.kakao).status == 404)

                // Multi-day titles appear in each of their day lists; keywords carry '#'.
                let multi = try #require(truth.titles.first { $0.platform == "kakao" && $0.weekdays.count > 1 })
                for (d, day) in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].enumerated() {
                    let list = try await c.get("/section/v2/timetables/days?placement=timetable_\(day)",
                                               headers: TestHeaders.kakao).json()
                    let cards = list["data"][0]["cardGroups"][0]["cards"].array
                    #expect(cards.contains { $0["content"]["id"].int64 == multi.id } == multi.weekdays.contains(d))
                    #expect(cards.allSatisfy { card in card["content"]["seoKeywords"].array.allSatisfy {
                        $0.string?.hasPrefix("#") == true
                    } })
                }

                // offset/limit paging with meta.pagination{totalCount,last}.
                let title = try #require(truth.titles.first { t in
                    t.platform == "kakao"
                        && truth.episodes.count(where: { $0.platform == "kakao" && $0.titleId == t.id }) > 12
                })
                let base = "/episode/v2/views/content-home/contents/\(title.id)/episodes?sort=-NO"
                let all = try await c.get(base + "&offset=0&limit=9999", headers: TestHeaders.kakao).json()
                let total = try #require(all["meta"]["pagination"]["totalCount"].int)
                #expect(all["meta"]["pagination"]["last"].bool == true)
                #expect(all["data"]["episodes"].array.count == total)
                var paged: [JSONValue] = []
                var offset = 0
                while true {
                    let page = try await c.get(base + "&offset=\(offset)&limit=5", headers: TestHeaders.kakao).json()
                    paged += page["data"]["episodes"].array
                    offset += 5
                    if page["meta"]["pagination"]["last"].bool == true { break }
                }
                #expect(paged == all["data"]["episodes"].array)
                let nos = paged.compactMap { $0["no"].int }
                #expect(nos == nos.sorted(by: >))
                #expect(try await c.get(base + "&offset=-1&limit=5", headers: TestHeaders.kakao).status == 400)
            }
        }
    }
}
