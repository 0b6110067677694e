import Foundation
import Testing
import WebtoonCore

/// Parsers against the real captures (real/) and the synthetic shape samples (synthetic/).
@Suite struct ParserFixtureTests {
    @Test func realTitleInfo() throws {
        let request = naverRequest(.titleInfo, EndpointParameters(titleId: 805671))
        let info = try NaverParsers.titleInfo(try Fixtures.bytes("real/naver/article_list_info_titleId_805671.json"), request)
        #expect(info.titleId == 805671)
        #expect(info.ageRating == "RATE_15")
        #expect(info.favoriteCount == 14225)
        #expect(info.dailyPass == false)
        #expect(info.finished == false)
        #expect(info.publishWeekdays == [1])
        #expect(info.tags.map(\.name) == ["로맨스", "선결혼후연애", "뱀파이어", "로판", "구원서사", "소설원작"])
        #expect(info.tags.first?.source == "GENRE_PURE")
        // The same body asked for another title is inconsistent, not silently accepted.
        let wrong = naverRequest(.titleInfo, EndpointParameters(titleId: 1))
        let error = #expect(throws: ResponseError.self) {
            try NaverParsers.titleInfo(try Fixtures.bytes("real/naver/article_list_info_titleId_805671.json"), wrong)
        }
        #expect(error?.code == .inconsistent)
    }

    @Test func realTrimmedArticlePageShowsNoIsNotTheEpisodeNumber() throws {
        let request = naverRequest(.episodeList, EndpointParameters(titleId: 183559, page: 1))
        let page = try NaverParsers.articlePage(
            try Fixtures.bytes("real/naver/article_list_titleId_183559_page1_TRIMMED.json"), request)
        #expect(page.totalCount == 653)
        #expect(page.pageInfo == nil)
        #expect(page.articles.map(\.no) == [654, 653])
        #expect(page.articles.first?.subtitle == "3부 236화")
        #expect(page.articles.map { CrawlDate.naverShortDate($0.serviceDate)?.description } == ["2025-02-09", "2025-02-02"])
    }

    @Test func realPageInfoBlockDecodes() throws {
        // The curation list carries the only real pageInfo; the finished-list parser reads the same block.
        let body = try Fixtures.bytes("real/naver/curation_list_ARTIST_155779_page1.json")
        let text = String(decoding: body, as: UTF8.self).replacingOccurrences(of: "curationViewList", with: "titleList")
            .replacingOccurrences(of: "\"displayAuthor\"", with: "\"author\"")
        let (titles, info) = try NaverParsers.finishedTitles(bytes(text), naverRequest(.finishedTitles, EndpointParameters(page: 1)))
        #expect(info == PageInfo(page: 1, totalPages: 1))
        #expect(titles.map(\.titleId) == [183559])
        #expect(titles.first?.author == "SIU")
    }

    @Test func syntheticNaverLists() throws {
        let weekly = try NaverParsers.weekdayTitles(
            try Fixtures.bytes("synthetic/naver/titlelist_weekday_order_view.json"), naverRequest(.weekdayTitles))
        #expect(weekly.map { "\($0.weekday):\($0.title.titleId)" } == ["0:183559", "1:805671"])
        #expect(weekly.first?.title.author == "글작가 / 그림작가")
        let (finished, info) = try NaverParsers.finishedTitles(
            try Fixtures.bytes("synthetic/naver/titlelist_finished_order_view_page1.json"),
            naverRequest(.finishedTitles, EndpointParameters(page: 1)))
        #expect(finished.map(\.titleId) == [20853])
        #expect(info?.totalPages == 70)
    }

    @Test func syntheticNaverEpisodeEndpoints() throws {
        let p = EndpointParameters(titleId: 183559, episodeId: 654, page: 1, limit: 5)
        let page = try NaverParsers.articlePage(
            try Fixtures.bytes("synthetic/naver/article_list_titleId_183559_page1.json"), naverRequest(.episodeList, p))
        #expect(page.pageInfo == PageInfo(page: 1, totalPages: 33))
        #expect(page.articles.first?.thumbnailUrl?.hasSuffix("thumbnail_202x120_xxxxxxxx.jpg") == true)
        let rating = try NaverParsers.rating(
            try Fixtures.bytes("synthetic/naver/userAction_info_titleId_183559_no_654.json"), naverRequest(.episodeRating, p))
        #expect(rating.average == 9.9 && rating.count == 1234)
        let likes = try NaverParsers.likes(
            try Fixtures.bytes("synthetic/naver/like_search_contents_COMIC_183559_654.json"), naverRequest(.episodeLikes, p))
        #expect(likes == 4321)
        let cbox = try NaverParsers.cboxComments(
            try Fixtures.bytes("synthetic/naver/cbox_web_naver_list_jsonp_183559_654.jsonp"), naverRequest(.comments, p),
            top: 5)
        #expect(cbox.total == 60)
        #expect(cbox.top.count == 1)
        #expect(cbox.top.first?.id == "1234567890")
        #expect(cbox.top.first?.likes == 10)
        let countOnly = try NaverParsers.cboxComments(
            try Fixtures.bytes("synthetic/naver/cbox_web_naver_list_jsonp_183559_654.jsonp"), naverRequest(.comments, p),
            top: 0)
        #expect(countOnly.top.isEmpty)
        // Likes of another episode are refused, not stored under this one.
        let other = naverRequest(.episodeLikes, EndpointParameters(titleId: 183559, episodeId: 1))
        #expect(throws: ResponseError.self) {
            try NaverParsers.likes(try Fixtures.bytes("synthetic/naver/like_search_contents_COMIC_183559_654.json"), other)
        }
    }

    @Test func communityCountsAndTheRealReactionShape() throws {
        let p = EndpointParameters(titleId: 1, episodeId: 2, limit: 1)
        let body = bytes(
            #"{"status":"success","result":{"posts":[],"pagination":{"next":null},"postCount":12,"rootPostCount":10,"activePostCount":11,"activeRootPostCount":9,"tops":[],"pins":[]}}"#)
        for (field, expected) in [("postCount", 12), ("activePostCount", 11), ("rootPostCount", 10), ("activeRootPostCount", 9)] {
            let summary = try NaverParsers.communityComments(body, naverRequest(.communityComments, p), countField: field)
            #expect(summary.total == Int64(expected))
        }
        // The real reaction-count capture is not a posts response: a clear error, not a crash or a zero.
        let error = #expect(throws: ResponseError.self) {
            try NaverParsers.communityComments(
                try Fixtures.bytes("real/naver/comment_v2_post_reaction_count_example.json"),
                naverRequest(.communityComments, p), countField: "activePostCount")
        }
        #expect(error?.field == "result.activePostCount")
        #expect(error?.endpoint == .communityComments)
        #expect(error?.subject == "title 1 episode 2")
    }

    @Test func syntheticKakao() throws {
        let day = try KakaoParsers.timetable(
            try Fixtures.bytes("synthetic/kakao/timetables_days_placement_timetable_mon.json"),
            kakaoRequest(.weekdayTitles, EndpointParameters(day: 0)))
        #expect(day.count == 1)
        #expect(day.first?.titleId == 2467)
        #expect(day.first?.author == "작가A / 작가B")
        #expect(day.first?.keywords == ["판타지", "회귀"])
        #expect(day.first?.thumbnailUrl == "https://kr-a.kakaopagecdn.com/P/C/2467/c1/2x/xxxxxxxx")
        let p = EndpointParameters(titleId: 2467, episodeId: 123456, offset: 0, limit: 20)
        let info = try KakaoParsers.titleInfo(
            try Fixtures.bytes("synthetic/kakao/decorator_v2_contents_2467.json"), kakaoRequest(.titleInfo, p))
        #expect(info.views == 123_456_789)
        #expect(info.publishWeekdays == [0])
        #expect(info.keywords == ["판타지", "회귀"])
        let page = try KakaoParsers.episodePage(
            try Fixtures.bytes("synthetic/kakao/episodes_v2_content_home_contents_2467_episodes.json"),
            kakaoRequest(.episodeList, p))
        #expect(page.totalCount == 2)
        #expect(page.last == true)
        #expect(page.episodes.map(\.id) == [123456, 123400])
        #expect(page.episodes.map(\.no) == [2, 1])
        #expect(page.episodes.first.flatMap { $0.serialStart.flatMap(CrawlDate.kstDay(ofISO8601:)) }?.description == "2021-05-10")
        #expect(
            try KakaoParsers.commentCount(
                try Fixtures.bytes("synthetic/kakao/comment_v1_comments_relationType_EPISODE_relationId_123456.json"),
                kakaoRequest(.comments, p)) == 57)
        #expect(
            try KakaoParsers.likes(
                try Fixtures.bytes("synthetic/kakao/popularity_v1_reviews_episode_123456.json"),
                kakaoRequest(.episodeLikes, p)) == 4321)
        let envelope = #expect(throws: ResponseError.self) {
            try KakaoParsers.likes(try Fixtures.bytes("synthetic/kakao/error_envelope.json"), kakaoRequest(.episodeLikes, p))
        }
        #expect(envelope?.code == .platformError)
        #expect(envelope?.description.contains("SOME_ERROR_CODE") == true)
    }

    @Test func keywordsLoseTheirHash() {
        #expect(KakaoParsers.keyword("#판타지") == "판타지")
        #expect(KakaoParsers.keyword("##  로맨스 ") == "로맨스")
        #expect(KakaoParsers.keyword("무협") == "무협")
        #expect(KakaoParsers.keyword("#") == nil)
    }

    @Test func wrongTypesNameTheField() {
        let request = naverRequest(.episodeList, EndpointParameters(titleId: 183559, page: 1))
        let stringNo = #expect(throws: ResponseError.self) {
            try NaverParsers.articlePage(
                bytes(#"{"totalCount":1,"articleList":[{"no":"654","subtitle":"a","serviceDateDescription":"25.02.09"}]}"#),
                request)
        }
        #expect(stringNo?.code == .wrongShape)
        #expect(stringNo?.field == "articleList[0].no")
        #expect(stringNo?.description.contains("title 183559 page 1") == true)
        let negative = #expect(throws: ResponseError.self) {
            try NaverParsers.articlePage(
                bytes(#"{"totalCount":1,"articleList":[{"no":-3,"subtitle":"a","serviceDateDescription":"25.02.09"}]}"#),
                request)
        }
        #expect(negative?.code == .invalidValue)
        let fractional = #expect(throws: ResponseError.self) {
            try KakaoParsers.likes(bytes(#"{"data":{"likeCount":1.5}}"#), kakaoRequest(.episodeLikes, EndpointParameters(episodeId: 1)))
        }
        #expect(fractional?.field == "data.likeCount")
        let truncated = #expect(throws: ResponseError.self) {
            try KakaoParsers.likes(bytes(#"{"data":{"likeC"#), kakaoRequest(.episodeLikes, EndpointParameters(episodeId: 1)))
        }
        #expect(truncated?.code == .malformedBody)
        #expect(throws: ResponseError.self) {
            try NaverParsers.cboxComments(bytes("_callback({\"success\":true"), naverRequest(.comments), top: 0)
        }
        #expect(throws: ResponseError.self) {
            try NaverParsers.cboxComments(bytes("alert(1)//({})"), naverRequest(.comments), top: 0)
        }
    }
}
