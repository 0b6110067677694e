import Foundation
import Testing
import WebtoonCore

@Suite struct CatalogTests {
    @Test(arguments: Platform.allCases)
    func configFileLoadsAndEqualsTheEmbeddedCopy(platform: Platform) throws {
        let file = try Fixtures.config("\(platform).json")
        let loaded = try EndpointCatalog.load(json: file, source: "config/\(platform).json", expecting: platform)
        #expect(loaded == EndpointCatalog.builtIn(platform))
        // One source of truth: the compiled-in text is byte-for-byte the file (scripts/embed-catalogs.py).
        let source = try String(
            contentsOfFile: Fixtures.packageRoot.appendingPathComponent("Sources/WebtoonCore/EmbeddedCatalogs.swift").path,
            encoding: .utf8)
        let text = String(decoding: file, as: UTF8.self)
        #expect(source.contains("static let \(platform) = #\"\"\"\n" + text + "\"\"\"#"))
    }

    @Test func naverRequestsMatchTheNotes() {
        #expect(
            naverRequest(.weekdayTitles).url == "https://comic.naver.com/api/webtoon/titlelist/weekday?order=view")
        #expect(
            naverRequest(.finishedTitles, EndpointParameters(page: 3)).url
                == "https://comic.naver.com/api/webtoon/titlelist/finished?order=view&page=3")
        #expect(
            naverRequest(.episodeList, EndpointParameters(titleId: 183559, page: 2)).url
                == "https://comic.naver.com/api/article/list?titleId=183559&page=2")
        #expect(
            naverRequest(.episodeRating, EndpointParameters(titleId: 183559, episodeId: 654)).url
                == "https://comic.naver.com/api/userAction/info?titleId=183559&no=654")
        let likes = naverRequest(.episodeLikes, EndpointParameters(titleId: 183559, episodeId: 654))
        #expect(likes.url == "https://comic.like.naver.com/v1/search/contents?q=COMIC%5B183559_654%5D")
        let cbox = naverRequest(.comments, EndpointParameters(titleId: 183559, episodeId: 654, limit: 1))
        #expect(cbox.url.hasPrefix("https://apis.naver.com/commentBox/cbox/web_naver_list_jsonp.json?ticket=comic&"))
        #expect(cbox.url.contains("&objectId=183559_654&"))
        let community = naverRequest(.communityComments, EndpointParameters(titleId: 183559, episodeId: 654, limit: 1))
        #expect(community.url.contains("/comment/api/community/v2/posts?pageId=webtoon_183559_654&"))
        #expect(community.headers.contains(HeaderField("Service-Ticket-Id", "comic_webtoon")))
        #expect(community.headers.contains(HeaderField("Accept-Language", "ko")))
        #expect(community.headers.contains(HeaderField("Referer", "https://comic.naver.com")))
    }

    @Test func kakaoRequestsMatchTheNotes() {
        #expect(
            kakaoRequest(.weekdayTitles, EndpointParameters(day: 6)).url
                == "https://gateway-kw.kakao.com/section/v2/timetables/days?placement=timetable_sun")
        #expect(
            kakaoRequest(.finishedTitles).url
                == "https://gateway-kw.kakao.com/section/v2/timetables/days?placement=timetable_completed")
        #expect(
            kakaoRequest(.episodeList, EndpointParameters(titleId: 2467, offset: 40, limit: 20)).url
                == "https://gateway-kw.kakao.com/episode/v2/views/content-home/contents/2467/episodes?sort=-NO&offset=40&limit=20")
        #expect(
            kakaoRequest(.episodeLikes, EndpointParameters(titleId: 2467, episodeId: 123456)).url
                == "https://gateway-kw.kakao.com/popularity/v1/reviews/episode/123456?contentId=2467")
        #expect(kakaoRequest(.titleInfo, EndpointParameters(titleId: 2467)).headers.contains(HeaderField("Accept-Language", "ko")))
    }

    @Test func oneOverrideReplacesEveryHost() throws {
        let simulated = try naver.overridingBaseURL("http://127.0.0.1:4567/")
        for endpoint in Endpoint.required(for: .naver) {
            let url = simulated.request(endpoint, EndpointParameters(titleId: 1, episodeId: 2, page: 1, limit: 1)).url
            #expect(url.hasPrefix("http://127.0.0.1:4567/"), "\(endpoint): \(url)")
        }
        for bad in ["ftp://x", "http://", "http://a b", "http://h/p?q=1", "http://user@h", "127.0.0.1:80"] {
            #expect(throws: CatalogError.self, "\(bad)") { try naver.overridingBaseURL(bad) }
        }
    }

    /// Each broken catalog names the file and the key at fault.
    @Test(arguments: [
        (#""politeness": {"#, #""politeness": {"burst": "five", "#, "politeness.burst"),
        (#""host": "apis""#, #""host": "nowhere""#, "endpoints.comments.host"),
        (#"["page", "{page}"]"#, #"["page", "{pages}"]"#, "endpoints.episodeList.query[1]"),
        (#""maxAttempts": 5"#, #""maxAttempts": 0"#, "retry.maxAttempts"),
        (#""platform": "naver""#, #""platform": "line""#, "platform"),
        (#""episodeLikes": {"#, #""episodeLikesX": {"#, "endpoints.episodeLikesX"),
        (#""like": "https://comic.like.naver.com""#, #""like": "comic.like.naver.com""#, "hosts.like"),
        (#""Accept-Language": "ko""#, #""Accept Language": "ko""#, "headers.Accept Language"),
        (#""commentApi": "communityComments""#, #""commentApi": "episodeLikes""#, "crawl.commentApi"),
    ])
    func badCatalogNamesFileAndKey(original: String, replacement: String, key: String) throws {
        let text = String(decoding: try Fixtures.config("naver.json"), as: UTF8.self)
        #expect(text.contains(original))
        let broken = text.replacingOccurrences(of: original, with: replacement)
        let error = #expect(throws: CatalogError.self) {
            try EndpointCatalog.load(json: broken, source: "config/naver.json")
        }
        #expect(error?.source == "config/naver.json")
        #expect(error?.key == key, "\(String(describing: error))")
        #expect(error?.description.contains("config/naver.json: \(key)") == true)
    }

    @Test func missingEndpointAndNotJSONAreClear() throws {
        let text = String(decoding: try Fixtures.config("kakao.json"), as: UTF8.self)
        let withoutLikes = text.replacingOccurrences(of: #""episodeLikes": {"#, with: #""ignoredLikes": {"#)
        let missing = #expect(throws: CatalogError.self) { try EndpointCatalog.load(json: withoutLikes, source: "k.json") }
        #expect(missing?.key == "endpoints.ignoredLikes")  // unknown keys are refused first
        let notJSON = #expect(throws: CatalogError.self) { try EndpointCatalog.load(json: "{\"platform\": ", source: "k.json") }
        #expect(notJSON?.code == .malformed)
        let noRetry = text.replacingOccurrences(of: #""retry": {"#, with: #""retries": {"#)
        let absent = #expect(throws: CatalogError.self) { try EndpointCatalog.load(json: noRetry, source: "k.json") }
        #expect(absent?.code == .missingKey)
        #expect(absent?.key == "retry")
        #expect(throws: CatalogError.self) { try EndpointCatalog.load(json: text, source: "k.json", expecting: .naver) }
    }
}

@Suite struct CatalogPropertyTests {
    /// Whatever numbers a request carries, every URL stays on the catalog's host with only safe characters.
    @Test func urlsAreWellFormedForAnyParameters() {
        var generator = SplitMix64(seed: 11)
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%/:?&=".unicodeScalars)
        for _ in 0..<500 {
            let p = EndpointParameters(
                titleId: Int64(generator.next() >> 1), episodeId: Int64(generator.next() >> 1),
                page: Int(generator.next() % 100_000), offset: Int(generator.next() % 1_000_000),
                limit: Int(generator.next() % 10_000), day: Int(generator.next() % 7))
            for catalog in [naver, kakao] {
                for endpoint in Endpoint.required(for: catalog.platform) {
                    let url = catalog.request(endpoint, p).url
                    #expect(url.unicodeScalars.allSatisfy { allowed.contains($0) }, "\(url)")
                    #expect(catalog.hosts.values.contains { url.hasPrefix($0 + "/") }, "\(url)")
                    let namesTitle = ![.weekdayTitles, .finishedTitles].contains(endpoint)
                        && !(catalog.platform == .kakao && endpoint == .comments)  // K5 carries only the episode id
                    #expect(!namesTitle || url.contains(String(p.titleId!)), "\(url)")
                }
            }
        }
    }

    /// Random byte damage to a catalog never crashes the loader; every refusal names the file.
    @Test func damagedCatalogsAreRefusedWithTheirSource() throws {
        let original = try Fixtures.config("kakao.json")
        var generator = SplitMix64(seed: 5)
        var refused = 0
        for round in 0..<300 {
            var bytes = original
            if round % 2 == 0 {
                bytes = Array(bytes.prefix(Int(generator.next() % UInt64(bytes.count))))
            } else {
                let i = Int(generator.next() % UInt64(bytes.count))
                bytes[i] = UInt8(truncatingIfNeeded: generator.next())
            }
            do {
                _ = try EndpointCatalog.load(json: bytes, source: "damaged.json")
            } catch {
                refused += 1
                #expect(error.source == "damaged.json")
                #expect(error.description.hasPrefix("damaged.json: "))
            }
        }
        #expect(refused > 150)
    }
}
