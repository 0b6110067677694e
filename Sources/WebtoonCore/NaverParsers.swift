/// Parsers for Naver Webtoon responses (see the platform notes, N1–N7). Each takes the body and the request it
/// answers, and returns plain values; the ids in the results are validated positive numbers.
public enum NaverParsers {
    /// A title as N1/N2 list it.
    public struct ListedTitle: Sendable, Hashable {
        public var titleId: Int64
        public var name: String
        public var author: String
        public var thumbnailUrl: String
        public var adult: Bool
    }

    public struct TitleInfo: Sendable, Hashable {
        public var titleId: Int64
        public var ageRating: String?
        public var dailyPass: Bool
        public var finished: Bool?
        public var favoriteCount: Int64?
        public var synopsis: String?
        public var publishWeekdays: [Int]
        /// (name, source) pairs: curation tags with their `curationType`, then `gfpAdCustomParam.tags` if present.
        public var tags: [(name: String, source: String)]

        public static func == (a: Self, b: Self) -> Bool {
            a.titleId == b.titleId && a.ageRating == b.ageRating && a.dailyPass == b.dailyPass
                && a.finished == b.finished && a.favoriteCount == b.favoriteCount && a.synopsis == b.synopsis
                && a.publishWeekdays == b.publishWeekdays
                && a.tags.map { [$0.name, $0.source] } == b.tags.map { [$0.name, $0.source] }
        }
        public func hash(into hasher: inout Hasher) { hasher.combine(titleId) }
    }

    public struct Article: Sendable, Hashable {
        public var no: Int64
        public var subtitle: String
        public var serviceDate: String
        public var thumbnailUrl: String?
        public var charge: Bool?
    }

    public struct ArticlePage: Sendable, Hashable {
        public var totalCount: Int
        public var dailyPass: Bool?
        public var finished: Bool?
        public var pageInfo: PageInfo?
        public var articles: [Article]
    }

    public struct Rating: Sendable, Hashable {
        public var average: Double?
        public var count: Int64?
    }

    public struct CommentSummary: Sendable, Hashable {
        public var total: Int64
        public var top: [(id: String, text: String, likes: Int64, createdAt: String?)]
        public static func == (a: Self, b: Self) -> Bool {
            a.total == b.total
                && a.top.map { "\($0.id)\u{0}\($0.text)\u{0}\($0.likes)\u{0}\($0.createdAt ?? "")" }
                    == b.top.map { "\($0.id)\u{0}\($0.text)\u{0}\($0.likes)\u{0}\($0.createdAt ?? "")" }
        }
        public func hash(into hasher: inout Hasher) { hasher.combine(total) }
    }

    // MARK: N1

    /// Titles per weekday (0 = Monday). Accepts the `titleListMap` shape and the flat `titleList` variant (whose day
    /// is then unknown, reported as -1).
    public static func weekdayTitles(_ body: [UInt8], _ request: EndpointRequest) throws(ResponseError)
        -> [(weekday: Int, title: ListedTitle)]
    {
        let response = try ResponseDecoding.decode(WeekdayResponse.self, body, request)
        var result: [(weekday: Int, title: ListedTitle)] = []
        if let map = response.titleListMap {
            for (key, items) in map.sorted(by: { $0.key < $1.key }) {
                guard let day = Weekdays.naverIndex(key) else { continue }  // e.g. a future "DAILY_PLUS" key
                for (index, item) in items.enumerated() {
                    result.append((day, try item.listed("titleListMap.\(key)[\(index)]", request)))
                }
            }
        } else if let list = response.titleList {
            for (index, item) in list.enumerated() {
                result.append((-1, try item.listed("titleList[\(index)]", request)))
            }
        } else {
            throw ResponseDecoding.failure(
                request, .wrongShape, field: "titleListMap", "neither titleListMap nor titleList is present")
        }
        return result
    }

    // MARK: N2

    public static func finishedTitles(_ body: [UInt8], _ request: EndpointRequest) throws(ResponseError)
        -> (titles: [ListedTitle], pageInfo: PageInfo?)
    {
        let response = try ResponseDecoding.decode(FinishedResponse.self, body, request)
        var titles: [ListedTitle] = []
        for (index, item) in response.titleList.enumerated() {
            titles.append(try item.listed("titleList[\(index)]", request))
        }
        return (titles, response.pageInfo)
    }

    // MARK: N3

    public static func titleInfo(_ body: [UInt8], _ request: EndpointRequest) throws(ResponseError) -> TitleInfo {
        let r = try ResponseDecoding.decodeFast(InfoResponse.self, body, request)
        let id = try ResponseDecoding.id(r.titleId, "titleId", request)
        if let expected = request.parameters.titleId, expected != id {
            throw ResponseDecoding.failure(request, .inconsistent, field: "titleId", "answers for title \(id)")
        }
        if let favorite = r.favoriteCount { _ = try ResponseDecoding.count(favorite, "favoriteCount", request) }
        var tags: [(name: String, source: String)] = []
        for tag in r.curationTagList ?? [] { tags.append((tag.tagName, tag.curationType ?? "CURATION")) }
        for tag in r.gfpAdCustomParam?.tags ?? [] { tags.append((tag, "GFP_TAG")) }
        let weekdays = Set((r.publishDayOfWeekList ?? []).compactMap(Weekdays.naverIndex)).sorted()
        return TitleInfo(
            titleId: id, ageRating: r.age?.type, dailyPass: r.dailyPass ?? false, finished: r.finished,
            favoriteCount: r.favoriteCount, synopsis: r.synopsis, publishWeekdays: weekdays, tags: tags)
    }

    // MARK: N4

    public static func articlePage(_ body: [UInt8], _ request: EndpointRequest) throws(ResponseError) -> ArticlePage {
        let r = try ResponseDecoding.decodeFast(ArticleListResponse.self, body, request)
        if let id = r.titleId, let expected = request.parameters.titleId, id != expected {
            throw ResponseDecoding.failure(request, .inconsistent, field: "titleId", "answers for title \(id)")
        }
        guard r.totalCount >= 0 else {
            throw ResponseDecoding.failure(request, .invalidValue, field: "totalCount", "negative: \(r.totalCount)")
        }
        var articles: [Article] = []
        for (index, a) in r.articleList.enumerated() {
            let no = try ResponseDecoding.id(a.no, "articleList[\(index)].no", request)
            articles.append(
                Article(
                    no: no, subtitle: a.subtitle, serviceDate: a.serviceDateDescription, thumbnailUrl: a.thumbnailUrl,
                    charge: a.charge))
        }
        return ArticlePage(
            totalCount: r.totalCount, dailyPass: r.dailyPass, finished: r.finished, pageInfo: r.pageInfo,
            articles: articles)
    }

    // MARK: N5

    public static func rating(_ body: [UInt8], _ request: EndpointRequest) throws(ResponseError) -> Rating {
        let r = try ResponseDecoding.decodeFast(UserActionResponse.self, body, request)
        if let count = r.starInfo.starScoreCount { _ = try ResponseDecoding.count(count, "starInfo.starScoreCount", request) }
        if let average = r.starInfo.averageStarScore, !average.isFinite || average < 0 {
            throw ResponseDecoding.failure(
                request, .invalidValue, field: "starInfo.averageStarScore", "not a rating: \(average)")
        }
        return Rating(average: r.starInfo.averageStarScore, count: r.starInfo.starScoreCount)
    }

    // MARK: N6 (cbox JSONP)

    public static func cboxComments(_ body: [UInt8], _ request: EndpointRequest, top: Int) throws(ResponseError)
        -> CommentSummary
    {
        let json = try ResponseDecoding.unwrapJSONP(body, request)
        let r = try ResponseDecoding.decodeFast(CboxResponse.self, json, request)
        if r.success == false {
            throw ResponseDecoding.failure(request, .platformError, field: "success", "cbox answered success=false")
        }
        guard let result = r.result else {
            throw ResponseDecoding.failure(request, .wrongShape, field: "result", "required field is missing")
        }
        let total = try ResponseDecoding.count(result.count.total, "result.count.total", request)
        var comments: [(id: String, text: String, likes: Int64, createdAt: String?)] = []
        if top > 0 {
            for item in (result.commentList ?? []).prefix(top) where item.deleted != true {
                comments.append((item.commentNo.text, item.contents ?? "", item.sympathyCount ?? 0, item.modTime))
            }
        }
        return CommentSummary(total: total, top: comments)
    }

    // MARK: N6b (community v2)

    public static func communityComments(_ body: [UInt8], _ request: EndpointRequest, countField: String)
        throws(ResponseError) -> CommentSummary
    {
        let r = try ResponseDecoding.decodeFast(CommunityResponse.self, body, request)
        if r.status != "success" {
            throw ResponseDecoding.failure(request, .platformError, field: "status", "status is \"\(r.status)\"")
        }
        let counts: [String: Int64?] = [
            "postCount": r.result.postCount, "activePostCount": r.result.activePostCount,
            "rootPostCount": r.result.rootPostCount, "activeRootPostCount": r.result.activeRootPostCount,
        ]
        guard let value = counts[countField] ?? nil else {
            throw ResponseDecoding.failure(
                request, .wrongShape, field: "result.\(countField)", "required field is missing")
        }
        return CommentSummary(total: try ResponseDecoding.count(value, "result.\(countField)", request), top: [])
    }

    // MARK: N7

    /// Likes of one episode: the sum of `reactions[].count` of the entry for `{titleId}_{no}`. Nil when the
    /// platform has no entry for it (the caller records why).
    public static func likes(_ body: [UInt8], _ request: EndpointRequest) throws(ResponseError) -> Int64? {
        let r = try ResponseDecoding.decodeFast(LikeResponse.self, body, request)
        let expected = "\(request.parameters.titleId ?? 0)_\(request.parameters.episodeId ?? 0)"
        guard let entry = r.contents.first(where: { $0.contentsId == expected }) else {
            if let other = r.contents.first {
                throw ResponseDecoding.failure(
                    request, .inconsistent, field: "contents[0].contentsId",
                    "answers for \(other.contentsId ?? "nil"), expected \(expected)")
            }
            return nil
        }
        var total: Int64 = 0
        for (index, reaction) in (entry.reactions ?? []).enumerated() {
            let count = try ResponseDecoding.count(reaction.count, "contents[].reactions[\(index)].count", request)
            let (sum, overflow) = total.addingReportingOverflow(count)
            if overflow { throw ResponseDecoding.failure(request, .invalidValue, field: "reactions", "sum overflows") }
            total = sum
        }
        return total
    }

    // MARK: Response shapes (only what we read)

    struct Item: Decodable {
        var titleId: Int64
        var titleName: String
        var author: String
        var thumbnailUrl: String
        var adult: Bool?

        func listed(_ field: String, _ request: EndpointRequest) throws(ResponseError) -> ListedTitle {
            ListedTitle(
                titleId: try ResponseDecoding.id(titleId, "\(field).titleId", request), name: titleName,
                author: author, thumbnailUrl: thumbnailUrl, adult: adult ?? false)
        }
    }

    struct WeekdayResponse: Decodable {
        var titleListMap: [String: [Item]]?
        var titleList: [Item]?
    }

    struct FinishedResponse: Decodable {
        var titleList: [Item]
        var pageInfo: PageInfo?
    }

    struct InfoResponse: Decodable {
        struct Age: Decodable { var type: String? }
        struct Tag: Decodable {
            var tagName: String
            var curationType: String?
        }
        struct Gfp: Decodable { var tags: [String]? }
        var titleId: Int64
        var age: Age?
        var dailyPass: Bool?
        var finished: Bool?
        var favoriteCount: Int64?
        var synopsis: String?
        var publishDayOfWeekList: [String]?
        var curationTagList: [Tag]?
        var gfpAdCustomParam: Gfp?
    }

    struct ArticleListResponse: Decodable {
        struct Article: Decodable {
            var no: Int64
            var subtitle: String
            var serviceDateDescription: String
            var thumbnailUrl: String?
            var charge: Bool?
        }
        var titleId: Int64?
        var totalCount: Int
        var dailyPass: Bool?
        var finished: Bool?
        var pageInfo: PageInfo?
        var articleList: [Article]
    }

    struct UserActionResponse: Decodable {
        struct StarInfo: Decodable {
            var averageStarScore: Double?
            var starScoreCount: Int64?
        }
        var starInfo: StarInfo
    }

    /// cbox comment numbers are strings in some clients and numbers in others; accept both as text.
    struct FlexibleID: Decodable {
        var text: String
        init(text: String) { self.text = text }
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(Int64.self) {
                text = String(number)
            } else {
                text = try container.decode(String.self)
            }
        }
    }

    struct CboxResponse: Decodable {
        struct Result: Decodable {
            struct Count: Decodable { var total: Int64 }
            struct Comment: Decodable {
                var commentNo: FlexibleID
                var contents: String?
                var sympathyCount: Int64?
                var modTime: String?
                var deleted: Bool?
            }
            var count: Count
            var commentList: [Comment]?
        }
        var success: Bool?
        var result: Result?
    }

    struct CommunityResponse: Decodable {
        struct Result: Decodable {
            var postCount: Int64?
            var activePostCount: Int64?
            var rootPostCount: Int64?
            var activeRootPostCount: Int64?
        }
        var status: String
        var result: Result
    }

    struct LikeResponse: Decodable {
        struct Entry: Decodable {
            struct Reaction: Decodable { var count: Int64 }
            var contentsId: String?
            var reactions: [Reaction]?
        }
        var contents: [Entry]
    }
}
