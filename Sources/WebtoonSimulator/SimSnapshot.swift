import NIOCore
import Synchronization

/// The catalog as seen on one day, with the bodies of list endpoints cached (they do not depend on the request).
final class SimSnapshot: Sendable {
    let catalog: SimCatalog
    let day: CalendarDay
    private let cache = Mutex<[String: ByteBuffer]>([:])
    /// Naver's finished titles sorted per `order`, shared by every page (sorting the whole list per page made
    /// prewarming the ~70 finished pages of the full catalog a third of the simulator's CPU in a daily run).
    private let finishedSorted = Mutex<[String: [SimTitle]]>([:])

    init(catalog: SimCatalog, day: CalendarDay) {
        self.catalog = catalog
        self.day = day
    }

    /// How many list bodies are cached (for tests).
    var cachedBodyCount: Int { cache.withLock { $0.count } }

    /// Builds a body once per key; concurrent first requests may both build it, which is harmless.
    func cached(_ key: String, _ build: () -> [UInt8]) -> ByteBuffer {
        if let hit = cache.withLock({ $0[key] }) { return hit }
        let buffer = ByteBuffer(bytes: build())
        cache.withLock { $0[key] = buffer }
        return buffer
    }

    /// Builds the cached list bodies a crawl asks for first (weekday lists, finished pages, timetables), so that the
    /// first crawl request does not pay for the multi-megabyte Kakao completed list on an event loop.
    func prewarm() {
        let kakao = ["accept-language": "ko"]
        _ = respond(to: SimRequest(path: "/api/webtoon/titlelist/weekday", query: ["order": "view"]))
        let finished = catalog.naver.count(where: \.completed)
        for page in 1...max(1, (finished + naverFinishedPageSize - 1) / naverFinishedPageSize) {
            _ = respond(to: SimRequest(path: "/api/webtoon/titlelist/finished",
                                       query: ["order": "view", "page": String(page)]))
        }
        for placement in Weekday.kakaoPlacements + ["completed"] {
            _ = respond(to: SimRequest(path: "/section/v2/timetables/days",
                                       query: ["placement": "timetable_\(placement)"], headers: kakao))
        }
    }

    /// Routes a platform request. Returns nil for a path neither platform serves.
    func respond(to request: SimRequest) -> SimResponse? {
        let path = request.path
        if path.hasPrefix("/api/") || path.hasPrefix("/commentBox/") || path.hasPrefix("/comment/api/")
            || path.hasPrefix("/v1/search/")
        {
            return respondNaver(to: request)
        }
        if path.hasPrefix("/section/") || path.hasPrefix("/decorator/") || path.hasPrefix("/episode/")
            || path.hasPrefix("/comment/v1/") || path.hasPrefix("/popularity/")
        {
            guard let language = request.headers["accept-language"], language.lowercased().contains("ko") else {
                return kakaoError(403, "FORBIDDEN", "Accept-Language: ko is required", endpoint: kakaoEndpoint(path))
            }
            return respondKakao(to: request)
        }
        return nil
    }

    /// The counter key a Kakao path belongs to.
    func kakaoEndpoint(_ path: String) -> String {
        if path.hasPrefix("/section/") { return "kakao.timetable" }
        if path.hasPrefix("/decorator/") { return "kakao.decorator" }
        if path.hasPrefix("/episode/") { return "kakao.episodes" }
        if path.hasPrefix("/comment/") { return "kakao.comments" }
        return "kakao.popularity"
    }

    // MARK: Naver

    private func respondNaver(to request: SimRequest) -> SimResponse? {
        switch request.path {
        case "/api/webtoon/titlelist/weekday": return naverWeekday(request)
        case "/api/webtoon/titlelist/finished": return naverFinished(request)
        case "/api/article/list/info": return naverInfo(request)
        case "/api/article/list": return naverArticles(request)
        case "/api/userAction/info": return naverUserAction(request)
        case "/commentBox/cbox/web_naver_list_jsonp.json": return naverCbox(request)
        case "/comment/api/community/v2/posts": return naverPosts(request)
        case "/v1/search/contents": return naverLikes(request)
        default: return nil
        }
    }

    private func naverError(_ status: Int, _ message: String, endpoint: String) -> SimResponse {
        var w = JSONWriter(capacity: 128)
        w.object { w in
            w.field("status", status)
            w.field("errorCode", status == 401 ? "UNAUTHORIZED" : status == 404 ? "NOT_FOUND" : "BAD_REQUEST")
            w.field("message", message)
        }
        return SimResponse(status: status, bytes: w.bytes, endpoint: endpoint, platform: .naver)
    }

    private func ok(_ bytes: [UInt8], _ endpoint: String, _ platform: SimPlatform) -> SimResponse {
        SimResponse(status: 200, bytes: bytes, endpoint: endpoint, platform: platform)
    }

    /// The `order` parameter, with unknown values treated as the default `view`.
    private static func naverOrder(_ request: SimRequest) -> String {
        let order = request.query["order"] ?? "view"
        return ["view", "user", "UPDATE", "STAR_SCORE"].contains(order) ? order : "view"
    }

    /// Titles sorted for an `order` value: `view` (default), `user`, `UPDATE`, `STAR_SCORE`.
    private func naverSorted(_ titles: [SimTitle], order: String) -> [SimTitle] {
        switch order {
        case "UPDATE":
            return titles.sorted {
                let a = $0.schedule.date(ofEpisode: max(0, $0.schedule.count(on: day) - 1))
                let b = $1.schedule.date(ofEpisode: max(0, $1.schedule.count(on: day) - 1))
                return (a, $0.id) > (b, $1.id)
            }
        case "STAR_SCORE": return titles.sorted { ($0.starHundredths, $0.id) > ($1.starHundredths, $1.id) }
        case "user": return titles.sorted { ($0.popularity, $0.viewKey) > ($1.popularity, $1.viewKey) }
        default: return titles.sorted { $0.viewKey > $1.viewKey }
        }
    }

    /// `naverSorted` of the finished titles, built once per order (concurrent first callers may both build it).
    private func naverSortedFinished(order: String) -> [SimTitle] {
        if let hit = finishedSorted.withLock({ $0[order] }) { return hit }
        let sorted = naverSorted(catalog.naver.filter(\.completed), order: order)
        finishedSorted.withLock { $0[order] = sorted }
        return sorted
    }

    private func writeNaverItem(_ w: inout JSONWriter, _ t: SimTitle) {
        let count = t.schedule.count(on: day)
        let latest = count > 0 ? t.schedule.date(ofEpisode: count - 1) : nil
        w.object { w in
            w.field("titleId", t.id)
            w.field("titleName", t.name)
            w.field("author", t.author)
            w.field("thumbnailUrl", t.thumbnailUrl)
            w.field("up", latest == day)
            w.field("rest", false)
            w.field("bm", t.waitForFree)
            w.field("adult", t.adult)
            w.key("starScore")
            w.hundredths(t.starHundredths)
            w.field("viewCount", 0)
            w.field("openToday", false)
            w.field("potenUp", false)
            w.field("bestChallengeLevelUp", false)
            w.field("finish", t.completed)
            w.field("new", count > 0 && day - t.schedule.date(ofEpisode: 0) < 30)
        }
    }

    private func naverWeekday(_ request: SimRequest) -> SimResponse {
        let order = Self.naverOrder(request)
        // Only known `week` values are cached, so arbitrary query strings cannot grow the cache.
        let week = request.query["week"].flatMap {
            $0 == "dailyPlus" || Weekday.kakaoPlacements.contains($0) ? $0 : "unknown"
        }
        let body = cached("naver.weekday|\(order)|\(week ?? "")") {
            let weekly = catalog.naver.filter { !$0.completed }
            var w = JSONWriter(capacity: 1 << 16)
            if let week {
                let selected: [SimTitle]
                if week == "dailyPlus" {
                    selected = weekly.filter(\.dailyPass)
                } else if let d = Weekday.kakaoPlacements.firstIndex(of: week) {
                    selected = weekly.filter { $0.weekdays.contains(d) }
                } else {
                    selected = []
                }
                w.object { w in
                    w.array("titleList") { w in for t in naverSorted(selected, order: order) { writeNaverItem(&w, t) } }
                }
                return w.bytes
            }
            let sorted = naverSorted(weekly, order: order)
            w.object { w in
                w.object("titleListMap") { w in
                    for (d, key) in Weekday.naverKeys.enumerated() {
                        w.dynamicKey(key)
                        w.array { w in for t in sorted where t.weekdays.contains(d) { writeNaverItem(&w, t) } }
                    }
                }
            }
            return w.bytes
        }
        return SimResponse(status: 200, body: body, endpoint: "naver.titlelist.weekday", platform: .naver)
    }

    /// Real pages hold about 45 titles (3,114 titles on 70 pages); the small catalog uses 8 so it has several pages.
    var naverFinishedPageSize: Int { catalog.scale == .small ? 8 : 45 }
    static let naverArticlePageSize = 20

    private func writePageInfo(_ w: inout JSONWriter, totalRows: Int, pageSize: Int, page: Int, rawPage: Int) {
        let totalPages = max(1, (totalRows + pageSize - 1) / pageSize)
        w.object("pageInfo") { w in
            w.field("totalRows", totalRows)
            w.field("pageSize", pageSize)
            w.field("indexSize", 10)
            w.field("page", page)
            w.field("endRowNum", min(totalRows, page * pageSize))
            w.field("rawPage", rawPage)
            w.field("lastPage", totalPages)
            w.field("totalPages", totalPages)
            w.field("startRowNum", min(totalRows, (page - 1) * pageSize + 1))
            w.field("firstPage", 1)
            w.field("prevPage", page > 1 ? page - 1 : 0)
            w.field("nextPage", page < totalPages ? page + 1 : 0)
        }
    }

    private func naverFinished(_ request: SimRequest) -> SimResponse {
        let order = Self.naverOrder(request)
        let finished = catalog.naver.count(where: \.completed)
        let totalPages = max(1, (finished + naverFinishedPageSize - 1) / naverFinishedPageSize)
        let rawPage = request.int("page") ?? 1
        // A page past the end answers the last page again, as the real site does.
        let page = min(max(rawPage, 1), totalPages)
        let build = { [self] () -> [UInt8] in
            let sorted = naverSortedFinished(order: order)
            let slice = sorted[min(sorted.count, (page - 1) * naverFinishedPageSize)..<min(
                sorted.count, page * naverFinishedPageSize)]
            var w = JSONWriter(capacity: 1 << 14)
            w.object { w in
                w.array("titleList") { w in for t in slice { writeNaverItem(&w, t) } }
                writePageInfo(&w, totalRows: finished, pageSize: naverFinishedPageSize, page: page,
                              rawPage: rawPage)
            }
            return w.bytes
        }
        // Out-of-range pages echo `rawPage`, so they are built each time rather than cached under arbitrary keys.
        let body = rawPage == page ? cached("naver.finished|\(order)|\(page)", build) : ByteBuffer(bytes: build())
        return SimResponse(status: 200, body: body, endpoint: "naver.titlelist.finished", platform: .naver)
    }

    private func naverTitle(_ request: SimRequest, endpoint: String) -> Result<SimTitle, SimResponseBox> {
        guard let raw = request.query["titleId"], let id = Int64(raw) else {
            return .failure(SimResponseBox(naverError(400, "titleId is required", endpoint: endpoint)))
        }
        guard let title = catalog.title(.naver, id: id) else {
            return .failure(SimResponseBox(naverError(404, "no title \(id)", endpoint: endpoint)))
        }
        return .success(title)
    }

    private static let ageDescriptions = [
        "RATE_ALL": "전체연령가", "RATE_12": "12세 이용가", "RATE_15": "15세 이용가", "RATE_18": "18세 이용가",
    ]

    private func naverInfo(_ request: SimRequest) -> SimResponse {
        let endpoint = "naver.article.info"
        let t: SimTitle
        switch naverTitle(request, endpoint: endpoint) {
        case .success(let title): t = title
        case .failure(let box): return box.response
        }
        let visible = catalog.naverVisibleRange(t, on: day)
        var w = JSONWriter(capacity: 4_096)
        w.object { w in
            w.field("titleId", t.id)
            w.field("thumbnailUrl", t.thumbnailUrl)
            w.field("sharedThumbnailUrl", t.thumbnailUrl.replacingEvery("image-comic", with: "shared-comic"))
            w.field("titleName", t.name)
            w.field("webtoonLevelCode", "WEBTOON")
            w.object("author") { w in
                for (key, role) in [("writers", "AUTHOR"), ("painters", "ILLUSTRATOR"), ("originAuthors", "ORIGIN")] {
                    w.dynamicKey(key)
                    w.array { w in
                        for a in t.authors where a.role == role {
                            w.object { w in
                                w.field("id", a.id)
                                w.field("name", a.name)
                            }
                        }
                    }
                }
            }
            w.array("thumbnailBadgeList") { _ in }
            w.object("age") { w in
                w.field("type", t.ageType)
                w.field("description", Self.ageDescriptions[t.ageType] ?? "")
            }
            w.field("publishDescription",
                    t.completed ? "완결웹툰" : t.weekdays.map { Weekday.korean[$0] }.joined(separator: ", ") + "요웹툰")
            w.field("synopsis", t.synopsis)
            w.field("favoriteCount", catalog.counter(t, on: day))
            w.field("favorite", false)
            w.key("latestReadArticle")
            w.null()
            w.key("firstArticle")
            if visible.isEmpty {
                w.null()
            } else {
                let first = catalog.episode(t, index: visible.lowerBound, on: day)
                w.object { w in
                    w.field("no", first.no)
                    w.field("subtitle", first.title)
                    w.field("charge", false)
                }
            }
            w.array("publishDayOfWeekList") { w in for d in t.weekdays { w.string(Weekday.naverKeys[d]) } }
            w.field("rest", false)
            w.field("finished", t.completed)
            w.field("dailyPass", t.dailyPass)
            w.array("curationTagList") { w in
                for tag in t.tags {
                    w.object { w in
                        w.field("id", tag.id)
                        w.field("tagName", tag.tagName)
                        w.field("urlPath", tag.urlPath)
                        w.field("curationType", tag.curationType)
                    }
                }
            }
            w.array("adBannerList") { _ in }
            w.field("chargeBestChallenge", false)
            w.field("contentsNo", t.id &* 7 % 900_000 + 100_000)
            w.field("new", false)
        }
        return ok(w.bytes, endpoint, .naver)
    }

    private func naverArticles(_ request: SimRequest) -> SimResponse {
        let endpoint = "naver.article.list"
        let t: SimTitle
        switch naverTitle(request, endpoint: endpoint) {
        case .success(let title): t = title
        case .failure(let box): return box.response
        }
        if t.adult { return naverError(401, "login required for adult content", endpoint: endpoint) }
        let visible = catalog.naverVisibleRange(t, on: day)
        let total = t.schedule.count(on: day)
        let pageSize = Self.naverArticlePageSize
        let totalPages = max(1, (visible.count + pageSize - 1) / pageSize)
        let rawPage = request.int("page") ?? 1
        let page = min(max(rawPage, 1), totalPages)
        let ascending = request.query["sort"] == "ASC"
        let start = (page - 1) * pageSize
        let positions = start..<min(visible.count, start + pageSize)
        var w = JSONWriter(capacity: 8_192)
        w.object { w in
            w.field("titleId", t.id)
            w.field("webtoonLevelCode", "WEBTOON")
            w.field("totalCount", total)
            w.field("finished", t.completed)
            w.field("dailyPass", t.dailyPass)
            w.array("chargeFolderArticleList") { _ in }
            writePageInfo(&w, totalRows: visible.count, pageSize: pageSize, page: page, rawPage: rawPage)
            w.array("articleList") { w in
                for position in positions {
                    let k = ascending ? visible.lowerBound + position : visible.upperBound - 1 - position
                    let e = catalog.episode(t, index: k, on: day)
                    w.object { w in
                        w.field("no", e.no)
                        w.field("thumbnailUrl", e.thumbnailUrl)
                        w.field("subtitle", e.title)
                        w.key("starScore")
                        w.hundredths(e.ratingHundredths)
                        w.field("bgm", false)
                        w.field("up", e.date == day)
                        w.field("charge", false)
                        w.field("serviceDateDescription", e.date.naverShort)
                        w.field("volumeNo", e.volumeNo)
                        w.field("hasReadLog", false)
                        w.field("recentlyReadLog", false)
                        w.field("thumbnailClock", false)
                        w.field("thumbnailLock", false)
                    }
                }
            }
        }
        return ok(w.bytes, endpoint, .naver)
    }

    /// Resolves `(titleId, no)` to a published episode.
    private func naverEpisode(titleId: Int64?, no: Int?, endpoint: String)
        -> Result<(SimTitle, SimEpisode), SimResponseBox>
    {
        guard let titleId, let no else {
            return .failure(SimResponseBox(naverError(400, "titleId and no are required", endpoint: endpoint)))
        }
        guard let t = catalog.title(.naver, id: titleId), let k = catalog.naverIndex(of: t, no: no),
            k < t.schedule.count(on: day)
        else {
            return .failure(SimResponseBox(naverError(404, "no article \(titleId)_\(no)", endpoint: endpoint)))
        }
        return .success((t, catalog.episode(t, index: k, on: day)))
    }

    /// Parses `{titleId}_{no}` (cbox objectId, like contentsId).
    private func splitObjectId(_ text: Substring) -> (Int64?, Int?) {
        let parts = text.split(separator: "_")
        guard parts.count == 2 else { return (nil, nil) }
        return (Int64(parts[0]), Int(parts[1]))
    }

    private func naverUserAction(_ request: SimRequest) -> SimResponse {
        let endpoint = "naver.userAction"
        let e: SimEpisode
        switch naverEpisode(titleId: request.query["titleId"].flatMap { Int64($0) }, no: request.int("no"),
                            endpoint: endpoint)
        {
        case .success(let pair): e = pair.1
        case .failure(let box): return box.response
        }
        var w = JSONWriter(capacity: 160)
        w.object { w in
            w.object("starInfo") { w in
                w.field("star", false)
                w.field("starScore", 0)
                w.key("averageStarScore")
                w.hundredths(e.ratingHundredths)
                w.field("starScoreCount", e.ratingCount)
            }
            w.field("viewCount", 0)
        }
        return ok(w.bytes, endpoint, .naver)
    }

    private func naverCbox(_ request: SimRequest) -> SimResponse {
        let endpoint = "naver.cbox"
        let callback = request.query["_callback"].flatMap { $0.isEmpty ? nil : $0 } ?? "_callback"
        let callbackIsSafe = callback.utf8.allSatisfy {
            $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || (0x30...0x39).contains($0)
                || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0)
        }
        guard callbackIsSafe else { return naverError(400, "invalid _callback", endpoint: endpoint) }
        guard let referer = request.headers["referer"], referer.contains("naver.com") else {
            return naverError(403, "a comic.naver.com Referer is required", endpoint: endpoint)
        }
        let (titleId, no) = splitObjectId(Substring(request.query["objectId"] ?? ""))
        let e: SimEpisode
        switch naverEpisode(titleId: titleId, no: no, endpoint: endpoint) {
        case .success(let pair): e = pair.1
        case .failure(let box): return box.response
        }
        let pageSize = max(1, min(100, request.int("pageSize") ?? 15))
        let objectId = "\(titleId ?? 0)_\(no ?? 0)"
        var w = JSONWriter(capacity: 1_024)
        w.raw(callback)
        w.raw("(")
        w.object { w in
            w.field("success", true)
            w.object("result") { w in
                w.array("commentList") { w in
                    // Only the first comment is rendered; with 0 comments the list is empty (no objectId to read).
                    if e.comments > 0 {
                        w.object { w in
                            w.field("objectId", objectId)
                            w.field("commentNo", String(1_000_000_000 + e.episodeId * 131 % 999_983))
                            w.field("parentCommentNo", String(1_000_000_000 + e.episodeId * 131 % 999_983))
                            w.field("userName", "abcd****")
                            w.field("contents", "댓글")
                            w.field("sympathyCount", Int(e.likes % 97))
                            w.field("antipathyCount", 0)
                            w.field("replyCount", 0)
                            w.field("best", false)
                            w.field("modTime", "\(e.date.iso)T23:10:11+0900")
                            w.field("deleted", false)
                            w.field("expose", true)
                            w.field("anonymous", false)
                            w.field("visible", true)
                            w.field("mine", false)
                            w.field("manager", false)
                        }
                    }
                }
                w.array("bestList") { _ in }
                w.object("count") { w in
                    w.field("comment", e.comments - e.replies)
                    w.field("reply", e.replies)
                    w.field("total", e.comments)
                }
                w.object("pageModel") { w in
                    w.field("page", 1)
                    w.field("totalPages", Int((e.comments - e.replies + Int64(pageSize) - 1) / Int64(pageSize)))
                }
            }
        }
        w.raw(");")
        return SimResponse(status: 200, contentType: .javascript, bytes: w.bytes, endpoint: endpoint, platform: .naver)
    }

    private func naverPosts(_ request: SimRequest) -> SimResponse {
        let endpoint = "naver.comment.v2"
        guard request.headers["service-ticket-id"] == "comic_webtoon" else {
            return naverError(403, "header Service-Ticket-Id: comic_webtoon is required", endpoint: endpoint)
        }
        // pageId = webtoon_{titleId}_{no}
        let parts = (request.query["pageId"] ?? "").split(separator: "_")
        let e: SimEpisode
        let titleId = parts.count == 3 ? Int64(parts[1]) : nil
        switch naverEpisode(titleId: titleId, no: parts.count == 3 ? Int(parts[2]) : nil, endpoint: endpoint) {
        case .success(let pair): e = pair.1
        case .failure(let box): return box.response
        }
        var w = JSONWriter(capacity: 256)
        w.object { w in
            w.field("status", "success")
            w.object("result") { w in
                w.array("posts") { _ in }
                w.object("pagination") { w in
                    w.key("next")
                    w.null()
                    w.key("prev")
                    w.null()
                }
                w.field("postCount", e.comments)
                w.field("rootPostCount", e.comments - e.replies)
                w.field("activePostCount", e.comments)
                w.field("activeRootPostCount", e.comments - e.replies)
                w.field("isPageOwner", false)
                w.array("tops") { _ in }
                w.array("pins") { _ in }
            }
        }
        return ok(w.bytes, endpoint, .naver)
    }

    private func naverLikes(_ request: SimRequest) -> SimResponse {
        let endpoint = "naver.likes"
        // q=COMIC[{titleId}_{no}]
        let q = request.query["q"] ?? ""
        guard q.hasPrefix("COMIC["), q.hasSuffix("]") else {
            return naverError(400, "q must be COMIC[{titleId}_{no}]", endpoint: endpoint)
        }
        let inner = q.dropFirst(6).dropLast()
        let (titleId, no) = splitObjectId(inner)
        let e: SimEpisode
        switch naverEpisode(titleId: titleId, no: no, endpoint: endpoint) {
        case .success(let pair): e = pair.1
        case .failure(let box): return box.response
        }
        var w = JSONWriter(capacity: 192)
        w.object { w in
            w.array("contents") { w in
                w.object { w in
                    w.field("contentsId", String(inner))
                    w.array("reactions") { w in w.object { w in w.field("count", e.likes) } }
                    w.object("reactionMap") { _ in }
                }
            }
            w.field("timestamp", Int64(day.number) * 86_400_000 - 9 * 3_600_000 + 43_200_000)
        }
        return ok(w.bytes, endpoint, .naver)
    }

    // MARK: Kakao

    func kakaoError(_ status: Int, _ code: String, _ message: String, endpoint: String) -> SimResponse {
        var w = JSONWriter(capacity: 128)
        w.object { w in
            w.field("errorCode", code)
            w.field("errorMessage", message)
        }
        return SimResponse(status: status, bytes: w.bytes, endpoint: endpoint, platform: .kakao)
    }

    private func respondKakao(to request: SimRequest) -> SimResponse? {
        let path = request.path
        if path == "/section/v2/timetables/days" { return kakaoTimetable(request) }
        let segments = path.split(separator: "/")
        // /decorator/v2/decorator/contents/{id}[/profile]
        if segments.count >= 5, segments[0] == "decorator", segments[1] == "v2", segments[2] == "decorator",
            segments[3] == "contents", segments.count <= 6
        {
            let profile = segments.count == 6
            if profile && segments[5] != "profile" { return nil }
            return kakaoDecorator(id: Int64(segments[4]), profile: profile)
        }
        // /episode/v2/views/content-home/contents/{id}/episodes
        if segments.count == 7, segments[0] == "episode", segments[1] == "v2", segments[2] == "views",
            segments[3] == "content-home", segments[4] == "contents", segments[6] == "episodes"
        {
            return kakaoEpisodes(id: Int64(segments[5]), request)
        }
        if path == "/comment/v1/comments" { return kakaoComments(request) }
        // /popularity/v1/reviews/episode/{id}
        if segments.count == 5, segments[0] == "popularity", segments[1] == "v1", segments[2] == "reviews",
            segments[3] == "episode"
        {
            return kakaoPopularity(episodeId: Int64(segments[4]), request)
        }
        return nil
    }

    private func writeKakaoAuthors(_ w: inout JSONWriter, _ t: SimTitle) {
        w.array("authors") { w in
            for a in t.authors {
                w.object { w in
                    w.field("name", a.name)
                    w.field("type", a.role)
                }
            }
        }
    }

    private func kakaoTimetable(_ request: SimRequest) -> SimResponse {
        let endpoint = "kakao.timetable"
        let placement = request.query["placement"] ?? ""
        let titles: [SimTitle]
        let sectionTitle: String
        if placement == "timetable_completed" {
            titles = catalog.kakao.filter(\.completed)
            sectionTitle = "완결"
        } else if placement.hasPrefix("timetable_"),
            let d = Weekday.kakaoPlacements.firstIndex(of: String(placement.dropFirst(10)))
        {
            titles = catalog.kakao.filter { $0.weekdays.contains(d) }
            sectionTitle = Weekday.korean[d]
        } else {
            return kakaoError(404, "NOT_FOUND", "unknown placement '\(placement)'", endpoint: endpoint)
        }
        let body = cached("kakao.timetable|\(placement)") {
            let byViews = titles.sorted { $0.viewKey > $1.viewKey }
            let viewRank = Dictionary(uniqueKeysWithValues: byViews.enumerated().map { ($1.id, $0 + 1) })
            let byPopularity = titles.sorted { ($0.popularity, $0.viewKey) > ($1.popularity, $1.viewKey) }
            var w = JSONWriter(capacity: titles.count * 1_900 + 512)
            w.object { w in
                w.array("data") { w in
                    w.object { w in
                        let dayIndex = Weekday.korean.firstIndex(of: sectionTitle) ?? 0
                        w.field("id", placement == "timetable_completed" ? 8 : 1 + dayIndex)
                        w.field("title", sectionTitle)
                        w.field("module", "WEEKDAYS")
                        w.field("placement", placement)
                        w.array("cardGroups") { w in
                            w.object { w in
                                w.array("cards") { w in
                                    for (rank, t) in byPopularity.enumerated() {
                                        writeKakaoCard(&w, t, popularity: rank + 1, views: viewRank[t.id] ?? 0)
                                    }
                                }
                            }
                        }
                    }
                }
                w.object("meta") { _ in }
            }
            return w.bytes
        }
        return SimResponse(status: 200, body: body, endpoint: endpoint, platform: .kakao)
    }

    private func writeKakaoCard(_ w: inout JSONWriter, _ t: SimTitle, popularity: Int, views: Int) {
        let count = t.schedule.count(on: day)
        let up = count > 0 && t.schedule.date(ofEpisode: count - 1) == day
        w.object { w in
            w.field("id", "card-\(t.id)")
            w.object("content") { w in
                w.field("id", t.id)
                w.field("seoId", t.seoId)
                w.field("title", t.name)
                w.field("adult", t.adult)
                writeKakaoAuthors(&w, t)
                w.array("badges") { w in
                    if up {
                        w.object { w in
                            w.field("title", "up")
                            w.field("type", "UP")
                        }
                    }
                    w.object { w in
                        w.field("title", t.waitForFree ? "WAIT_FOR_FREE" : "FREE_PUBLISHING")
                        w.field("type", "INFO")
                    }
                }
                w.array("seoKeywords") { w in for k in t.keywords { w.string("#" + k) } }
                w.field("catchphraseTwoLines", t.synopsis)
                w.field("featuredCharacterImageA", t.thumbnailUrl)
                w.field("featuredCharacterImageB", t.thumbnailUrl.replacingEvery("/c1/", with: "/c2/"))
                w.field("backgroundImage", t.thumbnailUrl.replacingEvery("/c1/", with: "/bg/"))
                w.field("titleImageA", t.thumbnailUrl.replacingEvery("/c1/", with: "/ta/"))
                w.field("titleImageB", t.thumbnailUrl.replacingEvery("/c1/", with: "/tb/"))
                w.field("lookThroughImage", t.thumbnailUrl.replacingEvery("/c1/", with: "/lt/"))
                w.array("lookThroughImages") { w in
                    for i in 1...3 { w.string(t.thumbnailUrl.replacingEvery("/c1/", with: "/lt\(i)/")) }
                }
                w.field("serialStartDateTime", t.schedule.date(ofEpisode: 0).kakaoDateTime)
            }
            w.object("sorting") { w in
                w.field("popularity", popularity)
                w.field("views", views)
            }
            w.array("genreFilters") { w in for k in t.keywords.prefix(2) { w.string(k) } }
        }
    }

    private func kakaoTitle(_ id: Int64?, endpoint: String) -> Result<SimTitle, SimResponseBox> {
        guard let id else {
            return .failure(SimResponseBox(kakaoError(400, "BAD_REQUEST", "invalid content id", endpoint: endpoint)))
        }
        guard let t = catalog.title(.kakao, id: id) else {
            return .failure(SimResponseBox(kakaoError(404, "CONTENT_NOT_FOUND", "content \(id) not found",
                                                      endpoint: endpoint)))
        }
        return .success(t)
    }

    private func kakaoDecorator(id: Int64?, profile: Bool) -> SimResponse {
        let endpoint = "kakao.decorator"
        let t: SimTitle
        switch kakaoTitle(id, endpoint: endpoint) {
        case .success(let title): t = title
        case .failure(let box): return box.response
        }
        var w = JSONWriter(capacity: 1_024)
        w.object { w in
            w.object("data") { w in
                if !profile {
                    w.field("id", t.id)
                    w.field("seoId", t.seoId)
                    w.field("title", t.name)
                }
                w.field("synopsis", t.synopsis)
                if !profile {
                    w.field("genre", t.keywords[0])
                    w.field("status", t.completed ? "COMPLETED" : "EPISODES_PUBLISHING")
                }
                writeKakaoAuthors(&w, t)
                w.array("seoKeywords") { w in for k in t.keywords { w.string("#" + k) } }
                w.array("badges") { w in
                    for d in t.weekdays {
                        w.object { w in
                            w.field("type", "WEEKDAYS")
                            w.field("title", Weekday.kakaoPlacements[d])
                        }
                    }
                }
                if !profile {
                    w.object("statistics") { w in w.field("viewCount", catalog.counter(t, on: day)) }
                    w.field("thumbnailImage", t.thumbnailUrl)
                }
            }
            w.object("meta") { _ in }
        }
        return ok(w.bytes, endpoint, .kakao)
    }

    static let kakaoMaxLimit = 10_000

    private func kakaoEpisodes(id: Int64?, _ request: SimRequest) -> SimResponse {
        let endpoint = "kakao.episodes"
        let t: SimTitle
        switch kakaoTitle(id, endpoint: endpoint) {
        case .success(let title): t = title
        case .failure(let box): return box.response
        }
        let offset = request.query["offset"].map { Int($0) } ?? 0
        let limit = request.query["limit"].map { Int($0) } ?? 30
        guard let offset, let limit, offset >= 0, limit >= 0 else {
            return kakaoError(400, "BAD_REQUEST", "offset and limit must be non-negative integers", endpoint: endpoint)
        }
        let sort = request.query["sort"] ?? "-NO"
        guard sort == "-NO" || sort == "NO" else {
            return kakaoError(400, "BAD_REQUEST", "sort must be NO or -NO", endpoint: endpoint)
        }
        let total = t.schedule.count(on: day)
        let clampedLimit = min(limit, Self.kakaoMaxLimit)
        // Compare before adding, so a huge offset cannot overflow.
        let start = min(offset, total)
        let positions = start..<(total - start > clampedLimit ? start + clampedLimit : total)
        var w = JSONWriter(capacity: 512 + positions.count * 420)
        w.object { w in
            w.object("meta") { w in
                w.object("pagination") { w in
                    w.field("totalCount", total)
                    w.field("last", positions.upperBound >= total)
                }
            }
            w.object("data") { w in
                w.array("episodes") { w in
                    for position in positions {
                        let k = sort == "NO" ? position : total - 1 - position
                        let e = catalog.episode(t, index: k, on: day)
                        w.object { w in
                            w.field("id", e.episodeId)
                            w.field("contentId", t.id)
                            w.field("no", e.no)
                            w.field("seoId", t.seoId)
                            w.field("title", e.title)
                            w.field("useType", "FREE")
                            w.field("adult", t.adult)
                            w.field("ageLimit", t.adult ? 19 : 0)
                            w.field("readable", true)
                            w.field("serialStartDateTime", e.date.kakaoDateTime)
                            w.field("useStartDateTime", e.date.kakaoDateTime)
                            w.object("asset") { w in w.field("thumbnailImage", e.thumbnailUrl) }
                        }
                    }
                }
            }
        }
        return ok(w.bytes, endpoint, .kakao)
    }

    /// Resolves a global Kakao episode id (optionally checked against `contentId`).
    private func kakaoEpisode(_ episodeId: Int64?, contentId: Int64?, endpoint: String)
        -> Result<SimEpisode, SimResponseBox>
    {
        guard let episodeId, episodeId > 0 else {
            return .failure(SimResponseBox(kakaoError(400, "BAD_REQUEST", "invalid episode id", endpoint: endpoint)))
        }
        let titleId = episodeId / SimCatalog.kakaoEpisodeStride
        let k = Int(episodeId % SimCatalog.kakaoEpisodeStride) - 1
        guard let t = catalog.title(.kakao, id: titleId), k >= 0, k < t.schedule.count(on: day),
            contentId == nil || contentId == titleId
        else {
            return .failure(SimResponseBox(kakaoError(404, "EPISODE_NOT_FOUND", "episode \(episodeId) not found",
                                                      endpoint: endpoint)))
        }
        return .success(catalog.episode(t, index: k, on: day))
    }

    private func kakaoComments(_ request: SimRequest) -> SimResponse {
        let endpoint = "kakao.comments"
        guard request.query["relationType"] == "EPISODE" else {
            return kakaoError(400, "BAD_REQUEST", "relationType must be EPISODE", endpoint: endpoint)
        }
        let e: SimEpisode
        switch kakaoEpisode(request.query["relationId"].flatMap { Int64($0) }, contentId: nil, endpoint: endpoint) {
        case .success(let episode): e = episode
        case .failure(let box): return box.response
        }
        let offset = max(0, request.int("offset") ?? 0)
        let limit = max(0, request.int("limit") ?? 10)
        var w = JSONWriter(capacity: 128)
        w.object { w in
            w.object("meta") { w in
                w.object("pagination") { w in
                    w.field("totalCount", e.comments)
                    let (end, overflow) = offset.addingReportingOverflow(limit)
                    w.field("last", overflow || Int64(end) >= e.comments)
                }
            }
            w.array("data") { _ in }
        }
        return ok(w.bytes, endpoint, .kakao)
    }

    private func kakaoPopularity(episodeId: Int64?, _ request: SimRequest) -> SimResponse {
        let endpoint = "kakao.popularity"
        let e: SimEpisode
        let contentId = request.query["contentId"].flatMap { Int64($0) }
        switch kakaoEpisode(episodeId, contentId: contentId, endpoint: endpoint) {
        case .success(let episode): e = episode
        case .failure(let box): return box.response
        }
        var w = JSONWriter(capacity: 96)
        w.object { w in
            w.object("data") { w in
                w.field("episodeId", e.episodeId)
                w.field("likeCount", e.likes)
            }
            w.object("meta") { _ in }
        }
        return ok(w.bytes, endpoint, .kakao)
    }
}

/// Lets an early-exit response travel in a `Result` failure.
struct SimResponseBox: Error {
    let response: SimResponse
    init(_ response: SimResponse) { self.response = response }
}

extension String {
    /// `replacing(target, with: replacement)` (every non-overlapping match, left to right) by bytes, for the
    /// printable-ASCII URLs the simulator rewrites; `_StringProcessing`'s generic searcher was most of the cost of
    /// prewarming Kakao's timetable. Anything else takes the library's path, so the result is always the same.
    func replacingEvery(_ target: String, with replacement: String) -> String {
        func printableASCII(_ text: String) -> Bool { text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F } }
        guard !target.isEmpty, printableASCII(self), printableASCII(target) else {
            return replacing(target, with: replacement)
        }
        let bytes = Array(utf8)
        let pattern = Array(target.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count + replacement.utf8.count)
        var index = 0
        while index + pattern.count <= bytes.count {
            if bytes[index] == pattern[0] && bytes[index..<(index + pattern.count)].elementsEqual(pattern) {
                output.append(contentsOf: replacement.utf8)
                index += pattern.count
            } else {
                output.append(bytes[index])
                index += 1
            }
        }
        output.append(contentsOf: bytes[index...])
        return String(decoding: output, as: UTF8.self)
    }
}
