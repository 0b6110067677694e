/// Parsers for Kakao Webtoon gateway responses (K1–K6 in the platform notes; every shape is inferred from client
/// code, so only the fields those clients read are required).
public enum KakaoParsers {
    public struct ListedTitle: Sendable, Hashable {
        public var titleId: Int64
        public var name: String
        /// `authors[].name` joined with " / ", in the order given.
        public var author: String
        public var thumbnailUrl: String
        public var adult: Bool
        /// `seoKeywords` with the leading "#" removed.
        public var keywords: [String]
    }

    public struct TitleInfo: Sendable, Hashable {
        public var titleId: Int64
        public var views: Int64?
        public var publishWeekdays: [Int]
        /// `seoKeywords` with the leading "#" removed.
        public var keywords: [String]
        public var synopsis: String?
        public var adult: Bool?
    }

    public struct Episode: Sendable, Hashable {
        public var id: Int64
        public var no: Int64
        public var title: String
        public var serialStart: String?
        public var thumbnailUrl: String?
        public var useType: String?
    }

    public struct EpisodePage: Sendable, Hashable {
        public var totalCount: Int?
        public var last: Bool?
        public var episodes: [Episode]
    }

    /// Strips Kakao's leading "#" (any number of them) and surrounding spaces; empty keywords are dropped.
    public static func keyword(_ raw: String) -> String? {
        var text = Substring(raw)
        while let first = text.first, first == "#" || first == " " { text = text.dropFirst() }
        while let last = text.last, last == " " { text = text.dropLast() }
        return text.isEmpty ? nil : String(text)
    }

    // MARK: K1/K2

    /// Every card of every section and card group. A title repeated within the response is returned once.
    public static func timetable(_ body: [UInt8], _ request: EndpointRequest) throws(ResponseError) -> [ListedTitle] {
        try rejectErrorEnvelope(body, body.count < 4096 ? FastJSON.parse(body) : nil, request)
        let r = try ResponseDecoding.decode(TimetableResponse.self, body, request)
        var seen: Set<Int64> = []
        var titles: [ListedTitle] = []
        for (s, section) in r.data.enumerated() {
            for (g, group) in (section.cardGroups ?? []).enumerated() {
                for (c, card) in group.cards.enumerated() {
                    let field = "data[\(s)].cardGroups[\(g)].cards[\(c)].content"
                    let content = card.content
                    let id = try ResponseDecoding.id(content.id, "\(field).id", request)
                    guard seen.insert(id).inserted else { continue }
                    titles.append(
                        ListedTitle(
                            titleId: id, name: content.title,
                            author: (content.authors ?? []).map(\.name).joined(separator: " / "),
                            thumbnailUrl: content.featuredCharacterImageA ?? "", adult: content.adult ?? false,
                            keywords: (content.seoKeywords ?? []).compactMap(keyword)))
                }
            }
        }
        return titles
    }

    // MARK: K3

    public static func titleInfo(_ body: [UInt8], _ request: EndpointRequest) throws(ResponseError) -> TitleInfo {
        let tree = FastJSON.parse(body)
        try rejectErrorEnvelope(body, tree, request)
        let r = try ResponseDecoding.decode(DecoratorResponse.self, body, tree, request)
        let id = try ResponseDecoding.id(r.data.id, "data.id", request)
        if let expected = request.parameters.titleId, expected != id {
            throw ResponseDecoding.failure(request, .inconsistent, field: "data.id", "answers for title \(id)")
        }
        if let views = r.data.statistics?.viewCount {
            _ = try ResponseDecoding.count(views, "data.statistics.viewCount", request)
        }
        let days = (r.data.badges ?? []).filter { $0.type == "WEEKDAYS" }.compactMap { Weekdays.kakaoIndex($0.title) }
        return TitleInfo(
            titleId: id, views: r.data.statistics?.viewCount, publishWeekdays: Set(days).sorted(),
            keywords: (r.data.seoKeywords ?? []).compactMap(keyword), synopsis: r.data.synopsis, adult: r.data.adult)
    }

    // MARK: K4

    public static func episodePage(_ body: [UInt8], _ request: EndpointRequest) throws(ResponseError) -> EpisodePage {
        let tree = FastJSON.parse(body)
        try rejectErrorEnvelope(body, tree, request)
        let r = try ResponseDecoding.decode(EpisodesResponse.self, body, tree, request)
        var episodes: [Episode] = []
        for (index, e) in r.data.episodes.enumerated() {
            let field = "data.episodes[\(index)]"
            let id = try ResponseDecoding.id(e.id, "\(field).id", request)
            if let content = e.contentId, let expected = request.parameters.titleId, content != expected {
                throw ResponseDecoding.failure(
                    request, .inconsistent, field: "\(field).contentId", "belongs to title \(content)")
            }
            episodes.append(
                Episode(
                    id: id, no: e.no, title: e.title, serialStart: e.serialStartDateTime,
                    thumbnailUrl: e.asset?.thumbnailImage, useType: e.useType))
        }
        if let total = r.meta?.pagination?.totalCount, total < 0 {
            throw ResponseDecoding.failure(
                request, .invalidValue, field: "meta.pagination.totalCount", "negative: \(total)")
        }
        return EpisodePage(totalCount: r.meta?.pagination?.totalCount, last: r.meta?.pagination?.last, episodes: episodes)
    }

    // MARK: K5

    /// The comment count, `meta.pagination.totalCount`. The body names no ids: they come from the request.
    public static func commentCount(_ body: [UInt8], _ request: EndpointRequest) throws(ResponseError) -> Int64 {
        let tree = FastJSON.parse(body)
        try rejectErrorEnvelope(body, tree, request)
        let r = try ResponseDecoding.decode(CommentsResponse.self, body, tree, request)
        return try ResponseDecoding.count(r.meta.pagination.totalCount, "meta.pagination.totalCount", request)
    }

    // MARK: K6

    public static func likes(_ body: [UInt8], _ request: EndpointRequest) throws(ResponseError) -> Int64 {
        let tree = FastJSON.parse(body)
        try rejectErrorEnvelope(body, tree, request)
        let r = try ResponseDecoding.decode(PopularityResponse.self, body, tree, request)
        if let id = r.data.episodeId, let expected = request.parameters.episodeId, id != expected {
            throw ResponseDecoding.failure(request, .inconsistent, field: "data.episodeId", "answers for episode \(id)")
        }
        return try ResponseDecoding.count(r.data.likeCount, "data.likeCount", request)
    }

    /// `{"errorCode": …, "errorMessage": …}` instead of `{"data": …}`.
    /// `tree` is `body` parsed by `FastJSON` (nil if it could not be): an object without `errorCode` is no envelope,
    /// which spares a failing `JSONDecoder` pass on every ordinary body.
    static func rejectErrorEnvelope(_ body: [UInt8], _ tree: FastJSON?, _ request: EndpointRequest) throws(ResponseError) {
        guard body.count < 4096 else { return }
        if let tree, tree.isObject, let member = tree["errorCode"], member == nil { return }
        guard let envelope = try? ResponseDecoding.decode(ErrorEnvelope.self, body, tree, request) else { return }
        throw ResponseDecoding.failure(
            request, .platformError, field: "errorCode", "\(envelope.errorCode): \(envelope.errorMessage ?? "")")
    }

    // MARK: Response shapes (only what we read)

    struct ErrorEnvelope: Decodable {
        var errorCode: String
        var errorMessage: String?
    }

    struct Author: Decodable { var name: String }

    struct TimetableResponse: Decodable {
        struct Section: Decodable {
            var cardGroups: [Group]?
        }
        struct Group: Decodable { var cards: [Card] }
        struct Card: Decodable { var content: Content }
        struct Content: Decodable {
            var id: Int64
            var title: String
            var adult: Bool?
            var authors: [Author]?
            var seoKeywords: [String]?
            var featuredCharacterImageA: String?
        }
        var data: [Section]
    }

    struct DecoratorResponse: Decodable {
        struct Data: Decodable {
            struct Statistics: Decodable { var viewCount: Int64? }
            struct Badge: Decodable {
                var type: String
                var title: String
            }
            var id: Int64
            var statistics: Statistics?
            var badges: [Badge]?
            var seoKeywords: [String]?
            var synopsis: String?
            var adult: Bool?
        }
        var data: Data
    }

    struct Pagination: Decodable {
        var totalCount: Int64
        var last: Bool?
    }

    struct EpisodesResponse: Decodable {
        struct Meta: Decodable {
            struct P: Decodable {
                var totalCount: Int?
                var last: Bool?
            }
            var pagination: P?
        }
        struct Data: Decodable {
            struct Episode: Decodable {
                struct Asset: Decodable { var thumbnailImage: String? }
                var id: Int64
                var contentId: Int64?
                var no: Int64
                var title: String
                var useType: String?
                var serialStartDateTime: String?
                var asset: Asset?
            }
            var episodes: [Episode]
        }
        var meta: Meta?
        var data: Data
    }

    struct CommentsResponse: Decodable {
        struct Meta: Decodable { var pagination: Pagination }
        var meta: Meta
    }

    struct PopularityResponse: Decodable {
        struct Data: Decodable {
            var episodeId: Int64?
            var likeCount: Int64
        }
        var data: Data
    }
}
